"""The dashboard page: one self-contained HTML document (no CDN); charts are inline SVG drawn from JSON."""

PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>bestbefore — dashboard</title>
<style>
  body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { display: flex; align-items: baseline; gap: 1.5rem; padding: 14px 24px; background: #1d2330; color: #fff; }
  header h1 { font-size: 18px; margin: 0; }
  header label { font-size: 13px; }
  #summary { padding: 10px 24px 0; display: flex; flex-wrap: wrap; gap: 10px; }
  .kpi { background: #fff; border-radius: 8px; padding: 8px 14px; box-shadow: 0 1px 2px #0001; }
  .kpi b { display: block; font-size: 20px; }
  .kpi span { color: #5b6577; font-size: 12px; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 16px; padding: 16px 24px; }
  section.chart { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px #0001; }
  section.chart h2 { font-size: 15px; margin: 0 0 4px; }
  .legend { display: flex; flex-wrap: wrap; gap: 12px; font-size: 12px; margin: 4px 0; }
  .legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 4px; vertical-align: -2px; }
  table { border-collapse: collapse; font-size: 12px; margin-top: 6px; }
  td, th { padding: 2px 10px 2px 0; text-align: right; } th:first-child, td:first-child { text-align: left; }
  .empty { color: #5b6577; padding: 40px 0; text-align: center; }
  svg text { font-size: 11px; fill: #3b4455; }
</style>
</head>
<body>
<header>
  <h1>bestbefore</h1>
  <label>Window
    <select id="window">
      <option value="1d">last day</option><option value="7d">7 days</option><option value="14d" selected>14 days</option>
      <option value="30d">30 days</option><option value="90d">90 days</option>
    </select>
  </label>
  <span id="status"></span>
</header>
<div id="summary"></div>
<main>
  <section class="chart" id="latency"><h2>Latency (ms per day; dashed: p95 per stage)</h2><div class="legend"></div><div class="plot"></div><div class="extra"></div></section>
  <section class="chart" id="cost"><h2>Cost (USD per day, by model)</h2><div class="legend"></div><div class="plot"></div><div class="extra"></div></section>
  <section class="chart" id="quality"><h2>Quality signals (% of answers per day)</h2><div class="legend"></div><div class="plot"></div><div class="extra"></div></section>
  <section class="chart" id="freshness"><h2>Freshness (answers whose cited docs were all within their threshold)</h2><div class="legend"></div><div class="plot"></div>
    <div id="freshness-stale"><div class="legend"></div><div class="plot"></div></div><div class="extra"></div></section>
</main>
<script>
"use strict";
const COLORS = ["#2f6fdf", "#e0572a", "#2a9d5c", "#9b51e0", "#d4a20b", "#0fa3b1", "#c2185b", "#6d7b8f"];
const NS = "http://www.w3.org/2000/svg";
const W = 520, H = 240, M = {l: 64, r: 24, t: 12, b: 36};
const params = new URLSearchParams(location.search);

function el(tag, attrs, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v))), n = v / p;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * p;
}
function fmt(v, unit) {
  if (v === null || v === undefined) return "–";
  if (unit === "%") return (v * 100).toFixed(0) + "%";
  if (unit === "n") return v.toFixed(0);
  if (unit === "$") return "$" + (v >= 1 ? v.toFixed(2) : v.toPrecision(2));
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}
function frame(section, days, yMax, unit, pad) {
  const svg = el("svg", {viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "data-chart": section.id});
  const inner = W - M.l - M.r - 2 * (pad || 0);
  const x = i => M.l + (pad || 0) + (days.length === 1 ? inner / 2 : i * inner / (days.length - 1));
  const y = v => H - M.b - (v / yMax) * (H - M.t - M.b);
  for (let k = 0; k <= 4; k++) {
    const v = yMax * k / 4;
    svg.appendChild(el("line", {x1: M.l, x2: W - M.r, y1: y(v), y2: y(v), stroke: k ? "#e3e6eb" : "#9aa3b2"}));
    svg.appendChild(el("text", {x: M.l - 6, y: y(v) + 4, "text-anchor": "end"}, fmt(v, unit)));
  }
  const step = Math.max(1, Math.ceil(days.length / 8));
  days.forEach((d, i) => { if (i % step === 0 || i === days.length - 1)
    svg.appendChild(el("text", {x: x(i), y: H - M.b + 16, "text-anchor": "middle"}, d.slice(5))); });
  return {svg, x, y};
}
function legend(section, names) {
  const box = section.querySelector(".legend");
  box.replaceChildren(...names.map((n, i) => {
    const s = document.createElement("span"); const sw = document.createElement("i");
    sw.style.background = COLORS[i % COLORS.length]; s.append(sw, n); return s; }));
}
function lines(section, days, series, unit, fixedMax) {
  const plot = section.querySelector(".plot");
  if (!days.length) { plot.innerHTML = '<div class="empty">No answers in this window</div>'; legend(section, []); return; }
  const all = series.flatMap(s => s.values).filter(v => v !== null);
  const {svg, x, y} = frame(section, days, fixedMax || niceMax(Math.max(0, ...all)), unit);
  series.forEach((s, si) => {
    const color = COLORS[si % COLORS.length];
    let d = ""; s.values.forEach((v, i) => { if (v !== null) d += (d ? "L" : "M") + x(i).toFixed(1) + "," + y(v).toFixed(1); });
    const style = s.dashed ? {"stroke-width": 1.5, "stroke-dasharray": "5 4"} : {"stroke-width": 2.5};
    svg.appendChild(el("path", {d, fill: "none", stroke: color, ...style, "class": "series"}));
    s.values.forEach((v, i) => { if (v !== null) {
      const dot = el("circle", {cx: x(i), cy: y(v), r: 3.5, fill: color});
      dot.appendChild(el("title", {}, `${s.name} ${days[i]}: ${fmt(v, unit)}`)); svg.appendChild(dot); } });
  });
  plot.replaceChildren(svg); legend(section, series.map(s => s.name));
}
function bars(section, days, stacks, unit) {
  const plot = section.querySelector(".plot");
  if (!days.length || !stacks.length) { plot.innerHTML = '<div class="empty">No billed calls in this window</div>'; legend(section, []); return; }
  const totals = days.map((_, i) => stacks.reduce((a, s) => a + s.values[i], 0));
  const slot = (W - M.l - M.r) / Math.max(days.length, 1), bw = Math.min(28, slot * 0.6);
  const {svg, x, y} = frame(section, days, niceMax(Math.max(...totals)), unit, slot / 2);
  days.forEach((d, i) => {
    let base = 0;
    stacks.forEach((s, si) => { const v = s.values[i]; if (!v) return;
      const r = el("rect", {x: x(i) - bw / 2, y: y(base + v), width: bw, height: Math.max(1, y(base) - y(base + v)),
                            fill: COLORS[si % COLORS.length], "class": "series"});
      r.appendChild(el("title", {}, `${s.name} ${d}: ${fmt(v, unit)}`)); svg.appendChild(r); base += v; });
  });
  plot.replaceChildren(svg); legend(section, stacks.map(s => s.name));
}
function table(section, head, rows) {
  const t = document.createElement("table");
  t.innerHTML = "<tr>" + head.map(h => `<th>${h}</th>`).join("") + "</tr>" +
    rows.map(r => "<tr>" + r.map(c => `<td>${c}</td>`).join("") + "</tr>").join("");
  section.querySelector(".extra").replaceChildren(t);
}
function kpis(data) {
  const q = data.quality;
  const items = [["Questions", data.questions], ["Unique askers", data.unique_askers],
    ["p95 latency", fmt(data.latency.total ? data.latency.total.p95_ms : null) + " ms"],
    ["Cost", fmt(data.cost_usd, "$")], ["Thumbs-up rate", fmt(q.thumbs_up_rate, "%")],
    ["Refusal rate", fmt(q.refusal_rate, "%")], ["Stale-answer rate", fmt(q.stale_rate, "%")],
    ["Zero-hit rate", fmt(q.zero_hit_rate, "%")], ["Cache hit rate", fmt(data.cache_hit_rate, "%")],
    ["Fresh-source rate", fmt(q.fresh_source_rate, "%")],
    ["Docs verified", data.doc_reviews.verified], ["Docs reported outdated", data.doc_reviews.flagged],
    ["Docs with open reports", data.doc_reviews.open_flags.length]];
  document.getElementById("summary").replaceChildren(...items.map(([label, value]) => {
    const d = document.createElement("div"); d.className = "kpi";
    const b = document.createElement("b"); b.textContent = value; const s = document.createElement("span"); s.textContent = label;
    d.append(b, s); return d; }));
}
function render(data) {
  kpis(data);
  const lat = data.latency_by_day, ldays = Object.keys(lat);
  const pick = (stage, p) => ldays.map(d => lat[d][stage] ? lat[d][stage][p] : null);
  const stages = Object.keys(data.latency).filter(s => s !== "total");
  lines(document.getElementById("latency"), ldays,
        [{name: "p50 total", values: pick("total", "p50_ms")}, {name: "p95 total", values: pick("total", "p95_ms")},
         ...stages.map(stage => ({name: "p95 " + stage, values: pick(stage, "p95_ms"), dashed: true}))], "ms");
  table(document.getElementById("latency"), ["stage", "p50 ms", "p95 ms", "n"],
        Object.entries(data.latency).map(([s, v]) => [s, fmt(v.p50_ms), fmt(v.p95_ms), v.count]));
  const cdays = Object.keys(data.cost_by_day), models = Object.keys(data.cost_by_model);
  bars(document.getElementById("cost"), cdays,
       models.map(m => ({name: m, values: cdays.map(d => (data.cost_by_day_model[d] || {})[m] || 0)})), "$");
  table(document.getElementById("cost"), ["model", "USD"], models.map(m => [m, fmt(data.cost_by_model[m], "$")]));
  const qd = data.quality_by_day, qdays = Object.keys(qd);
  const rate = key => qdays.map(d => qd[d][key]);
  lines(document.getElementById("quality"), qdays,
        [{name: "thumbs-up rate", values: rate("thumbs_up_rate")}, {name: "refusal rate", values: rate("refusal_rate")},
         {name: "stale-answer rate", values: rate("stale_rate")}, {name: "zero-hit rate", values: rate("zero_hit_rate")}], "%", 1);
  table(document.getElementById("quality"), ["signal", "window"],
        [["votes up / down", `${data.quality.votes_up} / ${data.quality.votes_down}`], ["answers", data.quality.answers],
         ["refusals", data.quality.refusals], ["stale answers", data.quality.stale], ["zero-hit", data.quality.zero_hit]]);
  const fr = data.freshness;
  lines(document.getElementById("freshness"), fr.days, [{name: "fresh-source rate", values: fr.fresh_source_rate}], "%", 1);
  lines(document.getElementById("freshness-stale"), fr.days, [{name: "stale docs (by today's dates)", values: fr.stale_docs}], "n",
        Math.max(4, niceMax(Math.max(0, ...fr.stale_docs))));
  table(document.getElementById("freshness"), ["top stale docs", "cited", "days overdue", "cited × overdue"],
        fr.top_stale.map(s => [esc(s.title), s.citations, s.days_overdue, s.score]));
  document.body.dataset.loaded = "true";
}
function esc(text) {
  const d = document.createElement("div"); d.textContent = text; return d.innerHTML;
}
async function load() {
  const win = document.getElementById("window").value;
  const q = new URLSearchParams({window: win});
  const status = document.getElementById("status");
  status.textContent = "loading…";
  const response = await fetch("dashboard/data?" + q.toString(), {cache: "no-store", credentials: "same-origin"});
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    status.textContent = problem.error || ("error " + response.status);
    return;
  }
  render(await response.json());
  status.textContent = "updated " + new Date().toLocaleTimeString();
}
document.getElementById("window").value = params.get("window") || "14d";
document.getElementById("window").addEventListener("change", load);
load();
</script>
</body>
</html>
"""
