// The live page: the sensor table from the server-sent events of
// /api/stream (one "stats" event a second), the pipeline's throughput, and a
// Chart.js line chart per ticked sensor from /api/sensors/{id}/windows.
// Numbers are shown with 2 decimals; each cell's data-value holds the exact
// number the API sent (the browser test compares both).
"use strict";

const selected = new Set();   // sensors to chart
let firstData = true;
const charts = new Map();     // sensor id -> {chart, div}

function fmt(v) { return Number(v).toFixed(2); }
function cell(tr, field, value, text, cls) {
  let td = tr.querySelector(`td[data-field="${field}"]`);
  if (!td) {
    td = document.createElement("td");
    td.dataset.field = field;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }
  td.dataset.value = String(value);
  td.textContent = text;
}

function renderTable(sensors) {
  const tbody = document.querySelector("#sensors tbody");
  const seen = new Set();
  for (const s of sensors) {
    seen.add(s.sensor_id);
    let tr = tbody.querySelector(`tr[data-sensor="${CSS.escape(s.sensor_id)}"]`);
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.sensor = s.sensor_id;
      const td = document.createElement("td");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = selected.has(s.sensor_id);
      box.addEventListener("change", () => {
        if (box.checked) selected.add(s.sensor_id); else selected.delete(s.sensor_id);
        refreshCharts();
      });
      td.appendChild(box);
      tr.appendChild(td);
      tbody.appendChild(tr);
    }
    cell(tr, "sensor_id", s.sensor_id, s.sensor_id, "text");
    cell(tr, "location", s.location, s.location, "text");
    cell(tr, "type", s.type, s.type, "text");
    cell(tr, "unit", s.unit, s.unit, "text");
    cell(tr, "count", s.count, String(s.count));
    cell(tr, "mean", s.mean, fmt(s.mean));
    cell(tr, "min", s.min, fmt(s.min));
    cell(tr, "max", s.max, fmt(s.max));
    cell(tr, "last_value", s.last_value, fmt(s.last_value));
    cell(tr, "last_timestamp", s.last_timestamp, s.last_timestamp, "text");
  }
  for (const tr of [...tbody.querySelectorAll("tr")]) {
    if (!seen.has(tr.dataset.sensor)) tr.remove();
  }
  // Keep rows in sensor order (the API's order).
  for (const s of sensors) tbody.appendChild(tbody.querySelector(`tr[data-sensor="${CSS.escape(s.sensor_id)}"]`));
  if (firstData && sensors.length > 0) {
    firstData = false;
    for (const s of sensors.slice(0, 2)) selected.add(s.sensor_id);
    for (const tr of tbody.querySelectorAll("tr")) tr.querySelector("input").checked = selected.has(tr.dataset.sensor);
    refreshCharts();
  }
}

function renderPipeline(p, timeMs) {
  const t = document.getElementById("throughput");
  t.dataset.value = String(p.records_per_second);
  t.textContent = p.records_per_second.toFixed(1);
  const n = document.getElementById("processed");
  n.dataset.value = String(p.records_processed_total);
  n.textContent = String(p.records_processed_total);
  document.getElementById("state").textContent = p.state;
  document.getElementById("updated").textContent = new Date(timeMs).toISOString().substring(11, 19);
}

function chartFor(id) {
  let entry = charts.get(id);
  if (entry) return entry;
  const div = document.createElement("div");
  div.className = "chart";
  div.dataset.sensor = id;
  const h = document.createElement("h3");
  h.textContent = id;
  const canvas = document.createElement("canvas");
  canvas.height = 200;
  div.append(h, canvas);
  document.getElementById("charts").appendChild(div);
  const chart = new Chart(canvas, {
    type: "line",
    data: { labels: [], datasets: [
      { label: "min", data: [], borderColor: "rgba(54,162,235,0.4)", pointRadius: 0, fill: false },
      { label: "max", data: [], borderColor: "rgba(54,162,235,0.4)", backgroundColor: "rgba(54,162,235,0.15)",
        pointRadius: 0, fill: "-1" },
      { label: "mean", data: [], borderColor: "rgb(220,60,60)", pointRadius: 2, fill: false },
    ] },
    options: { animation: false, responsive: true, plugins: { legend: { display: true } },
               scales: { y: { title: { display: true, text: "" } } } },
  });
  entry = { chart, div };
  charts.set(id, entry);
  return entry;
}

async function refreshCharts() {
  for (const [id, entry] of charts) {
    if (!selected.has(id)) { entry.chart.destroy(); entry.div.remove(); charts.delete(id); }
  }
  for (const id of selected) {
    const { chart, div } = chartFor(id);
    try {
      const r = await fetch(`/api/sensors/${encodeURIComponent(id)}/windows?window=1m`);
      if (!r.ok) continue;
      const body = await r.json();
      chart.data.labels = body.windows.map(w => w.start.substring(11, 16));
      chart.data.datasets[0].data = body.windows.map(w => w.min);
      chart.data.datasets[1].data = body.windows.map(w => w.max);
      chart.data.datasets[2].data = body.windows.map(w => w.mean);
      chart.options.scales.y.title.text = body.unit;
      div.dataset.windows = String(body.windows.length);
      chart.update();
    } catch (e) { /* the next refresh retries */ }
  }
}

function connect() {
  const status = document.getElementById("connection");
  const es = new EventSource("/api/stream");
  es.onopen = () => { status.textContent = "live"; status.className = "up"; };
  es.onerror = () => { status.textContent = "reconnecting…"; status.className = "down"; };
  es.addEventListener("stats", (e) => {
    const d = JSON.parse(e.data);
    renderPipeline(d.pipeline, d.time_ms);
    if (d.sensors) renderTable(d.sensors);
  });
}

connect();
setInterval(refreshCharts, 5000);
