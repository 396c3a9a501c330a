/* tuner page script: renders the run view, the run comparison and the sweep report from the JSON in
   #page-data. Every value reaches the page as a text node (textContent), never as HTML. */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("page-data").textContent);
  var PAGE = { charts: [], live: null };
  window.tunerPage = PAGE;  // for tests and the curious: the uPlot instances and the live state

  var BLUE = "#1e88e5", GREEN = "#43a047", GREY = "#9e9e9e", PINK = "#d81b60";
  // one colour per compared run (A, B, C ...), the same in every chart, column and legend of the page
  // (Tableau 10: tells ten runs apart, also for the common kinds of colour blindness)
  var RUN_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                    "#bcbd22", "#17becf"];
  function runColor(index) { return RUN_COLORS[index % RUN_COLORS.length]; }
  // within one run's chart, the metric and its val_ twin differ by dash: <m> solid, val_<m> dashed
  var SERIES_DASHES = [null, [6, 4], [2, 3], [10, 3, 2, 3]];

  // ------------------------------------------------------------------------------------------------
  // DOM helpers (text only)

  function el(tag, props, children) {
    var node = document.createElement(tag);
    if (props) {
      for (var key in props) {
        if (!Object.prototype.hasOwnProperty.call(props, key) || props[key] == null) continue;
        if (key === "text") node.textContent = String(props[key]);
        else if (key === "cls") node.className = props[key];
        else if (key === "href") node.setAttribute("href", safeHref(props[key]));
        else node.setAttribute(key, String(props[key]));
      }
    }
    (children || []).forEach(function (child) {
      if (child == null) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function safeHref(href) {
    href = String(href);
    return /^\s*(javascript|data|vbscript):/i.test(href) ? "#" : href;
  }

  function fmt(value) {
    if (value === null || value === undefined) return "\u2014";
    if (typeof value === "number") {
      if (!isFinite(value)) return String(value);
      if (Number.isInteger(value)) return String(value);
      var abs = Math.abs(value);
      if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return value.toPrecision(4);
      return String(Number(value.toFixed(4)));
    }
    if (typeof value === "boolean") return value ? "true" : "false";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function fmtBytes(size) {
    if (size < 1024) return size + " B";
    var units = ["KB", "MB", "GB", "TB"], value = size, unit = -1;
    do { value /= 1024; unit += 1; } while (value >= 1024 && unit < units.length - 1);
    return value.toFixed(1) + " " + units[unit];
  }

  function pairs(obj) {
    return Object.keys(obj || {}).map(function (k) { return [k, obj[k]]; });
  }

  // rows: [label, value] or [label, value, note]; a note (a flag's "default") follows the value, greyed
  function card(title, rows, extraCls) {
    var body;
    if (!rows.length) body = el("p", { cls: "empty", text: "none" });
    else body = el("table", { cls: "kv" }, rows.map(function (r) {
      var cell = r[2] ? el("td", null, [fmt(r[1]), " ", el("span", { cls: "origin", text: r[2] })])
        : el("td", { text: fmt(r[1]) });
      return el("tr", r[2] ? { "data-origin": r[2] } : null, [el("th", { text: r[0] }), cell]);
    }));
    return el("section", { cls: "card " + (extraCls || ""), "data-card": title }, [el("h3", { text: title }), body]);
  }

  // the Flags card: the flags tune passed, then the script's own defaults, marked (tuner.store.files.FlagSource)
  var ORIGINS = { "default": "default", script: "set by the script" };
  function flagRows(R) {
    var sources = R.flag_sources || {};
    return pairs(R.flags).map(function (r) { return [r[0], r[1], ORIGINS[sources[r[0]]] || null]; });
  }

  function badge(status) {
    return el("span", { cls: "badge status-" + String(status).replace(/[^a-z]/g, ""), text: status });
  }

  function section(title, children, id) {
    return el("section", { cls: "block", id: id }, [el("h2", { text: title })].concat(children));
  }

  function pre(text, cls) { return el("pre", { cls: cls || "", text: text }); }

  // ------------------------------------------------------------------------------------------------
  // Charts (uPlot)

  function chartGroups(names) {  // the same rule as tuner.report.data.chart_groups, for live updates
    var present = {};
    names.forEach(function (n) { present[n] = true; });
    var groups = [];
    names.forEach(function (name) {
      if (name.indexOf("val_") === 0 && present[name.slice(4)]) return;
      var series = [name];
      if (present["val_" + name]) series.push("val_" + name);
      var base = name.indexOf("val_") === 0 ? name.slice(4) : name;
      groups.push({ title: name, series: series, ymax: (base === "acc" || base === "accuracy") ? 1.0 : null });
    });
    return groups;
  }

  function yRange(ymax) {
    if (ymax == null) return {};
    return { range: function (u, min, max) {
      var low = (min == null || !isFinite(min)) ? 0 : Math.min(Math.floor(min * 10) / 10, ymax - 0.1);
      return [Math.max(0, low), ymax];
    } };
  }

  function chartWidth(box) { return Math.max(280, (box.clientWidth || 560) - 4); }

  // x axis ticks: steps, epochs and trials are counts, so when every x value is a whole number the ticks are too
  // (1, 2, 5, 10 ... apart, never 2.5); other x values keep uPlot's decimal ticks. Decided when a chart is made.
  var WHOLE_INCRS = [];
  for (var e10 = 1; e10 <= 1e15; e10 *= 10) WHOLE_INCRS.push(e10, 2 * e10, 5 * e10);

  function wholeNumbers(xs) {
    return xs.length > 0 && xs.every(function (x) { return x == null || Number.isInteger(x); });
  }

  function countAxis(label, xs) {
    return wholeNumbers(xs) ? { label: label, incrs: WHOLE_INCRS } : { label: label };
  }

  // the best value so far holds until a trial beats it: a step line (drawn flat to the next x, then up/down)
  function steppedPaths() {
    return uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined;
  }

  // seriesSpecs: {label, color, dash, group?}; `xLabel` names the x axis (step by default)
  function lineChart(box, title, ymax, seriesSpecs, data, xLabel) {
    var many = data[0].length > 60;
    var opts = {
      title: title, width: chartWidth(box), height: 240,
      scales: { x: { time: false }, y: yRange(ymax) },
      series: [{ label: xLabel || "step" }].concat(seriesSpecs.map(function (s) {
        return { label: s.label, stroke: s.color, width: 2, dash: s.dash || undefined, spanGaps: true,
                 points: { show: !many, size: 5, fill: s.color } };
      })),
      axes: [countAxis(xLabel || "step", data[0]), { size: 60 }],
      legend: { live: true }
    };
    var u = new uPlot(opts, data, box);
    u._box = box;
    PAGE.charts.push(u);
    return u;
  }

  window.addEventListener("resize", function () {
    PAGE.charts.forEach(function (u) { if (u._box) u.setSize({ width: chartWidth(u._box), height: u.height }); });
  });

  function runChartData(metrics, group) {
    return [metrics.steps.slice()].concat(group.series.map(function (name) {
      return (metrics.series[name] || []).slice();
    }));
  }

  function runCharts(R) {
    var grid = el("div", { cls: "charts" });
    var charts = [];
    if (!R.charts.length) grid.appendChild(el("p", { cls: "empty", text: "No metrics recorded." }));
    R.charts.forEach(function (g) {
      var box = el("div", { cls: "chart", "data-metric": g.title });
      grid.appendChild(box);
      charts.push({ group: g, box: box });
    });
    // uPlot measures its box, so draw once the grid is in the document
    setTimeout(function () {
      charts.forEach(function (c) {
        c.u = lineChart(c.box, c.group.title, c.group.ymax, c.group.series.map(function (name, i) {
          return { label: name, color: i === 0 ? BLUE : GREEN, dash: SERIES_DASHES[i % SERIES_DASHES.length] };
        }), runChartData(R.metrics, c.group));
      });
    }, 0);
    grid._charts = charts;
    return grid;
  }

  // ------------------------------------------------------------------------------------------------
  // Run view

  // the Properties card only where the script recorded some (Keras' MetricsCallback: optimizer, learning_rate ...)
  function runCards(R) {
    var props = pairs(R.properties);
    return el("div", { cls: "cards" }, [
      card("Run", R.card),
      card("Flags", flagRows(R)),
      card("Metrics", pairs(R.final_metrics)),
      card("Evaluation", pairs(R.evaluation)),
      props.length ? card("Properties", props) : null
    ]);
  }

  // multi-line properties (Keras' model summary) as preformatted text, one block each
  function modelBlock(R) {
    var texts = pairs(R.property_texts);
    if (!texts.length) return null;
    return section(texts.length === 1 && texts[0][0] === "model" ? "Model" : "Model and other recorded text",
      texts.map(function (t) {
        return el("div", { cls: "property-text", "data-property": t[0] }, [
          texts.length > 1 || t[0] !== "model" ? el("h3", { text: t[0] }) : null, pre(String(t[1]), "summary")]);
      }), "model");
  }

  function errorPanel(R) {
    if (!R.error) return null;
    var e = R.error;
    return el("section", { cls: "block error", id: "error" }, [
      el("h2", { text: "Error" }),
      el("p", { cls: "message", text: e.message == null ? "(no message)" : String(e.message) }),
      e.traceback ? pre(String(e.traceback), "traceback") : null
    ]);
  }

  // TensorFlow's start-up lines (tuner.capture.startup_noise) folded above the rest; output.log keeps them all
  function outputBlock(R) {
    var note = R.output_truncated ? el("p", { cls: "note", text: "Only the end of the output is shown." }) : null;
    var hidden = R.output_hidden || [];
    var folded = hidden.length ? el("details", { cls: "startup-lines" }, [
      el("summary", { text: R.output_hidden_note || (hidden.length + " TensorFlow start-up lines hidden") }),
      pre(hidden.join("\n"), "console startup")]) : null;
    return section("Console output", [note, folded, R.output ? pre(R.output, "console") :
      el("p", { cls: "empty", text: hidden.length ? "No other output." : "No output." })], "output");
  }

  function sourcesBlock(R) {
    var files = (R.sources || []).map(function (f) {
      var code = el("code");
      f.tokens.forEach(function (t) {
        code.appendChild(t[0] ? el("span", { cls: "tok-" + t[0], text: t[1] }) : document.createTextNode(t[1]));
      });
      return el("details", { cls: "source", open: "" }, [
        el("summary", { text: f.path + (f.truncated ? " (truncated)" : "") }), el("pre", { cls: "code" }, [code])]);
    });
    return section("Source code", files.length ? files : [el("p", { cls: "empty", text: "No source snapshot." })],
                   "sources");
  }

  function artifactsBlock(R) {
    var rows = (R.artifacts || []).map(function (a) {
      return el("tr", null, [el("td", { text: a.path }), el("td", { cls: "num", text: fmtBytes(a.size), title: a.size + " bytes" })]);
    });
    return section("Artifacts", rows.length ? [el("table", { cls: "grid" }, [
      el("thead", null, [el("tr", null, [el("th", { text: "file" }), el("th", { text: "size" })])]),
      el("tbody", null, rows)])] : [el("p", { cls: "empty", text: "No artifact files." +
        (R.tensorboard ? " Its TensorBoard files are listed below." : "") })], "artifacts");
  }

  // the run's TensorBoard folders (not artifacts): each file with its size, and the command that opens them
  function tensorboardBlock(R) {
    var T = R.tensorboard;
    if (!T) return null;
    var rows = T.files.map(function (f) {
      return el("tr", null, [el("td", { text: f.path }), el("td", { cls: "num", text: fmtBytes(f.size), title: f.size + " bytes" })]);
    });
    var how = T.command ? el("p", { cls: "sub how" }, ["Open them in TensorBoard: ", el("code", { text: T.command }),
      "  (a sweep's runs side by side: ", el("code", { text: "tune tensorboard SWEEP" }), ")"]) :
      el("p", { cls: "sub how", text: "No event files among them." });
    return section("TensorBoard", [
      el("p", { cls: "sub", text: T.event_files + " event file" + (T.event_files === 1 ? "" : "s") + ", " +
        T.files.length + " file" + (T.files.length === 1 ? "" : "s") + " in all" }), how,
      el("table", { cls: "grid" }, [
        el("thead", null, [el("tr", null, [el("th", { text: "file" }), el("th", { text: "size" })])]),
        el("tbody", null, rows)])], "tensorboard");
  }

  function header(title, sub, status) {
    return el("header", { cls: "top" }, [el("h1", null, [title + " ", status ? badge(status) : null]),
                                          sub ? el("p", { cls: "sub", text: sub }) : null]);
  }

  function problems(R) {
    if (!R.problems || !R.problems.length) return null;
    return el("div", { cls: "problems" }, R.problems.map(function (p) { return el("p", { text: p }); }));
  }

  function renderRun(root, R) {
    var parts = {
      header: header("Run " + R.name, R.run_dir, R.status),
      problems: problems(R), error: errorPanel(R), cards: runCards(R),
      charts: section("Metrics over steps", [runCharts(R)], "charts"), model: modelBlock(R),
      output: outputBlock(R), sources: sourcesBlock(R), artifacts: artifactsBlock(R), tensorboard: tensorboardBlock(R)
    };
    parts.order = ["header", "problems", "error", "cards", "charts", "model", "output", "sources", "artifacts",
                   "tensorboard"];
    parts.order.forEach(function (k) {
      if (parts[k]) root.appendChild(parts[k]);
    });
    if (DATA.live && R.status === "running") startLive(root, R, parts);
  }

  // Live updates: poll the server's JSON endpoint, append new steps, stop once the run is no longer running.
  function startLive(root, R, parts) {
    var live = { polling: true, polls: 0, failures: 0, since: DATA.live.since || 0,
                 generation: DATA.live.generation || 0, timer: null, texts: JSON.stringify(R.property_texts || {}) };
    PAGE.live = live;
    var names = Object.keys(R.metrics.series);
    var busy = false;

    function replace(key, node) {
      var old = parts[key];
      if (node && old && old.parentNode) old.parentNode.replaceChild(node, old);
      else if (node && !old) {  // before the next part that is on the page, keeping the page's order
        var later = parts.order.slice(parts.order.indexOf(key) + 1).map(function (k) { return parts[k]; })
          .filter(function (n) { return n && n.parentNode === root; });
        root.insertBefore(node, later.length ? later[0] : null);
      }
      else if (!node && old && old.parentNode) old.parentNode.removeChild(old);
      parts[key] = node;
    }

    function apply(update) {
      if (update.reset) {  // the metrics file was rewritten shorter: start over
        R.metrics = { steps: [], series: {} };
        names = [];
        live.generation = update.generation;
      }
      var rows = update.steps.length;
      if (rows || update.reset) {
        var before = R.metrics.steps.length;
        R.metrics.steps = R.metrics.steps.concat(update.steps);
        Object.keys(update.series).forEach(function (name) {
          if (!R.metrics.series[name]) {
            R.metrics.series[name] = new Array(before).fill(null);
            names.push(name);
          }
        });
        names.forEach(function (name) {
          var add = update.series[name] || new Array(rows).fill(null);
          R.metrics.series[name] = R.metrics.series[name].concat(add);
        });
        var groups = chartGroups(names);
        var grid = parts.charts.querySelector(".charts");
        if (JSON.stringify(groups) !== JSON.stringify(R.charts) || !grid._charts.every(function (c) { return c.u; })) {
          PAGE.charts = PAGE.charts.filter(function (u) { return !grid.contains(u.root); });
          R.charts = groups;
          replace("charts", section("Metrics over steps", [runCharts(R)], "charts"));
        } else {
          grid._charts.forEach(function (c) { c.u.setData(runChartData(R.metrics, c.group)); });
        }
      }
      live.since = update.total;
      R.status = update.status;
      ["final_metrics", "card", "evaluation", "flags", "flag_sources", "properties", "property_texts"].forEach(function (k) {
        if (update[k]) R[k] = update[k];
      });
      replace("header", header("Run " + R.name, R.run_dir, R.status));
      replace("cards", runCards(R));
      if (JSON.stringify(update.property_texts || {}) !== live.texts) {
        live.texts = JSON.stringify(update.property_texts || {});
        replace("model", modelBlock(R));
      }
      if (update.done) {
        ["error", "output", "output_hidden", "output_hidden_note", "output_truncated", "artifacts", "tensorboard"]
          .forEach(function (k) { if (k in update) R[k] = update[k]; });
        replace("error", errorPanel(R));
        replace("output", outputBlock(R));
        replace("artifacts", artifactsBlock(R));
        replace("tensorboard", tensorboardBlock(R));
      }
    }

    function stop() {
      live.polling = false;
      if (live.timer) clearInterval(live.timer);
    }

    function tick() {
      if (busy || !live.polling) return;
      busy = true;
      fetch(DATA.live.endpoint + "?since=" + live.since + "&gen=" + live.generation, { cache: "no-store" })
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
        .then(function (update) {
          busy = false; live.polls += 1; live.failures = 0;
          apply(update);
          if (update.done) stop();
        })
        .catch(function () {
          busy = false; live.failures += 1;
          if (live.failures >= 5) {
            stop();
            root.insertBefore(el("div", { cls: "problems", text: "Live updates stopped: the server does not answer." }),
                              root.firstChild);
          }
        });
    }
    live.timer = setInterval(tick, DATA.live.interval_ms || 1000);
    tick();
  }

  // ------------------------------------------------------------------------------------------------
  // Comparison

  // a run's colour as a small square before its letter and name
  function swatch(color, dash) {
    return el("span", { cls: "swatch" + (dash ? " dashed" : ""), style: "--c: " + color, "aria-hidden": "true" });
  }

  function runName(R, i) {
    return el("span", { cls: "run-name", "data-color": runColor(i) }, [swatch(runColor(i)), " " + R.letter + ": " + R.name]);
  }

  function renderCompare(root, C) {
    var runs = C.runs;
    root.appendChild(header("Compare runs", runs.map(function (R) { return R.name; }).join("  \u2192  "), null));
    root.appendChild(el("div", { cls: "columns", style: "--n: " + Math.min(runs.length, 4) }, runs.map(function (R, i) {
      var props = pairs(R.properties);
      return el("div", { cls: "column", "data-run": R.letter, style: "--c: " + runColor(i) }, [
        el("h2", null, [runName(R, i), " ", badge(R.status)]),
        el("p", { cls: "sub", text: R.run_dir }),
        errorPanel(R),
        el("div", { cls: "cards compact" }, [card("Run", R.card), card("Flags", flagRows(R)),
          card("Metrics", pairs(R.final_metrics)), card("Evaluation", pairs(R.evaluation)),
          props.length ? card("Properties", props) : null])
      ]);
    })));
    // what differs: one row per flag, metric or evaluation value that is not the same in every run
    var differs = C.differs || [];
    var table = differs.length ? el("table", { cls: "differs" }, [
      el("thead", null, [el("tr", null, [el("th", { text: "" })].concat(runs.map(function (R, i) {
        return el("th", null, [runName(R, i)]);
      })))]),
      el("tbody", null, differs.map(function (d) {
        return el("tr", { "data-key": d.key }, [el("th", { text: d.key })].concat(d.values.map(function (v) {
          return el("td", { text: fmt(v) });
        })));
      }))
    ]) : el("p", { cls: "empty", text: "Same flags, metrics and evaluation." });
    root.appendChild(section("What differs", [table], "differs"));
    // one chart per metric with every run: the run's colour (the same in every chart), <m> solid, val_<m> dashed
    var names = [];
    runs.forEach(function (R) { Object.keys(R.metrics.series).forEach(function (n) { if (names.indexOf(n) < 0) names.push(n); }); });
    var groups = chartGroups(names);
    var grid = el("div", { cls: "charts" });
    if (!groups.length) grid.appendChild(el("p", { cls: "empty", text: "No metrics recorded." }));
    var paired = groups.some(function (g) { return g.series.length > 1; });
    var legend = el("div", { cls: "run-legend" }, runs.map(function (R, i) {
      return el("span", { cls: "legend-item", "data-legend": R.letter, "data-color": runColor(i) }, [runName(R, i)]);
    }).concat(paired ? [el("span", { cls: "legend-item lines" }, [swatch("#616161"), " <metric> solid  ",
      swatch("#616161", true), " val_<metric> dashed"])] : []));
    root.appendChild(section("Metrics over steps", [legend, grid], "charts"));
    var steps = {};
    runs.forEach(function (R) { R.metrics.steps.forEach(function (s) { steps[s] = true; }); });
    var xs = Object.keys(steps).map(Number).sort(function (p, q) { return p - q; });
    function aligned(R, name) {
      var byStep = {};
      var values = R.metrics.series[name] || [];
      R.metrics.steps.forEach(function (s, i) { byStep[s] = values[i]; });
      return xs.map(function (s) { return byStep[s] === undefined ? null : byStep[s]; });
    }
    var boxes = groups.map(function (g) {
      var box = el("div", { cls: "chart", "data-metric": g.title });
      grid.appendChild(box);
      return box;
    });
    groups.forEach(function (g, gi) {
      var specs = [], data = [xs];
      runs.forEach(function (R, ri) {
        g.series.forEach(function (name, si) {
          specs.push({ label: R.letter + " " + name, color: runColor(ri), dash: SERIES_DASHES[si % SERIES_DASHES.length] });
          data.push(aligned(R, name));
        });
      });
      lineChart(boxes[gi], g.title, g.ymax, specs, data);
    });
    root.appendChild(section("Differences", C.diffs.map(diffBlock), "diffs"));
  }

  function diffBlock(d) {
    var body;
    if (!d.lines.length) body = el("p", { cls: "empty", text: "identical" });
    else body = el("pre", { cls: "diff" }, d.lines.map(function (l) {
      return el("span", { cls: "line " + l[0], text: l[1] });
    }));
    var note = d.note ? el("p", { cls: "note hidden-lines", text: d.note }) : null;
    return el("details", { cls: "diff-block", open: d.lines.length ? "" : null, "data-diff": d.title }, [
      el("summary", null, [d.title + " ", el("span", { cls: "badge state-" + d.state, text: d.state })]), note, body]);
  }

  // ------------------------------------------------------------------------------------------------
  // Sweep report

  function renderReport(root, S) {
    if (S.objectives || S.unmet) { renderFrontReport(root, S); return; }
    var counts = Object.keys(S.statuses).map(function (k) { return S.statuses[k] + " " + k; }).join(", ");
    var source = { sweep: "the sweep's --metric", asked: "asked for", "default": "no --metric: the first of val_acc, " +
      "val_loss, acc, loss ... recorded" }[S.ranking_source] || "";
    var ranked = S.metric ? "  \u00b7  ranked by " + S.ranked_by + " (" + (S.mode === "min" ? "lower" : "higher") +
      " is better; " + source + ")" : S.ranked_by ? "  \u00b7  no run recorded the sweep's metric " + S.ranked_by : "";
    root.appendChild(header("Sweep " + S.sweep, (S.summary || (S.rows.length + " trials: " + counts)) + ranked, null));
    var col = {};
    S.columns.forEach(function (c, i) { col[c] = i; });
    // starred: the best run (and any tied with it) by the sweep's ranking (tuner.runs.ranking); the list below
    // ranks the top five, of which only those are starred
    var best = {};
    (S.starred || []).forEach(function (i) { best[i] = true; });
    var label = metricLabel(S);
    if (S.best.length) {
      root.appendChild(section(S.best.length > 1 ? "Top " + S.best.length + " runs" : "Best run",
                               [el("ol", { cls: "best-list" }, S.best.map(function (i) {
        var row = S.rows[i];
        var text = "trial " + fmt(row[col.trial]) + ": " + label + " = " + fmt(row[col[S.metric]]) + "  (" +
          (S.varying_flags && S.varying_flags.length ? S.varying_flags : S.flags).map(function (f) {
            return f.replace(/^flag_/, "") + "=" + fmt(row[col[f]]); }).join(", ") + ")";
        return el("li", { cls: best[i] ? "starred" : null }, [runLink(S, i, row[col.run]), " ", text,
                                                             best[i] ? " \u2605 best" : null]);
      }))], "best"));
    }
    if (S.progress) root.appendChild(progressSection(S));
    if (S.importance) root.appendChild(importanceSection(S.importance));
    if (S.pbt) root.appendChild(pbtSection(S.pbt));
    var info = el("p", { cls: "pcp-info", text: "Hover a line to see its trial; click it to open the run." });
    var box = el("div", { cls: "chart pcp" });
    var key = el("div", { cls: "pcp-legend" });
    root.appendChild(section("Flags against " + (S.metric ? label : "the metric"), [info, box, key], "parallel"));
    var tableBlock = reportTable(S, col, best);
    root.appendChild(tableBlock);
    setTimeout(function () { parallelChart(box, info, S, col, key); }, 0);
  }

  // ------------------------------------------------------------------------------------------------
  // A sweep of several metrics: no best run, the Pareto front (tuner.report.data.multi_objective_data)

  function objectiveNames(S) {
    if (!S.objectives) return (S.unmet || []).join(", ");
    return S.objectives.map(function (o) { return o.metric + " (" + o.mode + ")"; }).join(", ");
  }

  function renderFrontReport(root, S) {
    var counts = Object.keys(S.statuses).map(function (k) { return S.statuses[k] + " " + k; }).join(", ");
    var front = S.front || [];
    var kept = S.constraints && S.constraints.length ? "  \u00b7  constraints: " + S.constraints.join(", ") : "";
    var judged = S.objectives ? "  \u00b7  Pareto front of " + objectiveNames(S) + ": " + front.length + " run" +
      (front.length === 1 ? "" : "s") + ", no single best" : "  \u00b7  no front: no run recorded every metric of " +
      "the sweep (" + objectiveNames(S) + ")";
    root.appendChild(header("Sweep " + S.sweep, (S.summary || (S.rows.length + " trials: " + counts)) + judged + kept,
                            null));
    var col = {};
    S.columns.forEach(function (c, i) { col[c] = i; });
    var starred = {};
    front.forEach(function (i) { starred[i] = true; });
    if (S.objectives) {
      var note = "Finished runs with every metric" + (kept ? ", keeping the constraints," : "") + " that no other " +
        "such run beats on all of " + objectiveNames(S) + "; listed by " + S.objectives[0].metric + ".";
      root.appendChild(section("Pareto front (" + front.length + ")", [el("p", { cls: "sub", text: note }),
        el("ol", { cls: "best-list front-list" }, front.map(function (i) {
          var row = S.rows[i];
          var text = "trial " + fmt(row[col.trial]) + ": " + S.objectives.map(function (o) {
            return o.metric + " = " + fmt(row[col[o.column]]); }).join(", ") + "  (" +
            (S.varying_flags && S.varying_flags.length ? S.varying_flags : S.flags).map(function (f) {
              return f.replace(/^flag_/, "") + "=" + fmt(row[col[f]]); }).join(", ") + ")";
          return el("li", { cls: "starred" }, [runLink(S, i, row[col.run]), " ", text]);
        }))], "front"));
      root.appendChild(S.objectives.length === 2 ? frontScatter(S) : frontParallel(S, col));
      root.appendChild(hypervolumeSection(S));
    }
    var info = el("p", { cls: "pcp-info", text: "Hover a line to see its trial; click it to open the run." });
    var box = el("div", { cls: "chart pcp" });
    var key = el("div", { cls: "pcp-legend" });
    root.appendChild(section("Flags against " + (S.objectives ? objectiveNames(S) : "the metrics"), [info, box, key],
                             "parallel"));
    root.appendChild(reportTable(S, col, starred));
    setTimeout(function () { parallelChart(box, info, S, col, key); }, 0);
  }

  // a chart drawn after its section is on the page (its width is the box's), and drawn again with update(S): the
  // dashboard's live page calls it as trials finish (setData, not a new chart). draw(S, chart) returns the chart it
  // made, or null while there is nothing to draw.
  function liveChart(node, S, draw) {
    var chart = null, latest = S, scheduled = false;
    function later() {
      if (scheduled) return;
      scheduled = true;
      setTimeout(function () { scheduled = false; chart = draw(latest, chart) || chart; }, 0);
    }
    node.update = function (S) { latest = S; later(); };
    later();
    return node;
  }

  // two metrics: every trial with both values as a dot (the front pink, joined by the edge of the region it
  // dominates; other finished feasible trials blue; stopped, failed or infeasible ones grey)
  function frontScatter(S) {
    var box = el("div", { cls: "chart front-scatter" });
    var ox = S.objectives[0], oy = S.objectives[1];
    function series(S) {
      var onFront = {};
      S.front.forEach(function (i) { onFront[i] = true; });
      var points = [];
      S.values.forEach(function (v, i) {
        if (v) points.push({ i: i, x: v[0], y: v[1] });
      });
      points.sort(function (p, q) { return p.x - q.x || p.i - q.i; });
      var xs = points.map(function (p) { return p.x; });
      var frontY = points.map(function (p) { return onFront[p.i] ? p.y : null; });
      var otherY = points.map(function (p) {
        return !onFront[p.i] && S.feasible[p.i] && S.statuses_by_row[p.i] === "finished" ? p.y : null; });
      var greyY = points.map(function (p) {
        return !onFront[p.i] && !(S.feasible[p.i] && S.statuses_by_row[p.i] === "finished") ? p.y : null; });
      var grey = greyY.filter(function (v) { return v !== null; }).length;
      PAGE.front = { x: ox.metric, y: oy.metric, points: points.length, front: S.front.length, others: grey };
      return [xs, frontY, otherY, greyY];
    }
    series(S);  // PAGE.front at once
    var node = section("The front: " + oy.metric + " against " + ox.metric, [el("p", { cls: "sub", text:
      "Each trial with both values; the Pareto front in pink, joined along the edge of the region it dominates." }),
      box], "front-chart");
    return liveChart(node, S, function (S, chart) {
      var data = series(S);
      if (chart) { chart.setData(data); return chart; }
      if (!data[0].length) return null;
      var dots = function () { return null; };
      var opts = {
        title: oy.metric + " against " + ox.metric, width: chartWidth(box), height: 320,
        scales: { x: { time: false } },
        series: [{ label: ox.metric },
          { label: "Pareto front", stroke: PINK, width: 1.5, spanGaps: true, points: { show: true, size: 8, fill: PINK },
            paths: uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: ox.mode === "min" ? 1 : -1 })
              : undefined },
          { label: "other finished", stroke: BLUE, paths: dots, points: { show: true, size: 6, fill: BLUE } },
          { label: "stopped, failed or infeasible", stroke: GREY, paths: dots,
            points: { show: true, size: 6, fill: GREY } }],
        axes: [{ label: ox.metric + " (" + (ox.mode === "min" ? "lower" : "higher") + " is better)" },
               { label: oy.metric + " (" + (oy.mode === "min" ? "lower" : "higher") + " is better)", size: 60 }],
        legend: { live: true }
      };
      var u = new uPlot(opts, data, box);
      u._box = box;
      PAGE.charts.push(u);
      return u;
    });
  }

  // three metrics or more: parallel coordinates of the metrics alone, the front in pink
  function frontParallel(S, col) {
    var info = el("p", { cls: "pcp-info", text: "Each trial's metrics; the Pareto front in pink." });
    var box = el("div", { cls: "chart pcp front-pcp" });
    var key = el("div", { cls: "pcp-legend" });
    setTimeout(function () {
      parallelChart(box, info, S, col, key, S.objectives.map(function (o) { return o.column; }));
    }, 0);
    return section("The front across " + S.objectives.length + " metrics", [info, box, key], "front-chart");
  }

  // the hypervolume of the front after each trial (launch order), against the stated reference point
  function hypervolumeSection(S) {
    var box = el("div", { cls: "chart hypervolume" });
    var note = el("p", { cls: "sub" });
    function describe(S) {
      var ref = S.reference ? S.objectives.map(function (o, k) { return o.metric + " = " + fmt(S.reference[k]); })
        .join(", ") : "none (no finished trial has every metric)";
      var text = "The volume the front dominates up to the reference point (" + ref + "): each metric's worst " +
        "value among the finished trials, pushed out by " + Math.round(S.margin * 100) + "% of its range. Only " +
        "finished trials" + (S.constraints && S.constraints.length ? " that keep the constraints" : "") + " count.";
      PAGE.hypervolume = { reference: S.reference, last: S.hypervolume.length ?
        S.hypervolume[S.hypervolume.length - 1] : null, text: text };
      note.textContent = text;
    }
    describe(S);
    var node = section("Hypervolume by trial", [note, box], "hypervolume");
    liveChart(node, S, function (S, chart) {
      var trials = S.hypervolume.map(function (_, i) { return i + 1; });
      if (chart) { chart.setData([trials, S.hypervolume]); return chart; }
      if (!trials.length) return null;
      var opts = {
        title: "Hypervolume after each trial", width: chartWidth(box), height: 240,
        scales: { x: { time: false } },
        series: [{ label: "trial" },
          { label: "hypervolume", stroke: BLUE, width: 2, spanGaps: true, paths: steppedPaths(),
            points: { show: trials.length <= 60, size: 5, fill: BLUE } }],
        axes: [countAxis("trial (launch order)", trials), { size: 60 }],
        legend: { live: true }
      };
      var u = new uPlot(opts, [trials, S.hypervolume], box);
      u._box = box;
      PAGE.charts.push(u);
      return u;
    });
    var update = node.update;
    node.update = function (S) { describe(S); update(S); };
    return node;
  }

  // the ranking metric as the user names it (`val_accuracy`, not the column `metric_val_accuracy`)
  function metricLabel(S) {
    return S.ranked_by || (S.metric ? S.metric.replace(/^metric_/, "") : "the metric");
  }

  // best so far by trial: the line is the best finished value up to each trial; dots are each trial's value,
  // stopped trials (early stopping) in pink
  // Population based training (tuner.search.pbt.pbt_report): the best trial's flags by segment (its schedule) and
  // every trial's metric by step across its segments (the population over time)
  function pbtSection(P) {
    var names = {};
    P.schedule.forEach(function (seg) { Object.keys(seg.flags).forEach(function (k) { names[k] = true; }); });
    var flags = Object.keys(names).filter(function (k) {
      return P.schedule.some(function (seg) { return fmt(seg.flags[k]) !== fmt(P.schedule[0].flags[k]); });
    });
    if (!flags.length) flags = Object.keys(names);
    var head = ["segment", "from step", "exploited trial"].concat(flags);
    var rows = P.schedule.map(function (seg) {
      return el("tr", null, [fmt(seg.segment), fmt(seg.from_step), seg.donor == null ? "" : fmt(seg.donor)]
        .concat(flags.map(function (k) { return fmt(seg.flags[k]); })).map(function (text) {
          return el("td", { text: text }); }));
    });
    var table = el("table", { cls: "pbt-schedule" }, [
      el("thead", null, [el("tr", null, head.map(function (h) { return el("th", { text: h }); }))]),
      el("tbody", null, rows)]);
    var box = el("div", { cls: "chart pbt-population" });
    var pop = P.population;
    setTimeout(function () {
      var specs = pop.trials.map(function (t, i) {
        return { label: "trial " + t, color: runColor(i) }; });
      lineChart(box, P.metric + " by step, every trial (" + P.exploits + " exploits)", null, specs,
                [pop.steps].concat(pop.series), "step");
    }, 0);
    return section("PBT: the best trial's schedule (trial " + fmt(P.best_trial) + ")", [
      el("p", { cls: "sub", text: "Each segment began from the checkpoint of the trial it exploited, with that " +
        "trial's flags perturbed." }), table, box], "pbt");
  }

  function progressSection(S) {
    var P = S.progress;
    var box = el("div", { cls: "chart progress", "data-stopped": P.stopped_count });
    var note = P.stopped_count ? P.stopped_count + " trial" + (P.stopped_count === 1 ? "" : "s") +
      " stopped early (pink)" : "no trial stopped early";
    setTimeout(function () {
      var dots = function () { return null; };
      var opts = {
        title: "Best " + metricLabel(S) + " so far", width: chartWidth(box), height: 240,
        scales: { x: { time: false } },
        series: [{ label: "trial" },
          { label: "best so far", stroke: BLUE, width: 2, spanGaps: true, paths: steppedPaths(), points: { show: false } },
          { label: "finished", stroke: GREEN, paths: dots, points: { show: true, size: 6, fill: GREEN } },
          { label: "stopped", stroke: PINK, paths: dots, points: { show: true, size: 6, fill: PINK } }],
        axes: [countAxis("trial (launch order)", P.trials), { size: 60 }],
        legend: { live: true }
      };
      var u = new uPlot(opts, [P.trials, P.best, P.finished, P.stopped], box);
      u._box = box;
      PAGE.charts.push(u);
    }, 0);
    return section("Best so far by trial", [el("p", { cls: "sub", text: note }), box], "progress");
  }

  function runLink(S, i, name) {
    var href = S.links[i];
    return href ? el("a", { href: href, text: name }) : el("span", { text: name });
  }

  function numeric(values) {
    return values.every(function (v) { return v === null || (typeof v === "number" && isFinite(v)); });
  }

  function parallelChart(box, info, S, col, key, only) {
    // several metrics: each is an axis (numeric, as the ranking metric is), the front is pink
    var objectiveCols = S.objectives ? S.objectives.map(function (o) { return o.column; }) : S.metric ? [S.metric] : [];
    var dims = only ? only.slice() : S.flags.filter(function (f) {
      var seen = {};
      S.rows.forEach(function (r) { seen[JSON.stringify(r[col[f]])] = true; });
      return Object.keys(seen).length > 1;
    });
    if (!dims.length && !only) dims = S.flags.slice();
    if (!only) dims = dims.concat(objectiveCols);
    if (dims.length < 2) { info.textContent = "Not enough varying flags to draw."; return; }
    var axes = dims.map(function (d) {
      var values = S.rows.map(function (r) { return r[col[d]]; });
      var distinct = {};
      values.forEach(function (v) { if (v !== null) distinct[fmt(v)] = v; });
      var keys = Object.keys(distinct);
      // the metric is always a numeric axis: a gap of 0.047 must look bigger than one of 0.0001
      if (numeric(values) && (keys.length > 12 || objectiveCols.indexOf(d) >= 0)) {
        var nums = values.filter(function (v) { return v !== null && isFinite(v); });
        if (!nums.length) nums = [0];
        var min = Math.min.apply(null, nums), max = Math.max.apply(null, nums);
        return { name: d, kind: "num", min: min, max: max, pos: function (v) {
          if (v === null || v === undefined) return null;
          return max === min ? 0.5 : (v - min) / (max - min);
        } };
      }
      if (numeric(values)) {  // a few numeric values (a grid): evenly spaced, in numeric order
        var levels = keys.map(function (k) { return distinct[k]; }).sort(function (p, q) { return p - q; }).map(fmt);
        return { name: d, kind: "cat", cats: levels, pos: function (v) {
          if (v === null || v === undefined) return null;
          return levels.length === 1 ? 0.5 : levels.indexOf(fmt(v)) / (levels.length - 1);
        } };
      }
      var cats = [];
      values.forEach(function (v) { var t = fmt(v); if (v !== null && cats.indexOf(t) < 0) cats.push(t); });
      cats.sort();
      return { name: d, kind: "cat", cats: cats, pos: function (v) {
        if (v === null || v === undefined) return null;
        return cats.length === 1 ? 0.5 : cats.indexOf(fmt(v)) / (cats.length - 1);
      } };
    });
    var metricAxis = S.metric ? axes[axes.length - 1] : null;
    var order = S.rows.map(function (_, i) { return i; });
    var isBest = {};
    (S.starred || []).forEach(function (i) { isBest[i] = true; });
    order.sort(function (p, q) { return (isBest[p] ? 1 : 0) - (isBest[q] ? 1 : 0); });  // best drawn last, on top
    var xs = dims.map(function (_, i) { return i; });
    var data = [xs], series = [{ label: "axis" }], rowOf = [null];
    order.forEach(function (i) {
      var row = S.rows[i];
      data.push(axes.map(function (a) { return a.pos(row[col[a.name]]); }));
      var color = GREY;
      if (isBest[i]) color = PINK;
      else if (metricAxis) {
        var t = metricAxis.pos(row[col[S.metric]]);
        if (t !== null) {
          if (S.mode === "min") t = 1 - t;
          color = shade(t, 0.55);
        }
      }
      series.push({ label: "trial " + fmt(row[col.trial]), stroke: color, width: isBest[i] ? 2.5 : 1,
                    points: { show: false }, spanGaps: false });
      rowOf.push(i);
    });
    var px = uPlot.pxRatio || 1;
    function drawAxes(u) {
      var ctx = u.ctx, top = u.bbox.top, bottom = u.bbox.top + u.bbox.height;
      ctx.save();
      ctx.font = Math.round(12 * px) + "px sans-serif";
      ctx.textAlign = "center";
      axes.forEach(function (a, i) {
        var x = Math.round(u.valToPos(i, "x", true));
        ctx.strokeStyle = "#424242"; ctx.lineWidth = px;
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
        var last = i === axes.length - 1;
        ctx.fillStyle = "#212121";
        ctx.textAlign = i === 0 ? "left" : last ? "right" : "center";
        ctx.fillText(a === metricAxis ? metricLabel(S) : a.name.replace(/^(flag|metric|eval)_/, ""), x, top - 14 * px);
        ctx.fillStyle = "#424242";
        ctx.strokeStyle = "rgba(255,255,255,0.85)";
        ctx.lineWidth = 3 * px;
        var ticks = a.kind === "num" ? (a.max === a.min ? [a.min] : [a.min, (a.min + a.max) / 2, a.max]) :
          a.cats.slice(0, 12);
        ticks.forEach(function (t) {
          var y = u.valToPos(a.kind === "num" ? a.pos(t) : (a.cats.length === 1 ? 0.5 : a.cats.indexOf(t) / (a.cats.length - 1)), "y", true);
          var label = a.kind === "num" ? fmt(t) : t;
          ctx.textAlign = last ? "right" : "left";
          ctx.strokeText(label, x + (last ? -4 : 4) * px, y + 4 * px);
          ctx.fillText(label, x + (last ? -4 : 4) * px, y + 4 * px);
        });
        ctx.textAlign = "center";
      });
      ctx.restore();
    }
    var focused = null;
    var opts = {
      width: chartWidth(box), height: 380, padding: [34, 16, 12, 16],
      scales: { x: { time: false, range: function () { return [0, dims.length - 1]; } },
                y: { range: function () { return [-0.03, 1.03]; } } },
      axes: [{ show: false }, { show: false }],
      legend: { show: false },
      series: series,
      focus: { alpha: 0.25 },
      cursor: { y: false, points: { show: false }, drag: { x: false, y: false }, focus: { prox: 12 } },
      hooks: {
        draw: [drawAxes],
        setSeries: [function (u, idx) {
          if (idx == null || rowOf[idx] == null) { focused = null; return; }
          focused = rowOf[idx];
          var row = S.rows[focused];
          info.textContent = "trial " + fmt(row[col.trial]) + " (" + row[col.run] + "): " + dims.map(function (d) {
            return d.replace(/^flag_/, "") + "=" + fmt(row[col[d]]);
          }).join(", ");
        }]
      }
    };
    var u = new uPlot(opts, data, box);
    u._box = box;
    PAGE.charts.push(u);
    PAGE[only ? "frontParallel" : "parallel"] = { dims: dims, lines: data.length - 1 };
    if (metricAxis) colourKey(key, S, metricAxis, Object.keys(isBest).length,
                              S.rows.some(function (r) { return metricAxis.pos(r[col[S.metric]]) === null; }));
    else if (S.objectives) {
      key.textContent = "";
      [el("span", { cls: "key-best" }, [swatch(PINK), " on the Pareto front (" + Object.keys(isBest).length + ")"]),
       el("span", { cls: "key-none" }, [swatch(GREY), " not on it"])].forEach(function (n) { key.appendChild(n); });
    }
    PAGE.parallelAxes = axes.map(function (a) {
      return { name: a.name, kind: a.kind, pos: S.rows.map(function (r) { return a.pos(r[col[a.name]]); }) };
    });
    u.over.addEventListener("click", function () {
      if (focused !== null && S.links[focused]) window.location.href = safeHref(S.links[focused]);
    });
  }

  // parallel coordinates: a line's colour says its metric, light (worse) to dark (better) blue; the best in pink
  function shade(t, alpha) {
    return "rgba(" + Math.round(144 - 114 * t) + "," + Math.round(202 - 66 * t) + "," + Math.round(249 - 20 * t) + "," +
      alpha + ")";
  }

  function colourKey(key, S, axis, starred, missing) {
    var worse = S.mode === "min" ? axis.max : axis.min, better = S.mode === "min" ? axis.min : axis.max;
    var label = metricLabel(S), direction = S.mode === "min" ? "lower is better" : "higher is better";
    var stops = [0, 0.5, 1].map(function (t) { return shade(t, 1) + " " + (t * 100) + "%"; }).join(", ");
    key.textContent = "";
    [el("span", { cls: "key-title", text: "colour: " + label + " (" + direction + ")" }),
     el("span", { cls: "key-end", text: fmt(worse) }),
     el("span", { cls: "key-ramp", style: "background: linear-gradient(to right, " + stops + ")", "aria-hidden": "true" }),
     el("span", { cls: "key-end", text: fmt(better) }),
     starred ? el("span", { cls: "key-best" }, [swatch(PINK), " best run" + (starred > 1 ? "s (tied)" : "")]) : null,
     missing ? el("span", { cls: "key-none" }, [swatch(GREY), " no " + label]) : null
    ].forEach(function (n) { if (n) key.appendChild(n); });
    PAGE.parallelLegend = { metric: label, mode: S.mode, direction: direction, worse: worse, better: better,
                            text: key.textContent };
  }

  function reportTable(S, col, best) {
    var sortState = { index: S.metric ? col[S.metric] : col.trial, desc: S.mode !== "min" && !!S.metric };
    var search = el("input", { type: "search", placeholder: "filter all columns\u2026", cls: "search", "aria-label": "filter" });
    var counter = el("span", { cls: "counter" });
    var headRow = el("tr"), filterRow = el("tr", { cls: "filters" });
    var filters = [];
    S.columns.forEach(function (c, i) {
      var th = el("th", { cls: "sortable", title: "sort by " + c, "data-col": c },
                  [c === S.metric ? metricLabel(S) : c.replace(/^flag_/, "").replace(/^metric_/, "")]);
      th.addEventListener("click", function () {
        sortState.desc = sortState.index === i ? !sortState.desc : false;
        sortState.index = i;
        sortRows();
      });
      headRow.appendChild(th);
      var input = el("input", { type: "text", placeholder: c === "status" ? "e.g. failed" : "e.g. >0.9", "aria-label": "filter " + c });
      input.addEventListener("input", applyFilters);
      filters.push(input);
      filterRow.appendChild(el("th", null, [input]));
    });
    var groupRow = el("tr", { cls: "groups" }, S.columns.map(function (c) {
      var g = c.indexOf("flag_") === 0 ? "flag" : c.indexOf("metric_") === 0 ? "metric" : c.indexOf("eval_") === 0 ? "eval" : "";
      return el("th", { cls: "group " + g, text: g });
    }));
    var body = el("tbody");
    var trs = S.rows.map(function (row, i) {
      var tr = el("tr", { cls: best[i] ? "best" : null, "data-index": i });
      row.forEach(function (v, j) {
        var c = S.columns[j];
        var td;
        if (c === "run") td = el("td", null, [runLink(S, i, v)]);
        else if (c === "trial" && best[i]) td = el("td", { cls: "num", title: S.objectives ? "on the Pareto front" :
          "best " + metricLabel(S), text: fmt(v) + " \u2605" });
        else td = el("td", { cls: typeof v === "number" ? "num" : (c === "status" ? "status-" + v : null), text: fmt(v) });
        tr.appendChild(td);
      });
      tr._text = row.map(fmt).join(" ").toLowerCase();
      return tr;
    });

    function compare(p, q) {
      var x = S.rows[p][sortState.index], y = S.rows[q][sortState.index];
      if (x === null || x === undefined) return (y === null || y === undefined) ? p - q : 1;  // nulls last
      if (y === null || y === undefined) return -1;
      var r = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
      return (sortState.desc ? -r : r) || p - q;
    }

    function sortRows() {
      var order = S.rows.map(function (_, i) { return i; }).sort(compare);
      var frag = document.createDocumentFragment();
      order.forEach(function (i) { frag.appendChild(trs[i]); });
      body.appendChild(frag);
      Array.prototype.forEach.call(headRow.children, function (th, i) {
        th.classList.toggle("asc", i === sortState.index && !sortState.desc);
        th.classList.toggle("desc", i === sortState.index && sortState.desc);
      });
    }

    function matcher(text) {
      text = text.trim();
      if (!text) return null;
      var m = /^(>=|<=|!=|>|<|=)\s*(.+)$/.exec(text);
      if (m && m[2] !== "" && !isNaN(Number(m[2]))) {
        var n = Number(m[2]), op = m[1];
        return function (v) {
          if (typeof v !== "number") return false;
          return op === ">" ? v > n : op === "<" ? v < n : op === ">=" ? v >= n : op === "<=" ? v <= n : op === "=" ? v === n : v !== n;
        };
      }
      if (m && m[1] === "=") { var exact = m[2].toLowerCase(); return function (v) { return fmt(v).toLowerCase() === exact; }; }
      var needle = text.toLowerCase();
      return function (v) { return fmt(v).toLowerCase().indexOf(needle) >= 0; };
    }

    function applyFilters() {
      var tests = filters.map(function (f) { return matcher(f.value); });
      var needle = search.value.trim().toLowerCase();
      var shown = 0;
      trs.forEach(function (tr, i) {
        var ok = !needle || tr._text.indexOf(needle) >= 0;
        for (var j = 0; ok && j < tests.length; j++) if (tests[j] && !tests[j](S.rows[i][j])) ok = false;
        tr.hidden = !ok;
        shown += ok ? 1 : 0;
      });
      counter.textContent = shown + " of " + S.rows.length + " trials shown";
    }

    search.addEventListener("input", applyFilters);
    body.append.apply(body, trs);
    sortRows();
    applyFilters();
    return section("All trials", [el("div", { cls: "toolbar" }, [search, counter]),
      el("div", { cls: "table-wrap" }, [el("table", { cls: "grid trials" }, [el("thead", null, [groupRow, headRow, filterRow]), body])])],
      "trials");
  }

  // ------------------------------------------------------------------------------------------------
  // Flag importance (tuner.search.importance): one row per flag, its PED-ANOVA share as a bar, its correlation
  // with the metric as a signed bar (categorical flags: each value's correlation)

  function signed(r) { return (r > 0 ? "+" : "") + r.toFixed(2); }

  function importanceSection(I) {
    var title = "Flag importance for " + I.metric;
    if (!I.flags || !I.flags.length) return section(title, [el("p", { cls: "empty", text: "No flags." })], "importance");
    var note = I.trials < 4 ? "Too few finished trials with " + I.metric + " (" + I.trials + ") to tell which flags matter." :
      "PED-ANOVA over " + I.trials + " finished trials: how much each flag decides whether a trial reaches the top " +
      Math.round(I.target_quantile * 100) + "% (" + (I.mode === "min" ? "lowest" : "highest") + " " + I.metric +
      "). Correlation: Spearman, + means a higher value goes with a higher " + I.metric + ".";
    var rows = I.flags.map(function (f) {
      var share = Math.max(0, Math.min(1, f.importance || 0));
      var corr;
      if (f.kind === "categorical") {
        corr = el("td", { cls: "by-value", text: f.by_value.length ? f.by_value.slice(0, 4).map(function (p) {
          return fmt(p[0]) + " " + signed(p[1]); }).join(", ") : "\u2014" });
      } else if (f.correlation == null) {
        corr = el("td", { text: "\u2014" });
      } else {
        var r = f.correlation;
        corr = el("td", { cls: "corr" }, [
          el("span", { cls: "corr-track" }, [el("span", { cls: "corr-bar " + (r < 0 ? "neg" : "pos"),
            style: "width:" + Math.round(Math.abs(r) * 50) + "%;" + (r < 0 ? "right:50%" : "left:50%") })]),
          el("span", { cls: "corr-value", text: signed(r) })]);
      }
      return el("tr", { "data-flag": f.flag }, [
        el("th", { text: f.flag }), el("td", { cls: "kind", text: f.kind }),
        el("td", { cls: "share" }, [el("span", { cls: "share-track" }, [el("span", { cls: "share-bar",
          style: "width:" + (share * 100).toFixed(1) + "%" })]), el("span", { cls: "share-value",
          text: (share * 100).toFixed(1) + "%" })]),
        corr]);
    });
    return section(title, [el("p", { cls: "sub", text: note }), el("table", { cls: "importance" }, [
      el("thead", null, [el("tr", null, ["flag", "kind", "importance", "correlation"].map(function (h) {
        return el("th", { text: h }); }))]), el("tbody", null, rows)])], "importance");
  }

  // ------------------------------------------------------------------------------------------------
  // Rendering: one renderer per page kind; a script after this one (dashboard.js) adds its own and calls
  // render(). Pages served by `tune dashboard` carry `nav`, links drawn above the page.

  function navBar(links) {
    return el("nav", { cls: "crumbs" }, links.map(function (link, i) {
      var item = link.href ? el("a", { href: link.href, text: link.text }) : el("span", { text: link.text });
      return i ? el("span", null, [" / ", item]) : item;
    }));
  }

  PAGE.data = DATA;
  PAGE.lib = { el: el, fmt: fmt, fmtBytes: fmtBytes, card: card, badge: badge, section: section, header: header,
               pairs: pairs, pre: pre, safeHref: safeHref, lineChart: lineChart, chartWidth: chartWidth,
               importanceSection: importanceSection, frontScatter: frontScatter,
               hypervolumeSection: hypervolumeSection, colors: { blue: BLUE, green: GREEN, grey: GREY, pink: PINK } };
  PAGE.renderers = {
    run: function (root) { renderRun(root, DATA.run); },
    compare: function (root) { renderCompare(root, DATA); },
    report: function (root) { renderReport(root, DATA); }
  };
  PAGE.render = function () {
    var render = PAGE.renderers[DATA.kind];
    if (!render) return false;  // a kind a later script renders
    var root = document.getElementById("app");
    root.textContent = "";
    if (DATA.nav) root.appendChild(navBar(DATA.nav));
    render(root);
    root.setAttribute("data-rendered", DATA.kind);
    return true;
  };
  PAGE.render();
})();
