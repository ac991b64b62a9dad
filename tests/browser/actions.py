"""What a person does on the folder page, in Playwright terms."""

import base64

from playwright.sync_api import expect

# Remembers, in sessionStorage, every state each upload row went through: the
# page reloads itself as soon as the last upload is done, too soon to look.
UPLOAD_RECORDER = """
(() => {
  const KEY = "vault-test.uploads";
  function record() {
    const list = document.getElementById("upload-list");
    if (!list) return;
    const rows = JSON.parse(sessionStorage.getItem(KEY) || "{}");
    for (const item of list.querySelectorAll(".upload-item")) {
      const name = item.querySelector(".upload-name").title;
      const progress = item.querySelector("progress");
      const row = rows[name] || { values: [], states: [] };
      const value = Number(progress.value);
      if (row.values[row.values.length - 1] !== value) row.values.push(value);
      row.max = Number(progress.max);
      const state = item.className.replace("upload-item", "").trim();
      if (row.states[row.states.length - 1] !== state) row.states.push(state);
      row.status = item.querySelector(".status").textContent;
      rows[name] = row;
    }
    sessionStorage.setItem(KEY, JSON.stringify(rows));
  }
  new MutationObserver(record).observe(document, {
    subtree: true, childList: true, attributes: true, characterData: true,
  });
})();
"""


def record_uploads(page) -> None:
    """Start recording the upload rows (from the next page load on)."""
    page.add_init_script(UPLOAD_RECORDER)


def recorded_uploads(page) -> dict:
    """{path/name: {"values": [...], "max": ..., "states": [...], "status": ...}}"""
    return page.evaluate(
        "JSON.parse(sessionStorage.getItem('vault-test.uploads') || '{}')"
    )


def throttle_uploads(page, bytes_per_second: int):
    """Slow uploads down (Chromium's network emulation) so progress shows."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_second,
        },
    )
    return cdp


def drop_files(page, files, target="body") -> None:
    """Drag files from the desktop and drop them on `target` (a selector).

    `files` maps names to contents (str or bytes). The page gets the same
    dragenter, dragover and drop events, with a DataTransfer holding the
    files, as with files dragged from a file manager.
    """
    page.wait_for_load_state()  # files.js listens for drops once it has run
    contents = [
        [name, content, False]
        if isinstance(content, str)
        else [name, base64.b64encode(content).decode(), True]
        for name, content in files.items()
    ]
    transfer = page.evaluate_handle(
        """(files) => {
          const transfer = new DataTransfer();
          for (const [name, content, isBase64] of files) {
            const data = isBase64
              ? Uint8Array.from(atob(content), (char) => char.charCodeAt(0))
              : content;
            transfer.items.add(new File([data], name));
          }
          return transfer;
        }""",
        contents,
    )
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event(target, event, {"dataTransfer": transfer})


def pick_files(page, *paths) -> None:
    """Choose files with "Upload files", as a person would."""
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload files").click()
    chooser.value.set_files(list(paths))


def pick_folder(page, folder) -> None:
    """Choose a folder with "Upload folder", as a person would."""
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload folder").click()
    chooser.value.set_files(folder)


def uploads_panel(page):
    return page.get_by_role("region", name="Uploads")


def upload_row(page, name):
    """The uploads panel's entry for the file called `name`."""
    return uploads_panel(page).get_by_role("listitem").filter(has_text=name)


def row(page, name):
    """The listing's row for the file or folder called `name`."""
    return page.get_by_role("row").filter(
        has=page.get_by_role("checkbox", name=f"Select {name}", exact=True)
    )


def open_row_menu(page, name) -> None:
    page.get_by_label(f"Actions for {name}", exact=True).click()


def main_nav(page):
    return page.get_by_role("navigation", name="Main")


def crumbs(page):
    """The "Folder path" breadcrumbs, one entry per folder."""
    return page.get_by_role("navigation", name="Folder path").get_by_role("listitem")


def open_folder(page, name) -> None:
    row(page, name).get_by_role("link").click()
    expect(crumbs(page).last).to_have_text(name)
    page.wait_for_load_state()


def wait_until_loaded(images) -> None:
    """Wait until every image the locator finds has loaded (naturalWidth > 0)."""
    expect(images.first).to_be_attached()
    images.page.wait_for_function(
        "images => images.every(image => image.complete && image.naturalWidth > 0)",
        arg=images.element_handles(),
    )
