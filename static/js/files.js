/* The folder page, enhanced: uploads with progress, selection, drag to move,
   and dialogs. Everything here has a plain-form fallback in the template, so the
   page keeps working without JavaScript. No inline script or style: the CSP
   forbids them, so state lives in classes, attributes and <progress>. */
(function () {
  "use strict";

  const manager = document.querySelector(".file-manager");
  if (!manager) return;

  const closeMenus = window.vaultMenus.close; // static/js/menus.js
  const MAX_PARALLEL = 3;
  const FLASH_KEY = "vault.flash";
  const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const currentFolderId = manager.dataset.folderId || "";
  const currentFolderName = manager.dataset.folderName || "My files";
  const maxUpload = Number(manager.dataset.maxUpload) || 0;
  const userId = manager.dataset.userId || "";
  // Files above this size go with tus, in chunks of this size (the template
  // renders RESUMABLE_THRESHOLD_BYTES and RESUMABLE_CHUNK_BYTES).
  const resumable = {
    url: manager.dataset.resumableUrl || "",
    threshold: Number(manager.dataset.resumableThreshold),
    chunkSize: Number(manager.dataset.resumableChunkSize),
  };
  const dialog = document.getElementById("dialog");
  const dialogBody = dialog.querySelector(".dialog-body");
  const selectionForm = document.getElementById("selection");

  const api = {
    upload: manager.dataset.uploadUrl,
    me: manager.dataset.meUrl,
    folder: (id) => manager.dataset.folderApi.replace("__id__", encodeURIComponent(id || "root")),
    file: (id) => manager.dataset.fileApi.replace("__id__", encodeURIComponent(id)),
    folderPage: (id) => (id
      ? manager.dataset.folderPage.replace("__id__", encodeURIComponent(id))
      : manager.dataset.rootPage),
  };

  /* ---------- Small helpers ---------- */

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "className") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function icon(name) {
    return el("span", { className: "i i-" + name, "aria-hidden": "true" });
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

  function formatSpeed(bytesPerSecond) {
    if (!(bytesPerSecond > 0)) return "";
    if (bytesPerSecond < 1000) return `${Math.round(bytesPerSecond)} B/s`;
    return formatSize(bytesPerSecond).replace(" bytes", " B") + "/s";
  }

  /* "12 s", "3 min", "1 h 20 min": a time left, rounded up. */
  function formatDuration(seconds) {
    if (seconds < 60) return `${Math.max(1, Math.ceil(seconds))} s`;
    const minutes = Math.ceil(seconds / 60);
    if (minutes < 60) return `${minutes} min`;
    return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }

  function plural(count, word) {
    return `${count} ${word}${count === 1 ? "" : "s"}`;
  }

  /* Compare names as the server does (NFC, case-folded): upper then lower case
     is JavaScript's nearest thing to Python's casefold ("ß" and "SS" match). */
  function nameKey(name) {
    return name.normalize("NFC").toUpperCase().toLowerCase();
  }

  function quoted(name) {
    return `“${name}”`;
  }

  function isTyping(target) {
    return target instanceof Element &&
      (target.isContentEditable || target.matches("input:not([type=checkbox]):not([type=radio]), textarea, select"));
  }

  function errorMessage(status, body) {
    const error = body && body.error;
    if (error && error.code === "csrf_failed") return "This page is out of date. Reload it and try again.";
    if (error && error.message) return error.message;
    switch (status) {
      case 0: return "The connection was lost. Check your network and try again.";
      case 401: return "You were signed out. Sign in again and retry.";
      case 404: return "It is no longer there. Reload the page.";
      case 409: return "That name is already taken here.";
      case 413: return "The file is larger than the server accepts.";
      case 415: return "That type of file is not allowed.";
      case 507: return "There is not enough free space in your storage.";
      default: return status >= 500 ? "Something went wrong on the server. Try again later." : `The request failed (${status}).`;
    }
  }

  async function apiRequest(method, url, body) {
    const headers = { Accept: "application/json", "X-CSRFToken": csrfToken };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        credentials: "same-origin",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      return { ok: false, status: 0, data: null };
    }
    let data = null;
    try {
      data = response.status === 204 ? null : await response.json();
    } catch {
      data = null;
    }
    return { ok: response.ok, status: response.status, data };
  }

  /* ---------- Messages (also across a reload) ---------- */

  function showFlash(text, kind) {
    const main = document.getElementById("main");
    const message = el("div", { className: `flash flash-${kind}`, role: kind === "error" ? "alert" : "status" },
      el("span", { className: "flash-text", text }),
      el("button", {
        type: "button", className: "flash-close", "aria-label": "Dismiss",
        onclick: (event) => event.currentTarget.parentElement.remove(),
      }, icon("x")));
    main.insertBefore(message, manager);
    if (kind === "error") message.scrollIntoView({ block: "nearest" });
    return message;
  }

  function flashAfterReload(text, kind) {
    try {
      const pending = JSON.parse(sessionStorage.getItem(FLASH_KEY) || "[]");
      pending.push({ text, kind });
      sessionStorage.setItem(FLASH_KEY, JSON.stringify(pending));
    } catch {
      /* Storage may be off; the message is a courtesy. */
    }
  }

  function showPendingFlashes() {
    let pending = [];
    try {
      pending = JSON.parse(sessionStorage.getItem(FLASH_KEY) || "[]");
      sessionStorage.removeItem(FLASH_KEY);
    } catch {
      return;
    }
    for (const { text, kind } of pending) showFlash(text, kind);
  }

  /* ---------- Dialog ---------- */

  let currentTargetLabel = quoted(currentFolderName); // where an upload batch goes

  let dialogCleanup = null;
  let pressedOnBackdrop = false;

  function openDialog(content, cleanup) {
    // Replacing what an open dialog shows: let the old content tidy up first.
    const previous = dialogCleanup;
    dialogCleanup = null;
    if (previous) previous("replaced");
    dialogBody.replaceChildren(content);
    dialogCleanup = cleanup || null;
    if (!dialog.open) dialog.showModal();
    const focusTarget = dialogBody.querySelector("[autofocus], input:not([type=hidden]), select, textarea, button");
    if (focusTarget) focusTarget.focus();
  }

  dialog.addEventListener("close", () => {
    const cleanup = dialogCleanup;
    dialogCleanup = null;
    if (cleanup) cleanup(dialog.returnValue);
    if (!dialog.open) dialogBody.replaceChildren();
  });

  dialog.addEventListener("pointerdown", (event) => {
    pressedOnBackdrop = event.target === dialog;
  });

  dialog.addEventListener("click", (event) => {
    // A click on the <dialog> itself is a click on the backdrop: the body fills it.
    if (event.target === dialog && pressedOnBackdrop) dialog.close("cancel");
    const closer = event.target.closest("[data-close]");
    if (closer) {
      event.preventDefault();
      dialog.close("cancel");
    }
  });

  /* Fetch a page and show its [data-dialog-content] section; its form posts as usual. */
  async function openDialogFrom(url) {
    openDialog(el("p", { className: "loading", text: "Loading…" }));
    let html;
    let status = 0;
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      status = response.status;
      html = await response.text();
    } catch {
      html = null;
    }
    if (!dialog.open) return;
    const page = html ? new DOMParser().parseFromString(html, "text/html") : null;
    const section = page && page.querySelector("[data-dialog-content]");
    if (section) {
      const content = document.importNode(section, true);
      openDialog(content);
      const name = content.querySelector("input[name=name]");
      if (name) {
        // Select the name without its extension, ready to type over.
        const dot = name.value.lastIndexOf(".");
        name.setSelectionRange(0, dot > 0 ? dot : name.value.length);
      }
      return;
    }
    if (!page) {
      window.location.assign(url);
      return;
    }
    const message = page.querySelector("main h1")?.textContent || errorMessage(status, null);
    openDialog(el("div", {},
      el("h2", { id: "dialog-title", text: "That did not work" }),
      el("p", { text: message }),
      el("div", { className: "row" }, el("button", { type: "button", "data-close": true, text: "Close" }))));
  }

  document.addEventListener("click", (event) => {
    const opener = event.target.closest("a[data-dialog]");
    if (!opener || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    closeMenus();
    openDialogFrom(opener.href);
  });

  /* "New folder": the form from the page's panel, moved into the dialog and back. */
  function openNewFolderDialog() {
    const form = document.getElementById("folder-form");
    const panel = document.getElementById("folder-panel");
    if (!form || !panel) return;
    const cancel = el("button", { type: "button", "data-close": true, text: "Cancel" });
    const label = form.querySelector("label");
    const oldLabel = label ? label.textContent : "";
    if (label) label.textContent = "Name";
    form.append(cancel);
    openDialog(el("div", {}, el("h2", { id: "dialog-title", text: `New folder in ${currentFolderName}` }), form), () => {
      cancel.remove();
      if (label) label.textContent = oldLabel;
      panel.append(form);
    });
  }

  /* Ask what to do with names that are taken: resolves "rename", "replace" or "cancel". */
  function askConflict(clashes) {
    return new Promise((resolve) => {
      const content = document.getElementById("conflict-template").content.cloneNode(true);
      const names = clashes.map((clash) => clash.name);
      const shown = names.slice(0, 3).map(quoted).join(", ");
      const more = names.length > 3 ? ` and ${names.length - 3} more` : "";
      const folders = clashes.some((clash) => clash.isFolder);
      const files = clashes.some((clash) => !clash.isFolder);
      const advice = [];
      if (files) {
        advice.push(names.length === 1
          ? "Keep both adds a number to the new name; Replace moves the old file to the trash."
          : "Keep both adds a number to new names; Replace moves the old files to the trash.");
      }
      if (folders) {
        advice.push(files
          ? "A folder is uploaded under a new name with Keep both, or added to the existing one with Replace."
          : "Keep both uploads the folder under a new name; Replace adds to the existing folder and moves files with the same names to the trash.");
      }
      content.querySelector(".conflict-names").textContent =
        `${shown}${more} ${names.length === 1 ? "is" : "are"} already in ${currentTargetLabel}. ${advice.join(" ")}`;
      let answer = "cancel";
      for (const button of content.querySelectorAll("button[value]")) {
        button.addEventListener("click", () => {
          answer = button.value;
          dialog.close(answer);
        });
      }
      openDialog(el("div", {}, content), () => resolve(answer));
    });
  }

  /* ---------- Uploads ---------- */

  const uploads = {
    section: document.getElementById("uploads"),
    tasks: [],
    queue: [],
    active: 0,
  };
  uploads.list = uploads.section.querySelector(".upload-list");
  uploads.summary = uploads.section.querySelector(".uploads-summary");
  uploads.total = uploads.section.querySelector(".uploads-total");
  uploads.cancelAll = uploads.section.querySelector(".cancel-all");
  uploads.foot = uploads.section.querySelector(".uploads-foot");

  const toggleList = uploads.section.querySelector(".toggle-uploads");
  toggleList.addEventListener("click", () => {
    const collapsed = uploads.section.classList.toggle("collapsed");
    toggleList.setAttribute("aria-expanded", String(!collapsed));
  });

  uploads.cancelAll.addEventListener("click", () => {
    for (const task of uploads.tasks) cancelTask(task);
  });
  uploads.section.querySelector(".show-uploaded").addEventListener("click", () => window.location.reload());
  uploads.section.querySelector(".close-uploads").addEventListener("click", () => {
    uploads.tasks = uploads.tasks.filter((task) => !isFinished(task));
    uploads.list.replaceChildren(...uploads.tasks.map((task) => task.row));
    uploads.section.hidden = uploads.tasks.length === 0;
    updateSummary();
  });

  window.addEventListener("beforeunload", (event) => {
    if (uploads.active > 0 || uploads.queue.length > 0) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  function isFinished(task) {
    return task.state === "done" || task.state === "failed" || task.state === "cancelled";
  }

  /* Files from a drop: walk dropped folders so the structure comes along. */
  function collectDropped(dataTransfer) {
    // Entries must be taken now: the DataTransfer is emptied after the event.
    const entries = Array.from(dataTransfer.items || [])
      .filter((item) => item.kind === "file")
      .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
    if (!entries.length || entries.some((entry) => !entry)) {
      const files = Array.from(dataTransfer.files || []);
      return Promise.resolve({
        files: files.map((file) => ({ file, path: "" })),
        tops: files.map((file) => ({ name: file.name, isFolder: false })),
      });
    }
    return (async () => {
      const files = [];
      for (const entry of entries) await walkEntry(entry, "", files);
      return { files, tops: entries.map((entry) => ({ name: entry.name, isFolder: entry.isDirectory })) };
    })();
  }

  async function walkEntry(entry, directory, out) {
    if (entry.isFile) {
      try {
        out.push({ file: await new Promise((resolve, reject) => entry.file(resolve, reject)), path: directory });
      } catch {
        out.push({ file: null, name: entry.name, path: directory });
      }
      return;
    }
    if (!entry.isDirectory) return;
    const path = directory ? `${directory}/${entry.name}` : entry.name;
    const reader = entry.createReader();
    // readEntries hands out a folder's children in batches until it returns none.
    for (;;) {
      let batch;
      try {
        batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      } catch {
        batch = [];
      }
      if (!batch.length) break;
      for (const child of batch) await walkEntry(child, path, out);
    }
  }

  /* Files from an <input type=file>, with or without webkitdirectory. */
  function collectPicked(input) {
    const files = [];
    const tops = new Map();
    for (const file of Array.from(input.files || [])) {
      const relative = file.webkitRelativePath || "";
      const parts = relative.split("/").slice(0, -1);
      files.push({ file, path: parts.join("/") });
      const top = parts.length ? parts[0] : file.name;
      tops.set(nameKey(top), { name: top, isFolder: parts.length > 0 });
    }
    return { files, tops: Array.from(tops.values()) };
  }

  async function takenNames(folderId) {
    const result = await apiRequest("GET", api.folder(folderId));
    if (!result.ok || !result.data) return null;
    const names = new Map();
    for (const item of [...(result.data.folders || []), ...(result.data.files || [])]) {
      names.set(nameKey(item.name), { name: item.name, isFolder: (result.data.folders || []).includes(item) });
    }
    return names;
  }

  /* "photos" → "photos (1)", like the server's names.numbered for folders. */
  function freeFolderName(name, taken) {
    for (let number = 1; ; number += 1) {
      const candidate = `${name} (${number})`;
      if (!taken.has(nameKey(candidate))) return candidate;
    }
  }

  /* Upload a batch into a folder; ask first when top-level names are taken. */
  async function uploadBatch(collected, target, onConflict) {
    const { files, tops } = collected;
    if (!files.length) {
      if (tops.some((top) => top.isFolder)) showFlash("Those folders are empty: there is nothing to upload.", "error");
      return;
    }
    const targetId = target ? target.id : currentFolderId;
    currentTargetLabel = quoted(target ? target.name : currentFolderName);
    const elsewhere = target ? ` to ${currentTargetLabel}` : "";
    let policy = onConflict;
    const renamedFolders = new Map();
    if (!policy) {
      const taken = await takenNames(targetId);
      const clashes = taken ? tops.filter((top) => taken.has(nameKey(top.name))) : [];
      policy = "rename";
      if (clashes.length) {
        policy = await askConflict(clashes);
        if (policy === "cancel") return;
        if (policy === "rename") {
          // Keep both for a folder: upload it under a new name instead of merging.
          for (const top of clashes.filter((item) => item.isFolder)) {
            const free = freeFolderName(top.name, taken);
            taken.set(nameKey(free), { name: free, isFolder: true });
            renamedFolders.set(top.name, free);
          }
        }
      }
    }
    // Each file's final path, before the quota check: it looks for resumable
    // uploads by fingerprint, and the path is part of it.
    const placed = files.map((item) => {
      const top = item.path.split("/")[0];
      if (!renamedFolders.has(top)) return item;
      return { ...item, path: renamedFolders.get(top) + item.path.slice(top.length) };
    });
    const refusal = await quotaRefusal(placed, targetId);
    if (refusal) {
      showFlash(refusal, "error");
      return;
    }
    uploads.section.hidden = false;
    uploads.foot.hidden = true;
    for (const item of placed) {
      const task = addTask(item.file, item.name, item.path, targetId, policy);
      task.elsewhere = elsewhere;
      task.where = currentTargetLabel;
    }
    updateSummary();
    pump();
  }

  /* Say why a batch cannot fit in the free space, before a byte is sent; the
     server decides in the end (other uploads may be on their way). */
  async function quotaRefusal(files, targetId) {
    const me = await apiRequest("GET", api.me);
    if (!me.ok || me.data.quota_bytes === null) return null;
    // A resumable upload holds its whole length on the server from its creation
    // on (also one from before a reload): that is already out of free_bytes.
    const waiting = uploads.tasks
      .filter((task) => !isFinished(task) && !(task.tus && task.tus.url))
      .reduce((sum, task) => sum + task.size - task.loaded, 0);
    const reserved = new Set(storedResumable().map((entry) => entry.fingerprint));
    const needed = files
      .filter((item) => item.file && !reserved.has(fingerprintOf(item.file, targetId, item.path)))
      .reduce((sum, item) => sum + item.file.size, 0);
    if (needed + waiting <= me.data.free_bytes) return null;
    return `This upload needs ${formatSize(needed)} but you have ` +
      `${formatSize(Math.max(0, me.data.free_bytes - waiting))} free of ${formatSize(me.data.quota_bytes)}.`;
  }

  function addTask(file, fallbackName, path, folderId, onConflict) {
    const name = file ? file.name : fallbackName;
    const task = {
      file, name, path, folderId, onConflict,
      size: file ? file.size : 0,
      loaded: 0,
      samples: [],
      speed: 0,
      state: "queued",
      xhr: null,
      resumable: Boolean(file && isResumable(file)),
      tus: null, // the VaultTus.Upload, once started
      holdsSlot: false, // a resumable upload counts in uploads.active while this is true
    };
    const progress = el("progress", { max: 100, value: 0, "aria-label": `Upload progress of ${name}` });
    task.ui = {
      progress,
      percent: el("span", { className: "percent", text: "0%" }),
      speed: el("span", { className: "speed" }),
      eta: el("span", { className: "eta" }),
      status: el("span", { className: "status", text: "Waiting" }),
      stateIcon: el("span", { className: "state-icon", "aria-hidden": "true" }),
      cancel: el("button", {
        type: "button", className: "cancel", "aria-label": `Cancel ${name}`, title: "Cancel",
        onclick: () => cancelTask(task),
      }, icon("x")),
    };
    if (task.resumable) {
      task.ui.pause = el("button", {
        type: "button", className: "pause", "aria-label": `Pause ${name}`, title: "Pause", hidden: true,
        onclick: () => pauseTask(task),
      }, icon("pause"));
      task.ui.resume = el("button", {
        type: "button", className: "resume", "aria-label": `Resume ${name}`, title: "Resume", hidden: true,
        onclick: () => resumeTask(task),
      }, icon("play"));
    }
    task.row = el("li", { className: "upload-item queued" },
      task.ui.stateIcon,
      el("span", { className: "upload-name", title: path ? `${path}/${name}` : name },
        path ? el("span", { className: "dir", text: `${path}/` }) : null, name),
      el("span", { className: "upload-buttons" }, task.ui.pause, task.ui.resume, task.ui.cancel),
      progress,
      el("span", { className: "upload-meta" },
        el("span", { className: "size", text: formatSize(task.size) }),
        task.ui.percent, task.ui.speed, task.ui.eta, task.ui.status));
    uploads.tasks.push(task);
    uploads.list.append(task.row);
    if (!file) {
      fail(task, "This file could not be read from your device.", "Failed");
    } else if (maxUpload && file.size > maxUpload) {
      fail(task, `${quoted(name)} is larger than the ${formatSize(maxUpload)} upload limit.`);
    } else {
      uploads.queue.push(task);
    }
    return task;
  }

  function setState(task, state, statusText) {
    task.state = state;
    task.row.className = `upload-item ${state}`;
    task.ui.status.textContent = statusText;
    const glyph = { done: "check", failed: "alert", cancelled: "x" }[state];
    task.ui.stateIcon.replaceChildren(...(glyph ? [icon(glyph)] : []));
    if (task.ui.pause) {
      task.ui.pause.hidden = state !== "uploading";
      task.ui.resume.hidden = state !== "paused";
    }
    if (state !== "uploading") {
      task.ui.speed.textContent = "";
      task.ui.eta.textContent = "";
    }
    if (isFinished(task)) task.ui.cancel.hidden = true;
  }

  function fail(task, message, label = "Refused") {
    setState(task, "failed", label);
    task.row.append(el("p", { className: "error", role: "alert", text: message }));
  }

  /* Start queued uploads, a few at a time. Uploads that create the same new
     folders in parallel are fine: the server settles who creates them. */
  function pump() {
    while (uploads.active < MAX_PARALLEL && uploads.queue.length) {
      start(uploads.queue.shift());
    }
    updateSummary();
    const paused = uploads.tasks.some((task) => task.state === "paused");
    if (uploads.active === 0 && uploads.queue.length === 0 && !paused) finished();
  }

  function start(task) {
    uploads.active += 1;
    task.samples = [];
    task.speed = 0;
    if (task.resumable) {
      startResumable(task);
      return;
    }
    setState(task, "uploading", "Uploading");
    const body = new FormData();
    body.append("folder_id", task.folderId || "");
    body.append("path", task.path);
    body.append("on_conflict", task.onConflict);
    body.append("file", task.file, task.file.name);

    const xhr = new XMLHttpRequest();
    task.xhr = xhr;
    xhr.open("POST", api.upload);
    xhr.setRequestHeader("X-CSRFToken", csrfToken);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      // The request body is a little larger than the file: scale to the file.
      progressed(task, event.lengthComputable && event.total ? Math.min(1, event.loaded / event.total) : 0);
    });
    xhr.upload.addEventListener("load", () => {
      if (task.state === "uploading") setState(task, "uploading", "Finishing…");
    });
    xhr.addEventListener("load", () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      if (xhr.status === 201) {
        task.loaded = task.size;
        showProgress(task, 1);
        const stored = data && data.files && data.files[0];
        const renamed = stored && stored.name !== task.name ? ` as ${quoted(stored.name)}` : "";
        setState(task, "done", `Uploaded${renamed}`);
      } else {
        fail(task, errorMessage(xhr.status, data), xhr.status >= 500 ? "Failed" : "Refused");
      }
    });
    xhr.addEventListener("error", () => fail(task, errorMessage(0, null), "Failed"));
    xhr.addEventListener("abort", () => {
      if (task.state !== "cancelled") setState(task, "cancelled", "Cancelled");
    });
    xhr.addEventListener("loadend", () => {
      task.xhr = null;
      uploads.active -= 1;
      pump();
    });
    xhr.send(body);
  }

  /* Speed over the last few seconds of samples; start() and a retry clear
     them, so that bytes the server already had do not count as speed. */
  function progressed(task, fraction) {
    task.loaded = fraction * task.size;
    const now = performance.now();
    task.samples.push([now, task.loaded]);
    while (task.samples.length > 2 && now - task.samples[0][0] > 3000) task.samples.shift();
    const [firstTime, firstLoaded] = task.samples[0];
    if (now - firstTime > 250) task.speed = ((task.loaded - firstLoaded) * 1000) / (now - firstTime);
    showProgress(task, fraction);
  }

  function showProgress(task, fraction) {
    const percent = Math.floor(fraction * 100);
    task.ui.progress.value = percent;
    task.ui.percent.textContent = `${percent}%`;
    const moving = task.state === "uploading" && task.speed > 0;
    task.ui.speed.textContent = moving ? formatSpeed(task.speed) : "";
    const left = task.size - task.loaded;
    task.ui.eta.textContent = moving && left > 0 ? `${formatDuration(left / task.speed)} left` : "";
    scheduleSummary();
  }

  function cancelTask(task) {
    if (isFinished(task)) return;
    const queued = uploads.queue.indexOf(task);
    if (queued >= 0) uploads.queue.splice(queued, 1);
    setState(task, "cancelled", "Cancelled");
    if (task.tus) {
      // Termination: the server drops the partial upload and the quota it holds.
      task.tus.abort().then(refreshResumeNotice);
      if (!releaseSlot(task)) pump();
    } else if (task.xhr) {
      task.xhr.abort();
    } else {
      pump();
    }
  }

  /* ---------- Resumable uploads (tus, static/js/tus.js) ---------- */

  /* Big files go in chunks that resume; small ones in one request, which is
     faster for them (one round trip instead of three). A file inside an
     uploaded folder too: its "path" goes in the tus metadata. */
  function isResumable(file) {
    return Boolean(window.VaultTus && window.VaultTus.isSupported && resumable.url &&
      file.size > resumable.threshold);
  }

  /* The same file, for the same person, to the same place: what lets a page
     find the upload an earlier page started. The path is part of the place, so
     two "IMG_0001.jpg" of one size in two subfolders never resume into each
     other. */
  function fingerprintOf(file, folderId, path) {
    return JSON.stringify(["vault", userId, folderId || "", path || "", file.name, file.size, file.lastModified]);
  }

  function storedResumable() {
    return window.VaultTus ? window.VaultTus.storedUploads((entry) => entry.user === userId) : [];
  }

  function startResumable(task) {
    task.holdsSlot = true;
    setState(task, "uploading", "Connecting…");
    if (!task.tus) task.tus = createResumable(task);
    task.tus.start();
  }

  function createResumable(task) {
    return new window.VaultTus.Upload(task.file, {
      endpoint: resumable.url,
      chunkSize: resumable.chunkSize,
      headers: { "X-CSRFToken": csrfToken, Accept: "application/json" },
      metadata: {
        filename: task.file.name,
        folder_id: task.folderId || null,
        path: task.path || null,
        on_conflict: task.onConflict,
      },
      fingerprint: fingerprintOf(task.file, task.folderId, task.path),
      storeExtra: {
        user: userId,
        name: task.name,
        path: task.path,
        folderId: task.folderId || "",
        where: task.where,
      },
      onProgress: (sent, total) => resumableProgressed(task, sent, total),
      onRetry: (delay, error) => resumableRetrying(task, delay, error),
      onSuccess: ({ fileId }) => resumableDone(task, fileId),
      onError: (error) => {
        // Without an HTTP status the client says itself what went wrong.
        const body = error.status ? error.details : { error: { message: error.message } };
        fail(task, errorMessage(error.status, body), error.status >= 500 || !error.status ? "Failed" : "Refused");
        releaseSlot(task);
        refreshResumeNotice();
      },
    });
  }

  function resumableProgressed(task, sent, total) {
    if (task.state !== "uploading") return;
    if (!task.announced) {
      // The first report is the server's offset: an upload found again resumes there.
      task.announced = true;
      refreshResumeNotice();
    }
    const status = sent >= total ? "Finishing…" : "Uploading";
    if (task.ui.status.textContent !== status) setState(task, "uploading", status);
    progressed(task, total ? sent / total : 0);
  }

  function resumableRetrying(task, delay, error) {
    if (task.state !== "uploading") return;
    task.samples = [];
    task.speed = 0;
    task.announced = false;
    const problem = error.status ? "The server is busy" : "Connection lost";
    setState(task, "uploading", delay === null
      ? "Offline: waiting for the network…"
      : `${problem}, retrying in ${Math.round(delay / 1000)} s…`);
    scheduleSummary();
  }

  async function resumableDone(task, fileId) {
    let renamed = "";
    if (fileId) {
      const stored = await apiRequest("GET", api.file(fileId));
      if (stored.ok && stored.data && stored.data.name !== task.name) renamed = ` as ${quoted(stored.data.name)}`;
    }
    task.loaded = task.size;
    showProgress(task, 1);
    setState(task, "done", `Uploaded${renamed}`);
    releaseSlot(task);
  }

  /* Give back the parallel slot a resumable upload held; true if it did. */
  function releaseSlot(task) {
    if (!task.holdsSlot) return false;
    task.holdsSlot = false;
    uploads.active -= 1;
    pump();
    return true;
  }

  function pauseTask(task) {
    if (task.state !== "uploading" || !task.tus) return;
    task.tus.pause();
    setState(task, "paused", "Paused");
    task.ui.resume.focus();
    releaseSlot(task);
  }

  function resumeTask(task) {
    if (task.state !== "paused") return;
    setState(task, "queued", "Waiting");
    uploads.queue.unshift(task);
    pump();
    (task.ui.pause.hidden ? task.ui.cancel : task.ui.pause).focus();
  }

  /* After a reload: uploads an earlier page left unfinished. A browser cannot
     read a file again unless the person picks it, so say which ones to pick. */
  let resumeNotice = null;

  function showResumeNotice() {
    const entries = storedResumable();
    if (!entries.length) return;
    const list = el("ul", { className: "resume-list" });
    const discard = el("button", { type: "button", className: "small discard-resumable", text: "Discard them" });
    resumeNotice = el("div", { className: "flash resume-notice", role: "status" },
      el("div", { className: "flash-text" }, el("p", { className: "resume-title" }), list, discard),
      el("button", {
        type: "button", className: "flash-close", "aria-label": "Dismiss",
        onclick: () => {
          resumeNotice.remove();
          resumeNotice = null;
        },
      }, icon("x")));
    discard.addEventListener("click", discardResumable);
    document.getElementById("main").insertBefore(resumeNotice, manager);
    refreshResumeNotice();
  }

  /* Stored uploads still waiting to be picked again (not those this page runs). */
  function waitingToResume() {
    const running = new Set(uploads.tasks.filter((task) => task.tus).map((task) => task.tus.fingerprint));
    return storedResumable().filter((entry) => !running.has(entry.fingerprint));
  }

  function refreshResumeNotice() {
    if (!resumeNotice) return;
    const entries = waitingToResume();
    if (!entries.length) {
      resumeNotice.remove();
      resumeNotice = null;
      return;
    }
    const one = entries.length === 1;
    resumeNotice.querySelector(".resume-title").textContent = one
      ? "1 upload can be resumed: pick the same file again to continue."
      : `${entries.length} uploads can be resumed: pick the same files again to continue.`;
    resumeNotice.querySelector(".resume-list").replaceChildren(...entries.map((entry) => {
      const here = (entry.folderId || "") === currentFolderId;
      const name = entry.path ? `${entry.path}/${entry.name}` : entry.name;
      return el("li", {},
        el("span", { className: "resume-name", text: name }), ` · ${formatSize(entry.size)}`,
        here ? null : el("span", {}, " in ", el("a", { href: api.folderPage(entry.folderId), text: entry.where || "another folder" })));
    }));
  }

  /* Drop them on the server too: each holds its size of the quota until it expires. */
  async function discardResumable(event) {
    const button = event.currentTarget;
    const entries = waitingToResume();
    button.disabled = true;
    const statuses = await Promise.all(
      entries.map((entry) => window.VaultTus.discard(entry, { "X-CSRFToken": csrfToken })));
    const dropped = statuses.filter(window.VaultTus.isGone).length;
    button.disabled = false;
    refreshResumeNotice();
    if (dropped) showFlash(`Discarded ${plural(dropped, "unfinished upload")}.`, "success");
    if (dropped < entries.length) {
      showFlash("Some unfinished uploads could not be discarded. Try again in a minute.", "error");
    }
  }

  let summaryPending = false;
  function scheduleSummary() {
    if (summaryPending) return;
    summaryPending = true;
    requestAnimationFrame(() => {
      summaryPending = false;
      updateSummary();
    });
  }

  function updateSummary() {
    const count = (state) => uploads.tasks.filter((task) => task.state === state).length;
    const done = count("done");
    const failed = count("failed");
    const cancelled = count("cancelled");
    const counted = uploads.tasks.filter((task) => task.state !== "cancelled" && task.state !== "failed");
    const total = counted.reduce((sum, task) => sum + task.size, 0);
    const loaded = counted.reduce((sum, task) => sum + (task.state === "done" ? task.size : task.loaded), 0);
    uploads.total.value = total ? loaded / total : (done ? 1 : 0);
    const speed = uploads.tasks.filter((task) => task.state === "uploading").reduce((sum, task) => sum + task.speed, 0);
    const parts = [`${done} of ${uploads.tasks.length - cancelled} uploaded`];
    if (failed) parts.push(`${failed} failed`);
    if (cancelled) parts.push(`${cancelled} cancelled`);
    const paused = count("paused");
    if (paused) parts.push(`${paused} paused`);
    if (uploads.active && speed) parts.push(formatSpeed(speed));
    uploads.summary.textContent = parts.join(" · ");
    uploads.cancelAll.hidden = uploads.active === 0 && uploads.queue.length === 0 && !paused;
  }

  function finished() {
    if (!uploads.tasks.length) return;
    const done = uploads.tasks.filter((task) => task.state === "done").length;
    const problems = uploads.tasks.length - done;
    if (done && !problems) {
      uploads.summary.textContent = `All ${plural(done, "file")} uploaded`;
      const places = new Set(uploads.tasks.map((task) => task.elsewhere));
      const where = places.size === 1 ? uploads.tasks[0].elsewhere : "";
      flashAfterReload(`Uploaded ${plural(done, "file")}${where}.`, "success");
      window.location.reload();
      return;
    }
    uploads.foot.hidden = false;
    uploads.section.querySelector(".show-uploaded").hidden = done === 0;
  }

  /* The picker buttons in the page head and the form's own inputs. */
  const fileInput = document.querySelector('#upload-form input[type=file][name="files"]');
  const folderInput = document.getElementById("folder-picker");
  const uploadForm = document.getElementById("upload-form");

  manager.querySelector('[data-action="upload-files"]')?.addEventListener("click", () => fileInput && fileInput.click());
  manager.querySelector('[data-action="upload-folder"]')?.addEventListener("click", () => folderInput && folderInput.click());
  manager.querySelector('[data-action="new-folder"]')?.addEventListener("click", openNewFolderDialog);

  for (const input of [fileInput, folderInput]) {
    if (!input) continue;
    input.addEventListener("change", () => {
      const collected = collectPicked(input);
      input.value = "";
      uploadBatch(collected, null, null);
    });
  }

  if (uploadForm) {
    uploadForm.addEventListener("submit", (event) => {
      event.preventDefault();
      // The form's own choice of "If a name is taken" applies; no need to ask.
      const choice = uploadForm.querySelector('select[name="on_conflict"]');
      const collected = collectPicked(fileInput);
      if (!collected.files.length) {
        showFlash("Choose at least one file.", "error");
        return;
      }
      fileInput.value = "";
      uploadBatch(collected, null, choice ? choice.value : "rename");
    });
  }

  /* ---------- Selection ---------- */

  const table = selectionForm && selectionForm.querySelector("table.files");
  const boxes = table ? Array.from(table.querySelectorAll('tbody input[type=checkbox][name="ids"]')) : [];
  const selectAll = table && table.querySelector(".select-all");
  const toolbar = selectionForm && selectionForm.querySelector(".toolbar");
  const countLabel = toolbar && toolbar.querySelector(".selection-count");
  const clearButton = toolbar && toolbar.querySelector(".clear-selection");
  const toolbarButtons = toolbar ? Array.from(toolbar.querySelectorAll("[data-action]")) : [];
  const idleText = countLabel ? countLabel.textContent : "";
  let anchor = null;

  function selectedBoxes() {
    return boxes.filter((box) => box.checked);
  }

  function updateSelection() {
    const count = selectedBoxes().length;
    for (const box of boxes) box.closest("tr").classList.toggle("selected", box.checked);
    if (selectAll) {
      selectAll.checked = count > 0 && count === boxes.length;
      selectAll.indeterminate = count > 0 && count < boxes.length;
    }
    if (!toolbar) return;
    toolbar.classList.toggle("has-selection", count > 0);
    countLabel.textContent = count ? `${count} selected` : idleText;
    if (clearButton) clearButton.hidden = count === 0;
    for (const button of toolbarButtons) button.disabled = count === 0;
  }

  function setRange(from, to, checked) {
    const [low, high] = from < to ? [from, to] : [to, from];
    for (let index = low; index <= high; index += 1) boxes[index].checked = checked;
  }

  function clearSelection() {
    for (const box of boxes) box.checked = false;
    anchor = null;
    updateSelection();
  }

  if (table) {
    table.addEventListener("click", (event) => {
      const box = event.target.closest('input[name="ids"]');
      if (box) {
        const index = boxes.indexOf(box);
        if (event.shiftKey && anchor !== null) setRange(anchor, index, box.checked);
        anchor = index;
        updateSelection();
        return;
      }
      // A click on the row's empty space toggles it, like a file manager.
      const row = event.target.closest("tbody tr");
      if (!row || event.target.closest("a, button, input, label, summary, details")) return;
      const rowBox = row.querySelector('input[name="ids"]');
      const index = boxes.indexOf(rowBox);
      rowBox.checked = !rowBox.checked;
      if (event.shiftKey && anchor !== null) setRange(anchor, index, rowBox.checked);
      anchor = index;
      updateSelection();
    });
    table.addEventListener("mousedown", (event) => {
      // Shift-click selects rows, not text.
      if (event.shiftKey && event.target.closest("tbody tr")) event.preventDefault();
    });
    table.addEventListener("dblclick", (event) => {
      const row = event.target.closest("tbody tr");
      if (!row || event.target.closest("a, button, input, summary, details")) return;
      const link = row.querySelector("td.name a");
      if (link) window.location.assign(link.href);
    });
    table.addEventListener("keydown", (event) => {
      const box = event.target.closest('input[name="ids"]');
      if (!box || (event.key !== "ArrowDown" && event.key !== "ArrowUp")) return;
      const next = boxes[boxes.indexOf(box) + (event.key === "ArrowDown" ? 1 : -1)];
      if (!next) return;
      event.preventDefault();
      if (event.shiftKey) {
        next.checked = box.checked;
        updateSelection();
      }
      next.focus();
    });
    if (selectAll) {
      selectAll.addEventListener("change", () => {
        for (const box of boxes) box.checked = selectAll.checked;
        anchor = null;
        updateSelection();
      });
    }
    if (clearButton) clearButton.addEventListener("click", clearSelection);
    // Checkboxes can come back checked after "back": show that state.
    window.addEventListener("pageshow", updateSelection);
    updateSelection();
  }

  function selectedIds() {
    return selectedBoxes().map((box) => box.value);
  }

  function selectionUrl(base) {
    const url = new URL(base, window.location.href);
    url.search = "";
    for (const id of selectedIds()) url.searchParams.append("ids", id);
    return url;
  }

  for (const button of toolbarButtons) {
    button.addEventListener("click", (event) => {
      const action = button.dataset.action;
      if (!selectedIds().length) {
        event.preventDefault();
        return;
      }
      if (action === "move") {
        event.preventDefault();
        openDialogFrom(selectionUrl(button.formAction).href);
      } else if (action === "zip") {
        // The same GET as the form, without the CSRF token in the URL.
        event.preventDefault();
        const url = selectionUrl(button.formAction);
        if (currentFolderId) url.searchParams.set("folder_id", currentFolderId);
        window.location.assign(url.href);
      }
    });
  }

  document.addEventListener("keydown", (event) => {
    if (dialog.open || event.defaultPrevented) return;
    if (event.key === "Escape") {
      if (closeMenus()) return;
      if (selectedIds().length) {
        event.preventDefault();
        clearSelection();
      }
      return;
    }
    if (isTyping(event.target)) return;
    const deleteKey = event.key === "Delete" || (event.key === "Backspace" && event.metaKey);
    if (deleteKey && selectedIds().length && selectionForm) {
      event.preventDefault();
      const trashButton = toolbar.querySelector('[data-action="trash"]');
      selectionForm.requestSubmit(trashButton);
    } else if ((event.key === "a" || event.key === "A") && (event.ctrlKey || event.metaKey) && table &&
      table.contains(document.activeElement)) {
      event.preventDefault();
      for (const box of boxes) box.checked = true;
      updateSelection();
    }
  });

  /* ---------- Drag and drop: moving rows, dropping files ---------- */

  let internalDrag = null; // what is being dragged from this page, if anything
  let highlighted = null;
  let overlay = null;
  let overlayTimer = 0;

  function rowItem(row) {
    return { id: row.dataset.id, kind: row.dataset.kind, name: row.dataset.name, row };
  }

  function dropTargetOf(event) {
    const node = event.target instanceof Element ? event.target : event.target.parentElement;
    return node ? node.closest("[data-drop-folder]") : null;
  }

  function targetLabel(target) {
    const id = target.dataset.dropFolder;
    if (!id) return "My files";
    return target.dataset.name || target.textContent.trim();
  }

  function canMoveInto(target) {
    if (!target || !internalDrag) return false;
    const id = target.dataset.dropFolder;
    if (id === currentFolderId) return false; // they are already here
    return !internalDrag.items.some((item) => item.id === id);
  }

  function highlight(target) {
    if (highlighted === target) return;
    if (highlighted) highlighted.classList.remove("drop-target");
    highlighted = target;
    if (target) target.classList.add("drop-target");
  }

  function showOverlay(target) {
    if (!overlay) {
      overlay = el("div", { className: "drop-overlay", hidden: true, "aria-hidden": "true" },
        el("div", { className: "drop-message" }, icon("upload"), el("span")));
      document.body.append(overlay);
    }
    const where = target ? targetLabel(target) : currentFolderName;
    overlay.querySelector(".drop-message span:last-child").textContent = `Drop to upload to ${quoted(where)}`;
    overlay.hidden = false;
    // dragover repeats while the pointer is over the page; silence means it left.
    clearTimeout(overlayTimer);
    overlayTimer = setTimeout(hideOverlay, 700);
  }

  function hideOverlay() {
    clearTimeout(overlayTimer);
    if (overlay) overlay.hidden = true;
    if (!internalDrag) highlight(null);
  }

  function hasFiles(event) {
    return Array.from(event.dataTransfer ? event.dataTransfer.types : []).includes("Files");
  }

  document.addEventListener("dragstart", (event) => {
    const row = event.target instanceof Element ? event.target.closest("tbody tr[data-id]") : null;
    if (!row || !table || !table.contains(row)) {
      // A link or image dragged from this page is not a file drop.
      internalDrag = { items: [], foreign: true };
      return;
    }
    closeMenus();
    const rowBox = row.querySelector('input[name="ids"]');
    const rows = rowBox && rowBox.checked ? selectedBoxes().map((box) => box.closest("tr")) : [row];
    internalDrag = { items: rows.map(rowItem) };
    for (const dragged of rows) dragged.classList.add("dragging");
    const transfer = event.dataTransfer;
    transfer.clearData();
    transfer.setData("application/x-vault-items", internalDrag.items.map((item) => item.id).join(","));
    transfer.setData("text/plain", internalDrag.items.map((item) => item.name).join("\n"));
    transfer.effectAllowed = "move";
    const ghost = el("div", { className: "drag-ghost" }, icon(rows.length > 1 ? "files" : "move"),
      rows.length > 1 ? plural(rows.length, "item") : row.dataset.name);
    document.body.append(ghost);
    transfer.setDragImage(ghost, 16, 16);
    setTimeout(() => ghost.remove(), 0);
  });

  document.addEventListener("dragend", () => {
    for (const row of document.querySelectorAll("tr.dragging")) row.classList.remove("dragging");
    internalDrag = null;
    highlight(null);
  });

  /* dragenter and dragover: say whether a drop is welcome here, and show where it goes. */
  function dragHover(event) {
    const target = dropTargetOf(event);
    if (internalDrag) {
      if (!internalDrag.foreign && canMoveInto(target)) {
        event.preventDefault();
        event.dataTransfer.dropEffect = "move";
        highlight(target);
      } else {
        highlight(null);
      }
      return;
    }
    if (!hasFiles(event)) return;
    // Files from outside the browser: upload here, or into the folder under the pointer.
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    const folderTarget = target && target.dataset.dropFolder !== currentFolderId ? target : null;
    highlight(folderTarget);
    showOverlay(folderTarget);
  }

  document.addEventListener("dragenter", dragHover);
  document.addEventListener("dragover", dragHover);

  document.addEventListener("dragleave", (event) => {
    // Leaving the window: relatedTarget is null.
    if (!event.relatedTarget && !internalDrag) hideOverlay();
  });

  document.addEventListener("drop", (event) => {
    const target = dropTargetOf(event);
    if (internalDrag) {
      if (internalDrag.foreign) return;
      event.preventDefault();
      const drag = internalDrag;
      highlight(null);
      if (canMoveInto(target)) {
        moveItems(drag.items, target.dataset.dropFolder, targetLabel(target));
      }
      return;
    }
    if (!hasFiles(event)) return;
    event.preventDefault();
    const folderTarget = target && target.dataset.dropFolder !== currentFolderId ? target : null;
    hideOverlay();
    highlight(null);
    const destination = folderTarget ? { id: folderTarget.dataset.dropFolder, name: targetLabel(folderTarget) } : null;
    collectDropped(event.dataTransfer).then((collected) => uploadBatch(collected, destination, null));
  });

  async function moveItems(items, folderId, folderLabel) {
    for (const item of items) item.row.classList.add("busy");
    const errors = [];
    const moved = [];
    for (const item of items) {
      const isFolder = item.kind === "folder";
      const body = isFolder ? { parent_id: folderId || null } : { folder_id: folderId || null };
      const result = await apiRequest("PATCH", isFolder ? api.folder(item.id) : api.file(item.id), body);
      if (result.ok) moved.push(item.name);
      else errors.push(`${quoted(item.name)}: ${errorMessage(result.status, result.data)}`);
    }
    const errorText = errors.length ? `Could not move ${errors.length === 1 ? "one item" : plural(errors.length, "item")}:\n${errors.join("\n")}` : "";
    if (moved.length) {
      const what = moved.length === 1 ? quoted(moved[0]) : plural(moved.length, "item");
      flashAfterReload(`Moved ${what} to ${quoted(folderLabel)}.`, "success");
      if (errorText) flashAfterReload(errorText, "error");
      window.location.reload();
      return;
    }
    for (const item of items) item.row.classList.remove("busy");
    showFlash(errorText, "error");
  }

  showPendingFlashes();
  showResumeNotice();
})();
