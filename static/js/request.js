/* Upload-only share links: drop or pick files, each sent on its own with a
   progress bar. Without JavaScript the plain form posts them all at once. No
   inline script or style: the CSP forbids them. */
(function () {
  "use strict";

  const page = document.querySelector(".send-files");
  if (!page) return;

  const MAX_PARALLEL = 2;
  const form = page.querySelector(".send-form");
  const input = form.querySelector('input[type="file"]');
  const dropzone = form.querySelector(".dropzone");
  const list = page.querySelector(".send-list");
  const leftLabel = page.querySelector(".files-left");
  const maxSize = Number(page.dataset.maxSize) || 0;
  let filesLeft = page.dataset.filesLeft === "" ? null : Number(page.dataset.filesLeft);
  const queue = [];
  let active = 0;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /* The same units as vault/units.py: decimal, "1.5 kB", "12 bytes". */
  function formatSize(size) {
    if (size < 1000) return size === 1 ? "1 byte" : `${size} bytes`;
    for (const unit of ["kB", "MB", "GB", "TB"]) {
      size /= 1000;
      if (size < 1000 || unit === "TB") return `${size < 100 ? size.toFixed(1) : Math.round(size)} ${unit}`;
    }
    return "";
  }

  function errorMessage(status, body) {
    const error = body && body.error;
    if (error && error.code === "csrf_failed") return "This page is out of date. Reload it and try again.";
    if (error && error.message) return error.message;
    if (status === 0) return "The connection was lost. Check your network and try again.";
    if (status === 410) return "This link no longer works.";
    if (status === 413) return "The file is larger than this link accepts.";
    return status >= 500 ? "Something went wrong on the server. Try again later." : `The upload failed (${status}).`;
  }

  function showLeft() {
    if (filesLeft === null || !leftLabel) return;
    const strong = el("strong", "", String(filesLeft));
    leftLabel.replaceChildren(strong, ` more file${filesLeft === 1 ? "" : "s"} accepted`);
    const full = filesLeft <= 0;
    input.disabled = full;
    dropzone.classList.toggle("disabled", full);
  }

  function addRow(file) {
    const row = el("li", "send-item queued");
    const name = el("span", "send-name", file.name);
    name.title = file.name;
    const progress = el("progress");
    progress.max = 100;
    progress.value = 0;
    progress.setAttribute("aria-label", `Progress of ${file.name}`);
    const status = el("span", "send-status", "Waiting");
    const meta = el("span", "send-meta", formatSize(file.size));
    row.append(el("span", "state-icon"), name, meta, progress, status);
    list.hidden = false;
    list.append(row);
    return { file, row, progress, status };
  }

  function finish(task, state, text) {
    task.row.className = `send-item ${state}`;
    task.status.textContent = text;
    if (state === "done") task.progress.value = 100;
  }

  function refuse(task, message) {
    finish(task, "failed", "Not sent");
    task.row.append(el("p", "error", message));
    task.row.querySelector(".error").setAttribute("role", "alert");
  }

  function pump() {
    while (active < MAX_PARALLEL && queue.length) send(queue.shift());
  }

  function send(task) {
    active += 1;
    finish(task, "uploading", "Sending…");
    const body = new FormData();
    body.append("csrf_token", form.querySelector('input[name="csrf_token"]').value);
    body.append("sender", form.querySelector('input[name="sender"]').value);
    body.append("files", task.file, task.file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      const percent = Math.floor((100 * event.loaded) / event.total);
      task.progress.value = percent;
      task.status.textContent = percent < 100 ? `${percent}%` : "Finishing…";
    });
    xhr.addEventListener("load", () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      if (xhr.status === 201) {
        finish(task, "done", "Sent");
        if (data && typeof data.files_left === "number") filesLeft = data.files_left;
        showLeft();
      } else {
        refuse(task, errorMessage(xhr.status, data));
      }
    });
    xhr.addEventListener("error", () => refuse(task, errorMessage(0, null)));
    xhr.addEventListener("loadend", () => {
      active -= 1;
      pump();
    });
    xhr.send(body);
  }

  function take(files) {
    for (const file of files) {
      const task = addRow(file);
      if (maxSize && file.size > maxSize) {
        refuse(task, `“${file.name}” is larger than the ${formatSize(maxSize)} this link accepts.`);
      } else {
        queue.push(task);
      }
    }
    pump();
  }

  window.addEventListener("beforeunload", (event) => {
    if (active > 0 || queue.length > 0) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  input.addEventListener("change", () => {
    const files = Array.from(input.files || []);
    input.value = "";
    take(files);
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    input.click();
  });

  /* Drops anywhere on the page land here; folders are skipped with a word. */
  function hasFiles(event) {
    return Array.from(event.dataTransfer ? event.dataTransfer.types : []).includes("Files");
  }

  let leaveTimer = 0;
  for (const type of ["dragenter", "dragover"]) {
    document.addEventListener(type, (event) => {
      if (!hasFiles(event) || input.disabled) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      dropzone.classList.add("drag-over");
      clearTimeout(leaveTimer);
      leaveTimer = setTimeout(() => dropzone.classList.remove("drag-over"), 300);
    });
  }

  document.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dropzone.classList.remove("drag-over");
    if (input.disabled) return;
    const items = Array.from(event.dataTransfer.items || []);
    const files = [];
    let folders = 0;
    items.forEach((item, index) => {
      const entry = item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
      if (entry && entry.isDirectory) folders += 1;
      else if (item.kind === "file") files.push(item.getAsFile() || event.dataTransfer.files[index]);
    });
    if (!items.length) files.push(...Array.from(event.dataTransfer.files || []));
    take(files.filter(Boolean));
    if (folders) {
      const note = addRow({ name: folders === 1 ? "A folder" : `${folders} folders`, size: 0 });
      note.row.querySelector(".send-meta").textContent = "";
      refuse(note, "Folders cannot be sent here: open them and drop the files inside.");
    }
  });

  showLeft();
})();
