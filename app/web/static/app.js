// Almanac: page-wide behaviour. The live indicator follows the page's SSE connection
// (htmx sse extension events); errors of htmx requests become toasts.
(function () {
  "use strict";
  var LABELS = { live: "Live", connecting: "Connecting", error: "Error", off: "Disconnected" };
  var pending = null;

  function indicator(state) {
    var el = document.getElementById("live");
    if (!el) return;
    el.hidden = false;
    el.dataset.state = state;
    el.lastElementChild.textContent = LABELS[state];
  }

  // A stream that ends on purpose (the server closes it every few seconds) reconnects at
  // once: show "Connecting" only when the reconnect takes longer than a moment.
  function later(state, ms) {
    if (pending) return;
    pending = window.setTimeout(function () { pending = null; indicator(state); }, ms);
  }

  // The server ends each stream after a while, saying "bye" first; the browser then reconnects
  // by itself (with Last-Event-ID). That planned reconnect is not an error: the sse
  // extension's error handler (which logs to the console) sees only real failures.
  htmx.createEventSource = function (url) {
    var source = new EventSource(url, { withCredentials: true });
    var planned = false;
    var handler = null;
    source.addEventListener("bye", function () { planned = true; });
    Object.defineProperty(source, "onerror", {
      get: function () { return handler; },
      set: function (fn) { handler = fn; }
    });
    source.addEventListener("error", function (evt) {
      if (planned && source.readyState === EventSource.CONNECTING) {
        planned = false; // a failure of the reconnect itself is reported
        return;
      }
      // A real failure: stop the browser's own quick retries; the extension reconnects
      // with a growing delay (and the page resyncs on the new stream).
      source.close();
      if (handler) handler.call(source, evt);
    });
    return source;
  };

  // Settings: "Use this browser's zone" picks the zone the browser runs in.
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest("[data-browser-zone]");
    if (!button) return;
    var select = document.getElementById("profile-timezone");
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (select && zone && select.querySelector("option[value='" + zone + "']")) select.value = zone;
  });

  document.addEventListener("htmx:sseOpen", function () {
    if (pending) { window.clearTimeout(pending); pending = null; }
    indicator("live");
    document.body.dispatchEvent(new CustomEvent("almanac:live"));
  });
  document.addEventListener("htmx:sseError", function (evt) {
    var source = evt.detail && evt.detail.source;
    if (source && source.readyState === EventSource.CONNECTING) later("connecting", 1500);
    else { if (pending) { window.clearTimeout(pending); pending = null; } indicator("error"); }
  });
  document.addEventListener("htmx:sseClose", function (evt) {
    if (evt.detail && evt.detail.type === "nodeReplaced") later("connecting", 1500);
    else indicator("off");
  });
  document.addEventListener("htmx:load", function () {
    if (!document.querySelector("[sse-connect]")) {
      var el = document.getElementById("live");
      if (el && el.dataset.state === "off") el.hidden = true;
    } else if (document.getElementById("live").dataset.state === "off") {
      indicator("connecting");
    }
  });

  function toast(text, kind, href) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var div = document.createElement(href ? "a" : "div");
    div.className = "toast " + (kind || "");
    div.textContent = text;
    if (href) div.href = href;
    box.appendChild(div);
    while (box.children.length > 3) box.firstElementChild.remove();
    window.setTimeout(function () { div.remove(); }, 4500);
  }
  window.almanacToast = toast;

  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail.xhr;
    var text = (xhr.responseText || "").replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
    toast(text || ("Request failed: " + xhr.status), "error");
  });
  document.addEventListener("htmx:sendError", function () {
    toast("The server cannot be reached.", "error");
  });
  // Server-sent toasts: HX-Trigger: {"toast": "text"} or {"toast": {"text", "href", "kind"}}
  document.addEventListener("toast", function (evt) {
    var d = evt.detail || {};
    if (typeof d.value === "string") toast(d.value);
    else toast(d.text || "", d.kind, d.href);
  });

  // Rows that open something in a side panel: mark the one chosen.
  document.addEventListener("click", function (evt) {
    var row = evt.target.closest && evt.target.closest("tr[data-select]");
    if (!row) return;
    row.parentNode.querySelectorAll("tr.selected").forEach(function (r) { r.classList.remove("selected"); });
    row.classList.add("selected");
  });

  // A heat map wider than the screen scrolls by itself (responsive.css) and opens on its
  // latest weeks, at its right end.
  function latestWeeks() {
    document.querySelectorAll(".hm").forEach(function (map) {
      if (map.scrollWidth > map.clientWidth) map.scrollLeft = map.scrollWidth;
    });
  }
  document.addEventListener("DOMContentLoaded", latestWeeks);
})();
