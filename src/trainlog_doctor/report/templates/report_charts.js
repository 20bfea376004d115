/* trainlog-doctor report charts: draws each chart's embedded data with uPlot once it scrolls into view.
   Log-derived text (metric names, labels, messages) is only ever set as textContent, never as markup. */
(function () {
  "use strict";
  var U = window.uPlot;
  var doc = document;
  if (!U) return;
  doc.documentElement.classList.add("js");

  var COLORS = ["#0969da", "#8250df", "#1b7c83", "#57606a", "#8c959f"];
  var SEV = { error: "207,34,46", warning: "212,167,44", info: "9,105,218" };
  var LABEL = { error: "#a40e26", warning: "#7d4e00", info: "#0550ae" };
  var HEIGHT = 220;
  var MIN_REGION_PX = 6;
  var state = { smooth: 0, x: "auto", cps: false };
  var charts = [];

  function el(tag, cls, text) {
    var e = doc.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function fmt(v) {
    if (v == null) return "non-finite";
    if (!isFinite(v)) return String(v);
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3).replace(/\.?0+e/, "e");
    return String(parseFloat(v.toPrecision(5)));
  }

  function fmtDuration(s) {
    if (s == null || !isFinite(s)) return "";
    var neg = s < 0, t = Math.abs(s), out;
    if (t < 60) out = (t < 10 ? t.toFixed(1) : Math.round(t)) + " s";
    else if (t < 3600) out = Math.floor(t / 60) + "m " + ("0" + Math.round(t % 60)).slice(-2) + "s";
    else if (t < 86400) out = Math.floor(t / 3600) + "h " + ("0" + Math.floor((t % 3600) / 60)).slice(-2) + "m";
    else out = (t / 86400).toFixed(1) + " d";
    return (neg ? "-" : "") + out;
  }

  /* TensorBoard's scalar smoothing: an exponential moving average, debiased for the first points;
     non-finite points and constant series are left as they are. */
  function ema(ys, w) {
    if (!(w > 0)) return ys.slice();
    var first = null, constant = true;
    for (var i = 0; i < ys.length; i++) {
      if (ys[i] == null) continue;
      if (first === null) first = ys[i];
      else if (ys[i] !== first) { constant = false; break; }
    }
    var out = new Array(ys.length), last = 0, n = 0;
    for (var j = 0; j < ys.length; j++) {
      var y = ys[j];
      if (constant || y == null || !isFinite(y)) { out[j] = y; continue; }
      last = last * w + (1 - w) * y;
      n++;
      out[j] = last / (w === 1 ? 1 : 1 - Math.pow(w, n));
    }
    return out;
  }

  function interp(xs, ys, x) {
    var n = xs.length;
    if (!n || x == null) return null;
    if (n === 1 || x <= xs[0]) return ys[0];
    if (x >= xs[n - 1]) return ys[n - 1];
    var lo = 0, hi = n - 1;
    while (hi - lo > 1) { var mid = (lo + hi) >> 1; if (xs[mid] <= x) lo = mid; else hi = mid; }
    var d = xs[hi] - xs[lo];
    return d > 0 ? ys[lo] + (ys[hi] - ys[lo]) * (x - xs[lo]) / d : ys[lo];
  }

  function modeOf(d) {
    var have = { step: true, epoch: !!d.series[0].e, time: !!d.series[0].t };
    var want = state.x === "auto" ? d.x : state.x;
    return have[want] ? want : (have[d.x] ? d.x : "step");
  }

  function key(mode) { return mode === "epoch" ? "e" : mode === "time" ? "t" : "s"; }

  /* Align the series on one x array: points with the same x share a row; a series' own missing rows
     stay undefined (the line runs on), its non-finite points are null (the line breaks). */
  function align(d, mode) {
    var k = key(mode), pts = [];
    d.series.forEach(function (se, si) {
      var xs = se[k];
      for (var i = 0; i < xs.length; i++) if (xs[i] != null) pts.push([xs[i], si, i]);
    });
    pts.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1] || a[2] - b[2]; });
    var rows = [], cur = null;
    pts.forEach(function (p) {
      if (!cur || cur.x !== p[0] || cur.has[p[1]] !== undefined) {
        cur = { x: p[0], has: {}, src: p };
        rows.push(cur);
      }
      cur.has[p[1]] = p[2];
    });
    var smooth = d.series.map(function (se) { return ema(se.y, state.smooth); });
    var raw = d.series.map(function () { return new Array(rows.length); });
    var sm = d.series.map(function () { return new Array(rows.length); });
    rows.forEach(function (r, ri) {
      for (var si in r.has) {
        raw[si][ri] = d.series[si].y[r.has[si]];
        sm[si][ri] = smooth[si][r.has[si]];
      }
    });
    return { xs: rows.map(function (r) { return r.x; }), rows: rows, raw: raw, sm: sm };
  }

  /* Step -> x (epoch or seconds) along the series with the most points, for findings and change points. */
  function stepMapper(d, mode) {
    if (mode === "step") return function (s) { return s; };
    var base = d.series.reduce(function (a, b) { return b.s.length > a.s.length ? b : a; });
    var k = key(mode);
    return function (s) { return interp(base.s, base[k], s); };
  }

  function epochToStep(d) {
    var base = d.series.reduce(function (a, b) { return b.s.length > a.s.length ? b : a; });
    return function (e) { return base.e ? interp(base.e, base.s, e) : null; };
  }

  function findingRange(d, f, mode, toX) {
    var s0 = f.s0 != null ? f.s0 : f.s1, s1 = f.s1 != null ? f.s1 : f.s0;
    var e0 = f.e0 != null ? f.e0 : f.e1, e1 = f.e1 != null ? f.e1 : f.e0;
    if (mode === "epoch" && e0 != null) return [e0, e1];
    if (s0 == null && e0 != null) { var m = epochToStep(d); s0 = m(e0); s1 = m(e1); }
    if (s0 == null) return null;
    return [toX(s0), toX(s1)];
  }

  function drawOverlays(c, u) {
    var d = c.data, mode = c.mode, ctx = u.ctx, dpr = U.pxRatio || 1;
    var top = u.bbox.top, h = u.bbox.height, left = u.bbox.left, right = left + u.bbox.width;
    var toX = stepMapper(d, mode);
    var labels = [];
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top - 4 * dpr, u.bbox.width, h + 4 * dpr);
    ctx.clip();
    d.findings.forEach(function (f) {
      var r = findingRange(d, f, mode, toX);
      if (!r) return;
      var a = u.valToPos(Math.min(r[0], r[1]), "x", true), b = u.valToPos(Math.max(r[0], r[1]), "x", true);
      if (!isFinite(a) || !isFinite(b)) return;
      var onset = a, minw = MIN_REGION_PX * dpr;
      if (b - a < minw) { var mid = (a + b) / 2; a = mid - minw / 2; b = mid + minw / 2; }
      var rgb = SEV[f.sev] || SEV.info;
      if (f.sev !== "info") {
        ctx.fillStyle = "rgba(" + rgb + "," + (f.sev === "warning" ? 0.2 : 0.12) + ")";
        ctx.fillRect(a, top, b - a, h);
      }
      ctx.fillStyle = "rgba(" + rgb + ",0.9)";
      ctx.fillRect(a, top - 3 * dpr, b - a, 3 * dpr);
      labels.push([Math.max(a, left), f.code, LABEL[f.sev] || LABEL.info]);
      if (onset >= left && onset <= right) {
        ctx.strokeStyle = "rgba(" + rgb + ",0.85)";
        ctx.lineWidth = 1.5 * dpr;
        ctx.setLineDash(f.sev === "info" ? [2 * dpr, 3 * dpr] : []);
        ctx.beginPath();
        ctx.moveTo(Math.round(onset) + 0.5, top);
        ctx.lineTo(Math.round(onset) + 0.5, top + h);
        ctx.stroke();
      }
    });
    /* Finding codes inside the top of the plot, in up to two rows; a code that fits in neither is left out
       (the links under the chart list every one). */
    ctx.setLineDash([]);
    ctx.font = "700 " + Math.round(10.5 * dpr) + "px system-ui, sans-serif";
    ctx.textBaseline = "top";
    ctx.textAlign = "left";
    var rowsEnd = [-Infinity, -Infinity];
    labels.sort(function (p, q) { return p[0] - q[0]; }).forEach(function (l) {
      var w = ctx.measureText(l[1]).width, x = Math.min(l[0] + 3 * dpr, right - w - 2 * dpr);
      for (var row = 0; row < 2; row++) {
        if (x >= rowsEnd[row] + 4 * dpr) {
          rowsEnd[row] = x + w;
          ctx.fillStyle = "rgba(255,255,255,0.8)";
          ctx.fillRect(x - 1 * dpr, top + (2 + 13 * row) * dpr, w + 2 * dpr, 12 * dpr);
          ctx.fillStyle = l[2];
          ctx.fillText(l[1], x, top + (3 + 13 * row) * dpr);
          break;
        }
      }
    });
    ctx.setLineDash([4 * dpr, 4 * dpr]);
    ctx.lineWidth = 1 * dpr;
    d.cps.forEach(function (cp) {
      if (!cp.f && !state.cps) return;
      var x = u.valToPos(toX(cp.s), "x", true);
      if (!isFinite(x) || x < left || x > right) return;
      ctx.strokeStyle = COLORS[cp.c] || COLORS[4];
      ctx.globalAlpha = 0.6;
      ctx.beginPath();
      ctx.moveTo(Math.round(x) + 0.5, top);
      ctx.lineTo(Math.round(x) + 0.5, top + h);
      ctx.stroke();
    });
    ctx.restore();
  }

  function showTip(c, u) {
    var tip = c.tip, idx = u.cursor.idx;
    if (idx == null || !c.al) { tip.style.display = "none"; return; }
    var d = c.data, row = c.al.rows[idx], src = d.series[row.src[1]], i = row.src[2];
    while (tip.firstChild) tip.removeChild(tip.firstChild);
    var head = ["step " + fmt(src.s[i])];
    if (src.e) head.push("epoch " + fmt(src.e[i]));
    if (src.t) {
      var wall = src.t[i];
      var abs = d.t0 != null && d.t0 > 1e8 ? " (" + new Date((d.t0 + wall) * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC)" : "";
      head.push("+" + fmtDuration(wall) + abs);
    }
    tip.appendChild(el("div", "tip-x", head.join(" · ")));
    d.series.forEach(function (se, si) {
      var j = u.cursor.idxs ? u.cursor.idxs[1 + 2 * si] : idx;
      if (j == null) return;
      var v = c.al.raw[si][j];
      if (v === undefined) return;
      var line = el("div", "tip-v");
      var sw = el("i", "sw");
      sw.style.background = COLORS[se.c] || COLORS[4];
      line.appendChild(sw);
      var text = se.label + ": " + fmt(v);
      if (state.smooth > 0 && c.al.sm[si][j] != null) text += " (smoothed " + fmt(c.al.sm[si][j]) + ")";
      line.appendChild(doc.createTextNode(text));
      tip.appendChild(line);
    });
    tip.style.display = "block";
    var left = u.cursor.left, w = u.over.clientWidth;
    tip.style.left = (left > w / 2 ? left - tip.offsetWidth - 12 : left + 12) + "px";
    tip.style.top = Math.max(0, Math.min(u.cursor.top - 10, u.over.clientHeight - tip.offsetHeight)) + "px";
  }

  /* Axis labels; the labels last drawn are kept on the figure (data-xticks / data-yticks) for tests and tools. */
  function axisValues(c, which, f) {
    return function (u, splits) {
      var out = splits.map(function (v) { return v == null ? "" : f(v); });
      c.fig.setAttribute(which, out.join(" "));
      return out;
    };
  }

  function isDecade(v) {
    var l = Math.log10(Math.abs(v));
    return Math.abs(l - Math.round(l)) < 1e-9;
  }

  function render(c) {
    var d = c.data;
    c.mode = modeOf(d);
    c.al = align(d, c.mode);
    var smoothing = state.smooth > 0;
    var series = [{ label: c.mode }];
    var data = [c.al.xs];
    d.series.forEach(function (se, si) {
      var color = COLORS[se.c] || COLORS[4];
      series.push({ label: se.label, stroke: color, width: smoothing ? 1 : 1.6, alpha: smoothing ? 0.3 : 1,
                    points: { show: se.s.length <= 60, size: 4, fill: color }, spanGaps: false });
      series.push({ label: se.label + " (smoothed)", stroke: color, width: 1.8, show: smoothing,
                    points: { show: false }, spanGaps: false });
      data.push(c.al.raw[si], c.al.sm[si]);
    });
    var width = Math.max(240, c.box.clientWidth);
    /* A log axis is labelled and gridded at powers of ten only (unless the range spans less than one). */
    var yAxis = { size: 58, grid: { stroke: "#eef1f4" }, ticks: { stroke: "#d8dee4" }, values: axisValues(c, "data-yticks", fmt) };
    if (c.log) {
      var decades = function (u, splits) {
        var some = splits.some(function (v) { return v != null && isDecade(v); });
        return some ? splits.map(function (v) { return isDecade(v) ? v : null; }) : splits;
      };
      yAxis.filter = yAxis.grid.filter = yAxis.ticks.filter = decades;
    }
    var opts = {
      width: width, height: HEIGHT, series: series, legend: { show: false },
      scales: { x: { time: false }, y: { distr: c.log ? 3 : 1, log: 10 } },
      axes: [
        { values: axisValues(c, "data-xticks", c.mode === "time" ? fmtDuration : fmt), size: 34,
          grid: { stroke: "#eef1f4" }, ticks: { stroke: "#d8dee4" } },
        yAxis
      ],
      cursor: { drag: { x: true, y: false }, points: { size: 7 } },
      hooks: {
        drawAxes: [function (u) { drawOverlays(c, u); }],
        setCursor: [function (u) { showTip(c, u); }]
      }
    };
    if (c.plot) c.plot.destroy();
    while (c.box.firstChild) c.box.removeChild(c.box.firstChild);
    c.plot = new U(opts, data, c.box);
    c.tip = el("div", "tip");
    c.plot.over.appendChild(c.tip);
    c.plot.over.addEventListener("mouseleave", function () { c.tip.style.display = "none"; });
    c.xlabel.textContent = c.mode === "time" ? "relative time" : c.mode;
    c.fig.setAttribute("data-rendered", "1");
    c.fig.setAttribute("data-scale", c.log ? "log" : "linear");
  }

  function setup(fig) {
    var node = fig.querySelector("script.cdata");
    if (!node) return;
    var data;
    try { data = JSON.parse(node.textContent); } catch (e) { return; }
    data.series.forEach(function (se) {
      if (!se.s) { se.s = se.y.map(function (_, i) { return se.s0 + i * se.ds; }); }
      if (se.es) se.e = se.s;
    });
    var box = fig.querySelector(".live");
    var c = { fig: fig, data: data, box: box, plot: null, log: !!data.log, mode: null };
    var bar = el("div", "cbar");
    var logBtn = el("button", "logbtn", c.log ? "log" : "linear");
    logBtn.type = "button";
    logBtn.title = data.logOk ? "switch between a log and a linear y axis" : "a log axis needs every value above zero";
    logBtn.disabled = !data.logOk && !c.log;
    logBtn.addEventListener("click", function () {
      c.log = !c.log;
      logBtn.textContent = c.log ? "log" : "linear";
      if (c.plot) render(c);
    });
    bar.appendChild(el("span", "muted", "y:"));
    bar.appendChild(logBtn);
    c.xlabel = el("span", "xlab muted", "");
    bar.appendChild(el("span", "muted", "x:"));
    bar.appendChild(c.xlabel);
    var kept = data.series.reduce(function (a, se) { return a + se.y.length; }, 0);
    var total = data.series.reduce(function (a, se) { return a + se.n; }, 0);
    if (total > kept) bar.appendChild(el("span", "muted", "· " + kept + " of " + total + " points, every extreme kept"));
    bar.appendChild(el("span", "hint muted", "drag to zoom, double-click to reset"));
    box.parentNode.insertBefore(bar, box);
    charts.push(c);
    return c;
  }

  function toolbar() {
    var bar = doc.getElementById("chart-controls");
    if (!bar) return;
    var slider = bar.querySelector("#smoothing"), out = bar.querySelector("#smoothing-value");
    var xsel = bar.querySelector("#xaxis"), cps = bar.querySelector("#show-cps");
    var timer = null;
    slider.addEventListener("input", function () {
      state.smooth = parseFloat(slider.value) || 0;
      out.textContent = state.smooth.toFixed(2);
      clearTimeout(timer);
      timer = setTimeout(rerender, 60);
    });
    xsel.addEventListener("change", function () { state.x = xsel.value; rerender(); });
    cps.addEventListener("change", function () { state.cps = cps.checked; charts.forEach(function (c) { if (c.plot) c.plot.redraw(false); }); });
  }

  function rerender() { charts.forEach(function (c) { if (c.plot) render(c); }); }

  function init() {
    window.trainlogDoctorCharts = { ema: ema, charts: charts };  /* for tests and the console */
    var figs = doc.querySelectorAll("figure.chart[data-chart]");
    var list = [];
    for (var i = 0; i < figs.length; i++) { var c = setup(figs[i]); if (c) list.push(c); }
    toolbar();
    var all = /[?&]charts=all\b/.test(location.search);  /* report.html?charts=all draws every chart at once */
    if ("IntersectionObserver" in window && !all) {
      var io = new IntersectionObserver(function (entries) {
        entries.forEach(function (en) {
          if (!en.isIntersecting) return;
          io.unobserve(en.target);
          var c = en.target.__chart;
          if (c && !c.plot) render(c);
        });
      }, { rootMargin: "300px 0px" });
      list.forEach(function (c) { c.fig.__chart = c; io.observe(c.fig); });
    } else {
      list.forEach(render);
    }
    var resizeTimer = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () {
        charts.forEach(function (c) { if (c.plot) c.plot.setSize({ width: Math.max(240, c.box.clientWidth), height: HEIGHT }); });
      }, 100);
    });
    function openTarget() {
      var id = decodeURIComponent(location.hash.slice(1));
      var t = id && doc.getElementById(id);
      for (var n = t; n; n = n.parentElement) if (n.tagName === "DETAILS") n.open = true;
      if (t) t.scrollIntoView();
    }
    window.addEventListener("hashchange", openTarget);
    if (location.hash) openTarget();
    var closed = [];
    window.addEventListener("beforeprint", function () {
      closed = Array.prototype.filter.call(doc.querySelectorAll("details.run:not([open])"), function (x) { return true; });
      closed.forEach(function (x) { x.open = true; });
    });
    window.addEventListener("afterprint", function () { closed.forEach(function (x) { x.open = false; }); closed = []; });
  }

  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", init);
  else init();
})();
