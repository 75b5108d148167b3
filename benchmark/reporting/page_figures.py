"""The leaderboard page's figures: inline SVG drawn by a small script from the board's numbers
embedded in the page (`page_data.figure_data`), no library.

* `frontier(svg, models, metric)`: mean accuracy against online p50 µs (log scale), each
  model's 95% interval as a vertical whisker, the frontier (no faster model is better) dashed.
* `bars(svg, models, trace, main, higher)`: per trace, each model's main task and delta metric
  as bars with 95% intervals, best first.
* `horizon(svg, models, steps)`: the horizon track's mean acc@h against h (log scale), one
  line per model.

Names go in through `textContent` only; the SVG namespace is read from the page's own `<svg>`
elements, so the page names no URL.
"""

from __future__ import annotations

FIGURES_JS = r"""
var KO_FIGURES = (function () {
  "use strict";
  function el(svg, name, attrs, text) {
    var node = document.createElementNS(svg.namespaceURI, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function clear(svg) { while (svg.firstChild) { svg.removeChild(svg.firstChild); } }
  function num(v, d) { return v === null || v === undefined ? "" : Number(v).toFixed(d); }
  function short(name, n) { return name.length > n ? name.slice(0, n - 1) + "\u2026" : name; }
  function decade(k) {
    var v = Math.pow(10, k);
    return v >= 1000 ? (v / 1000) + "k" : String(Number(v.toPrecision(1)));
  }
  function frontier(svg, models, metric) {
    if (!svg) { return; }
    clear(svg);
    var W = 760, H = 360, L = 56, R = 140, T = 14, B = 40;
    var pts = models.filter(function (m) {
      return m.p50 !== null && m.p50 > 0 && m.mean[metric] && m.mean[metric][0] !== null;
    }).map(function (m) {
      var e = m.mean[metric];
      return {m: m, x: Math.log(m.p50) / Math.LN10, y: e[0],
              lo: e[1] === null ? e[0] : e[1], hi: e[2] === null ? e[0] : e[2]};
    });
    svg.setAttribute("data-points", String(pts.length));
    if (!pts.length) {
      svg.appendChild(el(svg, "text", {x: W / 2, y: H / 2, "text-anchor": "middle"},
        "no model has both an online latency and a mean " + metric));
      return;
    }
    var x0 = Math.floor(Math.min.apply(null, pts.map(function (p) { return p.x; })));
    var x1 = Math.ceil(Math.max.apply(null, pts.map(function (p) { return p.x; })));
    if (x1 <= x0) { x1 = x0 + 1; }
    var y0 = Math.min.apply(null, pts.map(function (p) { return p.lo; }));
    var y1 = Math.max.apply(null, pts.map(function (p) { return p.hi; }));
    var pad = Math.max((y1 - y0) * 0.08, 0.01);
    y0 -= pad; y1 += pad;
    function sx(x) { return L + (x - x0) / (x1 - x0) * (W - L - R); }
    function sy(y) { return T + (y1 - y) / (y1 - y0) * (H - T - B); }
    var k, i;
    for (k = x0; k <= x1; k++) {
      svg.appendChild(el(svg, "line", {x1: sx(k), x2: sx(k), y1: T, y2: H - B, "class": "grid"}));
      svg.appendChild(el(svg, "text", {x: sx(k), y: H - B + 14, "text-anchor": "middle"},
        decade(k)));
    }
    for (i = 0; i <= 4; i++) {
      var yv = y0 + (y1 - y0) * i / 4;
      svg.appendChild(el(svg, "line", {x1: L, x2: W - R, y1: sy(yv), y2: sy(yv), "class": "grid"}));
      svg.appendChild(el(svg, "text", {x: L - 4, y: sy(yv) + 4, "text-anchor": "end"},
        num(yv, 3)));
    }
    svg.appendChild(el(svg, "line", {x1: L, x2: W - R, y1: H - B, y2: H - B, "class": "axis"}));
    svg.appendChild(el(svg, "line", {x1: L, x2: L, y1: T, y2: H - B, "class": "axis"}));
    svg.appendChild(el(svg, "text", {x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle"},
      "online p50 \u00b5s per prediction (log scale)"));
    svg.appendChild(el(svg, "text", {x: 12, y: (T + H - B) / 2, "text-anchor": "middle",
      transform: "rotate(-90 12 " + (T + H - B) / 2 + ")"}, "mean " + metric));
    var sorted = pts.slice().sort(function (a, b) { return a.x - b.x || b.y - a.y; });
    var best = -Infinity, line = [];
    sorted.forEach(function (p) {
      if (p.y > best) { best = p.y; line.push(sx(p.x) + "," + sy(p.y)); }
    });
    svg.appendChild(el(svg, "polyline", {points: line.join(" "), "class": "frontier"}));
    var placed = [];  // label boxes drawn so far: a label that would overlap one moves down
    pts.slice().sort(function (a, b) { return b.y - a.y || a.x - b.x; }).forEach(function (p) {
      var lx = sx(p.x) + 7, ly = sy(p.y) - 5;
      for (var tries = 0; tries < 12 && placed.some(function (b) {
        return Math.abs(b[0] - lx) < 110 && Math.abs(b[1] - ly) < 12;
      }); tries++) { ly += 12; }
      placed.push([lx, ly]);
      p.lx = lx; p.ly = ly;
    });
    pts.forEach(function (p) {
      var g = el(svg, "g", {"class": "model", "data-model": p.m.model});
      g.appendChild(el(svg, "title", {}, p.m.model + ": " + metric + " " + num(p.y, 4) +
        " [" + num(p.lo, 4) + ", " + num(p.hi, 4) + "] at " + num(p.m.p50, 2) + " \u00b5s"));
      g.appendChild(el(svg, "line", {x1: sx(p.x), x2: sx(p.x), y1: sy(p.lo), y2: sy(p.hi),
        "class": "whisker"}));
      g.appendChild(el(svg, "circle", {cx: sx(p.x), cy: sy(p.y), r: 4.5,
        "class": "point " + p.m.kind}));
      g.appendChild(el(svg, "text", {x: p.lx, y: p.ly}, short(p.m.model, 22)));
      svg.appendChild(g);
    });
  }
  function panel(svg, models, trace, metric, higher, left, width, T, rowH) {
    var items = models.map(function (m) {
      var c = m.per_trace[trace];
      var e = c && c[metric];
      return e && e[0] !== null ? {m: m, v: e[0], lo: e[1] === null ? e[0] : e[1],
                                   hi: e[2] === null ? e[0] : e[2]} : null;
    }).filter(function (x) { return x; });
    items.sort(function (a, b) { return higher ? b.v - a.v : a.v - b.v; });
    var labelW = 120, x0 = left + labelW, x1 = left + width - 26;
    var lo = Math.min(0, Math.min.apply(null, items.map(function (p) { return p.lo; })));
    var hi = Math.max.apply(null, items.map(function (p) { return p.hi; }));
    if (!(hi > lo)) { hi = lo + 1; }
    function sx(v) { return x0 + (v - lo) / (hi - lo) * (x1 - x0); }
    svg.appendChild(el(svg, "text", {x: left + 4, y: T - 6, "font-weight": "bold"},
      metric + (higher ? " (higher is better)" : " (lower is better)")));
    items.forEach(function (p, i) {
      var y = T + i * rowH;
      var g = el(svg, "g", {"class": "model", "data-model": p.m.model});
      g.appendChild(el(svg, "title", {}, p.m.model + ": " + metric + " " + num(p.v, 4) +
        " [" + num(p.lo, 4) + ", " + num(p.hi, 4) + "]"));
      g.appendChild(el(svg, "text", {x: x0 - 4, y: y + rowH * 0.7, "text-anchor": "end"},
        short(p.m.model, 18)));
      g.appendChild(el(svg, "rect", {x: sx(Math.min(0, p.v)), y: y + 2, height: rowH - 4,
        width: Math.max(Math.abs(sx(p.v) - sx(0)), 1), "class": "bar " + p.m.kind}));
      var mid = y + rowH / 2;
      g.appendChild(el(svg, "line", {x1: sx(p.lo), x2: sx(p.hi), y1: mid, y2: mid,
        "class": "whisker"}));
      g.appendChild(el(svg, "line", {x1: sx(p.lo), x2: sx(p.lo), y1: mid - 3, y2: mid + 3,
        "class": "whisker"}));
      g.appendChild(el(svg, "line", {x1: sx(p.hi), x2: sx(p.hi), y1: mid - 3, y2: mid + 3,
        "class": "whisker"}));
      svg.appendChild(g);
    });
    var base = T + items.length * rowH;
    svg.appendChild(el(svg, "line", {x1: x0, x2: x1, y1: base, y2: base, "class": "axis"}));
    [lo, (lo + hi) / 2, hi].forEach(function (v) {
      svg.appendChild(el(svg, "text", {x: sx(v), y: base + 13, "text-anchor": "middle"},
        num(v, 3)));
    });
    return items.length;
  }
  function count(models, trace, metric) {
    return models.filter(function (m) {
      var c = m.per_trace[trace];
      return c && c[metric] && c[metric][0] !== null;
    }).length;
  }
  function bars(svg, models, trace, main, higher) {
    clear(svg);
    var rowH = 16, T = 26;
    var n = Math.max(count(models, trace, main.task), count(models, trace, main.delta));
    var H = T + Math.max(n, 1) * rowH + 24;
    svg.setAttribute("viewBox", "0 0 760 " + H);
    var a = panel(svg, models, trace, main.task, higher[main.task], 0, 380, T, rowH);
    var b = panel(svg, models, trace, main.delta, higher[main.delta], 380, 380, T, rowH);
    svg.setAttribute("data-bars", a + "," + b);
  }
  function horizon(svg, models, steps) {
    if (!svg) { return; }
    clear(svg);
    var W = 760, H = 360, L = 56, R = 150, T = 14, B = 40;
    var lines = models.filter(function (m) { return m.horizon && m.horizon["acc@1"]; });
    svg.setAttribute("data-lines", String(lines.length));
    if (!lines.length || !steps.length) {
      svg.appendChild(el(svg, "text", {x: W / 2, y: H / 2, "text-anchor": "middle"},
        "no model has horizon-track results on every trace"));
      return;
    }
    var x1 = Math.log(Math.max.apply(null, steps)) / Math.LN2;
    if (x1 <= 0) { x1 = 1; }
    function sx(h) { return L + Math.log(h) / Math.LN2 / x1 * (W - L - R); }
    function sy(y) { return T + (1 - y) * (H - T - B); }
    steps.forEach(function (h) {
      svg.appendChild(el(svg, "line", {x1: sx(h), x2: sx(h), y1: T, y2: H - B, "class": "grid"}));
      svg.appendChild(el(svg, "text", {x: sx(h), y: H - B + 14, "text-anchor": "middle"},
        String(h)));
    });
    [0, 0.25, 0.5, 0.75, 1].forEach(function (y) {
      svg.appendChild(el(svg, "line", {x1: L, x2: W - R, y1: sy(y), y2: sy(y), "class": "grid"}));
      svg.appendChild(el(svg, "text", {x: L - 4, y: sy(y) + 4, "text-anchor": "end"}, num(y, 2)));
    });
    svg.appendChild(el(svg, "text", {x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle"},
      "switches ahead h (log scale)"));
    svg.appendChild(el(svg, "text", {x: 12, y: (T + H - B) / 2, "text-anchor": "middle",
      transform: "rotate(-90 12 " + (T + H - B) / 2 + ")"}, "mean acc@h"));
    var placed = [];
    lines.forEach(function (m) {
      var pts = steps.filter(function (h) {
        var e = m.horizon["acc@" + h];
        return e && e[0] !== null;
      });
      var g = el(svg, "g", {"class": "model", "data-model": m.model});
      g.appendChild(el(svg, "title", {}, m.model + ": " + pts.map(function (h) {
        return "acc@" + h + " " + num(m.horizon["acc@" + h][0], 3);
      }).join(", ")));
      g.appendChild(el(svg, "polyline", {"class": "curve " + m.kind, points: pts.map(function (h) {
        return sx(h) + "," + sy(m.horizon["acc@" + h][0]);
      }).join(" ")}));
      var last = pts[pts.length - 1], ly = sy(m.horizon["acc@" + last][0]) + 4;
      for (var tries = 0; tries < 12 && placed.some(function (y) {
        return Math.abs(y - ly) < 11;
      }); tries++) { ly += 11; }
      placed.push(ly);
      g.appendChild(el(svg, "text", {x: sx(last) + 6, y: ly}, short(m.model, 22)));
      svg.appendChild(g);
    });
  }
  return {frontier: frontier, bars: bars, horizon: horizon};
})();
""".strip()
