#include "run/live_page.hpp"

namespace rill::config::detail {

namespace {

// The drawing is done in the browser from the JSON, with the DOM's own SVG,
// so the server sends only data once the page is loaded.
constexpr std::string_view page = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>rill run</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 16px; color: #222; background: #fafafa; }
h1 { font-size: 18px; margin: 0 0 4px; }
#status { margin-bottom: 12px; color: #555; }
svg text { font: 12px system-ui, sans-serif; }
.stage rect { stroke: #333; stroke-width: 1.5; rx: 6; }
.running rect { fill: #c8ecc8; } .waiting rect { fill: #ffe0a8; }
.failed rect { fill: #f6b0b0; stroke: #b00; stroke-width: 3; } .finished rect { fill: #ddd; }
.edge { stroke: #666; stroke-width: 1.5; fill: none; marker-end: url(#arrow); }
.fill-bg { fill: #fff; stroke: #666; } .fill { fill: #4a90d9; } .fill.full { fill: #d9534f; }
.sup { border: 2px solid #557; border-radius: 6px; padding: 6px 8px; margin: 6px 0; background: rgba(80,80,140,.04); }
.sup.gave_up { border-color: #b00; }
.sup-title { font-weight: 600; margin-bottom: 4px; }
.chip { display: inline-block; border: 1px solid #333; border-radius: 4px; padding: 2px 6px; margin: 2px; }
.chip.running { background: #c8ecc8; } .chip.waiting { background: #ffe0a8; }
.chip.failed { background: #f6b0b0; border-color: #b00; } .chip.finished { background: #ddd; }
.legend span { margin-right: 12px; }
</style>
</head>
<body>
<h1 id="title">rill run</h1>
<div id="status">loading /api/state ...</div>
<svg id="graph" xmlns="http://www.w3.org/2000/svg" width="900" height="200">
  <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto">
    <path d="M0,0 L10,5 L0,10 z" fill="#666"/></marker></defs>
  <g id="edges"></g><g id="nodes"></g>
</svg>
<div class="legend"><span class="chip running">running</span><span class="chip waiting">waiting / restarting</span>
<span class="chip failed">failed</span><span class="chip finished">finished</span></div>
<h2 style="font-size:16px">Supervision</h2>
<div id="tree"></div>
<script>
"use strict";
const NS = "http://www.w3.org/2000/svg";
const W = 170, H = 64, COL = 260, ROW = 96;

function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

// The worst state of a stage's workers, for its colour.
function stageState(s) {
  const order = ["failed", "waiting", "running", "finished"];
  let best = "finished";
  for (const w of s.workers) if (order.indexOf(w.phase) < order.indexOf(best)) best = w.phase;
  return best;
}

// Columns: a stage's longest distance from a source (bounded, for a cycle).
function layout(state) {
  const producers = {};
  for (const s of state.stages) for (const c of s.outputs) (producers[c] = producers[c] || []).push(s.id);
  const level = {};
  for (const s of state.stages) level[s.id] = 0;
  for (let pass = 0; pass < state.stages.length; ++pass)
    for (const s of state.stages)
      for (const c of s.inputs)
        for (const p of producers[c] || []) level[s.id] = Math.max(level[s.id], Math.min(level[p] + 1, state.stages.length));
  const rows = {}, pos = {};
  for (const s of state.stages) {
    const l = level[s.id], r = rows[l] = (rows[l] || 0) + 1;
    pos[s.id] = {x: 20 + l * COL, y: 20 + (r - 1) * ROW};
  }
  return {producers, pos};
}

function drawGraph(state) {
  const {producers, pos} = layout(state);
  const edges = document.getElementById("edges"), nodes = document.getElementById("nodes");
  edges.replaceChildren(); nodes.replaceChildren();
  let maxX = 0, maxY = 0;
  const chan = {};
  for (const c of state.channels) chan[c.name] = c;
  for (const s of state.stages) {
    for (const cname of s.inputs) {
      const c = chan[cname];
      for (const p of producers[cname] || []) {
        const a = pos[p], b = pos[s.id];
        const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
        edges.appendChild(el("path", {class: "edge", d: `M${x1},${y1} C${(x1 + x2) / 2},${y1} ${(x1 + x2) / 2},${y2} ${x2},${y2}`}));
        const mx = (x1 + x2) / 2 - 30, my = (y1 + y2) / 2 - 22;
        const frac = c.capacity > 0 ? Math.min(1, c.depth / c.capacity) : 0;
        const g = el("g", {class: "channel", "data-channel": c.name});
        g.appendChild(el("text", {x: mx, y: my}, `${c.name} ${c.depth}/${c.capacity}${c.closed ? " closed" : ""}`));
        g.appendChild(el("rect", {class: "fill-bg", x: mx, y: my + 4, width: 60, height: 8}));
        g.appendChild(el("rect", {class: "fill" + (frac >= 1 ? " full" : ""), x: mx, y: my + 4, width: 60 * frac, height: 8}));
        edges.appendChild(g);
      }
    }
  }
  for (const s of state.stages) {
    const p = pos[s.id], st = stageState(s);
    const failures = s.workers.reduce((n, w) => n + w.failures, 0);
    const g = el("g", {class: "stage " + st, "data-stage": s.id});
    g.appendChild(el("rect", {x: p.x, y: p.y, width: W, height: H}));
    g.appendChild(el("text", {x: p.x + 8, y: p.y + 18, "font-weight": "bold"}, s.id));
    g.appendChild(el("text", {x: p.x + 8, y: p.y + 36}, `${s.stage}${s.workers.length > 1 ? " x" + s.workers.length : ""}`));
    g.appendChild(el("text", {x: p.x + 8, y: p.y + 54}, `in ${s.received}` + (failures ? `  failures ${failures}` : "")));
    nodes.appendChild(g);
    maxX = Math.max(maxX, p.x + W); maxY = Math.max(maxY, p.y + H);
  }
  const svg = document.getElementById("graph");
  svg.setAttribute("width", maxX + 40); svg.setAttribute("height", maxY + 40);
}

function drawTree(state) {
  const stages = {}, sups = {};
  for (const s of state.stages) stages[s.id] = s;
  for (const s of state.supervisors) sups[s.id] = s;
  function box(sup) {
    const d = document.createElement("div");
    d.className = "sup" + (sup.gave_up ? " gave_up" : "");
    d.dataset.supervisor = sup.id;
    const t = document.createElement("div");
    t.className = "sup-title";
    t.textContent = `supervisor ${sup.id} (${sup.strategy}) restarts ${sup.restarts}, ` +
      `${sup.recent_restarts}/${sup.intensity} in period` + (sup.gave_up ? " - GAVE UP" : "");
    d.appendChild(t);
    for (const c of sup.children) {
      if (c.kind === "supervisor") { d.appendChild(box(sups[c.id])); continue; }
      for (const w of stages[c.id].workers) {
        const chip = document.createElement("span");
        chip.className = "chip " + w.phase;
        chip.textContent = w.id + (w.failures ? ` (failures ${w.failures})` : "");
        d.appendChild(chip);
      }
    }
    return d;
  }
  document.getElementById("tree").replaceChildren(box(state.supervisors[0]));
}

async function refresh() {
  try {
    const r = await fetch("/api/state", {cache: "no-store"});
    const state = await r.json();
    document.getElementById("title").textContent = "rill run " + state.file;
    document.getElementById("status").textContent =
      `${state.state}${state.ready ? " (ready)" : ""}, updated ${new Date().toLocaleTimeString()}`;
    drawGraph(state);
    drawTree(state);
  } catch (e) {
    document.getElementById("status").textContent = "no answer from the process: " + e;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
)html";

} // namespace

std::string_view live_page() { return page; }

} // namespace rill::config::detail
