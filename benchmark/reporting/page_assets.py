"""The leaderboard page's inline style and script (no external resource): sorting by any
column, through the URL hash (`#sort=KEY&dir=asc`) or a header click."""

from __future__ import annotations

CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1b1b1b}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0 16px}
th,td{border:1px solid #d0d0d0;padding:4px 8px;text-align:right;white-space:nowrap}
th{background:#f2f2f2;cursor:pointer;user-select:none;position:sticky;top:0}
th.sorted-asc::after{content:" \\25B2"}th.sorted-desc::after{content:" \\25BC"}
td.name,th.name,td.text{text-align:left}
tr.reference td.name{font-style:italic}
tr.failed td,tr.incomplete td{color:#a33}
small{color:#666}
#ceiling th,#failed th,#refused th{text-align:left}
.note{color:#555;max-width:70em}
""".strip()

JS = r"""
(function () {
  "use strict";
  var table = document.getElementById("board");
  var body = table.tBodies[0];
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function parseHash() {
    var out = {};
    var text = decodeURIComponent(window.location.hash.replace(/^#/, ""));
    text.split("&").forEach(function (part) {
      var i = part.indexOf("=");
      if (i > 0) { out[part.slice(0, i)] = part.slice(i + 1); }
    });
    return out;
  }
  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell.getAttribute("data-v");
    if (numeric) {
      if (raw === null || raw === "") { return null; }
      var v = parseFloat(raw);
      return isNaN(v) ? null : v;
    }
    return raw === null ? cell.textContent : raw;
  }
  function sortBy(key, dir) {
    var index = -1;
    heads.forEach(function (th, i) { if (th.getAttribute("data-key") === key) { index = i; } });
    if (index < 0) { return false; }
    var th = heads[index];
    var numeric = th.getAttribute("data-type") === "number";
    if (dir !== "asc" && dir !== "desc") {
      dir = th.getAttribute("data-better") === "higher" ? "desc" : "asc";
    }
    var sign = dir === "asc" ? 1 : -1;
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (row, i) { row.setAttribute("data-order", String(i)); });
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
      if (x === null && y === null) { return 0; }
      if (x === null) { return 1; }   // empty cells last, whichever the direction
      if (y === null) { return -1; }
      if (x < y) { return -sign; }
      if (x > y) { return sign; }
      var i = parseInt(a.getAttribute("data-order"), 10);
      return i - parseInt(b.getAttribute("data-order"), 10);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    heads.forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
    th.classList.add("sorted-" + dir);
    table.setAttribute("data-sorted-by", key);
    table.setAttribute("data-sorted-dir", dir);
    return true;
  }
  function fromHash() {
    var state = parseHash();
    if (state.sort) { sortBy(state.sort, state.dir); }
  }
  heads.forEach(function (th) {
    th.addEventListener("click", function () {
      var key = th.getAttribute("data-key");
      var state = parseHash();
      var dir = "";
      if (state.sort === key) {
        dir = table.getAttribute("data-sorted-dir") === "asc" ? "desc" : "asc";
      }
      window.location.hash = "sort=" + encodeURIComponent(key) + (dir ? "&dir=" + dir : "");
    });
  });
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
""".strip()
