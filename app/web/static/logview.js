// Almanac log viewer: live append of new output, search with next/previous over the whole
// stream (the server returns the matching line numbers), highlight, follow mode, line times.
(function () {
  "use strict";
  var PAGE = 500, MAX_LIVE_LINES = 5000;
  var matches = [], current = -1, query = "", searchTimer = null, pendingLine = null;

  function body() { return document.getElementById("log-body"); }
  function lines() { return document.getElementById("log-lines"); }
  function follow() { var el = document.getElementById("log-follow"); return el && el.checked; }

  // ---- ANSI colours ---------------------------------------------------------------
  // SGR colour and bold codes become spans (classes ansi-fg-N, ansi-bold); other control
  // sequences are dropped. The raw text stays on the line for search to start from.
  var CSI = /\x1b\[([0-9;?]*)([A-Za-z])/g;
  function plain(raw) { return raw.replace(CSI, ""); }
  function paint(t, raw) {
    t.dataset.raw = raw;
    if (raw.indexOf("\x1b[") < 0) { t.textContent = raw; return; }
    t.textContent = "";
    var fg = null, bold = false, at = 0, m;
    function put(text) {
      if (!text) return;
      if (fg === null && !bold) { t.appendChild(document.createTextNode(text)); return; }
      var span = document.createElement("span");
      span.className = (fg !== null ? "ansi-fg-" + fg : "") + (bold ? " ansi-bold" : "");
      span.textContent = text;
      t.appendChild(span);
    }
    CSI.lastIndex = 0;
    while ((m = CSI.exec(raw)) !== null) {
      put(raw.slice(at, m.index));
      at = CSI.lastIndex;
      if (m[2] !== "m") continue;
      (m[1] || "0").split(";").forEach(function (code) {
        var n = parseInt(code || "0", 10);
        if (n === 0) { fg = null; bold = false; }
        else if (n === 1) bold = true;
        else if (n === 22) bold = false;
        else if (n === 39) fg = null;
        else if ((n >= 30 && n <= 37) || (n >= 90 && n <= 97)) fg = n;
      });
    }
    put(raw.slice(at));
  }
  function rawOf(t) { return t.dataset.raw !== undefined ? t.dataset.raw : t.textContent; }

  // ---- line times -----------------------------------------------------------------
  // Each line carries its time (data-at: when the server received the output it starts in,
  // UTC); shown on demand as HH:MM:SS.mmm in the viewer's timezone (data-zone, named beside
  // the toggle), the date and UTC on hover. Drawn by this one function for the lines of a
  // page and for the lines that arrive live, so both read the same.
  var TIMES_KEY = "almanac-log-times", formats = {};
  function timesOn() { var el = document.getElementById("log-times"); return !!(el && el.checked); }
  function zone() { var b = body(); return (b && b.dataset.zone) || "UTC"; }
  function partsIn(date, name) {
    if (!formats[name]) {
      formats[name] = new Intl.DateTimeFormat("en-GB", {
        timeZone: name, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"
      });
    }
    var out = {};
    formats[name].formatToParts(date).forEach(function (p) { out[p.type] = p.value; });
    return out;
  }
  function clock(p, ms) { return p.hour + ":" + p.minute + ":" + p.second + "." + ms; }
  function stamp(div) {
    if (div.querySelector(".lt")) return;
    var span = document.createElement("span"), at = div.dataset.at;
    span.className = "lt";
    if (at) {
      var date = new Date(at), name = zone(), ms = ("00" + date.getUTCMilliseconds()).slice(-3);
      var here = partsIn(date, name), utc = partsIn(date, "UTC");
      span.textContent = clock(here, ms);
      span.title = here.year + "-" + here.month + "-" + here.day + " " + clock(here, ms) + " " + name +
        " · " + utc.year + "-" + utc.month + "-" + utc.day + " " + clock(utc, ms) + " UTC";
    } else {
      span.textContent = "—";
      span.title = "No time: this output was stored before line times were kept";
    }
    div.insertBefore(span, div.querySelector(".t"));
  }
  function stampAll() {
    var section = document.getElementById("logs"), box = lines();
    if (section) section.classList.toggle("show-times", timesOn());
    if (timesOn() && box) box.querySelectorAll(".ln").forEach(stamp);
  }
  // The time of the line starting at `index` of a live message: its chunk's (the last mark
  // at or before it).
  function timeAt(marks, index) {
    var found = null;
    (marks || []).forEach(function (m) { if (m[0] <= index) found = m[1]; });
    return found;
  }

  // ---- live output --------------------------------------------------------------
  function lineCount(b, stream) { return parseInt(b.dataset["lines" + cap(stream)] || "0", 10); }
  function cap(s) { return s.charAt(0).toUpperCase() + s.slice(1); }

  function addLine(box, number, text, at) {
    var div = document.createElement("div");
    div.className = "ln";
    div.id = "l-" + number;
    if (at) div.dataset.at = at;
    var a = document.createElement("a");
    a.className = "no"; a.href = "#l-" + number; a.textContent = number;
    var t = document.createElement("span");
    t.className = "t"; paint(t, text);
    div.appendChild(a); div.appendChild(t);
    if (timesOn()) stamp(div);
    box.appendChild(div);
    return div;
  }

  function append(msg) {
    var b = body();
    if (!b) return;
    var stream = msg.stream, text = msg.text;
    var key = cap(stream), open = b.dataset["open" + key] === "1";
    var total = lineCount(b, stream);
    var pieces = text.split("\n");
    var ends = pieces.pop();  // after the last newline ("" when the text ends with one)
    var live = b.dataset.live === "1" && b.dataset.stream === stream;
    var box = lines();
    if (live) {
      var empty = document.getElementById("log-empty");
      if (empty) empty.remove();
    }
    var all = pieces.concat(ends === "" ? [] : [ends]);
    var start = 0;
    all.forEach(function (piece, i) {
      var begins = start;
      start += piece.length + 1;
      var continuing = i === 0 && open;
      if (!continuing) total += 1;
      if (!live) return;
      if (continuing) {
        var last = box.lastElementChild;
        if (last && last.classList.contains("ln")) {
          var lt = last.querySelector(".t");
          paint(lt, rawOf(lt) + piece);
          mark(last);
          return;
        }
      }
      mark(addLine(box, total, piece, timeAt(msg.at, begins)));
    });
    b.dataset["open" + key] = ends === "" ? "0" : "1";
    b.dataset["lines" + key] = String(total);
    var count = document.getElementById("count-" + stream);
    if (count) count.textContent = total;
    var range = document.getElementById("log-range");
    if (live && range && box.firstElementChild && box.firstElementChild.classList.contains("ln")) {
      range.textContent = "lines " + box.firstElementChild.id.slice(2) + "–" + total + " of " + total;
    }
    if (live) {
      while (box.children.length > MAX_LIVE_LINES) box.firstElementChild.remove();
      if (follow()) box.scrollTop = box.scrollHeight;
    }
  }

  // ---- search ---------------------------------------------------------------------
  function escapeRe(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

  function mark(line) {
    var t = line.querySelector(".t");
    if (!t) return;
    var raw = rawOf(t), text = plain(raw);
    if (!query) { paint(t, raw); return; }
    var re = new RegExp(escapeRe(query), "gi");
    if (!re.test(text)) { paint(t, raw); return; }
    t.dataset.raw = raw;
    t.textContent = "";
    var at = 0;
    text.replace(re, function (hit, index) {
      t.appendChild(document.createTextNode(text.slice(at, index)));
      var m = document.createElement("mark");
      m.textContent = hit;
      t.appendChild(m);
      at = index + hit.length;
      return hit;
    });
    t.appendChild(document.createTextNode(text.slice(at)));
  }

  function markAll() {
    var box = lines();
    if (!box) return;
    box.querySelectorAll(".ln").forEach(mark);
    box.querySelectorAll(".ln.cur").forEach(function (el) { el.classList.remove("cur"); });
  }

  function counter() {
    var el = document.getElementById("log-count");
    if (!el) return;
    if (!query) { el.textContent = "0 / 0"; return; }
    var total = matches.total || 0;
    var shown = matches.lines ? matches.lines.length : 0;
    el.textContent = (total ? current + 1 : 0) + " / " + total + (total > shown ? " (first " + shown + ")" : "");
    el.classList.toggle("none", total === 0);
  }

  function search() {
    var b = body(), input = document.getElementById("log-q");
    query = input.value.trim();
    matches = []; current = -1;
    if (!query) { markAll(); counter(); return; }
    var url = "/task-runs/" + b.dataset.run + "/log/search?stream=" + b.dataset.stream +
      "&attempt=" + b.dataset.attempt + "&q=" + encodeURIComponent(query);
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
      if (query !== input.value.trim()) return;
      matches = data;
      markAll();
      if (data.lines && data.lines.length) go(0); else counter();
    });
  }

  function go(index) {
    var found = matches.lines || [];
    if (!found.length) return;
    current = (index + found.length) % found.length;
    counter();
    show(found[current]);
  }

  function show(number) {
    var el = document.getElementById("l-" + number);
    if (el) { highlight(el); return; }
    var b = body(), page = Math.ceil(number / PAGE);
    pendingLine = number;
    document.getElementById("log-follow").checked = false;
    htmx.ajax("GET", "/task-runs/" + b.dataset.run + "/log?stream=" + b.dataset.stream +
      "&page=" + page + "&attempt=" + b.dataset.attempt, { target: "#log-body", swap: "outerHTML" });
  }

  function highlight(el) {
    lines().querySelectorAll(".ln.cur").forEach(function (x) { x.classList.remove("cur"); });
    el.classList.add("cur");
    var box = lines();
    box.scrollTop = el.offsetTop - box.offsetTop - box.clientHeight / 3;
  }

  // ---- follow ------------------------------------------------------------------------
  // Scrolling up to read releases Follow; scrolling back to the bottom takes it up again.
  document.addEventListener("scroll", function (evt) {
    var box = evt.target;
    if (!box || box.id !== "log-lines") return;
    var el = document.getElementById("log-follow");
    if (!el) return;
    var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 8;
    if (el.checked !== atBottom) el.checked = atBottom;
  }, true);

  // ---- wiring -----------------------------------------------------------------------
  document.addEventListener("htmx:sseBeforeMessage", function (evt) {
    var msg = evt.detail;
    if (!msg || evt.target.id !== "run-feed") return;
    if (msg.type === "log") { evt.preventDefault(); append(JSON.parse(msg.data)); }
    else if (msg.type === "reload") { evt.preventDefault(); window.location.reload(); }
  });

  // A new page of lines (tab, pager, reload, a match on another page) was swapped in.
  document.addEventListener("htmx:load", function (evt) {
    if (!evt.target || evt.target.id !== "log-body") return;
    var b = body(), box = lines();
    markAll();
    stampAll();
    if (pendingLine) {
      var el = document.getElementById("l-" + pendingLine);
      pendingLine = null;
      if (el) highlight(el);
    } else if (b.dataset.live === "1" && follow()) {
      box.scrollTop = box.scrollHeight;
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var input = document.getElementById("log-q");
    if (!input) return;
    input.addEventListener("input", function () {
      window.clearTimeout(searchTimer);
      searchTimer = window.setTimeout(search, 300);
    });
    input.addEventListener("keydown", function (evt) {
      if (evt.key !== "Enter") return;
      evt.preventDefault();
      if (input.value.trim() !== query) { window.clearTimeout(searchTimer); search(); return; }
      go(current + (evt.shiftKey ? -1 : 1));
    });
    document.getElementById("log-next").addEventListener("click", function () { go(current + 1); });
    document.getElementById("log-prev").addEventListener("click", function () { go(current - 1); });
    document.getElementById("log-follow").addEventListener("change", function (evt) {
      var b = body();
      if (!evt.target.checked || !b) return;
      if (b.dataset.live === "1") { lines().scrollTop = lines().scrollHeight; return; }
      htmx.ajax("GET", "/task-runs/" + b.dataset.run + "/log?stream=" + b.dataset.stream +
        "&attempt=" + b.dataset.attempt, { target: "#log-body", swap: "outerHTML" });
    });
    var times = document.getElementById("log-times");
    try { times.checked = window.localStorage.getItem(TIMES_KEY) === "1"; } catch (e) { /* none */ }
    times.addEventListener("change", function () {
      try { window.localStorage.setItem(TIMES_KEY, times.checked ? "1" : "0"); } catch (e) { /* none */ }
      stampAll();
    });
    var b = body();
    markAll();  // colours on the lines the page came with
    stampAll();
    if (b && b.dataset.live === "1" && follow()) lines().scrollTop = lines().scrollHeight;
    if (window.location.hash === "#logs") document.getElementById("logs").scrollIntoView();
  });
})();
