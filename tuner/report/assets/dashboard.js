/* tuner dashboard pages (`tune dashboard`): the sweeps of a runs directory, and one sweep live. Runs after app.js
   in the same script and uses its helpers (tunerPage.lib); every value reaches the page as a text node.

   A sweep page keeps a copy of the sweep (rows, learning curves, summary, best so far, importance, and a
   multi-objective sweep's Pareto front) and asks the server every interval_ms for what changed since its version
   (`?since=V&epoch=E`); it patches its copy and redraws only the parts whose data changed, the heavy charts (10^4
   curves or lines) at most every DRAW_MS. */
(function () {
  "use strict";

  var PAGE = window.tunerPage, DATA = PAGE.data, L = PAGE.lib, el = L.el, fmt = L.fmt;
  if (DATA.kind !== "sweeps" && DATA.kind !== "sweep") return;
  var BLUE = L.colors.blue, PINK = L.colors.pink, GREY = L.colors.grey;
  var STATE_COLORS = { finished: "#43a047", stopped: "#d81b60", paused: "#fb8c00", failed: "#e53935",
                       interrupted: "#8d6e63", running: "#1e88e5", pending: "#cfd8dc", skipped: "#80cbc4" };
  // the trial states come from the server (DATA.trial_states, tuner.store.status.TrialState): one it adds is drawn grey
  function stateColor(state) { return STATE_COLORS[state] || GREY; }
  // marks on learning curves, by the kind the server sends (tuner.dashboard.state.curve_marks); a kind not listed is
  // drawn as a grey diamond and named in the legend
  var MARK_STYLES = { stopped: { color: PINK, shape: "x", label: "stopped early" },
                      paused: { color: "#fb8c00", shape: "diamond", label: "paused" },
                      resumed: { color: "#1e88e5", shape: "diamond", label: "continued from a checkpoint" },
                      exploit: { color: "#8e24aa", shape: "diamond", label: "PBT: took another trial's checkpoint" } };
  var DRAW_MS = 1500, PAGE_SIZE = 50, FILTER_EVERY_MS = 3000;

  // ------------------------------------------------------------------------------------------------
  // helpers

  function api(url) {
    return fetch(url, { cache: "no-store" }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body && body.error ? body.error : "HTTP " + r.status);
        return body;
      });
    });
  }

  function post(url) {
    return fetch(url, { method: "POST", cache: "no-store", headers: { "X-Tuner-Token": DATA.token || "" } })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(body && body.error ? body.error : "HTTP " + r.status);
          return body;
        });
      });
  }

  function when(seconds) {
    if (typeof seconds !== "number") return "\u2014";
    return new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }

  function duration(seconds) {
    if (typeof seconds !== "number") return "\u2014";
    if (seconds < 60) return seconds.toFixed(1) + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min " + Math.round(seconds % 60) + " s";
    return Math.floor(seconds / 3600) + " h " + Math.round((seconds % 3600) / 60) + " min";
  }

  function stateBadge(state) {
    return el("span", { cls: "badge state-" + state + " status-" + state, text: state });
  }

  function short(column) { return column.replace(/^(flag|metric)_/, ""); }

  // a canvas as wide as its box, sharp on high-density screens; draw(ctx, width, height) in CSS pixels
  function canvasIn(box, height) {
    var canvas = el("canvas", { cls: "plot" });
    box.appendChild(canvas);
    return {
      canvas: canvas, height: height,
      size: function () {
        var ratio = window.devicePixelRatio || 1, width = Math.max(280, box.clientWidth || 560);
        canvas.width = Math.round(width * ratio);
        canvas.height = Math.round(height * ratio);
        canvas.style.width = width + "px";
        canvas.style.height = height + "px";
        var ctx = canvas.getContext("2d");
        ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
        return { ctx: ctx, width: width, height: height };
      }
    };
  }

  function niceTicks(lo, hi, count) {
    if (!(hi > lo)) return [lo];
    var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / count)));
    var err = (hi - lo) / count / step;
    step *= err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1;
    var ticks = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
    return ticks;
  }

  function extent(values) {
    var lo = Infinity, hi = -Infinity;
    values.forEach(function (v) { if (typeof v === "number" && isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; } });
    if (lo === Infinity) return [0, 1];
    if (lo === hi) { lo -= Math.abs(lo) * 0.05 || 0.5; hi += Math.abs(hi) * 0.05 || 0.5; }
    return [lo, hi];
  }

  // ------------------------------------------------------------------------------------------------
  // The sweeps page

  function renderSweeps(root) {
    root.appendChild(L.header("Sweeps", DATA.runs_dir + (DATA.control ? "  \u00b7  control on: sweeps can be " +
      "stopped and resumed from their page" : "  \u00b7  read-only"), null));
    var box = el("div", { cls: "block", id: "sweeps" }, [el("p", { cls: "empty", text: "Reading the runs\u2026" })]);
    root.appendChild(box);
    var state = { version: -1, polls: 0, sweeps: null };
    PAGE.sweeps = state;

    function draw(sweeps) {
      box.textContent = "";
      if (!sweeps.length) {
        box.appendChild(el("p", { cls: "empty", text: "No sweeps in this runs directory yet: `tune train.py --flags " +
          "grid.yml` starts one, and it appears here." }));
        return;
      }
      var heads = ["sweep", "state", "planned"].concat(DATA.trial_states, ["best", "started", "script"]);
      var body = el("tbody", null, sweeps.map(function (s) {
        var best = s.objectives ? [s.front != null ? "front: " + s.front + " run" + (s.front === 1 ? "" : "s") + " (" +
          s.objectives.map(function (o) { return o.metric + " " + o.mode; }).join(", ") + ")" : "no front: no run " +
          "recorded every metric"] : s.best ? [s.metric + " = " + fmt(s.best.value) + " ", el("a", {
          href: "/run/" + s.best.run, text: "trial " + fmt(s.best.trial) })] :
          [s.metric ? "no finished trial with " + s.metric : "\u2014"];
        var counts = ["planned"].concat(DATA.trial_states).map(function (k) {
          return el("td", { cls: "num", text: fmt(s[k]) });
        });
        return el("tr", { "data-sweep": s.sweep }, [
          el("td", null, [el("a", { href: "/sweep/" + encodeURIComponent(s.sweep), text: s.sweep })]),
          el("td", null, [stateBadge(s.state)])].concat(counts, [
          el("td", { cls: "best" }, best), el("td", { text: when(s.started) }),
          el("td", { cls: "path", text: s.script || "\u2014", title: s.damaged || null })]));
      }));
      box.appendChild(el("table", { cls: "grid sweeps" }, [el("thead", null, [el("tr", null, heads.map(function (h) {
        return el("th", { text: h });
      }))]), body]));
    }

    function tick() {
      api(DATA.endpoint + "?v=" + state.version).then(function (answer) {
        state.polls += 1;
        if (answer.unchanged) return;
        state.version = answer.version;
        state.sweeps = answer.sweeps;
        draw(answer.sweeps);
      }).catch(function (error) { problem(root, "The dashboard server does not answer (" + error.message + ")."); });
    }
    tick();
    setInterval(tick, DATA.interval_ms || 2000);
  }

  function problem(root, text) {
    var box = root.querySelector(".problems.live");
    if (!box) {
      box = el("div", { cls: "problems live" });
      root.insertBefore(box, root.children[1] || null);
    }
    box.textContent = text;
    box.hidden = !text;
  }

  // ------------------------------------------------------------------------------------------------
  // One sweep

  function renderSweep(root) {
    var SW = { rows: {}, curves: {}, version: 0, epoch: null, summary: null, progress: null, importance: null,
               pareto: null, pareto_version: 0, polls: 0, filter: null, sort: { column: "run", desc: true }, page: 0,
               highlight: null,
               drawn: { curves: 0, marks: {}, parallel: null, front: null } };
    PAGE.sweep = SW;
    var parts = {};
    var lastDraw = 0, drawTimer = null, dirty = {};

    // the sections, in page order; a multi-objective sweep's Pareto front joins after the trial states when the
    // server sends `pareto` (its best-so-far chart and importance, of one metric, are hidden then)
    parts.header = el("header", { cls: "top" });
    parts.message = el("p", { cls: "control-message", hidden: "" });
    parts.states = L.section("Trials", [], "states");
    parts.progressBox = el("div", { cls: "chart progress" });
    parts.curvesBox = el("div", { cls: "chart curves" });
    parts.curvesNote = el("p", { cls: "sub" });
    parts.progress = L.section("Best so far", [parts.progressBox], "progress");
    parts.charts = el("div", { cls: "charts" }, [
      parts.progress, L.section("Learning curves", [parts.curvesNote, parts.curvesBox], "curves")]);
    parts.parallelBox = el("div", { cls: "chart pcp" });
    parts.parallelNote = el("p", { cls: "sub" });
    parts.parallel = L.section("Flags against the metric", [parts.parallelNote, parts.parallelBox], "parallel");
    parts.importance = L.section("Flag importance", [el("p", { cls: "empty", text: "Waiting for finished trials." })],
                                 "importance");
    parts.trials = trialsSection();
    [parts.header, parts.message, parts.states, parts.charts, parts.parallel, parts.importance, parts.trials]
      .forEach(function (node) { root.appendChild(node); });
    var curvesPlot = canvasIn(parts.curvesBox, 300), overlay = el("canvas", { cls: "plot overlay" });
    parts.curvesBox.appendChild(overlay);
    var parallelPlot = canvasIn(parts.parallelBox, 360);

    // -- header and controls
    function drawHeader() {
      var S = SW.summary || {};
      parts.header.textContent = "";
      var judged = S.objectives ? "metrics " + objectiveNames(S.objectives) + ": a Pareto front, no single best" +
        (S.constraints && S.constraints.length ? "; constraints " + S.constraints.join(", ") : "") :
        S.metric ? "metric " + S.metric + " (" + (S.mode === "min" ? "lower" : "higher") + " is better)" : "no metric yet";
      var sub = [S.script || "", S.started ? "started " + when(S.started) : "", judged, S.search && S.search !== "random" ?
        "search " + S.search : "", S.stop ? "stopping rule " + S.stop : ""].filter(Boolean).join("  \u00b7  ");
      var buttons = [];
      if (DATA.control && S.state === "running") buttons.push(button("Stop sweep", "stop-sweep", function () {
        return post(DATA.endpoint + "/stop");
      }));
      if (DATA.control && (S.state === "interrupted" || S.state === "incomplete") && S.journal) {
        buttons.push(button("Resume sweep", "resume-sweep", function () { return post(DATA.endpoint + "/resume"); }));
      }
      parts.header.appendChild(el("h1", null, ["Sweep " + DATA.sweep + " ", S.state ? stateBadge(S.state) : null]));
      parts.header.appendChild(el("p", { cls: "sub", text: sub }));
      parts.header.appendChild(el("div", { cls: "controls" }, buttons.length ? buttons :
        [DATA.control ? null : el("span", { cls: "note", text: "read-only: start `tune dashboard --allow-control` " +
          "to stop trials or stop and resume the sweep" })]));
    }

    function button(text, action, send) {
      var node = el("button", { type: "button", cls: "action", "data-action": action, text: text });
      node.addEventListener("click", function () {
        node.disabled = true;
        say("\u2026", "");
        send().then(function (answer) { say(answer.message, "ok"); })
          .catch(function (error) { say(error.message, "error"); })
          .then(function () { node.disabled = false; });
      });
      return node;
    }

    function say(text, kind) {
      parts.message.textContent = text;
      parts.message.className = "control-message " + (kind || "");
      parts.message.hidden = !text;
    }

    // -- trial states: one bar, a segment per state
    function drawStates() {
      var S = SW.summary;
      if (!S) return;
      var names = DATA.trial_states;
      var total = names.reduce(function (n, k) { return n + (S[k] || 0); }, 0) || 1;
      var bar = el("div", { cls: "state-bar" }, names.filter(function (k) { return S[k]; }).map(function (k) {
        return el("span", { cls: "segment", "data-state": k, title: S[k] + " " + k,
                            style: "width:" + (100 * S[k] / total) + "%;background:" + stateColor(k) });
      }));
      var legend = el("p", { cls: "state-legend" }, names.map(function (k) {
        return el("span", { cls: "legend-item", "data-state": k }, [el("span", { cls: "swatch",
          style: "background:" + stateColor(k) }), S[k] + " " + k]);
      }));
      var runs = S.runs !== S.planned ? " (" + S.runs + " runs)" : "";
      var note = S.best ? "best " + S.metric + " = " + fmt(S.best.value) + " in trial " + fmt(S.best.trial) :
        S.objectives && S.front != null ? "front: " + S.front + " run" + (S.front === 1 ? "" : "s") : "";
      parts.states.textContent = "";
      parts.states.appendChild(el("h2", { text: S.planned + " trials" + runs }));
      [bar, legend, note ? el("p", { cls: "sub", text: note }) : null].forEach(function (n) {
        if (n) parts.states.appendChild(n);
      });
    }

    // -- best so far (uPlot): the best finished value up to each trial, as a step line; dots per trial
    var progressChart = null;
    function drawProgress() {
      var P = SW.progress;
      if (!P || !P.trials.length) return;
      var data = [P.trials, P.best, P.finished, P.stopped];
      if (progressChart) { progressChart.setData(data); return; }
      var dots = function () { return null; };
      var stepped = uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined;
      progressChart = new uPlot({
        width: L.chartWidth(parts.progressBox), height: 300, scales: { x: { time: false } },
        series: [{ label: "trial" },
          { label: "best so far", stroke: BLUE, width: 2, spanGaps: true, paths: stepped, points: { show: false } },
          { label: "finished", stroke: "#43a047", paths: dots, points: { show: true, size: 4, fill: "#43a047" } },
          { label: "stopped", stroke: PINK, paths: dots, points: { show: true, size: 4, fill: PINK } }],
        axes: [{ label: "trial (launch order)", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
                                                        20000, 50000, 100000] }, { size: 60 }], legend: { live: true }
      }, data, parts.progressBox);
      progressChart._box = parts.progressBox;
      PAGE.charts.push(progressChart);
    }

    // -- learning curves: every trial's metric by step on one canvas (a multi-objective sweep's first metric); the
    // best trial pink (the front's trials), a hovered one orange
    var curvesScale = null;
    function drawCurves() {
      var key = SW.summary && (SW.summary.metric || (SW.summary.objectives && SW.summary.objectives[0].metric));
      var names = Object.keys(SW.curves).filter(function (n) { return SW.curves[n].steps.length; });
      var g = curvesPlot.size();
      overlay.width = curvesPlot.canvas.width; overlay.height = curvesPlot.canvas.height;
      overlay.style.width = curvesPlot.canvas.style.width; overlay.style.height = curvesPlot.canvas.style.height;
      var ctx = g.ctx, M = { l: 60, r: 14, t: 12, b: 34 };
      ctx.clearRect(0, 0, g.width, g.height);
      SW.drawn.curves = names.length;
      SW.drawn.marks = {};
      if (!names.length) {
        parts.curvesNote.textContent = key ? "No trial reported " + key + " by step yet." : "No metric yet.";
        curvesScale = null;
        return;
      }
      var xs = [], ys = [];
      names.forEach(function (n) { var c = SW.curves[n]; xs.push(c.steps[0], c.steps[c.steps.length - 1]);
                                   ys.push.apply(ys, c.values); });
      var xr = extent(xs), yr = robustExtent(ys);
      var W = g.width - M.l - M.r, H = g.height - M.t - M.b;
      var X = function (v) { return M.l + (v - xr[0]) / (xr[1] - xr[0]) * W; };
      var Y = function (v) { return M.t + H - (Math.min(Math.max(v, yr[0]), yr[1]) - yr[0]) / (yr[1] - yr[0]) * H; };
      curvesScale = { X: X, Y: Y, M: M };
      frame(ctx, g, M, xr, yr, X, Y, "step", key);
      var pinks = pinkRuns(), pink = {};
      pinks.forEach(function (n) { pink[n] = true; });
      var groups = { done: [], running: [] };
      names.forEach(function (n) {
        if (pink[n]) return;
        groups[(SW.rows[n] || {}).status === "running" ? "running" : "done"].push(n);
      });
      var alpha = Math.max(0.06, Math.min(0.5, 12 / Math.sqrt(names.length)));
      strokeCurves(ctx, groups.done, X, Y, "rgba(96,125,139," + alpha + ")", 1);
      strokeCurves(ctx, groups.running, X, Y, "rgba(30,136,229,0.85)", 1.5);
      strokeCurves(ctx, pinks.filter(function (n) { return SW.curves[n] && SW.curves[n].steps.length; }), X, Y, PINK, 2.5);
      var kinds = {};
      names.forEach(function (n) {
        (SW.curves[n].marks || []).forEach(function (m) {
          var style = MARK_STYLES[m.kind] || { color: GREY, shape: "diamond", label: m.kind };
          mark(ctx, X(m.step), Y(m.value), style);
          kinds[m.kind] = (kinds[m.kind] || 0) + 1;
        });
      });
      SW.drawn.marks = kinds;
      var legend = Object.keys(kinds).map(function (k) {
        return kinds[k] + " " + ((MARK_STYLES[k] || {}).label || k) + " (" + ((MARK_STYLES[k] || {}).shape === "x" ?
          "\u00d7" : "\u25c6") + ")";
      });
      parts.curvesNote.textContent = names.length + " trials' " + key + " by step" + (!pinks.length ? "" : SW.pareto ?
        "; the front's trials in pink" : "; the best trial in pink") +
        (groups.running.length ? "; running ones in blue" : "") + (legend.length ? "; " + legend.join(", ") : "") +
        (SW.pending_curves ? "; " + SW.pending_curves + " more being read" : "") + ". Hover a table row to find its curve.";
      drawHighlight();
    }

    function robustExtent(values) {
      var finite = values.filter(function (v) { return typeof v === "number" && isFinite(v); }).sort(function (a, b) {
        return a - b; });
      if (finite.length < 50) return extent(finite);
      return extent([finite[Math.floor(finite.length * 0.005)], finite[Math.ceil(finite.length * 0.995) - 1]]);
    }

    function strokeCurves(ctx, names, X, Y, color, width) {
      if (!names.length) return;
      ctx.save();
      ctx.strokeStyle = color; ctx.lineWidth = width; ctx.lineJoin = "round";
      ctx.beginPath();
      names.forEach(function (n) {
        var c = SW.curves[n];
        for (var i = 0; i < c.steps.length; i++) {
          if (i === 0) ctx.moveTo(X(c.steps[0]), Y(c.values[0])); else ctx.lineTo(X(c.steps[i]), Y(c.values[i]));
        }
        if (c.steps.length === 1) ctx.lineTo(X(c.steps[0]) + 1, Y(c.values[0]));
      });
      ctx.stroke();
      ctx.restore();
    }

    function mark(ctx, x, y, style) {
      ctx.save();
      ctx.strokeStyle = style.color; ctx.fillStyle = style.color; ctx.lineWidth = 2;
      ctx.beginPath();
      if (style.shape === "x") { ctx.moveTo(x - 4, y - 4); ctx.lineTo(x + 4, y + 4); ctx.moveTo(x + 4, y - 4);
                                 ctx.lineTo(x - 4, y + 4); ctx.stroke(); }
      else { ctx.moveTo(x, y - 5); ctx.lineTo(x + 5, y); ctx.lineTo(x, y + 5); ctx.lineTo(x - 5, y); ctx.closePath();
             ctx.fill(); }
      ctx.restore();
    }

    function frame(ctx, g, M, xr, yr, X, Y, xlabel, ylabel) {
      ctx.save();
      ctx.font = "11px sans-serif"; ctx.fillStyle = "#616161"; ctx.strokeStyle = "#eeeeee"; ctx.lineWidth = 1;
      niceTicks(yr[0], yr[1], 5).forEach(function (t) {
        var y = Math.round(Y(t)) + 0.5;
        ctx.beginPath(); ctx.moveTo(M.l, y); ctx.lineTo(g.width - M.r, y); ctx.stroke();
        ctx.textAlign = "right"; ctx.fillText(fmt(t), M.l - 6, y + 4);
      });
      niceTicks(xr[0], xr[1], 6).forEach(function (t) {
        var x = Math.round(X(t)) + 0.5;
        ctx.beginPath(); ctx.moveTo(x, M.t); ctx.lineTo(x, g.height - M.b); ctx.stroke();
        ctx.textAlign = "center"; ctx.fillText(fmt(t), x, g.height - M.b + 14);
      });
      ctx.fillStyle = "#212121"; ctx.textAlign = "center";
      ctx.fillText(xlabel, M.l + (g.width - M.l - M.r) / 2, g.height - 4);
      ctx.restore();
    }

    function drawHighlight() {
      var ctx = overlay.getContext("2d"), ratio = window.devicePixelRatio || 1;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, overlay.width, overlay.height);
      var c = SW.highlight && SW.curves[SW.highlight];
      if (!c || !curvesScale || !c.steps.length) return;
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      strokeCurves(ctx, [SW.highlight], curvesScale.X, curvesScale.Y, "#fb8c00", 2.5);
    }

    // -- parallel coordinates: one line per trial with a value of the metric, coloured by it (best in pink); a
    // multi-objective sweep's: one line per trial with every metric, each metric an axis, the front in pink
    function drawParallel() {
      var S = SW.summary || {}, column = S.column;
      var objectives = frontColumns();
      var metrics = objectives || (column ? [column] : []);
      var names = Object.keys(SW.rows).filter(function (n) { return metrics.length && hasEvery(n, metrics); });
      var flags = {};
      Object.keys(SW.rows).forEach(function (n) { Object.keys(SW.rows[n]).forEach(function (k) {
        if (k.indexOf("flag_") === 0) flags[k] = true; }); });
      var dims = Object.keys(flags).sort().filter(function (f) {
        var seen = {};
        names.forEach(function (n) { seen[String(SW.rows[n][f])] = true; });
        return Object.keys(seen).length > 1;
      }).concat(metrics);
      var label = objectives ? "every metric" : S.metric;
      parts.parallel.firstChild.textContent = objectives ? "Flags against the metrics" : "Flags against the metric";
      if (!lines(parallelPlot, names, dims, metrics, objectives ? null : column, pinkRuns())) {
        parts.parallelNote.textContent = metrics.length ? "Needs trials with " + label + " and flags that vary." :
          "No metric yet.";
      } else {
        parts.parallelNote.textContent = names.length + " trials with " + label + (objectives ? "; the Pareto front " +
          "in pink." : "; colour: " + S.metric + " (darker is better)" + (S.best ? ", the best trial in pink" : "") + ".");
      }
      SW.drawn.parallel = { dims: dims, lines: names.length };
    }

    // one line per trial in `names` across the `dims` axes (`metrics` among them numeric), on a canvas: shaded by
    // the `shade` column (darker is better) or one grey, the `pinks` drawn last in pink; false when too few to draw
    function lines(plot, names, dims, metrics, shade, pinks) {
      var S = SW.summary || {};
      var g = plot.size(), ctx = g.ctx;
      ctx.clearRect(0, 0, g.width, g.height);
      if (!names.length || dims.length < 2) return false;
      var kinds = {};
      (SW.importance && SW.importance.flags || []).forEach(function (f) { kinds["flag_" + f.flag] = f.kind; });
      var axes = dims.map(function (d) { return axisOf(d, names, kinds[d], metrics.indexOf(d) >= 0); });
      var M = { l: 30, r: 60, t: 30, b: 14 }, W = g.width - M.l - M.r, H = g.height - M.t - M.b;
      var xAt = function (i) { return M.l + (dims.length === 1 ? W / 2 : i * W / (dims.length - 1)); };
      var yAt = function (t) { return M.t + (1 - t) * H; };
      var shadeAxis = shade ? axes[dims.indexOf(shade)] : null;
      var pink = {};
      pinks.forEach(function (n) { pink[n] = true; });
      var buckets = [];
      for (var b = 0; b < 8; b++) buckets.push([]);
      names.forEach(function (n) {
        if (pink[n]) return;
        var t = shadeAxis ? shadeAxis.pos(SW.rows[n][shade]) : 0;
        if (shadeAxis && S.mode === "min") t = 1 - t;
        buckets[Math.min(7, Math.max(0, Math.floor(t * 8)))].push(n);
      });
      var alpha = Math.max(0.05, Math.min(0.6, 15 / Math.sqrt(names.length)));
      buckets.forEach(function (list, k) {
        var t = k / 7;
        var color = "rgba(" + Math.round(176 - 146 * t) + "," + Math.round(190 - 54 * t) + "," + Math.round(197 + 32 * t) +
          "," + alpha + ")";
        linesOf(ctx, list, axes, dims, xAt, yAt, color, 1);
      });
      linesOf(ctx, pinks.filter(function (n) { return SW.rows[n] && names.indexOf(n) >= 0; }), axes, dims, xAt, yAt,
              PINK, 2.5);
      ctx.save();
      ctx.font = "12px sans-serif";
      axes.forEach(function (a, i) {
        var x = Math.round(xAt(i)) + 0.5;
        ctx.strokeStyle = "#424242"; ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(x, M.t); ctx.lineTo(x, M.t + H); ctx.stroke();
        ctx.fillStyle = "#212121"; ctx.textAlign = i === 0 ? "left" : i === axes.length - 1 ? "right" : "center";
        ctx.fillText(short(a.name) + (a.log ? " (log)" : ""), x, M.t - 12);
        ctx.font = "11px sans-serif"; ctx.textAlign = i === axes.length - 1 ? "right" : "left";
        a.ticks.forEach(function (tick) {
          var y = yAt(tick[0]) + 4, dx = i === axes.length - 1 ? -4 : 4;
          ctx.lineWidth = 3; ctx.strokeStyle = "rgba(255,255,255,0.85)"; ctx.strokeText(tick[1], x + dx, y);
          ctx.fillStyle = "#424242"; ctx.fillText(tick[1], x + dx, y);
        });
        ctx.font = "12px sans-serif";
      });
      ctx.restore();
      return true;
    }

    function axisOf(name, names, kind, isMetric) {
      var values = names.map(function (n) { return SW.rows[n][name]; });
      var numeric = values.every(function (v) {
        return v === undefined || v === null || (typeof v === "number" && isFinite(v));
      });
      var distinct = {};
      values.forEach(function (v) { if (v !== undefined && v !== null) distinct[fmt(v)] = v; });
      var keys = Object.keys(distinct);
      if (numeric && (isMetric || kind === "numeric" || kind === "log" || keys.length > 12)) {
        var r = extent(values), log = (kind === "log" || (!isMetric && r[0] > 0 && r[1] / r[0] >= 1000)) && r[0] > 0;
        var f = log ? Math.log : function (v) { return v; };
        var lo = f(r[0]), hi = f(r[1]);
        var pos = function (v) { return (typeof v !== "number") ? null : hi === lo ? 0.5 : (f(v) - lo) / (hi - lo); };
        var ticks = [r[0], log ? Math.exp((lo + hi) / 2) : (r[0] + r[1]) / 2, r[1]].map(function (v) {
          return [pos(v), fmt(v)];
        });
        return { name: name, pos: pos, ticks: ticks, log: log };
      }
      // a few values (a grid list, a choice): evenly spaced, numbers in numeric order
      var levels = numeric ? keys.map(function (k) { return distinct[k]; }).sort(function (p, q) { return p - q; })
        .map(fmt) : keys.sort();
      var place = function (i) { return levels.length === 1 ? 0.5 : i / (levels.length - 1); };
      var at = function (v) {
        if (v === undefined || v === null) return null;
        var i = levels.indexOf(fmt(v));
        return i < 0 ? null : place(i);
      };
      var every = Math.ceil(levels.length / 12);
      return { name: name, pos: at, log: false, ticks: levels.map(function (l, i) { return [place(i), l]; })
        .filter(function (_, i) { return i % every === 0; }) };
    }

    function linesOf(ctx, names, axes, dims, xAt, yAt, color, width) {
      if (!names.length) return;
      ctx.save();
      ctx.strokeStyle = color; ctx.lineWidth = width;
      ctx.beginPath();
      names.forEach(function (n) {
        var row = SW.rows[n], started = false;
        axes.forEach(function (a, i) {
          var t = a.pos(row[dims[i]]);
          if (t === null || t === undefined) { started = false; return; }
          if (!started) ctx.moveTo(xAt(i), yAt(t)); else ctx.lineTo(xAt(i), yAt(t));
          started = true;
        });
      });
      ctx.stroke();
      ctx.restore();
    }

    // -- a multi-objective sweep (the server's `pareto`: tuner.dashboard.state.front_panel)
    function frontColumns() {  // its metrics' columns once a run recorded every one; null for a sweep of one metric
      var P = SW.pareto;
      return P && !P.unmet ? P.objectives.map(function (o) { return o.column; }) : null;
    }

    function hasEvery(name, columns) {
      var row = SW.rows[name];
      return !!row && columns.every(function (c) { return typeof row[c] === "number" && isFinite(row[c]); });
    }

    // the runs drawn pink in every chart: the front's, or the best run
    function pinkRuns() {
      if (SW.pareto) return SW.pareto.front.filter(function (n) { return !!SW.rows[n]; });
      return SW.summary && SW.summary.best ? [SW.summary.best.run] : [];
    }

    function objectiveNames(objectives) {
      return objectives.map(function (o) { return o.metric + " (" + o.mode + ")"; }).join(", ");
    }

    // the front as the report's charts take it (app.js frontScatter, hypervolumeSection): the page's runs, each with
    // its metrics (from its row) and whether it keeps the constraints; the hypervolume after each of the server's
    // `trials` positions, from the positions where it changes
    function frontState() {
      var P = SW.pareto, columns = frontColumns();
      var names = Object.keys(SW.rows), index = {}, infeasible = {};
      names.forEach(function (n, i) { index[n] = i; });
      P.infeasible.forEach(function (n) { infeasible[n] = true; });
      var hypervolume = [], k = -1;
      for (var i = 0; i < P.trials; i++) {
        while (k + 1 < P.hypervolume.length && P.hypervolume[k + 1][0] <= i) k += 1;
        hypervolume.push(k >= 0 ? P.hypervolume[k][1] : 0);
      }
      return {
        names: names, objectives: P.objectives, constraints: P.constraints, reference: P.reference, margin: P.margin,
        front: P.front.filter(function (n) { return n in index; }).map(function (n) { return index[n]; }),
        values: names.map(function (n) {
          return hasEvery(n, columns) ? columns.map(function (c) { return SW.rows[n][c]; }) : null; }),
        feasible: names.map(function (n) { return !infeasible[n]; }),
        statuses_by_row: names.map(function (n) { return SW.rows[n].status; }),
        hypervolume: hypervolume
      };
    }

    // the panel, made at the first `pareto`: the front's runs (drawn at once), its chart and the hypervolume (drawn
    // with the other charts, at most every DRAW_MS)
    function paretoPanel() {
      if (parts.pareto) return;
      parts.paretoTitle = el("h2", { text: "Pareto front" });
      parts.paretoNote = el("p", { cls: "sub" });
      parts.paretoTable = el("table", { cls: "grid front" });
      parts.pareto = el("section", { cls: "block", id: "pareto" }, [parts.paretoTitle, parts.paretoNote,
        el("div", { cls: "table-wrap" }, [parts.paretoTable])]);
      parts.paretoCharts = el("div", { cls: "charts pareto-charts" });
      root.insertBefore(parts.pareto, parts.charts);
      root.insertBefore(parts.paretoCharts, parts.charts);
      parts.progress.hidden = true;  // no single best to follow: the hypervolume is its chart
      parts.importance.hidden = true;  // importance ranks flags by one metric
    }

    function drawFront() {
      var P = SW.pareto;
      paretoPanel();
      var names = Object.keys(SW.rows), kept = P.constraints.length ? ", keeping " + P.constraints.join(", ") + "," : "";
      parts.paretoTitle.textContent = "Pareto front (" + P.front.length + " run" + (P.front.length === 1 ? "" : "s") + ")";
      parts.paretoTable.textContent = "";
      if (P.unmet) {
        parts.paretoNote.textContent = "No front yet: no run has recorded every metric of the sweep (" +
          objectiveNames(P.objectives) + ")" + (P.constraints.length ? "; constraints: " + P.constraints.join(", ") :
          "") + ".";
        return;
      }
      var columns = frontColumns();
      var measured = names.filter(function (n) { return hasEvery(n, columns); }).length;
      parts.paretoNote.textContent = "Finished runs with every metric" + kept + " that no other such run beats on all " +
        "of " + objectiveNames(P.objectives) + "; best first by " + P.objectives[0].metric + ". " + measured +
        " of " + names.length + " trials have every metric" + (P.infeasible.length ? ", " + P.infeasible.length +
        " of them break a constraint" : "") + ".";
      var flags = varyingFlags(names).varying;
      var head = el("tr", null, ["run", "trial"].concat(P.objectives.map(function (o) {
        return o.metric + " (" + (o.mode === "min" ? "lower" : "higher") + " is better)"; }), flags.map(short))
        .map(function (h) { return el("th", { text: h }); }));
      var body = el("tbody", null, P.front.filter(function (n) { return !!SW.rows[n]; }).map(function (n) {
        var row = SW.rows[n];
        return el("tr", { "data-front-run": n }, [el("td", null, [el("a", { href: "/run/" + n, text: n })]),
          el("td", { cls: "num", text: fmt(row.trial) })].concat(columns.concat(flags).map(function (c) {
            return el("td", { cls: typeof row[c] === "number" ? "num" : null, text: fmt(row[c]) }); })));
      }));
      parts.paretoTable.appendChild(el("thead", null, [head]));
      parts.paretoTable.appendChild(body);
    }

    var frontLines = null;
    function drawFrontCharts() {
      if (!SW.pareto || SW.pareto.unmet) return;
      var S = frontState();
      if (!parts.frontChart) {
        if (S.objectives.length === 2) parts.frontChart = L.frontScatter(S);
        else {  // three metrics or more: the metrics alone as parallel coordinates, on a canvas like the flags'
          var note = el("p", { cls: "sub" }), box = el("div", { cls: "chart pcp front-pcp" });
          parts.frontChart = L.section("The front across " + S.objectives.length + " metrics", [note, box], "front-chart");
          frontLines = { note: note, plot: canvasIn(box, 320) };
        }
        parts.hypervolume = L.hypervolumeSection(S);
        parts.paretoCharts.appendChild(parts.frontChart);
        parts.paretoCharts.appendChild(parts.hypervolume);
      } else {
        if (parts.frontChart.update) parts.frontChart.update(S);
        parts.hypervolume.update(S);
      }
      if (frontLines) {
        var columns = frontColumns();
        var names = S.names.filter(function (n) { return hasEvery(n, columns); });
        lines(frontLines.plot, names, columns, columns, null, pinkRuns());
        frontLines.note.textContent = names.length + " trials with every metric; the Pareto front in pink.";
        SW.drawn.frontLines = { dims: columns, lines: names.length };
      }
      SW.drawn.front = { of: SW.pareto_version, points: S.names.filter(function (n, i) { return S.values[i] !== null; }),
                         front: S.front.map(function (i) { return S.names[i]; }),
                         hypervolume: S.hypervolume.length ? S.hypervolume[S.hypervolume.length - 1] : null };
    }

    // -- importance (app.js draws it, as in the report)
    function drawImportance() {
      if (!SW.importance) return;
      var node = L.importanceSection(SW.importance);
      parts.importance.parentNode.replaceChild(node, parts.importance);
      parts.importance = node;
    }

    // -- the trials table: sorted, one page at a time, filtered with `tune ls --filter`'s grammar by the server
    function trialsSection() {
      var input = el("input", { type: "search", cls: "search filter", "aria-label": "filter",
        placeholder: "filter as tune ls --filter: metric_val_acc > 0.9 and flag_lr < 0.01" });
      var error = el("p", { cls: "filter-error", hidden: "" });
      var counter = el("span", { cls: "counter" });
      var prev = el("button", { type: "button", cls: "pager", text: "\u2039 newer" });
      var next = el("button", { type: "button", cls: "pager", text: "older \u203a" });
      var table = el("table", { cls: "grid trials" });
      var wrap = el("div", { cls: "table-wrap" }, [table]);
      var timer = null;
      input.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(function () { applyFilter(input.value.trim(), true); }, 400);
      });
      input.addEventListener("keydown", function (e) { if (e.key === "Enter") { clearTimeout(timer);
                                                                             applyFilter(input.value.trim(), true); } });
      prev.addEventListener("click", function () { SW.page = Math.max(0, SW.page - 1); drawTable(); });
      next.addEventListener("click", function () { SW.page += 1; drawTable(); });
      SW.table = { input: input, error: error, counter: counter, table: table, prev: prev, next: next, filtered: 0 };
      return L.section("All trials", [el("div", { cls: "toolbar" }, [input, counter, prev, next]), error, wrap], "trials");
    }

    function applyFilter(expression, fromUser) {
      var T = SW.table;
      if (!expression) {
        SW.filter = null; T.error.hidden = true; SW.page = 0; drawTable(); return;
      }
      api(DATA.filter_endpoint + "?q=" + encodeURIComponent(expression)).then(function (answer) {
        if (T.input.value.trim() !== expression) return;  // typed on meanwhile
        if (answer.error) throw new Error(answer.error);
        var set = {};
        answer.runs.forEach(function (n) { set[n] = true; });
        SW.filter = { expression: expression, runs: set, version: SW.version, at: Date.now() };
        T.error.hidden = true;
        if (fromUser) SW.page = 0;
        drawTable();
      }).catch(function (error) {
        T.error.textContent = error.message;
        T.error.hidden = false;
      });
    }

    // the flags that differ between these trials, and those every one shares (the script's defaults)
    function varyingFlags(names) {
      var seen = {};
      names.forEach(function (n) { Object.keys(SW.rows[n]).forEach(function (k) {
        if (k.indexOf("flag_") === 0) seen[k] = true; }); });
      var flags = Object.keys(seen).sort(), differs = {};
      flags.forEach(function (f) {
        var first;
        differs[f] = names.some(function (n, i) {
          var v = JSON.stringify(SW.rows[n][f]);
          if (i === 0) first = v;
          return v !== first;
        });
      });
      return { varying: flags.filter(function (f) { return differs[f]; }),
               same: flags.filter(function (f) { return !differs[f]; }) };
    }

    function columnsOf(names) {
      var S = SW.summary || {}, seen = {};
      names.forEach(function (n) { Object.keys(SW.rows[n]).forEach(function (k) { seen[k] = true; }); });
      var keys = Object.keys(seen);
      // flags that differ between trials first; the ones every trial shares (the script's defaults) after them
      var split = varyingFlags(names), flags = split.varying.concat(split.same);
      // the ranking metric first (a multi-objective sweep's metrics)
      var lead = (frontColumns() || (S.column ? [S.column] : [])).filter(function (c) { return seen[c]; });
      var metrics = keys.filter(function (k) { return /^(metric|eval)_/.test(k) && lead.indexOf(k) < 0; }).sort()
        .slice(0, 8);
      var cols = ["trial", "run", "status"].concat(lead, flags, metrics,
        ["epochs_completed", "duration_s", "start", "error_message"].filter(function (k) { return seen[k]; }));
      return cols;
    }

    function drawTable() {
      var T = SW.table, S = SW.summary || {};
      var all = Object.keys(SW.rows);
      var names = SW.filter ? all.filter(function (n) { return SW.filter.runs[n]; }) : all;
      var cols = columnsOf(all);
      var sort = SW.sort;
      var key = sort.column === "run" ? null : sort.column;
      names.sort(function (p, q) {
        var x = key ? SW.rows[p][key] : p, y = key ? SW.rows[q][key] : q;
        var missingX = x === undefined || x === null, missingY = y === undefined || y === null;
        if (missingX || missingY) return missingX === missingY ? (p < q ? 1 : -1) : missingX ? 1 : -1;
        var r = (typeof x === "number" && typeof y === "number") ? x - y :
          String(x).localeCompare(String(y), undefined, { numeric: true });
        return (sort.desc ? -r : r) || (p < q ? 1 : -1);
      });
      var pages = Math.max(1, Math.ceil(names.length / PAGE_SIZE));
      SW.page = Math.min(SW.page, pages - 1);
      var shown = names.slice(SW.page * PAGE_SIZE, (SW.page + 1) * PAGE_SIZE);
      var head = el("tr", null, cols.map(function (c) {
        var th = el("th", { cls: "sortable" + (sort.column === c ? (sort.desc ? " desc" : " asc") : ""), "data-col": c,
                            title: "sort by " + c, text: c === S.column ? short(c) + " \u2605" : short(c) });
        th.addEventListener("click", function () {
          SW.sort = { column: c, desc: sort.column === c ? !sort.desc : (c === S.column ? S.mode !== "min" : true) };
          drawTable();
        });
        return th;
      }).concat(DATA.control ? [el("th", { text: "" })] : []));
      var best = S.best ? S.best.run : null, front = {};
      if (SW.pareto) SW.pareto.front.forEach(function (n) { front[n] = true; });
      var body = el("tbody", null, shown.map(function (n) {
        var row = SW.rows[n];
        var cells = cols.map(function (c) {
          var v = c === "run" ? n : row[c];
          if (c === "run") return el("td", null, [el("a", { href: "/run/" + n, text: n })]);
          if (c === "status") return el("td", { cls: "status-" + String(v).replace(/[^a-z]/g, ""), text: fmt(v) });
          if (c === "duration_s") return el("td", { cls: "num", text: duration(v) });
          if (c === "start") return el("td", { text: when(v) });
          if (c === "trial" && front[n]) {
            return el("td", { cls: "num", title: "on the Pareto front", text: fmt(v) + " \u2605" });
          }
          if (c === "error_message") return el("td", { cls: "error-text", text: v == null ? "" : String(v).slice(0, 120),
                                                       title: v == null ? null : String(v) });
          return el("td", { cls: typeof v === "number" ? "num" : null, text: fmt(v) });
        });
        if (DATA.control) {
          cells.push(el("td", null, [row.status === "running" ? stopButton(n, row) : null]));
        }
        var tr = el("tr", { "data-run": n, cls: n === best || front[n] ? "best" : null }, cells);
        tr.addEventListener("mouseenter", function () { SW.highlight = n; drawHighlight(); });
        tr.addEventListener("mouseleave", function () { if (SW.highlight === n) { SW.highlight = null; drawHighlight(); } });
        return tr;
      }));
      T.table.textContent = "";
      T.table.appendChild(el("thead", null, [head]));
      T.table.appendChild(body);
      T.filtered = names.length;
      T.counter.textContent = (SW.filter ? names.length + " of " + all.length + " trials match" : all.length + " trials") +
        (pages > 1 ? "  \u00b7  page " + (SW.page + 1) + " of " + pages : "");
      T.prev.disabled = SW.page === 0;
      T.next.disabled = SW.page >= pages - 1;
      T.prev.hidden = T.next.hidden = pages === 1;
    }

    function stopButton(name, row) {
      return button("Stop", "stop-trial", function () {
        return post(DATA.endpoint + "/run/" + encodeURIComponent(name) + "/stop");
      });
    }

    // -- applying what the server sent
    function apply(answer) {
      if (answer.full) { SW.rows = {}; SW.curves = {}; }
      SW.epoch = answer.epoch;
      SW.version = answer.version;
      SW.pending_curves = answer.pending_curves || 0;
      var rows = Object.keys(answer.rows), curves = Object.keys(answer.curves);
      rows.forEach(function (n) { SW.rows[n] = answer.rows[n]; });
      curves.forEach(function (n) { SW.curves[n] = answer.curves[n]; });
      answer.removed.forEach(function (n) { delete SW.rows[n]; delete SW.curves[n]; });
      if (answer.summary) { SW.summary = answer.summary; dirty.header = dirty.states = true; }
      if (answer.progress !== undefined) { SW.progress = answer.progress; dirty.progress = true; }
      if (answer.importance !== undefined) { SW.importance = answer.importance; dirty.importance = dirty.parallel = true; }
      if (answer.pareto !== undefined) {
        SW.pareto = answer.pareto;
        SW.pareto_version = SW.version;
        dirty.front = dirty.frontCharts = dirty.parallel = dirty.curves = dirty.table = true;
      }
      if (SW.pareto && (rows.length || answer.removed.length || answer.full)) dirty.front = dirty.frontCharts = true;
      if (rows.length || answer.removed.length || answer.full) dirty.table = dirty.parallel = true;
      if (curves.length || answer.removed.length || answer.summary) dirty.curves = true;
      if (SW.filter && (rows.length || answer.removed.length) && Date.now() - SW.filter.at > FILTER_EVERY_MS) {
        applyFilter(SW.filter.expression, false);
      }
      render();
    }

    function render() {
      if (dirty.header) drawHeader();
      if (dirty.states) drawStates();
      if (dirty.table) drawTable();
      if (dirty.importance) drawImportance();
      if (dirty.front && SW.pareto) drawFront();
      dirty.header = dirty.states = dirty.table = dirty.importance = dirty.front = false;
      var wait = DRAW_MS - (Date.now() - lastDraw);
      if (wait > 0 && lastDraw) {  // the charts: at most every DRAW_MS
        if (!drawTimer) drawTimer = setTimeout(function () { drawTimer = null; render(); }, wait);
        return;
      }
      lastDraw = Date.now();
      if (dirty.progress) drawProgress();
      if (dirty.curves) drawCurves();
      if (dirty.parallel) drawParallel();
      if (dirty.frontCharts) drawFrontCharts();
      dirty.progress = dirty.curves = dirty.parallel = dirty.frontCharts = false;
    }

    window.addEventListener("resize", function () {
      dirty.curves = dirty.parallel = dirty.frontCharts = true; lastDraw = 0; render(); });

    // long polling: the server holds each request until something changed (or wait_s passed), and the page asks
    // again at once; after a failure it waits interval_ms
    var busy = false, failures = 0;
    function poll() {
      if (busy) return;
      busy = true;
      var wait = SW.polls ? DATA.wait_s : 0;  // the first answer at once
      api(DATA.endpoint + "?since=" + SW.version + "&epoch=" + (SW.epoch || "") + "&wait=" + wait)
        .then(function (answer) {
          busy = false; failures = 0; SW.polls += 1; problem(root, "");
          apply(answer);
          setTimeout(poll, 50);
        })
        .catch(function (error) {
          busy = false; failures += 1;
          if (failures >= 3) problem(root, "Live updates paused: the dashboard server does not answer (" +
                                     error.message + "); still trying.");
          setTimeout(poll, DATA.interval_ms || 1000);
        });
    }
    SW.poll = poll;
    poll();
  }

  PAGE.renderers.sweeps = renderSweeps;
  PAGE.renderers.sweep = renderSweep;
  PAGE.render();
})();
