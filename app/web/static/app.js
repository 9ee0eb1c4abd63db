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

  function toast(text, kind) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var div = document.createElement("div");
    div.className = "toast " + (kind || "");
    div.textContent = text;
    box.appendChild(div);
    window.setTimeout(function () { div.remove(); }, 6000);
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
  // Server-sent toasts: HX-Trigger: {"toast": "text"}
  document.addEventListener("toast", function (evt) { toast(evt.detail.value || ""); });
})();
