// The ccswitch report page: plain JavaScript, no build step, no outside resources.
// Signs in with an admin's or a supervisor's API token (localStorage; "#token=..." signs in
// too), reads /api/v1/reports/{queues,agents,agent-states}, /api/v1/forecast and
// /api/v1/staffing and draws them as tables and SVG charts (chart.js).  Every figure shown
// is one the API returned, or a sum of them (the "all queues" chart), never made up. The
// REST calls and the sign-in are common/ccswitch.js's.
"use strict";

const { $, say } = ccswitch;
const TOKEN_KEY = "ccswitch.reports.token";
const COLORS = ["#1f6feb", "#2da44e", "#d1242f", "#bf8700", "#8250df", "#0a7d8c", "#e16f24",
                "#57606a"];
const page = { token: null, queues: [], last: null };
const api = (path, raw) => ccswitch.api(page.token, "GET", path, undefined, raw);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

// -- formatting ----------------------------------------------------------------------------
const pct = (x) => (x === null || x === undefined ? "-" : `${(100 * x).toFixed(1)}%`);
const secs = (x) => (x === null || x === undefined ? "-" : x.toFixed(1));
const localDate = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000)
  .toISOString().slice(0, 10);

function labelOf(start, interval, multiDay) {  // "2026-12-07T09:30:00+01:00" -> "09:30"
  if (interval === "day" || interval === "week") return start.slice(0, 10);
  return multiDay ? `${start.slice(5, 10)} ${start.slice(11, 16)}` : start.slice(11, 16);
}

function query(extra) {
  const q = new URLSearchParams({ from: $("from").value, to: $("to").value,
                                  interval: $("interval").value, ...extra });
  if ($("queue").value) q.set("queue", $("queue").value);
  return q;
}

function fillTable(id, columns, rows, emptyText) {
  const t = $(id);
  t.tHead.replaceChildren(el("tr", {}, ...columns.map((c) => el("th", {}, c[0]))));
  t.tBodies[0].replaceChildren(...rows.map((r) => el("tr", {},
    ...columns.map((c) => el("td", { "data-col": c[1] }, String(c[2](r)))))));
  if (!rows.length) {
    t.tBodies[0].append(el("tr", {}, el("td", { colspan: columns.length, class: "empty" },
                                         emptyText)));
  }
}

// -- queues --------------------------------------------------------------------------------
const QUEUE_COLUMNS = [
  ["queue", "queue", (r) => r.queue],
  ["interval", "interval_start", (r) => r.interval_start.slice(0, 16).replace("T", " ")],
  ["offered", "offered", (r) => r.offered], ["answered", "answered", (r) => r.answered],
  ["abandoned", "abandoned", (r) => r.abandoned],
  ["short ab.", "short_abandoned", (r) => r.short_abandoned],
  ["overflowed", "overflowed", (r) => r.overflowed], ["lost", "lost", (r) => r.lost],
  ["refused", "refused", (r) => r.refused],
  ["service level", "service_level", (r) => pct(r.service_level)],
  ["SL threshold s", "sl_threshold_s", (r) => r.sl_threshold_s],
  ["ASA s", "asa_s", (r) => secs(r.asa_s)], ["AHT s", "aht_s", (r) => secs(r.aht_s)],
  ["longest wait s", "longest_wait_s", (r) => secs(r.longest_wait_s)],
  ["transfers", "transfers", (r) => r.transfers], ["callbacks", "callbacks", (r) => r.callbacks],
];

// Per interval over the shown queues: counts summed, service level = in SL / offered (the
// report's formula), ASA and AHT weighted by answered and handled calls.
function perInterval(rows) {
  const by = new Map();
  for (const r of rows) {
    const s = by.get(r.interval_start) || { start: r.interval_start, offered: 0, answered: 0,
      abandoned: 0, in_sl: 0, wait: 0, handled: 0, handle: 0 };
    s.offered += r.offered; s.answered += r.answered; s.abandoned += r.abandoned;
    s.in_sl += r.answered_in_sl; s.wait += r.asa_s * r.answered;
    s.handled += r.handled; s.handle += r.aht_s * r.handled;
    by.set(r.interval_start, s);
  }
  return [...by.values()].sort((a, b) => a.start.localeCompare(b.start));
}

function drawQueues(rows, interval, multiDay) {
  const slots = perInterval(rows);
  const labels = slots.map((s) => labelOf(s.start, interval, multiDay));
  chart($("chart-volume"), {
    labels, left: { title: "calls" }, right: { title: "service level", percent: true },
    bars: [{ name: "offered", color: COLORS[0], values: slots.map((s) => s.offered) },
           { name: "answered", color: COLORS[1], values: slots.map((s) => s.answered) },
           { name: "abandoned", color: COLORS[2], values: slots.map((s) => s.abandoned) }],
    lines: [{ name: "service level", color: COLORS[3], axis: "right",
              values: slots.map((s) => (s.offered ? s.in_sl / s.offered : null)) }],
  });
  chart($("chart-speed"), {
    labels, left: { title: "seconds" },
    lines: [{ name: "ASA", color: COLORS[4],
              values: slots.map((s) => (s.answered ? s.wait / s.answered : null)) },
            { name: "AHT", color: COLORS[5],
              values: slots.map((s) => (s.handled ? s.handle / s.handled : null)) }],
  });
  const shown = rows.filter((r) => r.offered || r.refused);
  fillTable("queue-table", QUEUE_COLUMNS, shown, "no callers in this range");
}

// -- agents --------------------------------------------------------------------------------
const AGENT_COLUMNS = [
  ["agent", "agent", (r) => r.agent],
  ["interval", "interval_start", (r) => r.interval_start.slice(0, 16).replace("T", " ")],
  ["calls", "calls_answered", (r) => r.calls_answered],
  ["transfers", "transfers", (r) => r.transfers],
  ["talk s", "talk_s", (r) => secs(r.talk_s)], ["hold s", "hold_s", (r) => secs(r.hold_s)],
  ["wrap-up s", "wrapup_s", (r) => secs(r.wrapup_s)], ["AHT s", "aht_s", (r) => secs(r.aht_s)],
  ["logged in s", "logged_in_s", (r) => secs(r.logged_in_s)],
  ["paused s", "paused_s", (r) => secs(r.paused_s)],
  ["occupancy", "occupancy", (r) => pct(r.occupancy)],
  ["utilisation", "utilisation", (r) => pct(r.utilisation)],
];

function drawAgents(rows, states, interval, multiDay) {
  const starts = [...new Set(rows.map((r) => r.interval_start))].sort();
  const labels = starts.map((s) => labelOf(s, interval, multiDay));
  const agents = [...new Set(rows.map((r) => r.agent))].sort();
  const cell = (agent, field, keep) => starts.map((s) => {
    const r = rows.find((x) => x.agent === agent && x.interval_start === s);
    return r && keep(r) ? r[field] : null;
  });
  chart($("chart-occupancy"), {
    labels, left: { title: "occupancy", percent: true }, empty: "nobody logged in",
    lines: agents.map((a, i) => ({ name: a, color: COLORS[i % COLORS.length],
                                   values: cell(a, "occupancy", (r) => r.available_s > 0) })),
  });
  chart($("chart-aht"), {
    labels, left: { title: "seconds" },
    bars: agents.map((a, i) => ({ name: a, color: COLORS[i % COLORS.length],
                                  values: cell(a, "aht_s", (r) => r.calls_answered > 0) })),
  });
  const reasons = [...new Set(states.flatMap((r) => Object.keys(r.pause_reasons)))].sort();
  const stateAgents = [...new Set(states.map((r) => r.agent))].sort();
  const minutes = (a, reason) => states.filter((r) => r.agent === a)
    .reduce((sum, r) => sum + (r.pause_reasons[reason] || 0), 0) / 60;
  chart($("chart-pauses"), {
    labels: stateAgents, left: { title: "minutes paused" }, empty: "no pauses in this range",
    bars: reasons.map((reason, i) => ({ name: reason || "(no reason)",
                                        color: COLORS[(i + 2) % COLORS.length],
                                        values: stateAgents.map((a) => minutes(a, reason)) })),
  });
  const shown = rows.filter((r) => r.logged_in_s > 0 || r.calls_answered > 0);
  fillTable("agent-table", AGENT_COLUMNS, shown, "no agent logged in in this range");
}

// -- forecast and staffing -----------------------------------------------------------------
async function drawPlan() {
  const day = $("day").value, queue = $("fc-queue").value, interval = $("fc-interval").value;
  if (!queue) return;
  const q = new URLSearchParams({ date: day, queue, interval });
  const s = new URLSearchParams({ date: day, queue, interval, target: $("target").value,
                                  shrinkage: $("shrinkage").value });
  const a = new URLSearchParams({ from: day, to: day, interval, queue });
  const [fc, st, actual] = await Promise.all([
    api(`/forecast?${q}`), api(`/staffing?${s}`), api(`/reports/queues?${a}`)]);
  const f = fc[0], plan = st[0];
  if (!f) {
    $("mape").textContent = `no history for ${queue}: no forecast`;
    for (const id of ["chart-forecast", "chart-staffing"]) $(id).replaceChildren();
    return;
  }
  const mape = f.mape_pct === null ? "not measured (no held-out week with calls)"
    : `${f.mape_pct.toFixed(1)} % over ${f.mape_intervals} intervals of the held-out ` +
      `week (${f.mape_skipped_zero} without calls left out)`;
  $("mape").textContent = `${queue} ${f.date}: MAPE ${mape}; from ` +
    `${f.source_days.join(", ") || "-"}; patience ` +
    `${f.patience_s === null ? "-" : `${Math.round(f.patience_s)} s`}`;
  $("mape").dataset.mape = f.mape_pct === null ? "" : String(f.mape_pct);
  const labels = f.intervals.map((i) => i.interval_start.slice(11, 16));
  const offered = new Map(actual.map((r) => [r.interval_start.slice(11, 16), r.offered]));
  const isPast = day <= localDate(new Date());
  chart($("chart-forecast"), {
    labels, left: { title: "calls" },
    bars: isPast ? [{ name: "actual", color: COLORS[0],
                      values: labels.map((l) => offered.get(l) ?? null) }] : [],
    lines: [{ name: "forecast", color: COLORS[3], dash: true,
              values: f.intervals.map((i) => i.calls) }],
  });
  chart($("chart-staffing"), {
    labels, left: { title: "agents" },
    lines: [{ name: "Erlang C", color: COLORS[2], wide: true,  // seen under A when equal
              values: plan.intervals.map((i) => i.agents_erlang_c) },
            { name: "Erlang A", color: COLORS[1], values: plan.intervals.map((i) => i.agents_erlang_a) },
            { name: `scheduled (A, shrinkage ${plan.shrinkage})`, color: COLORS[6], dash: true,
              values: plan.intervals.map((i) => i.scheduled_erlang_a) }],
  });
}

// -- loading -------------------------------------------------------------------------------
async function load() {
  const interval = $("interval").value;
  const multiDay = $("from").value !== $("to").value;
  say("reading…");
  try {
    const [queues, agents, states] = await Promise.all([
      api(`/reports/queues?${query()}`), api(`/reports/agents?${query()}`),
      api(`/reports/agent-states?${query()}`)]);
    page.last = { queues, agents, states };
    const zone = queues[0] ? queues[0].interval_start.slice(19) : "";
    $("zone").textContent = zone ? `times in UTC${zone}` : "";
    drawQueues(queues, interval, multiDay);
    drawAgents(agents, states, interval, multiDay);
    await drawPlan();
    say("");
    document.body.dataset.loaded = String(Date.now());
  } catch (err) {
    say(`cannot read the reports: ${err.message}`, true);
    if (err.status === 401) auth.signOut();
  }
}

async function download(kind) {
  let path;
  if (kind.startsWith("reports/")) {
    path = `/${kind}?${query({ format: "csv" })}`;
  } else {
    const q = new URLSearchParams({ date: $("day").value, queue: $("fc-queue").value,
                                    interval: $("fc-interval").value, format: "csv" });
    if (kind === "staffing") {
      q.set("target", $("target").value);
      q.set("shrinkage", $("shrinkage").value);
    }
    path = `/${kind}?${q}`;
  }
  try {
    const text = await api(path, true);
    const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
    const a = el("a", { href: url, download: `${kind.replace("reports/", "")}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  } catch (err) {
    say(`cannot download: ${err.message}`, true);
  }
}

// -- sign-in (the token is kept in localStorage) -------------------------------------------
async function readQueues() {
  const frame = await api("/wallboard");
  if (frame.role !== "admin" && frame.role !== "supervisor") {
    throw Object.assign(new Error("the reports need an admin or a supervisor token"),
                        { status: 403 });
  }
  page.queues = frame.queues;
}

async function signedIn() {
  const opts = page.queues.map((q) => el("option", { value: q.name }, q.label));
  $("queue").replaceChildren(el("option", { value: "" }, "all queues"), ...opts);
  $("fc-queue").replaceChildren(...opts.map((o) => o.cloneNode(true)));
  await load();
}

function signedOut() {
  $("page").hidden = true;
  $("signin").hidden = false;
  $("signout").hidden = true;
}

const auth = ccswitch.signin({ holder: page, storage: localStorage, key: TOKEN_KEY,
                               open: readQueues, shown: ["page", "signout"], opened: signedIn,
                               signedOut, hash: "keep" });

function start() {
  const today = localDate(new Date());
  for (const id of ["from", "to", "day"]) $(id).value = today;
  const params = new URLSearchParams(location.hash.slice(1));
  for (const id of ["from", "to", "interval", "day"]) {
    if (params.get(id)) $(id).value = params.get(id);
  }
  $("query").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  $("plan").addEventListener("submit", (e) => {
    e.preventDefault();
    drawPlan().catch((err) => say(`cannot read the forecast: ${err.message}`, true));
  });
  for (const a of document.querySelectorAll("a.csv")) {
    a.addEventListener("click", (e) => { e.preventDefault(); download(a.dataset.kind); });
  }
  auth.start();
}

start();
