// Almanac: what must hold before the first paint. Loaded in <head> without `defer` (a static
// file, so the Content-Security-Policy's script-src 'self' allows it), it
//  - puts data-theme="light|dark" on <html>: this browser's choice from the header's toggle
//    (localStorage), else the system's prefers-color-scheme, followed live while none is chosen;
//  - tells the server this browser's timezone in the `almanac_tz` cookie: pages show times in
//    it until the user chooses a zone in their settings (the server checks the name);
//  - opens and closes the navigation behind the menu button on narrow screens.
(function () {
  "use strict";
  var KEY = "almanac-theme";
  var root = document.documentElement;
  var system = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function saved() {
    try { return window.localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function apply(theme) {
    root.dataset.theme = theme;
    document.dispatchEvent(new CustomEvent("almanac:theme", { detail: { theme: theme } }));
    var button = document.querySelector("[data-theme-toggle]");
    if (button) {
      var other = theme === "dark" ? "light" : "dark";
      button.setAttribute("aria-label", "Switch to the " + other + " theme");
      button.title = "Switch to the " + other + " theme";
    }
  }
  function current() {
    var choice = saved();
    if (choice === "light" || choice === "dark") return choice;
    return system && system.matches ? "dark" : "light";
  }
  apply(current());
  if (system && system.addEventListener) {
    system.addEventListener("change", function () { if (!saved()) apply(current()); });
  }

  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("almanac_tz=" + encodeURIComponent(zone)) < 0) {
      document.cookie = "almanac_tz=" + encodeURIComponent(zone) +
        "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) { /* no Intl: the server keeps the user's own zone */ }

  document.addEventListener("DOMContentLoaded", function () { apply(current()); });
  document.addEventListener("click", function (evt) {
    var target = evt.target;
    if (!target.closest) return;
    if (target.closest("[data-theme-toggle]")) {
      var next = current() === "dark" ? "light" : "dark";
      try { window.localStorage.setItem(KEY, next); } catch (e) { /* private mode: this page only */ }
      apply(next);
      return;
    }
    var menu = target.closest("[data-menu-toggle]");
    if (menu) {
      var bar = menu.closest(".topbar");
      var open = bar.classList.toggle("nav-open");
      menu.setAttribute("aria-expanded", open ? "true" : "false");
    }
  });
  document.addEventListener("keydown", function (evt) {
    if (evt.key !== "Escape") return;
    var bar = document.querySelector(".topbar.nav-open");
    if (!bar) return;
    bar.classList.remove("nav-open");
    var menu = bar.querySelector("[data-menu-toggle]");
    menu.setAttribute("aria-expanded", "false");
    menu.focus();
  });
})();
