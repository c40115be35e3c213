// eddy dashboard: reads the view API, updates live from /api/events (Server-Sent Events).
"use strict";
(() => {
const $ = (s) => document.querySelector(s);
const st = { cats: [], cat: null, sort: "key", limit: 50, key: "", agg: "", plot: null, points: [], live: false, partitions: new Map() };
const enc = encodeURIComponent;

// The API is addressed relative to the page, so that the dashboard also works under a path prefix
// (an Azure Functions route), and it carries the page's function key (?code=) along.
const code = new URLSearchParams(location.search).get("code");
function href(p) {
  const u = new URL(p.replace(/^\//, ""), location.href);
  if (code) u.searchParams.set("code", code);
  return u.toString();
}

async function get(url) {
  const r = await fetch(href(url), { cache: "no-store" });
  if (!r.ok) throw new Error(url + ": " + r.status + " " + (await r.text()));
  return r.json();
}
const viewOf = (kind) => st.cat && st.cat.views.find((v) => v.kind === kind);
const base = () => "/api/functions/" + enc(st.cat.function);
const fmtTime = (s) => (s ? new Date(s).toISOString().replace("T", " ").replace(".000Z", "Z") : "");
const fmtNum = (v) => (v === null || v === undefined ? "–" : typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : JSON.stringify(v));
const fmtValues = (o) => Object.entries(o || {}).map(([k, v]) => k + "=" + fmtNum(v)).join(" ");
function fmtLag(ms) {
  if (ms < 1000) return ms + " ms";
  if (ms < 120000) return (ms / 1000).toFixed(1) + " s";
  if (ms < 7200000) return (ms / 60000).toFixed(1) + " min";
  return (ms / 3600000).toFixed(1) + " h";
}
function cell(tr, text, cls) { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); return td; }

// Refetches are debounced: a burst of outputs costs one request per part and second.
const pending = new Set();
let timer = null;
function schedule(...parts) {
  parts.forEach((p) => pending.add(p));
  if (timer) return;
  timer = setTimeout(() => {
    timer = null;
    const parts = [...pending];
    pending.clear();
    parts.forEach((p) => refresh[p]().catch(showError));
  }, 400);
}
function showError(e) { console.error(e); }

const refresh = {
  async firing() {
    const tb = $("#firing tbody");
    const rows = viewOf("firing") ? await get(base() + "/firing") : [];
    tb.replaceChildren();
    for (const d of rows) {
      const tr = document.createElement("tr");
      tr.dataset.rule = d.rule; tr.dataset.key = d.key;
      cell(tr, d.severity || "–", "sev " + (d.severity || ""));
      cell(tr, d.rule); cell(tr, d.key); cell(tr, d.state); cell(tr, fmtTime(d.since)); cell(tr, fmtValues(d.values));
      tb.appendChild(tr);
    }
    $("#firing-total").textContent = rows.filter((d) => d.state === "firing").length;
    $("#firing-empty").hidden = rows.length > 0;
    if (!viewOf("firing")) $("#firing-empty").textContent = "This function keeps no firing view.";
  },
  async keys() {
    const v = viewOf("latest") || viewOf("history");
    const thead = $("#keys thead"), tb = $("#keys tbody");
    if (!v) { thead.replaceChildren(); tb.replaceChildren(); $("#keys-total").textContent = "(no latest view)"; return; }
    const aggs = v.aggregates && v.aggregates.length ? v.aggregates : st.cat.aggregates || [];
    const page = await get(base() + "/views/" + enc(v.name) + "/rows?limit=" + st.limit + "&sort=" + enc(st.sort));
    const hr = document.createElement("tr");
    for (const col of ["key", "window end", ...aggs]) {
      const th = document.createElement("th");
      th.textContent = col;
      const sortKey = col === "window end" ? null : col;
      const cur = st.sort.replace(/^-/, "");
      if (sortKey && cur === sortKey) th.className = "sorted" + (st.sort.startsWith("-") ? " desc" : "");
      if (sortKey) th.onclick = () => { st.sort = cur === sortKey && !st.sort.startsWith("-") ? "-" + sortKey : sortKey; schedule("keys"); };
      hr.appendChild(th);
    }
    thead.replaceChildren(hr);
    tb.replaceChildren();
    const keys = [];
    for (const r of page.rows) {
      const w = r.windows ? r.windows[r.windows.length - 1] || {} : r;
      const tr = document.createElement("tr");
      tr.dataset.key = r.key;
      if (r.key === st.key) tr.className = "selected";
      cell(tr, r.key); cell(tr, fmtTime(w.end));
      for (const a of aggs) cell(tr, fmtNum((w.values || {})[a]), "num");
      tr.onclick = () => { st.key = r.key; $("#chart-key").value = r.key; loadChart().catch(showError); schedule("keys"); };
      tb.appendChild(tr);
      keys.push(r.key);
    }
    $("#keys-total").textContent = page.total + " keys";
    $("#keys-more").hidden = !page.next;
    fillKeys(keys);
  },
  async decisions() {
    const tb = $("#decisions tbody");
    const rows = viewOf("decisions") ? await get(base() + "/decisions?limit=20") : [];
    tb.replaceChildren();
    for (const d of rows) {
      const tr = document.createElement("tr");
      cell(tr, fmtTime(d.time)); cell(tr, d.rule); cell(tr, d.key); cell(tr, d.state); cell(tr, d.severity || "–", "sev " + (d.severity || "")); cell(tr, fmtValues(d.values));
      tb.appendChild(tr);
    }
  },
  async status() {
    const s = await get("/api/status");
    st.partitions = new Map(s.partitions.filter((p) => p.function === st.cat.function).map((p) => [p.partition, p]));
    renderPartitions();
  },
  async chart() { await loadChart(); },
};

function renderPartitions() {
  const tb = $("#partitions tbody");
  tb.replaceChildren();
  let late = 0, dl = 0;
  for (const p of [...st.partitions.values()].sort((a, b) => a.partition.localeCompare(b.partition, undefined, { numeric: true }))) {
    const tr = document.createElement("tr");
    cell(tr, p.partition); cell(tr, fmtTime(p.watermark)); cell(tr, fmtLag(p.lag_ms), "num"); cell(tr, p.batches, "num"); cell(tr, p.events, "num"); cell(tr, p.late, "num"); cell(tr, p.dead_letters, "num");
    tb.appendChild(tr);
    late += p.late; dl += p.dead_letters;
  }
  $("#late-total").textContent = late;
  $("#dl-total").textContent = dl;
  $("#partitions-empty").hidden = st.partitions.size > 0 || st.live;
}

function fillKeys(keys) {
  const sel = $("#chart-key");
  const have = new Set([...sel.options].map((o) => o.value));
  for (const k of keys) if (!have.has(k)) { const o = new Option(k, k); sel.add(o); }
  if (!st.key && keys.length) { st.key = keys[0]; sel.value = st.key; loadChart().catch(showError); }
}

function chartAggs() {
  const v = viewOf("history") || viewOf("latest");
  if (!v) return [];
  return v.aggregates && v.aggregates.length ? v.aggregates : st.cat.aggregates || [];
}

async function loadChart() {
  st.points = [];
  if (st.plot) { st.plot.destroy(); st.plot = null; } // a new key or aggregate: a new legend
  const v = viewOf("history");
  if (v && st.key) {
    try {
      const row = await get(base() + "/views/" + enc(v.name) + "/rows/" + enc(st.key));
      for (const w of row.windows) addPoint(w.end, (w.values || {})[st.agg], false);
    } catch (e) { /* no history yet for this key */ }
  }
  drawChart();
}

function addPoint(end, value, redraw = true) {
  if (typeof value !== "number") return;
  const x = Date.parse(end) / 1000;
  const i = st.points.findIndex((p) => p[0] === x);
  if (i >= 0) st.points[i][1] = value; else st.points.push([x, value]);
  st.points.sort((a, b) => a[0] - b[0]);
  if (st.points.length > 2000) st.points.shift();
  if (redraw) drawChart();
}

function drawChart() {
  const el = $("#chart");
  const data = [st.points.map((p) => p[0]), st.points.map((p) => p[1])];
  el.dataset.points = String(st.points.length);
  $("#chart-count").textContent = st.points.length + " windows";
  const width = Math.max(320, el.clientWidth || 560);
  if (!st.plot || st.plot.width !== width) {
    if (st.plot) st.plot.destroy();
    st.plot = new uPlot({ width, height: 260, scales: { x: { time: true } },
      series: [{}, { label: (st.agg || "value") + " of " + (st.key || "–"), stroke: "#1565c0", width: 2, points: { size: 6 } }] }, data, el);
  } else {
    st.plot.setData(data);
  }
}

function onOutput(o) {
  if (!st.cat || o.function !== st.cat.function) return;
  if (o.type === "window") {
    if (o.key === st.key) addPoint(o.end, o.values[st.agg]);
    schedule("keys");
  } else if (o.type === "decision") {
    schedule("firing", "decisions");
  }
}

function connect() {
  const es = new EventSource(href("/api/events"));
  es.addEventListener("hello", (e) => {
    const h = JSON.parse(e.data);
    st.live = h.live;
    // A host that buffers responses (a Lambda function URL) ends the stream after the hello: the
    // browser reconnects after its retry interval, which polls.
    st.polling = !!h.once;
    $("#live").textContent = st.live ? "live" : "polling the view store";
    $("#live").className = "badge on";
    // After a reconnect (a dropped slow client), reload everything once.
    schedule("firing", "keys", "decisions", "status", "chart");
  });
  es.addEventListener("outputs", (e) => JSON.parse(e.data).forEach(onOutput));
  // The stream sends the newest output per key each tick; when it replaced some, the chart may
  // have missed windows of its key, so it reloads from the history view.
  es.addEventListener("conflated", () => schedule("chart"));
  es.addEventListener("status", (e) => {
    const p = JSON.parse(e.data);
    if (st.cat && p.function === st.cat.function) { st.partitions.set(p.partition, p); renderPartitions(); }
  });
  es.addEventListener("refresh", () => schedule("firing", "keys", "decisions", "chart"));
  es.onerror = () => { if (st.polling) return; $("#live").textContent = "reconnecting…"; $("#live").className = "badge off"; };
}

async function selectFunction(name) {
  st.cat = st.cats.find((c) => c.function === name) || st.cats[0];
  if (!st.cat) return;
  st.sort = "key"; st.key = "";
  const aggSel = $("#chart-agg");
  aggSel.replaceChildren(...chartAggs().map((a) => new Option(a, a)));
  st.agg = chartAggs()[0] || "";
  $("#chart-key").replaceChildren();
  await Promise.all(["firing", "keys", "decisions", "status"].map((p) => refresh[p]().catch(showError)));
}

async function init() {
  $("#chart-key").onchange = (e) => { st.key = e.target.value; loadChart().catch(showError); schedule("keys"); };
  $("#chart-agg").onchange = (e) => { st.agg = e.target.value; loadChart().catch(showError); };
  $("#keys-more").onclick = () => { st.limit += 50; schedule("keys"); };
  $("#fn").onchange = (e) => selectFunction(e.target.value).catch(showError);
  for (let i = 0; i < 100 && !st.cats.length; i++) {
    st.cats = await get("/api/functions").catch(() => []);
    if (!st.cats.length) await new Promise((r) => setTimeout(r, 500));
  }
  $("#fn").replaceChildren(...st.cats.map((c) => new Option(c.function, c.function)));
  await selectFunction(st.cats.length ? st.cats[0].function : "");
  connect();
}
init().catch(showError);
})();
