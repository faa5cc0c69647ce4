// sluice dashboard: polls data.json and draws numbers, tables and canvas
// charts. No dependencies, no build step.
(function () {
  "use strict";

  var POLL_MS = 1500;
  var DATA_URL = "/dashboard/data.json";
  var root = document.documentElement;
  var inflightHistory = [];
  var last = null;
  var failures = 0;

  // Theme: stored choice, else the system preference.
  // ?theme=dark|light in the URL wins (handy for links and screenshots).
  var stored = (location.search.match(/[?&]theme=(dark|light)\b/) || [])[1] || null;
  if (!stored) {
    try { stored = localStorage.getItem("sluice-theme"); } catch (e) { /* storage may be off */ }
  }
  if (stored === "light" || stored === "dark") {
    root.setAttribute("data-theme", stored);
  } else if (window.matchMedia && window.matchMedia("(prefers-color-scheme: light)").matches) {
    root.setAttribute("data-theme", "light");
  }
  document.getElementById("theme").addEventListener("click", function () {
    var next = root.getAttribute("data-theme") === "light" ? "dark" : "light";
    root.setAttribute("data-theme", next);
    try { localStorage.setItem("sluice-theme", next); } catch (e) { /* ignore */ }
    if (last) { draw(last); }
  });

  function $(id) { return document.getElementById(id); }
  function css(name) { return getComputedStyle(root).getPropertyValue(name).trim(); }
  function setText(id, s) { var el = $(id); if (el && el.textContent !== s) { el.textContent = s; } }

  function int(n) { return Math.round(n).toLocaleString("en-US"); }
  function num(n) {
    if (!isFinite(n)) { return "–"; }
    if (n === 0) { return "0"; }
    var a = Math.abs(n);
    if (a < 1e4 && n === Math.round(n)) { return int(n); } // counts stay whole numbers
    if (a >= 1e9) { return (n / 1e9).toFixed(2) + "G"; }
    if (a >= 1e6) { return (n / 1e6).toFixed(2) + "M"; }
    if (a >= 1e4) { return (n / 1e3).toFixed(1) + "k"; }
    if (a >= 100) { return n.toFixed(0); }
    if (a >= 10) { return n.toFixed(1); }
    return n.toFixed(2);
  }
  function ms(v) {
    if (!v) { return "0 ms"; }
    if (v >= 1000) { return (v / 1000).toFixed(2) + " s"; }
    if (v >= 100) { return v.toFixed(0) + " ms"; }
    if (v >= 10) { return v.toFixed(1) + " ms"; }
    return v.toFixed(2) + " ms";
  }
  function us(v) { return v >= 1000 ? ms(v / 1000) : (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + " µs"; }
  function usd(v) {
    if (v >= 100) { return "$" + v.toFixed(0); }
    if (v >= 1) { return "$" + v.toFixed(2); }
    if (v >= 0.01) { return "$" + v.toFixed(3); }
    return "$" + v.toFixed(5);
  }
  function pct(v) { return (v * 100).toFixed(v >= 0.1 || v === 0 ? 1 : 2) + "%"; }
  function dur(s) {
    s = Math.floor(s);
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d) { return d + "d " + h + "h"; }
    if (h) { return h + "h " + m + "m"; }
    if (m) { return m + "m " + (s % 60) + "s"; }
    return s + "s";
  }

  // Series helpers. The feed has one value per second, oldest first.
  function tail(a, n) { return a ? a.slice(Math.max(0, a.length - n)) : []; }
  function sum(a) { var t = 0; for (var i = 0; i < a.length; i++) { t += a[i]; } return t; }
  function add(a, b) { var o = []; for (var i = 0; i < a.length; i++) { o.push(a[i] + (b[i] || 0)); } return o; }
  function ratio(h, m) {
    var o = [];
    for (var i = 0; i < h.length; i++) { var t = h[i] + m[i]; o.push(t ? h[i] / t : NaN); }
    return o;
  }
  // Drop the second in progress: it is always partial and would dip.
  function done(a) { return a ? a.slice(0, a.length - 1) : []; }

  function canvasCtx(cv) {
    var dpr = window.devicePixelRatio || 1;
    var w = cv.clientWidth, h = cv.clientHeight;
    if (cv.width !== Math.round(w * dpr) || cv.height !== Math.round(h * dpr)) {
      cv.width = Math.round(w * dpr);
      cv.height = Math.round(h * dpr);
    }
    var c = cv.getContext("2d");
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.clearRect(0, 0, w, h);
    return { c: c, w: w, h: h };
  }

  function maxOf(lists) {
    var m = 0;
    lists.forEach(function (a) { a.forEach(function (v) { if (isFinite(v) && v > m) { m = v; } }); });
    return m;
  }

  function line(c, data, x0, y0, w, h, max, color, fill) {
    if (!data.length) { return; }
    var step = data.length > 1 ? w / (data.length - 1) : w;
    c.beginPath();
    var started = false, lastX = x0;
    for (var i = 0; i < data.length; i++) {
      var v = data[i];
      if (!isFinite(v)) { continue; }
      var x = x0 + i * step, y = y0 + h - (max ? v / max : 0) * h;
      if (!started) { c.moveTo(x, y); started = true; } else { c.lineTo(x, y); }
      lastX = x;
    }
    if (!started) { return; }
    c.strokeStyle = color;
    c.lineWidth = 1.5;
    c.lineJoin = "round";
    c.stroke();
    if (fill) {
      c.lineTo(lastX, y0 + h);
      c.lineTo(x0, y0 + h);
      c.closePath();
      c.globalAlpha = 0.14;
      c.fillStyle = color;
      c.fill();
      c.globalAlpha = 1;
    }
  }

  function sparkline(cv, data, color) {
    var g = canvasCtx(cv);
    var max = maxOf([data]) * 1.1;
    line(g.c, data, 1, 2, g.w - 2, g.h - 4, max, color, true);
  }

  function chart(cv, series, colors, fmt) {
    var g = canvasCtx(cv), c = g.c;
    var padL = 56, padR = 10, padT = 8, padB = 22;
    var w = g.w - padL - padR, h = g.h - padT - padB;
    var max = maxOf(series);
    max = max > 0 ? niceCeil(max) : 1;
    c.font = "11px system-ui, sans-serif";
    c.fillStyle = css("--muted");
    c.strokeStyle = css("--line");
    c.lineWidth = 1;
    c.textAlign = "right";
    c.textBaseline = "middle";
    for (var i = 0; i <= 4; i++) {
      var y = Math.round(padT + h - h * i / 4) + 0.5;
      c.beginPath(); c.moveTo(padL, y); c.lineTo(padL + w, y); c.stroke();
      c.fillText(fmt(max * i / 4), padL - 8, y);
    }
    c.textAlign = "center";
    c.textBaseline = "top";
    var n = series[0].length;
    [300, 240, 180, 120, 60, 0].forEach(function (ago) {
      if (ago > n) { return; }
      var x = padL + w * (n - ago) / Math.max(1, n - 1);
      c.fillText(ago ? "-" + (ago / 60) + "m" : "now", Math.min(Math.max(x, padL + 10), padL + w - 12), padT + h + 6);
    });
    series.forEach(function (d, k) { line(c, d, padL, padT, w, h, max, colors[k], k === 0); });
  }

  function niceCeil(v) {
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
  }

  function rows(id, items, cols, empty) {
    var tb = $(id);
    var frag = document.createDocumentFragment();
    if (!items || !items.length) {
      var tr = document.createElement("tr"), td = document.createElement("td");
      td.colSpan = cols;
      td.className = "empty";
      td.textContent = empty;
      tr.appendChild(td);
      frag.appendChild(tr);
    } else {
      items.forEach(function (cells) {
        var tr = document.createElement("tr");
        cells.forEach(function (cell) {
          var td = document.createElement("td");
          if (cell.n) { td.className = "n"; }
          if (cell.cls) { td.className += (td.className ? " " : "") + cell.cls; }
          if (cell.dot !== undefined) {
            var d = document.createElement("span");
            d.className = "dot " + (cell.dot ? "up" : "down");
            td.appendChild(d);
          }
          if (cell.code) {
            var code = document.createElement("code");
            code.textContent = cell.t;
            td.appendChild(code);
          } else {
            td.appendChild(document.createTextNode(cell.t));
          }
          tr.appendChild(td);
        });
        frag.appendChild(tr);
      });
    }
    tb.replaceChildren(frag);
  }

  var SERIES = ["requests", "errors", "p50_ms", "p90_ms", "p99_ms", "tokens_in", "tokens_out", "cost_usd", "cache_hits", "cache_misses", "rate_limited"];

  // normalize fills what an empty or partial feed leaves out.
  function normalize(s) {
    s.totals = s.totals || {};
    s.series = s.series || {};
    SERIES.forEach(function (k) { if (!Array.isArray(s.series[k])) { s.series[k] = []; } });
    ["requests", "errors", "requests_per_sec", "errors_per_sec", "p50_ms", "p90_ms", "p99_ms", "tokens_in", "tokens_out",
      "cost_usd", "rate_limited", "in_flight", "streams"].forEach(function (k) { s.totals[k] = +s.totals[k] || 0; });
    if (typeof s.totals.cache_hit_rate !== "number") { s.totals.cache_hit_rate = -1; }
    s.uptime_seconds = +s.uptime_seconds || 0;
    return s;
  }

  function render(s) {
    var t = s.totals, se = s.series;
    setText("uptime", dur(s.uptime_seconds));
    var at = new Date(s.generated_at);
    setText("updated", isNaN(at) ? "–" : at.toLocaleTimeString("en-GB"));
    setText("kpi-rps", num(t.requests_per_sec));
    setText("total-requests", int(t.requests));
    setText("kpi-eps", num(t.errors_per_sec));
    setText("total-errors", int(t.errors));
    setText("error-rate", t.requests ? pct(t.errors / t.requests) : "0%");
    setText("kpi-p50", ms(t.p50_ms));
    setText("kpi-p90", ms(t.p90_ms));
    setText("kpi-p99", ms(t.p99_ms));
    setText("kpi-inflight", int(t.in_flight));
    setText("kpi-streams", int(t.streams));
    var tin = tail(done(se.tokens_in), 10), tout = tail(done(se.tokens_out), 10);
    setText("kpi-tps", num((sum(tin) + sum(tout)) / 10));
    setText("total-tokens-in", num(t.tokens_in));
    setText("total-tokens-out", num(t.tokens_out));
    setText("kpi-cost", usd(t.cost_usd));
    setText("kpi-cost-rate", usd(sum(tail(done(se.cost_usd), 60)) * 60));
    setText("kpi-cache", t.cache_hit_rate < 0 ? "–" : pct(t.cache_hit_rate));
    setText("kpi-rl", int(t.rate_limited));
    var el = $("error-rate");
    el.className = t.requests && t.errors / t.requests > 0.01 ? "bad" : "";

    rows("models", (s.models || []).map(function (m) {
      return [{ t: m.model, code: true }, { t: m.provider || "–" }, { t: int(m.requests), n: true },
        { t: int(m.errors), n: true, cls: m.errors ? "bad" : "" }, { t: num(m.tokens_in), n: true },
        { t: num(m.tokens_out), n: true }, { t: usd(m.cost_usd), n: true }, { t: ms(m.mean_ms), n: true }];
    }), 8, "No requests in the last 5 minutes");
    rows("targets", (s.targets || []).map(function (g) {
      return [{ t: g.router || "–" }, { t: g.target, code: true }, { t: g.healthy ? "healthy" : "down", dot: g.healthy },
        { t: ms(g.ewma_ms), n: true }, { t: int(g.in_flight), n: true },
        { t: pct(g.error_rate), n: true, cls: g.error_rate > 0.05 ? "bad" : (g.error_rate > 0.01 ? "warn" : "") }];
    }), 6, "No targets reported");
    rows("plugins", (s.plugins || []).map(function (p) {
      return [{ t: p.plugin, code: true }, { t: p.hook }, { t: int(p.calls), n: true },
        { t: int(p.errors), n: true, cls: p.errors ? "warn" : "" }, { t: int(p.traps), n: true, cls: p.traps ? "bad" : "" },
        { t: us(p.mean_us), n: true }, { t: us(p.p99_us), n: true }];
    }), 7, "No plugin calls yet");
    rows("ratelimits", (s.rate_limits || []).map(function (r) {
      return [{ t: r.tier }, { t: r.unit }, { t: int(r.rejections), n: true }];
    }), 3, "No rejections");
  }

  function draw(s) {
    var se = s.series;
    var series = {
      requests: done(se.requests), errors: done(se.errors), p99_ms: done(se.p99_ms),
      tokens: done(add(se.tokens_in, se.tokens_out)), cost_usd: done(se.cost_usd),
      cache: done(ratio(se.cache_hits, se.cache_misses)), rate_limited: done(se.rate_limited),
      inflight: inflightHistory
    };
    var palette = { bad: css("--bad"), warn: css("--warn"), good: css("--good"), alt: css("--alt") };
    document.querySelectorAll("canvas.spark").forEach(function (cv) {
      var key = cv.getAttribute("data-series");
      sparkline(cv, tail(series[key] || [], 120), palette[cv.getAttribute("data-color")] || css("--accent"));
    });
    chart($("chart-traffic"), [series.requests, series.errors], [css("--accent"), css("--bad")], num);
    chart($("chart-latency"), [done(se.p50_ms), done(se.p90_ms), series.p99_ms], [css("--p50"), css("--p90"), css("--p99")], ms);
  }

  function status(ok) {
    var el = $("status");
    el.textContent = ok ? "live" : "unreachable";
    el.className = "pill " + (ok ? "pill-ok" : "pill-bad");
  }

  // The admin token, when the listener has one, comes in the page's fragment
  // (/dashboard#token=...), which browsers never send to a server; it is kept for the tab only.
  var TOKEN = (function () {
    var m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    try {
      if (m) {
        sessionStorage.setItem("sluice-admin-token", decodeURIComponent(m[1]));
        history.replaceState(null, "", location.pathname + location.search);
      }
      return sessionStorage.getItem("sluice-admin-token") || "";
    } catch (e) { return m ? decodeURIComponent(m[1]) : ""; }
  })();

  function poll() {
    var opts = { cache: "no-store" };
    if (TOKEN) { opts.headers = { "Authorization": "Bearer " + TOKEN }; }
    fetch(DATA_URL, opts).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    }).then(function (s) {
      failures = 0;
      last = s = normalize(s);
      inflightHistory.push(s.totals.in_flight);
      if (inflightHistory.length > 300) { inflightHistory.shift(); }
      render(s);
      draw(s);
      status(true);
    }).catch(function () {
      failures++;
      if (failures > 1) { status(false); }
    }).then(function () { setTimeout(poll, POLL_MS); });
  }

  window.addEventListener("resize", function () { if (last) { draw(last); } });
  poll();
})();
