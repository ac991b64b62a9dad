/* On every page: mark that JavaScript runs (CSS shows .js-only controls), and
   make the "⋯" row menus (details.row-menu) behave like menus: one open at a
   time, opening upwards near the bottom, closed by a click elsewhere. */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  /* Close every open row menu but `except`; tell whether one was open. */
  function closeMenus(except) {
    let closed = false;
    for (const menu of document.querySelectorAll("details.row-menu[open]")) {
      if (menu === except) continue;
      menu.open = false;
      closed = true;
    }
    return closed;
  }

  document.addEventListener("toggle", (event) => {
    const menu = event.target;
    if (!(menu instanceof HTMLDetailsElement) || !menu.classList.contains("row-menu") || !menu.open) return;
    closeMenus(menu);
    // Open upwards when there is no room below.
    menu.classList.remove("up");
    const list = menu.querySelector(".menu");
    const below = window.innerHeight - menu.getBoundingClientRect().bottom;
    if (list && below < list.offsetHeight + 12) menu.classList.add("up");
  }, true);

  document.addEventListener("click", (event) => {
    if (!event.target.closest("details.row-menu")) closeMenus();
  });

  window.vaultMenus = { close: closeMenus };
})();
