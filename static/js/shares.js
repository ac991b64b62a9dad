/* Share links, the owner's side: copy buttons, the expiry and kind choices, a
   confirmation before revoking, row menus on "My shares", and the "Share…"
   dialog of the folder page, which shows the new link without leaving the page.
   Every page works without this file: forms post, links open the full pages. */
(function () {
  "use strict";

  /* ---------- Copy a link ---------- */

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain http (a LAN address) has no clipboard API: copy through a selection.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "copy-buffer";
    document.body.append(area);
    area.select();
    let copied = false;
    try {
      copied = document.execCommand("copy");
    } catch {
      copied = false;
    }
    area.remove();
    return copied ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function announce(button, text, state) {
    const label = button.querySelector(".copy-label");
    if (!label) return;
    if (!button.dataset.label) button.dataset.label = label.textContent;
    label.textContent = text;
    button.classList.remove("copied", "copy-failed");
    button.classList.add(state);
    clearTimeout(Number(button.dataset.timer || 0));
    button.dataset.timer = String(setTimeout(() => {
      label.textContent = button.dataset.label;
      button.classList.remove(state);
    }, 2500));
    const status = document.getElementById("copy-status");
    if (status) status.textContent = text;
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy-text], [data-copy-from]");
    if (!button) return;
    event.preventDefault();
    const source = button.dataset.copyFrom ? document.querySelector(button.dataset.copyFrom) : null;
    const text = source ? source.value : button.dataset.copyText;
    if (source) source.select();
    copyText(text).then(
      () => announce(button, "Copied", "copied"),
      () => announce(button, source ? "Press Ctrl+C to copy" : "Copy failed", "copy-failed"),
    );
  });

  // Clicking the link field selects all of it, ready to copy by hand.
  document.addEventListener("focusin", (event) => {
    if (event.target.matches && event.target.matches(".copy-field input")) event.target.select();
  });

  if (!document.getElementById("copy-status")) {
    const status = document.createElement("p");
    status.id = "copy-status";
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    document.body.append(status);
  }

  /* ---------- Forms: custom expiry, kind, confirmations ---------- */

  function syncForm(form) {
    const custom = form.querySelector('input[name="expires"][value="custom"]');
    const dateField = form.querySelector("[data-custom-expiry]");
    if (custom && dateField) {
      dateField.hidden = !custom.checked;
      // A hidden date must not be sent: the preset is what counts.
      dateField.querySelector("input").disabled = !custom.checked;
    }
    const kind = form.querySelector('input[name="kind"]:checked');
    for (const part of form.querySelectorAll("[data-kind]")) {
      const shown = !kind || part.dataset.kind === kind.value;
      part.hidden = !shown;
      for (const input of part.querySelectorAll("input")) input.disabled = !shown;
    }
  }

  function syncAll(root) {
    for (const form of root.querySelectorAll("form.share-form")) syncForm(form);
  }

  document.addEventListener("change", (event) => {
    const form = event.target.closest && event.target.closest("form.share-form");
    if (!form) return;
    syncForm(form);
    if (event.target.name === "expires" && event.target.value === "custom") {
      const date = form.querySelector("[data-custom-expiry] input");
      if (date) date.focus();
    }
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (form.matches("form[data-share-form]") && form.closest("dialog")) {
      event.preventDefault();
      submitInDialog(form);
    }
  });

  syncAll(document);

  /* ---------- The "Share…" dialog of the folder page ---------- */

  // files.js fetches the form into the dialog; watch for it to arrive.
  const dialogBody = document.querySelector("dialog .dialog-body");
  if (dialogBody) {
    new MutationObserver(() => syncAll(dialogBody)).observe(dialogBody, { childList: true });
  }

  function showInDialog(section, message) {
    const content = document.importNode(section, true);
    if (message) {
      const flash = document.createElement("p");
      flash.className = "flash flash-success";
      flash.setAttribute("role", "status");
      flash.textContent = message;
      content.prepend(flash);
    }
    dialogBody.replaceChildren(content);
    syncAll(dialogBody);
    const focus = content.querySelector("[aria-invalid=true], .copy-field input, input:not([type=hidden]), button");
    if (focus) focus.focus();
  }

  async function submitInDialog(form) {
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    let page = null;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
      page = new DOMParser().parseFromString(await response.text(), "text/html");
    } catch {
      page = null;
    }
    if (button) button.disabled = false;
    // The new link's page, or the form again with its errors.
    const section = page && page.querySelector("[data-dialog-content]");
    if (section) {
      // The server's "Link created" message is on the page it sent us to.
      const created = page.querySelector(".flash-success");
      showInDialog(section, created ? created.textContent.trim() : "");
      return;
    }
    const message = (page && page.querySelector("main h1")?.textContent) ||
      "The link could not be made. Check your connection and try again.";
    let alert = form.querySelector(".dialog-error");
    if (!alert) {
      alert = document.createElement("div");
      alert.className = "alert dialog-error";
      alert.setAttribute("role", "alert");
      form.prepend(alert);
    }
    alert.textContent = message;
  }

  /* ---------- Row menus on "My shares" (files.js has its own keys) ---------- */

  if (document.querySelector(".file-manager")) return;

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const open = document.querySelector("details.row-menu[open]");
    if (!open) return;
    open.open = false;
    open.querySelector("summary").focus();
  });
})();
