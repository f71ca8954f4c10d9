// zeroserve dashboard: reads the API (session cookie, GET only) every 2 s and draws SVG plots.
// No framework, nothing loaded from outside this server.
"use strict";

const REFRESH_MS = 2000;
const LOG_EVERY = 2; // refreshes between log tails
const SERVING = "/apis/serving.knative.dev/v1";
const EVENTING = "/apis/eventing.knative.dev/v1";
const SVG = "http://www.w3.org/2000/svg";

const state = {
  window: 300,
  services: [], revisions: [], brokers: [], triggers: [],
  selected: null, // "ns/name" of a Service, or "eventing"
  revision: {}, // service key -> chosen revision name
  series: new Map(), // "ns/rev" -> {cols, coldStarts, metric, now, ready, retention}
  explain: new Map(),
  logs: new Map(),
  round: 0,
};

// ---- data ------------------------------------------------------------------------------------

async function getJSON(path) {
  const r = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (r.status === 401) { location.href = "/dashboard/login"; throw new Error("signed out"); }
  if (r.status === 404) return null;
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

async function getText(path) {
  const r = await fetch(path, { credentials: "same-origin" });
  return r.ok ? r.text() : "";
}

async function items(path) {
  const list = await getJSON(path);
  return list ? list.items || [] : [];
}

const key = (o) => `${o.metadata.namespace}/${o.metadata.name}`;
const revPath = (ns, name, sub) => `${SERVING}/namespaces/${encodeURIComponent(ns)}/revisions/${encodeURIComponent(name)}/${sub}`;

async function refreshSeries(ns, rev) {
  const k = `${ns}/${rev}`;
  const have = state.series.get(k);
  const last = have && have.cols.time.length ? have.cols.time[have.cols.time.length - 1] : null;
  const doc = await getJSON(revPath(ns, rev, "timeseries") + (last !== null ? `?since=${last}` : ""));
  if (!doc) { state.series.delete(k); return; }
  const s = have || { cols: Object.fromEntries(Object.keys(doc.columns).map((c) => [c, []])) };
  for (const [c, values] of Object.entries(doc.columns)) (s.cols[c] || (s.cols[c] = [])).push(...values);
  const horizon = doc.now - doc.retentionSeconds;
  let drop = 0;
  while (drop < s.cols.time.length && s.cols.time[drop] < horizon) drop++;
  if (drop) for (const c of Object.keys(s.cols)) s.cols[c].splice(0, drop);
  Object.assign(s, { coldStarts: doc.coldStarts, metric: doc.metric, now: doc.now, ready: doc.ready, retention: doc.retentionSeconds });
  state.series.set(k, s);
}

async function refresh() {
  const [services, revisions, brokers, triggers] = await Promise.all([
    items(`${SERVING}/services`), items(`${SERVING}/revisions`),
    items(`${EVENTING}/brokers`).catch(() => []), items(`${EVENTING}/triggers`).catch(() => []),
  ]);
  Object.assign(state, { services, revisions, brokers, triggers });
  if (!state.selected || (state.selected !== "eventing" && !services.some((s) => key(s) === state.selected))) {
    state.selected = services.length ? key(services[0]) : "eventing";
  }
  const svc = services.find((s) => key(s) === state.selected);
  if (svc) {
    const rev = chosenRevision(svc);
    if (rev) {
      const ns = svc.metadata.namespace;
      const jobs = [refreshSeries(ns, rev), getJSON(revPath(ns, rev, "autoscaler")).then((d) => state.explain.set(`${ns}/${rev}`, d))];
      if (state.round % LOG_EVERY === 0 || !state.logs.has(`${ns}/${rev}`)) {
        jobs.push(getText(revPath(ns, rev, "log") + "?tailLines=200").then((t) => state.logs.set(`${ns}/${rev}`, t)));
      }
      await Promise.all(jobs);
    }
  }
  state.round++;
}

// ---- model helpers ---------------------------------------------------------------------------

function cond(obj, type) {
  return ((obj.status || {}).conditions || []).find((c) => c.type === type) || {};
}

function serviceRevisions(svc) {
  const ns = svc.metadata.namespace, name = svc.metadata.name;
  return state.revisions
    .filter((r) => r.metadata.namespace === ns && (r.metadata.labels || {})["serving.knative.dev/service"] === name)
    .sort((a, b) => (b.metadata.creationTimestamp || "").localeCompare(a.metadata.creationTimestamp || "") || b.metadata.name.localeCompare(a.metadata.name));
}

function trafficOf(svc) {
  const per = {};
  for (const t of (svc.status || {}).traffic || []) if (t.revisionName) per[t.revisionName] = (per[t.revisionName] || 0) + (t.percent || 0);
  return per;
}

function chosenRevision(svc) {
  const k = key(svc);
  const revs = serviceRevisions(svc);
  if (state.revision[k] && revs.some((r) => r.metadata.name === state.revision[k])) return state.revision[k];
  const traffic = trafficOf(svc);
  const best = revs.slice().sort((a, b) => (traffic[b.metadata.name] || 0) - (traffic[a.metadata.name] || 0))[0];
  return best ? best.metadata.name : null;
}

// ---- DOM helpers -----------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

function s(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, v);
  return el;
}

const badge = (status, text) => h("span", { class: `badge ${status || ""}` }, text || status || "Unknown");
const link = (url) => (url ? h("a", { href: url, target: "_blank", rel: "noreferrer" }, url) : h("span", { class: "muted" }, "—"));

function age(ts) {
  if (!ts) return "";
  const sec = Math.max(0, (Date.now() - Date.parse(ts)) / 1000);
  if (sec < 90) return `${Math.round(sec)}s`;
  if (sec < 5400) return `${Math.round(sec / 60)}m`;
  if (sec < 172800) return `${Math.round(sec / 3600)}h`;
  return `${Math.round(sec / 86400)}d`;
}

function fmt(v, digits = 2) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  if (Math.abs(v) >= 100) return Math.round(v).toString();
  return (+v.toFixed(digits)).toString();
}

function clock(t) {
  const d = new Date(t * 1000);
  return d.toTimeString().slice(0, 8);
}

// ---- charts ----------------------------------------------------------------------------------

function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const n = raw / mag;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * mag;
}

const TIME_STEPS = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800];

// A line chart over [t0, t1]: series {name, color, values, step, area, dash, unit}, bands {from, to, color, label}.
function chart(opts) {
  const { title, t0, t1, times, series, bands = [], integer = false, unit = "", id } = opts;
  const wrap = h("div", { class: "chart", id });
  const legend = h("div", { class: "legend" });
  wrap.append(h("div", { class: "chart-head" }, h("h4", {}, title), legend));
  const W = 560, H = 190, L = 44, R = 10, T = 8, B = 22;
  const svg = s("svg", { class: "plot", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": title });
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  let max = 0;
  let count = 0;
  for (const se of series) for (let i = 0; i < times.length; i++) {
    const v = se.values[i];
    if (v !== null && v !== undefined && times[i] >= t0) { max = Math.max(max, v); count++; }
  }
  const yStep = niceStep(max > 0 ? max * 1.1 : integer ? 2 : 1, 4);
  const step = integer ? Math.max(1, Math.ceil(yStep)) : yStep;
  const yMax = Math.max(step, Math.ceil((max * 1.05) / step) * step || step);
  const y = (v) => T + (1 - v / yMax) * (H - T - B);
  // grid and axes
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    svg.append(s("line", { class: "gridline", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    const label = s("text", { x: L - 6, y: y(v) + 3.5, "text-anchor": "end" });
    label.textContent = fmt(v);
    svg.append(label);
  }
  const tStep = TIME_STEPS.find((st) => (t1 - t0) / st <= 6) || 3600;
  for (let t = Math.ceil(t0 / tStep) * tStep; t <= t1; t += tStep) {
    const label = s("text", { x: x(t), y: H - 6, "text-anchor": "middle" });
    label.textContent = clock(t);
    svg.append(s("line", { class: "gridline", x1: x(t), x2: x(t), y1: T, y2: H - B }), label);
  }
  svg.append(s("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
  // bands (panic mode, cold starts) under the lines
  const clip = (t) => Math.min(Math.max(t, t0), t1);
  for (const b of bands) {
    if (b.to < t0 || b.from > t1) continue;
    const x1 = x(clip(b.from)), x2 = Math.max(x(clip(b.to)), x1 + 2);
    const rect = s("rect", { x: x1, y: T, width: x2 - x1, height: H - T - B, fill: b.color, opacity: 0.28, class: "band", "data-band": b.kind });
    const tip = s("title", {});
    tip.textContent = b.label;
    rect.append(tip);
    svg.append(rect);
  }
  // series
  for (const se of series) {
    const segments = [];
    let cur = null;
    for (let i = 0; i < times.length; i++) {
      const v = se.values[i];
      if (v === null || v === undefined || times[i] < t0 - 30) { cur = null; continue; }
      const px = x(times[i]), py = y(Math.max(0, v));
      if (!cur) { cur = [[px, py]]; segments.push(cur); continue; }
      if (se.step) cur.push([px, cur[cur.length - 1][1]]);
      cur.push([px, py]);
    }
    for (const seg of segments) {
      if (se.step && seg.length) seg.push([x(t1), seg[seg.length - 1][1]]);
      const d = seg.map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(1)},${py.toFixed(1)}`).join("");
      if (se.area) {
        const first = seg[0], lastP = seg[seg.length - 1];
        svg.append(s("path", { d: `${d}L${lastP[0].toFixed(1)},${y(0)}L${first[0].toFixed(1)},${y(0)}Z`, fill: se.color, opacity: 0.13 }));
      }
      svg.append(s("path", {
        d, fill: "none", stroke: se.color, "stroke-width": se.width || 2, "stroke-dasharray": se.dash ? "5 4" : null,
        "stroke-linejoin": "round", "vector-effect": "non-scaling-stroke",
      }));
    }
    const values = se.values.filter((v) => v !== null && v !== undefined);
    const lastV = values.length ? values[values.length - 1] : null;
    legend.append(h("span", { class: "legend-item", "data-series": se.name }, h("i", { class: se.dash ? "dash" : "", style: `background:${se.color};color:${se.color}` }), se.label, h("b", {}, fmt(lastV) + (lastV !== null ? unit : ""))));
  }
  for (const b of opts.bandLegend || []) legend.append(h("span", {}, h("i", { class: "band", style: `background:${b.color}` }), b.label));
  svg.dataset.points = String(times.filter((t) => t >= t0).length);
  svg.dataset.max = String(max);
  svg.dataset.values = String(count);
  wrap.append(svg);
  if (!times.length) wrap.append(h("div", { class: "empty" }, "no data yet"));
  hover(wrap, svg, { times, series, x, t0, t1, W, L, R, T, H, B, y, unit });
  return wrap;
}

function hover(wrap, svg, g) {
  const tip = h("div", { class: "tip" });
  wrap.append(tip);
  const layer = s("g", { class: "hover", visibility: "hidden" });
  const line = s("line", { y1: g.T, y2: g.H - g.B });
  layer.append(line);
  const dots = g.series.map((se) => { const c = s("circle", { r: 3.5, fill: se.color, stroke: "#fff", "stroke-width": 1.5 }); layer.append(c); return c; });
  svg.append(layer);
  svg.addEventListener("mousemove", (ev) => {
    if (!g.times.length) return;
    const box = svg.getBoundingClientRect();
    const vx = ((ev.clientX - box.left) / box.width) * 560;
    const t = g.t0 + ((vx - g.L) / (560 - g.L - g.R)) * (g.t1 - g.t0);
    let i = 0, best = Infinity;
    for (let j = 0; j < g.times.length; j++) { const d = Math.abs(g.times[j] - t); if (d < best) { best = d; i = j; } }
    const px = g.x(g.times[i]);
    line.setAttribute("x1", px); line.setAttribute("x2", px);
    g.series.forEach((se, n) => {
      const v = se.values[i];
      dots[n].setAttribute("visibility", v === null || v === undefined ? "hidden" : "visible");
      if (v !== null && v !== undefined) { dots[n].setAttribute("cx", px); dots[n].setAttribute("cy", g.y(Math.max(0, v))); }
    });
    layer.setAttribute("visibility", "visible");
    tip.replaceChildren(h("div", { class: "t" }, clock(g.times[i])), ...g.series.map((se) => h("div", {}, h("i", { style: `background:${se.color}` }), `${se.label}: ${fmt(se.values[i])}${se.values[i] !== null && se.values[i] !== undefined ? g.unit : ""}`)));
    tip.style.display = "block";
    const left = (px / 560) * box.width;
    tip.style.left = `${Math.min(left + 14, box.width - tip.offsetWidth - 4)}px`;
    tip.style.top = "28px";
  });
  svg.addEventListener("mouseleave", () => { layer.setAttribute("visibility", "hidden"); tip.style.display = "none"; });
}

function panicBands(cols) {
  const bands = [];
  let start = null;
  cols.time.forEach((t, i) => {
    if (cols.panicMode[i] && start === null) start = t;
    if (!cols.panicMode[i] && start !== null) { bands.push({ from: start, to: t, color: "var(--panic)", label: "panic mode", kind: "panic" }); start = null; }
  });
  if (start !== null) bands.push({ from: start, to: cols.time[cols.time.length - 1], color: "var(--panic)", label: "panic mode", kind: "panic" });
  return bands;
}

// ---- views -----------------------------------------------------------------------------------

function renderNav() {
  const ul = document.getElementById("services");
  ul.replaceChildren(...state.services.map((svc) => h("li", { "data-name": svc.metadata.name },
    h("a", { href: `#${key(svc)}`, class: key(svc) === state.selected ? "on" : "" },
      h("span", { class: `dot ${cond(svc, "Ready").status || ""}` }), svc.metadata.name, h("span", { class: "ns" }, svc.metadata.namespace)))));
  if (!state.services.length) ul.append(h("li", { class: "muted" }, "none yet"));
  document.querySelector("#eventing-nav a").classList.toggle("on", state.selected === "eventing");
}

function conditionsTable(obj) {
  const rows = ((obj.status || {}).conditions || []).map((c) => h("tr", {},
    h("td", {}, c.type), h("td", {}, badge(c.status)), h("td", {}, c.reason || ""), h("td", {}, c.message || ""), h("td", { class: "muted" }, age(c.lastTransitionTime))));
  return h("table", { class: "conditions" }, h("tr", {}, ...["Condition", "Status", "Reason", "Message", "Age"].map((t) => h("th", {}, t))), rows);
}

function renderService(svc) {
  const st = svc.status || {};
  const ready = cond(svc, "Ready");
  const traffic = trafficOf(svc);
  const revs = serviceRevisions(svc);
  const head = h("div", { class: "card" },
    h("div", { class: "svc-head" }, h("h3", { id: "service-name" }, svc.metadata.name), badge(ready.status, ready.status === "True" ? "Ready" : ready.reason || "Not ready"),
      h("span", { class: "muted" }, `namespace ${svc.metadata.namespace}`), h("span", { id: "service-url" }, link(st.url))),
    h("h2", {}, "Conditions"), conditionsTable(svc),
    h("h2", {}, "Traffic"),
    h("table", { class: "traffic" }, h("tr", {}, ...["Revision", "Percent", "Tag", "URL", "Latest"].map((t) => h("th", {}, t))),
      (st.traffic || []).map((t) => h("tr", {}, h("td", { class: "mono" }, t.revisionName || ""),
        h("td", {}, h("div", { class: "pct" }, h("div", { class: "bar" }, h("i", { style: `width:${t.percent || 0}%` })), `${t.percent || 0}%`)),
        h("td", {}, t.tag ? badge("", t.tag) : ""), h("td", {}, t.url ? link(t.url) : ""), h("td", {}, t.latestRevision ? "yes" : "")))),
    h("h2", {}, "Revisions"),
    h("table", { class: "revisions" }, h("tr", {}, ...["Revision", "Ready", "Instances", "Traffic", "Reason", "Age"].map((t) => h("th", {}, t))),
      revs.map((r) => {
        const rc = cond(r, "Ready");
        const rs = r.status || {};
        return h("tr", {}, h("td", { class: "mono" }, h("a", { href: "#", onclick: (ev) => { ev.preventDefault(); state.revision[key(svc)] = r.metadata.name; render(); tick(); } }, r.metadata.name)),
          h("td", {}, badge(rc.status)), h("td", { class: "num" }, `${rs.actualReplicas ?? "—"} / ${rs.desiredReplicas ?? "—"}`),
          h("td", { class: "num" }, traffic[r.metadata.name] ? `${traffic[r.metadata.name]}%` : ""), h("td", {}, rc.reason || ""), h("td", { class: "muted" }, age(r.metadata.creationTimestamp)));
      })));
  const rev = chosenRevision(svc);
  return [head, rev ? renderRevision(svc, rev, revs) : h("div", { class: "card empty" }, "no revision yet")];
}

function renderRevision(svc, rev, revs) {
  const ns = svc.metadata.namespace;
  const k = `${ns}/${rev}`;
  const series = state.series.get(k);
  const explain = state.explain.get(k);
  const card = h("div", { class: "card", id: "revision", "data-revision": rev });
  card.append(h("div", { class: "tabs" }, revs.map((r) => h("button", {
    class: r.metadata.name === rev ? "on" : "", onclick: () => { state.revision[key(svc)] = r.metadata.name; render(); tick(); },
  }, r.metadata.name))));
  if (!series) {
    card.append(h("div", { class: "empty" }, "The autoscaler has no data for this revision yet."));
    return card;
  }
  const c = series.cols;
  const n = c.time.length;
  const lastOf = (col) => { for (let i = n - 1; i >= 0; i--) if (c[col][i] !== null && c[col][i] !== undefined) return c[col][i]; return null; };
  const ready = series.ready ?? lastOf("ready");
  const target = lastOf("target");
  const metric = series.metric || "concurrency";
  card.append(h("div", { class: "stats" },
    h("div", { class: "stat" }, h("b", { id: "stat-instances" }, `${ready ?? "—"} / ${Math.max(0, lastOf("desired") ?? 0)}`), h("span", {}, "ready / desired")),
    h("div", { class: "stat" }, h("b", {}, fmt(lastOf("requestRate"))), h("span", {}, "req/s")),
    h("div", { class: "stat" }, h("b", {}, fmt(lastOf("latencyMs"), 1)), h("span", {}, "mean latency ms")),
    h("div", { class: "stat" }, h("b", {}, fmt(lastOf("stableConcurrency"))), h("span", {}, "stable concurrency")),
    h("div", { class: "stat" }, h("b", {}, `${fmt(target)}`), h("span", {}, `target ${metric} / instance`)),
    h("div", { class: "stat" }, h("b", {}, String(series.coldStarts.filter((cs) => cs.ready !== null).length)), h("span", {}, "cold starts")),
    explain && explain.panicMode ? h("div", { class: "stat" }, badge("panic", "PANIC"), h("span", {}, "mode")) : null));
  if (explain) card.append(h("p", { class: "summary", id: "explain-summary" }, `${explain.class.toUpperCase()}: ${explain.summary} · excess burst capacity ${explain.excessBurstCapacity}`));
  const t1 = series.now, t0 = t1 - state.window;
  const capacity = c.target.map((t, i) => (c.ready[i] === null || t === null ? null : t * c.ready[i]));
  const cold = series.coldStarts.map((cs) => ({
    from: cs.start, to: cs.ready ?? t1, color: "var(--cold)", kind: "cold",
    label: cs.seconds !== null ? `cold start ${fmt(cs.seconds)} s` : "cold start under way",
  }));
  const panic = panicBands(c);
  const grid = h("div", { class: "grid2" },
    chart({ id: "plot-instances", title: "Instances", t0, t1, times: c.time, integer: true, bands: cold,
      bandLegend: [{ color: "var(--cold)", label: "cold start" }],
      series: [
        { name: "ready", label: "ready", color: "var(--ready)", values: c.ready, step: true, area: true },
        { name: "desired", label: "desired", color: "var(--desired)", values: c.desired.map((v) => (v < 0 ? null : v)), step: true, dash: true },
      ] }),
    chart({ id: "plot-concurrency", title: "Concurrency", t0, t1, times: c.time, bands: panic,
      bandLegend: [{ color: "var(--panic)", label: "panic mode" }],
      series: [
        { name: "stable", label: "stable", color: "var(--stable)", values: c.stableConcurrency },
        { name: "panic", label: "panic", color: "var(--panic)", values: c.panicConcurrency, width: 1.3 },
        ...(metric === "concurrency" ? [{ name: "target", label: "target × ready", color: "var(--target)", values: capacity, dash: true, step: true }] : []),
      ] }),
    chart({ id: "plot-rate", title: "Request rate", t0, t1, times: c.time, unit: "/s",
      series: [
        { name: "requestRate", label: "req/s", color: "var(--rate)", values: c.requestRate, area: true },
        ...(metric === "rps" ? [{ name: "target", label: "target × ready", color: "var(--target)", values: capacity, dash: true, step: true }] : []),
      ] }),
    chart({ id: "plot-latency", title: "Latency (mean, Little's law)", t0, t1, times: c.time, unit: " ms",
      series: [{ name: "latencyMs", label: "mean", color: "var(--latency)", values: c.latencyMs, area: true }] }));
  card.append(grid);
  const colds = series.coldStarts.slice().reverse();
  card.append(h("h2", {}, "Cold starts"), colds.length
    ? h("table", { class: "cold" }, h("tr", {}, h("th", {}, "Requested"), h("th", {}, "Ready"), h("th", { class: "num" }, "Seconds")),
      colds.map((cs) => h("tr", {}, h("td", {}, clock(cs.start)), h("td", {}, cs.ready !== null ? clock(cs.ready) : "starting…"), h("td", { class: "num" }, fmt(cs.seconds)))))
    : h("p", { class: "muted" }, "none in the last minutes"));
  card.append(h("h2", {}, "Autoscaler decisions (explain trail)"), trail(c));
  card.append(h("h2", {}, "Logs"), h("pre", { class: "logs", id: "logs" }, state.logs.get(k) || "(no output)"));
  return card;
}

function trail(c) {
  const rows = [];
  for (let i = c.time.length - 1; i >= 0 && rows.length < 200; i--) {
    if (c.time[i] < (state.series.size ? c.time[c.time.length - 1] - state.window : 0)) break;
    const changed = i === 0 || c.desired[i] !== c.desired[i - 1] || c.reasons[i] !== c.reasons[i - 1] || c.panicMode[i] !== c.panicMode[i - 1];
    rows.push(h("tr", { class: changed ? "change" : "" }, h("td", {}, clock(c.time[i])),
      h("td", { class: "num" }, fmt(c.stableConcurrency[i])), h("td", { class: "num" }, fmt(c.panicConcurrency[i])), h("td", { class: "num" }, fmt(c.target[i])),
      h("td", { class: "num" }, c.ready[i] ?? "—"), h("td", { class: "num" }, c.desired[i] < 0 ? "—" : c.desired[i]),
      h("td", {}, c.panicMode[i] ? badge("panic", "panic") : ""), h("td", {}, c.reasons[i] || "")));
  }
  return h("div", { class: "trail" }, h("table", {}, h("tr", {}, ...["Time", "Stable", "Panic", "Target", "Ready", "Desired", "Mode", "Why"].map((t) => h("th", {}, t))), rows));
}

function renderEventing() {
  const brokers = h("table", { id: "brokers" }, h("tr", {}, ...["Broker", "Namespace", "Ready", "Address", "Reason"].map((t) => h("th", {}, t))),
    state.brokers.map((b) => { const rc = cond(b, "Ready"); return h("tr", {}, h("td", {}, b.metadata.name), h("td", {}, b.metadata.namespace), h("td", {}, badge(rc.status)), h("td", {}, link(((b.status || {}).address || {}).url)), h("td", {}, rc.reason || "")); }));
  const triggers = h("table", { id: "triggers" }, h("tr", {}, ...["Trigger", "Broker", "Filter", "Subscriber", "Ready", "Reason"].map((t) => h("th", {}, t))),
    state.triggers.map((t) => {
      const rc = cond(t, "Ready");
      const spec = t.spec || {};
      const attrs = Object.entries((spec.filter || {}).attributes || {}).map(([k, v]) => `${k}=${v}`).join(", ");
      const sub = spec.subscriber || {};
      const subscriber = ((t.status || {}).subscriberUri) || sub.uri || (sub.ref ? `${sub.ref.kind}/${sub.ref.name}` : "");
      return h("tr", {}, h("td", {}, t.metadata.name), h("td", {}, spec.broker || ""), h("td", { class: "mono" }, attrs || (spec.filters ? "filters" : "all")),
        h("td", { class: "mono" }, subscriber), h("td", {}, badge(rc.status)), h("td", {}, rc.reason || ""));
    }));
  return h("div", { class: "card", id: "eventing" }, h("h3", {}, "Brokers"), state.brokers.length ? brokers : h("p", { class: "muted" }, "none"),
    h("h3", { style: "margin-top:18px" }, "Triggers"), state.triggers.length ? triggers : h("p", { class: "muted" }, "none"));
}

function render() {
  renderNav();
  const main = document.getElementById("main");
  const logs = document.getElementById("logs");
  const stick = !logs || logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
  const svc = state.services.find((x) => key(x) === state.selected);
  if (svc) main.replaceChildren(...renderService(svc), renderEventing());
  else main.replaceChildren(state.services.length ? "" : h("div", { class: "card empty" }, "No Services yet: zeroserve service create NAME --image …"), renderEventing());
  const newLogs = document.getElementById("logs");
  if (newLogs && stick) newLogs.scrollTop = newLogs.scrollHeight;
}

// ---- loop ------------------------------------------------------------------------------------

let timer = null;
let busy = false;

async function tick() {
  if (busy) return;
  busy = true;
  clearTimeout(timer);
  const live = document.getElementById("live");
  try {
    await refresh();
    if (!document.querySelector(".tip[style*='block']")) render();
    live.textContent = `live · ${new Date().toTimeString().slice(0, 8)}`;
    live.className = "live ok";
  } catch (err) {
    live.textContent = `error: ${err.message}`;
    live.className = "live err";
  } finally {
    busy = false;
    timer = setTimeout(tick, REFRESH_MS);
  }
}

window.addEventListener("hashchange", () => {
  state.selected = decodeURIComponent(location.hash.slice(1)) || null;
  render();
  tick();
});

document.addEventListener("DOMContentLoaded", () => {
  state.selected = decodeURIComponent(location.hash.slice(1)) || null;
  for (const b of document.querySelectorAll("#window button")) {
    b.addEventListener("click", () => {
      state.window = Number(b.dataset.seconds);
      for (const o of document.querySelectorAll("#window button")) o.classList.toggle("on", o === b);
      render();
    });
  }
  tick();
});
