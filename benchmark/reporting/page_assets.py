"""The leaderboard page's inline style and core script (no external resource).

The script runs from <head> once the document is parsed (until then only the overall view is
drawn, so the first paint is not every view at once). It keeps the page's state in the URL
hash (`#view=trace&trace=mixed&refs=0&sort=acc&dir=asc`): links and buttons only change the
hash, and one `apply()` reads it on load and on every `hashchange`, so a view can be linked
and back/forward work. It shows the named view, hides reference (and, where rows carry them,
default or tuned) rows, sorts the view's tables and redraws the figures (`page_figures`). It
never writes markup: text goes in through `textContent`, SVG nodes through `createElementNS`.
"""

from __future__ import annotations

CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:16px 20px;
color:#1b1b1b;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:18px 0 6px}h3{font-size:15px;
margin:16px 0 4px}
header{border-bottom:1px solid #ddd;padding-bottom:8px}
nav a,#toggles button{display:inline-block;margin:2px 2px 2px 0;padding:3px 9px;
border:1px solid #b8c4d6;border-radius:4px;color:#173f7a;background:#f5f8fc;
text-decoration:none;font:inherit}
nav a[aria-current=page]{background:#173f7a;color:#fff;border-color:#173f7a}
#toggles{margin-top:4px}#toggles button{cursor:pointer}
#toggles button[aria-pressed=false]{background:#fff;color:#555;text-decoration:line-through}
a:focus-visible,button:focus-visible{outline:3px solid #e07b00;outline-offset:2px}
.wide{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;margin:6px 0 14px;font-size:13px}
th,td{border:1px solid #d6d6d6;padding:3px 6px;text-align:right;vertical-align:top}
td{white-space:nowrap}
th{background:#f2f2f2;position:sticky;top:0}
th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;
color:inherit;text-align:inherit}
th.sorted-asc button::after{content:" \\25B2"}th.sorted-desc button::after{content:" \\25BC"}
td.name,th.name,td.text{text-align:left}
td.name{min-width:7em;max-width:16em;overflow-wrap:anywhere;white-space:normal}
td.status,td.vs{white-space:normal;min-width:6em;max-width:13em;text-align:left}
td.marks{max-width:12em;white-space:normal}
td.files{white-space:normal;min-width:4em;max-width:9em}td.files a{margin-right:4px}
td small{display:block;color:#666}
tr.reference td.name{font-style:italic}
tr.failed td,tr.incomplete td,td.status{color:#a33}
tr.suspected-leak td.name::after{content:" \\26A0"}
.note{color:#555;max-width:72em;margin:4px 0}
figure.chart{margin:8px 0 18px;max-width:760px}
svg.plot{width:100%;height:auto;display:block;border:1px solid #e2e2e2;background:#fcfcfc}
svg.plot text{font:11px system-ui,sans-serif;fill:#333}
svg.plot .axis{stroke:#888}svg.plot .grid{stroke:#eee}
svg.plot .frontier{fill:none;stroke:#173f7a;stroke-width:1.5;stroke-dasharray:4 3}
svg.plot .point{fill:#173f7a}svg.plot .point.reference{fill:#fff;stroke:#a35a00;stroke-width:2}
svg.plot .whisker{stroke:#333;stroke-width:1.2}
svg.plot .bar{fill:#9db7dd}svg.plot .bar.reference{fill:#e8c89c}
svg.plot .curve{fill:none;stroke:#173f7a;stroke-width:1.5}
svg.plot .curve.reference{stroke:#a35a00;stroke-dasharray:4 3}
figcaption{color:#555;font-size:13px}
footer{margin-top:24px;border-top:1px solid #ddd}
html.js:not(.ready) section.view:not(#view-overall){display:none}
""".strip()

JS = r"""
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var root = document.documentElement;
  var data = JSON.parse(document.getElementById("board-data").textContent);
  var traces = data.traces;
  var VARIANTS = ["all", "default", "tuned"];
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.view"));
  var tables = Array.prototype.slice.call(document.querySelectorAll("table.sortable"));
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-kind]"));
  var refsButton = document.getElementById("toggle-refs");
  var variantButton = document.getElementById("toggle-variant");
  var state = {};
  tables.forEach(function (table) {
    Array.prototype.slice.call(table.tBodies[0].rows).forEach(function (row, i) {
      row.setAttribute("data-order", String(i));
    });
  });
  function hasView(view) {
    return sections.some(function (s) { return s.getAttribute("data-view") === view; });
  }
  function parseHash() {
    var out = {};
    window.location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var i = part.indexOf("=");
      if (i <= 0) { return; }
      try {
        out[decodeURIComponent(part.slice(0, i))] = decodeURIComponent(part.slice(i + 1));
      } catch (e) { /* a malformed escape: ignore the part */ }
    });
    var view = hasView(out.view) ? out.view : "overall";
    var trace = "";
    if (view === "trace") { trace = traces.indexOf(out.trace) >= 0 ? out.trace : traces[0]; }
    return {
      view: view, trace: trace, refs: out.refs === "0" ? "0" : "1",
      variant: VARIANTS.indexOf(out.variant) > 0 ? out.variant : "all",
      sort: out.sort || "", dir: out.dir === "asc" || out.dir === "desc" ? out.dir : ""
    };
  }
  function hashOf(s) {
    var parts = ["view=" + encodeURIComponent(s.view)];
    if (s.view === "trace") { parts.push("trace=" + encodeURIComponent(s.trace)); }
    if (s.refs === "0") { parts.push("refs=0"); }
    if (s.variant !== "all") { parts.push("variant=" + s.variant); }
    if (s.sort) {
      parts.push("sort=" + encodeURIComponent(s.sort));
      if (s.dir) { parts.push("dir=" + s.dir); }
    }
    return "#" + parts.join("&");
  }
  function go(changes) {
    var next = {};
    Object.keys(state).forEach(function (k) { next[k] = state[k]; });
    Object.keys(changes).forEach(function (k) { next[k] = changes[k]; });
    window.location.hash = hashOf(next);
  }
  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell ? cell.getAttribute("data-v") : null;
    if (numeric) {
      if (raw === null || raw === "") { return null; }
      var v = parseFloat(raw);
      return isNaN(v) ? null : v;
    }
    return raw === null ? (cell ? cell.textContent : null) : raw;
  }
  function order(row) { return parseInt(row.getAttribute("data-order"), 10); }
  function heads(table) { return Array.prototype.slice.call(table.tHead.rows[0].cells); }
  function sortTable(table, key, dir) {
    var hs = heads(table), body = table.tBodies[0];
    var index = -1;
    hs.forEach(function (th, i) { if (th.getAttribute("data-key") === key) { index = i; } });
    var all = Array.prototype.slice.call(body.rows);
    hs.forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
    hs.forEach(function (h) { h.removeAttribute("aria-sort"); });
    if (index < 0) {
      all.sort(function (a, b) { return order(a) - order(b); });
      all.forEach(function (row) { body.appendChild(row); });
      table.removeAttribute("data-sorted-by");
      table.removeAttribute("data-sorted-dir");
      return;
    }
    var th = hs[index];
    var numeric = th.getAttribute("data-type") === "number";
    if (dir !== "asc" && dir !== "desc") {
      dir = th.getAttribute("data-better") === "higher" ? "desc" : "asc";
    }
    var sign = dir === "asc" ? 1 : -1;
    all.sort(function (a, b) {
      var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
      if (x === null && y === null) { return order(a) - order(b); }
      if (x === null) { return 1; }   // empty cells last, whichever the direction
      if (y === null) { return -1; }
      if (x < y) { return -sign; }
      if (x > y) { return sign; }
      return order(a) - order(b);
    });
    all.forEach(function (row) { body.appendChild(row); });
    th.classList.add("sorted-" + dir);
    th.setAttribute("aria-sort", dir === "asc" ? "ascending" : "descending");
    table.setAttribute("data-sorted-by", key);
    table.setAttribute("data-sorted-dir", dir);
  }
  function shown(kind, variant) {
    if (state.refs === "0" && kind === "reference") { return false; }
    return state.variant === "all" || !variant || variant === state.variant;
  }
  function current(section) {
    return section.getAttribute("data-view") === state.view &&
      (state.view !== "trace" || section.getAttribute("data-trace") === state.trace);
  }
  function updateLinks() {
    Array.prototype.slice.call(document.querySelectorAll("a[data-nav]")).forEach(function (a) {
      var view = a.getAttribute("data-nav");
      var trace = a.getAttribute("data-trace") || "";
      a.setAttribute("href", hashOf({
        view: view, trace: trace, refs: state.refs, variant: state.variant, sort: "", dir: ""
      }));
      var here = a.parentNode.id === "views" && view === state.view &&
        (view !== "trace" || trace === state.trace);
      if (here) {
        a.setAttribute("aria-current", "page");
      } else {
        a.removeAttribute("aria-current");
      }
    });
  }
  function apply() {
    state = parseHash();
    root.setAttribute("data-view", state.view);
    root.setAttribute("data-trace", state.trace);
    root.setAttribute("data-refs", state.refs);
    root.setAttribute("data-variant", state.variant);
    var section = null;
    sections.forEach(function (s) {
      var on = current(s);
      s.hidden = !on;
      if (on) { section = s; }
    });
    rows.forEach(function (row) {
      row.hidden = !shown(row.getAttribute("data-kind"), row.getAttribute("data-variant"));
    });
    refsButton.setAttribute("aria-pressed", state.refs === "1" ? "true" : "false");
    refsButton.textContent = state.refs === "1" ? "reference rows shown" : "reference rows hidden";
    if (variantButton) {
      variantButton.setAttribute("data-variant", state.variant);
      variantButton.textContent = {all: "default and tuned rows", "default": "default rows only",
                                   tuned: "tuned rows only"}[state.variant];
    }
    updateLinks();
    tables.forEach(function (table) {
      if (section && section.contains(table)) { sortTable(table, state.sort, state.dir); }
    });
    var models = data.models.filter(function (m) { return shown(m.kind, m.variant); });
    if (state.view === "overall") {
      KO_FIGURES.frontier(document.getElementById("frontier"), models, data.main.task);
    }
    if (state.view === "horizon") {
      KO_FIGURES.horizon(document.getElementById("horizon-plot"), models, data.horizon_steps);
    }
    if (state.view === "trace" && section) {
      var svg = section.querySelector("svg.bars");
      if (svg) { KO_FIGURES.bars(svg, models, state.trace, data.main, data.higher); }
    }
  }
  tables.forEach(function (table) {
    heads(table).forEach(function (th) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var key = th.getAttribute("data-key");
        var dir = "";
        if (state.sort === key) {
          dir = table.getAttribute("data-sorted-dir") === "asc" ? "desc" : "asc";
        }
        go({sort: key, dir: dir});
      });
    });
  });
  refsButton.addEventListener("click", function () {
    go({refs: state.refs === "1" ? "0" : "1"});
  });
  if (variantButton) {
    variantButton.addEventListener("click", function () {
      go({variant: VARIANTS[(VARIANTS.indexOf(state.variant) + 1) % VARIANTS.length]});
    });
  }
  window.addEventListener("hashchange", apply);
  apply();
  root.classList.add("ready");
});
""".strip()
