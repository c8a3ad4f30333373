"""The page's inline style sheet and script: nothing is fetched, the page works offline.

The script only adds to what the server-side SVG already shows: a cursor readout on
line plots, legend entries that hide or show their line, and ``data-rendered="1"`` on
each plot once wired (the browser test checks it).
"""

CSS = """
:root { --fg: #1f2328; --muted: #59636e; --bg: #fff; --panel: #f6f8fa; --line: #d1d9e0;
  --grid: #e8ecf0; --ok: #1a7f37; --bad: #cf222e; --bar: #0072b2; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --panel: #151b23; --line: #3d444d;
    --grid: #262c36; --ok: #3fb950; --bad: #f85149; --bar: #56b4e9; }
}
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); margin: 0 auto; max-width: 1500px; padding: 16px 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 6px; border-top: 1px solid var(--line); padding-top: 16px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.muted, .meta { color: var(--muted); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; }
th { background: var(--panel); font-weight: 600; white-space: nowrap; }
table.summary td { white-space: nowrap; }
table.summary td.sut, table.summary td.headline { white-space: normal; min-width: 10em; }
table.checks td:nth-child(2) { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.VALID, .PASS, .met { color: var(--ok); font-weight: 600; }
.INVALID, .FAIL, .unmet { color: var(--bad); font-weight: 600; }
tr.unmet-row td { background: color-mix(in srgb, var(--bad) 8%, transparent); }
ul.failed li { margin: 2px 0; }
code { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.note { border-left: 3px solid var(--muted); padding: 4px 10px; background: var(--panel); }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 12px; }
figure { margin: 0; background: var(--panel); border: 1px solid var(--line); border-radius: 6px;
  padding: 8px 10px; }
figcaption { font-weight: 600; margin-bottom: 2px; }
svg.plot { width: 100%; height: auto; display: block; font-size: 11px; }
svg.plot text { fill: var(--fg); }
svg.plot .grid line { stroke: var(--grid); }
svg.plot .axis line { stroke: var(--muted); }
svg.plot .xt, svg.plot .xlabel, svg.plot .ylabel, svg.plot .empty { text-anchor: middle; }
svg.plot .yt { text-anchor: end; }
svg.plot .note { text-anchor: end; fill: var(--muted); }
svg.plot .bar { fill: var(--bar); opacity: 0.85; }
svg.plot .bar:hover { opacity: 1; }
svg.plot .series { fill: none; stroke-width: 1.8; stroke-linejoin: round; }
svg.plot .guide line { stroke: var(--muted); stroke-dasharray: 4 3; }
svg.plot .guide text { fill: var(--muted); font-size: 10px; }
svg.plot .legend-box { fill: var(--bg); stroke: var(--line); opacity: 0.92; }
svg.plot .legend-item { cursor: pointer; }
svg.plot .legend-item line { stroke-width: 3; }
svg.plot .legend-item.off { opacity: 0.35; }
svg.plot .cursor { stroke: var(--muted); stroke-dasharray: 2 2; }
details { margin: 8px 0; }
summary { cursor: pointer; color: var(--muted); }
"""

JS = """
(function () {
  "use strict";
  function num(el, name) { return parseFloat(el.getAttribute("data-" + name)); }
  function pointsOf(line) {
    var text = (line.getAttribute("points") || "").trim();
    if (!text) { return []; }
    return text.split(/\\s+/).map(function (p) {
      var xy = p.split(",");
      return [parseFloat(xy[0]), parseFloat(xy[1])];
    });
  }
  function yAt(pts, px, step) {
    if (!pts.length || px < pts[0][0] || px > pts[pts.length - 1][0]) { return null; }
    var lo = 0, hi = pts.length - 1;
    while (lo < hi) {
      var mid = (lo + hi + 1) >> 1;
      if (pts[mid][0] <= px) { lo = mid; } else { hi = mid - 1; }
    }
    var a = pts[lo], b = pts[Math.min(lo + 1, pts.length - 1)];
    if (step || b[0] === a[0]) { return a[1]; }
    return a[1] + (b[1] - a[1]) * (px - a[0]) / (b[0] - a[0]);
  }
  function fmt(v) {
    var a = Math.abs(v);
    return a >= 1000 ? Math.round(v).toLocaleString("en-US")
      : v.toFixed(a >= 100 ? 1 : a >= 10 ? 2 : 3);
  }
  function wireLegend(svg, lines) {
    svg.querySelectorAll(".legend-item").forEach(function (item) {
      function toggle() {
        var i = item.getAttribute("data-series"), off = item.classList.toggle("off");
        lines.forEach(function (l) {
          if (l.getAttribute("data-series") === i) { l.style.display = off ? "none" : ""; }
        });
      }
      item.addEventListener("click", toggle);
      item.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); }
      });
    });
  }
  function wireReadout(svg, lines) {
    var hover = svg.querySelector(".hover"), cursor = svg.querySelector(".cursor");
    var readout = svg.querySelector(".readout");
    if (!hover || !cursor || !readout || !lines.length) { return; }
    var pts = lines.map(pointsOf);
    var L = num(svg, "left"), R = num(svg, "right"), T = num(svg, "top"), B = num(svg, "bottom");
    var x0 = num(svg, "x0"), x1 = num(svg, "x1"), y0 = num(svg, "y0"), y1 = num(svg, "y1");
    var xlog = svg.getAttribute("data-xlog") === "1";
    svg.addEventListener("mousemove", function (e) {
      var m = svg.getScreenCTM();
      if (!m) { return; }
      var p = new DOMPoint(e.clientX, e.clientY).matrixTransform(m.inverse());
      if (p.x < L || p.x > R || p.y < T || p.y > B) {
        hover.setAttribute("visibility", "hidden");
        return;
      }
      cursor.setAttribute("x1", p.x);
      cursor.setAttribute("x2", p.x);
      var f = (p.x - L) / (R - L);
      var x = xlog ? Math.pow(10, Math.log10(x0) + f * (Math.log10(x1) - Math.log10(x0)))
        : x0 + f * (x1 - x0);
      var parts = [svg.getAttribute("data-xlabel") + " " + fmt(x)];
      lines.forEach(function (l, k) {
        if (l.style.display === "none") { return; }
        var py = yAt(pts[k], p.x, l.getAttribute("data-step") === "1");
        if (py !== null) {
          var y = y0 + (B - py) / (B - T) * (y1 - y0);
          parts.push(l.getAttribute("data-label") + ": " + fmt(y));
        }
      });
      readout.textContent = parts.join("   ");
      hover.setAttribute("visibility", "visible");
    });
    svg.addEventListener("mouseleave", function () { hover.setAttribute("visibility", "hidden"); });
  }
  var figures = document.querySelectorAll("figure.plot-box");
  figures.forEach(function (fig) {
    var svg = fig.querySelector("svg.plot");
    if (!svg) { return; }
    var lines = Array.prototype.slice.call(svg.querySelectorAll("polyline.series"));
    wireLegend(svg, lines);
    wireReadout(svg, lines);
    fig.setAttribute("data-rendered", "1");
  });
  var done = document.querySelectorAll('figure.plot-box[data-rendered="1"]').length;
  document.documentElement.setAttribute("data-plots-rendered", String(done));
})();
"""
