// The ccswitch wallboard: plain JavaScript, no build step, no outside resources.
// It signs in with a supervisor's or the admin's API token (kept in localStorage, so a wall
// screen comes back signed in; "#token=..." in the address signs in too), reads the live
// state from the REST API, applies the event stream (/api/v1/events) to it as events come,
// and reads everything again every REFRESH_MS so that it never drifts (docs/http.md). The
// REST calls and the sign-in are common/ccswitch.js's.
"use strict";

const { API, $, say } = ccswitch;
const TOKEN_KEY = "ccswitch.wallboard.token";
const REFRESH_MS = 10000;
const CHART_MS = 60000;  // the chart's figures are read again this often
const CHART_INTERVAL = "30m";
const POOR_MOS = 3.6;  // a call whose MOS estimate is below this is flagged
const STATES = ["ready", "ringing", "on_call", "wrap_up", "paused", "logged_out"];
const board = {
  token: null, frame: null, queues: new Map(), agents: new Map(), calls: new Map(),
  today: {}, since: null, socket: null, retry: 1000, soonTimer: null, started: false,
  readFailed: false,
};

const api = (method, path, body) => ccswitch.api(board.token, method, path, body);

// Today's per-queue figures (offered, answered, abandoned, service_level, abandon_rate): the
// one place they are read: the `today` field of GET /api/v1/wallboard, the durable local day
// of the report's zone (http/wallboard.py `today_of`).  Returns {queue name: figures}.
async function fetchToday() {
  const frame = await api("GET", "/wallboard");
  board.frame = frame;
  return Object.fromEntries(frame.queues.map((q) => [q.name, q.today]));
}

// -- time ----------------------------------------------------------------------------------
const now = () => performance.now();

function fmtDuration(s) {
  if (s === null || s === undefined) return "";
  const t = Math.max(0, Math.floor(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

function fmtRate(x) {
  return typeof x === "number" ? `${Math.round(x * 100)}%` : "–";
}

// a ticking value: seconds `base` at performance.now() `at`
function ticking(el, base, at) {
  if (base === null || base === undefined) {
    delete el.dataset.base;
    el.textContent = "";
    return el;
  }
  el.dataset.base = String(base);
  el.dataset.at = String(at);
  el.textContent = fmtDuration(base);
  return el;
}

function tick() {
  const t = now();
  for (const el of document.querySelectorAll("[data-base]")) {
    const s = Number(el.dataset.base) + (t - Number(el.dataset.at)) / 1000;
    el.textContent = fmtDuration(s);
    const warn = Number(el.dataset.warn);
    if (warn > 0) el.dataset.level = s > 2 * warn ? "bad" : s > warn ? "warn" : "ok";
  }
  $("clock").textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

// -- reading the state ---------------------------------------------------------------------
async function refresh() {
  if (!board.token) return;
  let queues, agents, calls, today;
  try {
    [queues, agents, calls, today] = await Promise.all([
      api("GET", "/queues"), api("GET", "/agents"), api("GET", "/calls"), fetchToday()]);
  } catch (e) {
    say(`cannot read the switch: ${e.message}`, true);
    board.readFailed = true;
    return;
  }
  if (board.readFailed) say("");
  board.readFailed = false;
  const t = now();
  board.queues = new Map(queues.map((q) => [q.name, {
    ...q, callers: q.callers.map((c) => ({ ...c, at: t })) }]));
  board.agents = new Map(agents.map((a) => [a.id, { ...a, at: t }]));
  board.calls = new Map(calls.map((c) => [c.id, { ...c, at: t }]));
  board.today = today;
  render();
}

function soon() {  // read again shortly: an event whose whole effect the page cannot tell
  clearTimeout(board.soonTimer);
  board.soonTimer = setTimeout(refresh, 1500);
}

// -- applying events -----------------------------------------------------------------------
function setAgent(id, state, extra) {
  const a = board.agents.get(id);
  if (!a) return;
  if (a.state !== state) {
    for (const name of a.queues) {
      const q = board.queues.get(name);
      if (!q) continue;
      q.agents[a.state] = Math.max(0, (q.agents[a.state] || 0) - 1);
      q.agents[state] = (q.agents[state] || 0) + 1;
    }
    a.state = state;
    a.time_in_state_s = 0;
    a.at = now();
  }
  Object.assign(a, extra || {});
}

function dropCaller(queue, callId) {
  const q = board.queues.get(queue);
  if (!q) return;
  q.callers = q.callers.filter((c) => c.call_id !== callId);
  q.waiting = q.callers.length;
}

function onEvent(ev) {
  if (typeof ev.seq === "number") board.since = ev.seq;
  const t = now();
  switch (ev.type) {
    case "call.started":
      board.calls.set(ev.call_id, { id: ev.call_id, caller: ev.caller, callee: ev.callee,
                                    queue: null, agent: null, duration_s: 0, at: t });
      break;
    case "call.ended":
      board.calls.delete(ev.call_id);
      for (const q of board.queues.values()) dropCaller(q.name, ev.call_id);
      for (const a of board.agents.values()) if (a.call_id === ev.call_id) a.call_id = null;
      break;
    case "queue.caller_entered": {
      const q = board.queues.get(ev.queue);
      if (q && !q.callers.some((c) => c.call_id === ev.call_id)) {
        q.callers.push({ call_id: ev.call_id, caller: ev.number, wait_s: 0, at: t,
                         state: "waiting" });
        q.waiting = q.callers.length;
      }
      const c = board.calls.get(ev.call_id);
      if (c) c.queue = ev.queue;
      break;
    }
    case "queue.caller_offered":
      setAgent(ev.agent, "ringing");
      break;
    case "queue.caller_connected": {
      dropCaller(ev.queue, ev.call_id);
      setAgent(ev.agent, "on_call", { call_id: ev.call_id });
      const c = board.calls.get(ev.call_id);
      if (c) Object.assign(c, { queue: ev.queue, agent: ev.agent });
      else soon();
      break;
    }
    case "queue.caller_abandoned":
    case "queue.caller_overflowed":
    case "queue.caller_exited_with_key":
      dropCaller(ev.queue, ev.call_id);
      break;
    case "queue.call_completed":
    case "queue.call_transferred":
      setAgent(ev.agent, "wrap_up", { call_id: null });
      soon();  // the wrap-up may be 0 s; today's figures changed
      break;
    case "agent.logged_in":
      setAgent(ev.agent, "ready", { pause_reason: null });
      break;
    case "agent.logged_out":
      setAgent(ev.agent, "logged_out", { pause_reason: null, call_id: null });
      break;
    case "agent.paused":
      setAgent(ev.agent, "paused", { pause_reason: ev.reason });
      break;
    case "agent.unpaused":
      setAgent(ev.agent, "ready", { pause_reason: null });
      break;
    case "queue.offer_failed":
    case "queue.call_disposition":
    case "queue.callback_requested":
    case "queue.callback_made":
    case "queue.callback_failed":
      soon();
      break;
    default:
      return;  // a type the board does not show
  }
  render();
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const q = new URLSearchParams({ token: board.token });
  if (board.since !== null) q.set("since", String(board.since));
  const ws = new WebSocket(`${proto}//${location.host}${API}/events?${q}`);
  board.socket = ws;
  const link = $("link");
  ws.onopen = () => {
    board.retry = 1000;
    link.textContent = "● live";
    link.dataset.link = "up";
    refresh();
  };
  ws.onmessage = (m) => {
    try { onEvent(JSON.parse(m.data)); } catch (e) { console.error(e); }
  };
  ws.onclose = () => {
    link.textContent = "● reconnecting";
    link.dataset.link = "down";
    if (board.token) setTimeout(connect, board.retry);
    board.retry = Math.min(board.retry * 2, 15000);
  };
}

// -- drawing -------------------------------------------------------------------------------
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.dataset[k.slice(5).replace(/-(\w)/g, (_, c) => c.toUpperCase())] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function stat(field, value, label) {
  return el("div", { class: "stat" }, el("span", { class: "value", "data-field": field }, value),
            el("span", { class: "label" }, label));
}

function queueTile(q, info) {
  const today = board.today[q.name] || {};
  const threshold = info ? info.service_level_s : 0;
  const longest = el("span", { class: "value", "data-field": "longest_wait" });
  if (q.callers.length) {
    const t = now();
    const waited = (c) => c.wait_s + (t - c.at) / 1000;
    const oldest = q.callers.reduce((a, b) => (waited(b) > waited(a) ? b : a));
    ticking(longest, oldest.wait_s, oldest.at);
    longest.dataset.warn = String(threshold);
  } else {
    longest.textContent = "–";
  }
  const states = el("ul", { class: "states" }, ...STATES.map((s) =>
    el("li", { "data-state": s }, el("b", { "data-count": s }, String(q.agents[s] || 0)),
       s.replace("_", " "))));
  return el("article", { class: "tile", "data-queue": q.name },
    el("h2", {}, info ? info.label : q.name),
    el("div", { class: "stats" },
      stat("waiting", String(q.waiting), "waiting"),
      el("div", { class: "stat" }, longest, el("span", { class: "label" }, "longest wait")),
      stat("service_level", fmtRate(today.service_level),
           threshold ? `answered ≤ ${threshold} s` : "service level"),
      stat("abandon_rate", fmtRate(today.abandon_rate), "abandoned")),
    states);
}

function renderQueues() {
  const info = new Map((board.frame ? board.frame.queues : []).map((q) => [q.name, q]));
  $("queues").replaceChildren(...[...board.queues.values()].map((q) =>
    queueTile(q, info.get(q.name))));
}

function actionButton(action, text, handler) {
  const b = el("button", { type: "button", "data-action": action }, text);
  b.addEventListener("click", handler);
  return b;
}

function agentActions(a, call) {
  const f = board.frame;
  const cell = el("td", { class: "actions" });
  if (!f) return cell;
  const id = encodeURIComponent(a.id);
  if (f.may_command && a.state === "paused") {
    cell.append(actionButton("ready", "ready", () =>
      act(`agent ${a.id} ready`, `/agents/${id}/ready`)));
  } else if (f.may_command && a.state !== "logged_out") {
    cell.append(actionButton("pause", "pause", () =>
      act(`agent ${a.id} paused`, `/agents/${id}/pause`, { reason: "supervisor" })));
  }
  if (call && f.supervisors.length) {
    for (const mode of ["listen", "whisper", "barge"]) {
      cell.append(actionButton(mode, mode, () => {
        const supervisor = $("ring").value;
        act(`${mode}: phone ${supervisor} rings`, `/calls/${encodeURIComponent(call.id)}/supervise`,
            { supervisor, mode });
      }));
    }
  }
  return cell;
}

function agentRow(a) {
  const names = new Map((board.frame ? board.frame.agents : []).map((x) => [x.id, x.name]));
  const call = a.call_id ? board.calls.get(a.call_id) : undefined;
  const state = a.state.replace("_", " ") + (a.pause_reason ? ` (${a.pause_reason})` : "");
  const mos = call && typeof call.mos === "number" ? call.mos : null;
  return el("tr", { "data-agent": a.id, "data-state": a.state },
    el("td", { class: "name" }, names.get(a.id) || a.id),
    el("td", { class: "state" }, el("span", { class: "pill", "data-state": a.state }, state)),
    ticking(el("td", { class: "num", "data-field": "time_in_state" }), a.time_in_state_s, a.at),
    el("td", { "data-field": "call" },
       call ? `${call.caller}${call.queue ? ` · ${call.queue}` : ""}` : ""),
    call ? ticking(el("td", { class: "num", "data-field": "duration" }), call.duration_s, call.at)
      : el("td", { class: "num" }),
    el("td", { "data-field": "quality" },
       mos !== null && mos < POOR_MOS ? el("span", { class: "poor" }, `⚠ MOS ${mos.toFixed(1)}`)
         : ""),
    agentActions(a, call));
}

function render() {
  renderQueues();
  // configuration order, logged-out agents last (a stable sort)
  const out = (a) => (a.state === "logged_out" ? 1 : 0);
  const agents = [...board.agents.values()].sort((a, b) => out(a) - out(b));
  $("agents").tBodies[0].replaceChildren(...agents.map(agentRow));
  tick();
}

// -- acting --------------------------------------------------------------------------------
async function act(what, path, body) {
  try {
    await api("POST", path, body);
    say(what);
  } catch (e) {
    say(`${what}: refused (${e.message})`, true);
  }
}

// -- signing in (the token is kept in localStorage; a switch away is tried again) -----------
async function readFrame() {
  board.today = await fetchToday();
  if (board.frame.role === "agent") {
    const err = new Error("this page is for supervisor and admin tokens");
    err.status = 403;
    throw err;
  }
}

async function signedIn() {
  const sups = board.frame.supervisors;
  $("ring").replaceChildren(...sups.map((u) => new Option(`phone ${u}`, u)));
  $("ring-box").hidden = sups.length < 2;
  await refresh();
  connect();
  refreshChart();
  if (!board.started) {
    board.started = true;
    setInterval(refresh, REFRESH_MS);
    setInterval(refreshChart, CHART_MS);
  }
}

// -- the chart: today's volume and service level per interval against the forecast ---------
// From GET /api/v1/reports/queues?interval=30m (today, the token's queues) and
// /api/v1/forecast?date=TODAY&interval=30m; the queues' counts are summed per interval,
// service level = answered within the threshold / offered (the report's formula).
async function fetchChart() {
  const rows = await api("GET", `/reports/queues?interval=${CHART_INTERVAL}`);
  const day = rows.length ? rows[0].interval_start.slice(0, 10) : null;
  const forecast = day ? await api("GET", `/forecast?date=${day}&interval=${CHART_INTERVAL}`)
    .catch(() => []) : [];
  const slots = new Map();
  for (const r of rows) {
    const s = slots.get(r.interval_start) || { offered: 0, answered: 0, inSl: 0, forecast: 0 };
    s.offered += r.offered; s.answered += r.answered; s.inSl += r.answered_in_sl;
    slots.set(r.interval_start, s);
  }
  const byTime = new Map([...slots].map(([k, v]) => [k.slice(11, 16), v]));
  let forecastSeen = false;
  for (const f of forecast) {
    for (const i of f.intervals) {
      const s = byTime.get(i.interval_start.slice(11, 16));
      if (s) { s.forecast += i.calls; forecastSeen = true; }
    }
  }
  return { starts: [...slots.keys()].sort(), slots, forecastSeen };
}

function drawChart(data) {
  const { starts, slots, forecastSeen } = data;
  const nowIso = new Date().toISOString();
  // the busy part of the day: from the first interval with calls (or forecast calls) to the
  // last one, the current interval included
  const busy = starts.map((k, i) => [k, i]).filter(([k, i]) => {
    const s = slots.get(k);
    const current = k <= nowIso && (i + 1 === starts.length || starts[i + 1] > nowIso);
    return s.offered || s.forecast || current;
  }).map(([, i]) => i);
  const from = busy.length ? Math.min(...busy) : 0;
  const to = busy.length ? Math.max(...busy) : starts.length - 1;
  const shown = starts.slice(from, to + 1);
  const get = (f) => shown.map((k) => f(slots.get(k)));
  const panel = $("chart");
  panel.dataset.chart = "drawn";
  panel.dataset.intervals = String(shown.length);
  // the note first: the chart takes the height left under it
  $("chart-note").textContent = forecastSeen ? "" : "no forecast yet (no history)";
  const box = $("chart-svg");
  chart(box, {
    height: Math.max(300, box.clientHeight), font: 22, empty: "no calls and no forecast yet", labels: shown.map((k) => k.slice(11, 16)),
    left: { title: "calls" }, right: { title: "service level", percent: true },
    bars: [{ name: "offered", color: "#4fa3ff", values: get((s) => s.offered) },
           { name: "answered", color: "#3ddc84", values: get((s) => s.answered) }],
    lines: [
      ...(forecastSeen ? [{ name: "forecast", color: "#ffd54a", dash: true,
                            values: get((s) => s.forecast) }] : []),
      { name: "SL", color: "#ff7a6b", axis: "right",
        values: get((s) => (s.offered ? s.inSl / s.offered : null)) }],
  });
}

async function refreshChart() {
  if (!board.token || board.frame.role === "agent") return;
  try {
    drawChart(await fetchChart());
  } catch (e) {
    $("chart-note").textContent = `cannot read the chart's figures: ${e.message}`;
  }
}

function signedOut() {
  if (board.socket) board.socket.close();
  location.reload();
}

const auth = ccswitch.signin({ holder: board, storage: localStorage, key: TOKEN_KEY,
                               open: readFrame, shown: ["board", "signout"], opened: signedIn,
                               signedOut, retryAway: true, hash: "clear" });

document.addEventListener("DOMContentLoaded", () => {
  setInterval(tick, 1000);
  tick();
  auth.start();
});
