// Bar-and-line charts in plain SVG, shared by the report page and the wallboard (no library,
// no build step).  chart(el, spec) replaces el's content with one <svg>:
//   spec = { labels: ["09:00", ...],                        // one per x slot
//            bars:  [{ name, values, color }],              // grouped bars, left axis
//            lines: [{ name, values, color, axis, dash, wide }],  // axis "left" (default) or
//                                                   // "right"; wide: a broad stroke that a
//                                                   // line drawn after it on it leaves seen
//            left:  { title, percent }, right: { title, percent },  // percent: 0-1 shown as %
//            width, height, font, empty }  // size (default: el's width), font px,
//                                          // the note shown when there is nothing to draw
// Drawn at the element's own width so that the font is the size asked for.  A null value
// leaves a gap (bar absent, line broken).  Each bar and line point carries
// data-series / data-i / data-value so that a test can read what is drawn.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// A "nice" axis top and step for values up to max: 1, 2 or 5 x 10^n, about 4-5 ticks.
function niceScale(max, percent) {
  if (percent) return { top: Math.max(1, max), step: 0.25 };
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const raw = max / 4;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  return { top: Math.ceil(max / step) * step, step };
}

function fmtTick(v, percent) {
  if (percent) return `${Math.round(v * 100)}%`;
  if (Math.abs(v) >= 1000) return `${Math.round(v / 100) / 10}k`;
  return String(Math.round(v * 100) / 100);
}

function chart(el, spec) {
  const W = spec.width || Math.round(el.clientWidth) || 960;
  const H = spec.height || Math.round(W * 0.42), F = spec.font || 14;
  const labels = spec.labels || [], bars = spec.bars || [], lines = spec.lines || [];
  const hasRight = lines.some((l) => l.axis === "right");
  const pad = { l: F * 3.6, r: hasRight ? F * 3.6 : F, t: F * 1.8, b: F * 4.4 };
  const pw = W - pad.l - pad.r, ph = H - pad.t - pad.b;
  const values = (side) => [
    ...(side === "left" ? bars.flatMap((b) => b.values) : []),
    ...lines.filter((l) => (l.axis || "left") === side).flatMap((l) => l.values),
  ].filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  const scales = {};
  for (const side of ["left", "right"]) {
    const opt = spec[side] || {};
    scales[side] = { ...niceScale(Math.max(0, ...values(side)), opt.percent), opt };
  }
  const y = (v, side) => pad.t + ph - (v / scales[side].top) * ph;
  const n = Math.max(1, labels.length), slot = pw / n;
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
                             "font-size": F, "aria-label": spec.title || "chart" });
  // grid and axes
  const left = scales.left;
  for (let v = 0; v <= left.top + 1e-9; v += left.step) {
    svg.append(svgEl("line", { x1: pad.l, x2: W - pad.r, y1: y(v, "left"), y2: y(v, "left"),
                               class: "grid" }));
    svg.append(svgEl("text", { x: pad.l - F * 0.4, y: y(v, "left") + F * 0.35,
                               "text-anchor": "end", class: "tick" },
                     fmtTick(v, left.opt.percent)));
  }
  if (hasRight) {
    const right = scales.right;
    for (let v = 0; v <= right.top + 1e-9; v += right.step) {
      svg.append(svgEl("text", { x: W - pad.r + F * 0.4, y: y(v, "right") + F * 0.35,
                                 class: "tick" }, fmtTick(v, right.opt.percent)));
    }
  }
  if (left.opt.title) {
    svg.append(svgEl("text", { x: pad.l - F * 0.4, y: F * 1.1, class: "axis-title" },
                     left.opt.title));
  }
  if (hasRight && scales.right.opt.title) {
    svg.append(svgEl("text", { x: W - pad.r + F * 0.4, y: F * 1.1, "text-anchor": "end",
                               class: "axis-title" }, scales.right.opt.title));
  }
  // x labels: as many as fit
  const every = Math.max(1, Math.ceil((labels.length * F * 3.6) / pw));
  labels.forEach((lab, i) => {
    if (i % every) return;
    svg.append(svgEl("text", { x: pad.l + slot * (i + 0.5), y: H - pad.b + F * 1.3,
                               "text-anchor": "middle", class: "tick" }, lab));
  });
  // bars
  // grouped bars, centred in their slot, at most 3 fonts wide each
  const bw = Math.min(F * 3, (slot * 0.8) / Math.max(1, bars.length));
  const x0 = (slot - bw * bars.length) / 2;
  bars.forEach((b, k) => {
    b.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      const top = y(v, "left");
      svg.append(svgEl("rect", { x: pad.l + slot * i + x0 + bw * k, y: top,
                                 width: Math.max(1, bw - 1), height: pad.t + ph - top,
                                 fill: b.color, "data-series": b.name, "data-i": i,
                                 "data-value": v }));
    });
  });
  // lines (a null breaks the line)
  for (const l of lines) {
    const side = l.axis || "left";
    let d = "", pen = "M";
    l.values.forEach((v, i) => {
      if (v === null || v === undefined) { pen = "M"; return; }
      const px = pad.l + slot * (i + 0.5), py = y(v, side);
      d += `${pen}${px.toFixed(1)},${py.toFixed(1)} `;
      pen = "L";
      svg.append(svgEl("circle", { cx: px, cy: py, r: F * 0.22, fill: l.color,
                                   "data-series": l.name, "data-i": i, "data-value": v }));
    });
    svg.append(svgEl("path", { d, fill: "none", stroke: l.color,
                               "stroke-width": F * (l.wide ? 0.45 : 0.18),
                               "stroke-dasharray": l.dash ? `${F * 0.5} ${F * 0.3}` : "none" }));
  }
  svg.append(svgEl("line", { x1: pad.l, x2: W - pad.r, y1: pad.t + ph, y2: pad.t + ph,
                             class: "axis" }));
  // legend, under the x labels
  let lx = pad.l;
  for (const s of [...bars, ...lines]) {
    svg.append(svgEl("rect", { x: lx, y: H - F * 1.5, width: F * 0.9, height: F * 0.9,
                               fill: s.color }));
    svg.append(svgEl("text", { x: lx + F * 1.2, y: H - F * 0.7, class: "legend" }, s.name));
    lx += F * 2 + s.name.length * F * 0.6;
  }
  if (!values("left").length && !values("right").length) {
    svg.append(svgEl("text", { x: pad.l + pw / 2, y: pad.t + ph / 2, "text-anchor": "middle",
                               class: "empty-note" }, spec.empty || "nothing in this range"));
  }
  el.replaceChildren(svg);
  return svg;
}
