// The ccswitch agent desktop: plain JavaScript, no build step, no outside resources.
// It signs in with an agent's API token (kept in sessionStorage), follows the agent's events
// on the WebSocket /api/v1/events, and acts through the REST API (docs/http.md). The REST
// calls and the sign-in are common/ccswitch.js's.
"use strict";

const { API, $, say } = ccswitch;
const TOKEN_KEY = "ccswitch.token";
const desk = { token: null, me: null, menus: null, socket: null, since: null, card: null,
               retry: 1000, poll: null };
const api = (method, path, body) => ccswitch.api(desk.token, method, path, body);

async function act(what, method, path, body) {
  try {
    await api(method, path, body);
    say(what);
  } catch (e) {
    say(`${what} refused: ${e.message}`, true);
  }
  await refreshAgent();
}

// -- signing in (the token is kept in the tab's sessionStorage) ------------------------------
async function whoAmI() {
  const me = await api("GET", "/desktop");
  if (me.role !== "agent") throw new Error("this page is for agent tokens");
  desk.me = me.user;
  desk.menus = me;
}

async function signedIn() {
  $("agent-id").textContent = `agent ${desk.me}`;
  const select = $("pause-reason");
  select.replaceChildren(...desk.menus.pause_reasons.map((r) => new Option(r, r)));
  const box = $("dispositions");
  box.replaceChildren(...desk.menus.dispositions.map((code) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = code.replace(/_/g, " ");
    b.dataset.code = code;
    b.addEventListener("click", () => setDisposition(code));
    return b;
  }));
  await refreshAgent();
  await refreshCalls();
  connect();
  desk.poll = setInterval(refreshAgent, 5000);
}

function signedOut() {
  if (desk.socket) desk.socket.close();
  location.reload();
}

const auth = ccswitch.signin({ holder: desk, storage: sessionStorage, key: TOKEN_KEY,
                               open: whoAmI, shown: ["desk", "who"], opened: signedIn,
                               signedOut });

// -- the agent's state ------------------------------------------------------------------------
async function refreshAgent() {
  if (!desk.me) return;
  let a;
  try {
    a = await api("GET", `/agents/${encodeURIComponent(desk.me)}`);
  } catch (e) {
    say(`cannot read my state: ${e.message}`, true);
    return;
  }
  const st = $("state");
  st.textContent = a.state.replace("_", " ");
  st.dataset.state = a.state;
  $("state-detail").textContent = a.pause_reason ? `(${a.pause_reason})` : "";
  $("ready").disabled = a.state !== "paused";
  $("pause").disabled = a.state === "paused" || a.state === "logged_out";
  $("login").hidden = a.state !== "logged_out";
  $("logout").hidden = a.state === "logged_out";
  if (a.state !== "wrap_up" && desk.card && desk.card.phase === "wrap_up" && !desk.card.awaiting) {
    hideCard();
  }
}

// -- the call card ----------------------------------------------------------------------------
const LABELS = {
  caller: "caller", caller_number: "caller", number: "caller", caller_name: "name",
  name: "name", dialled: "number dialled", dialed: "number dialled", called: "number dialled",
  callee: "number dialled", did: "number dialled", queue: "queue", wait: "waiting",
  wait_s: "waiting", digits: "IVR digits", ivr_digits: "IVR digits", variables: "IVR variables",
  vars: "IVR variables", call_id: "call", recording: "recording", recording_id: "recording",
  crm_status: "CRM",
};
const SKIP = new Set(["seq", "type", "time", "agent", "crm", "script", "ring_time"]);

function fmtValue(key, v) {
  if (v === null || v === undefined || v === "") return null;
  if ((key === "wait" || key === "wait_s") && typeof v === "number") return `${Math.round(v)} s`;
  if (Array.isArray(v)) return v.join(", ");
  if (typeof v === "object") {
    return Object.entries(v).map(([k, x]) => `${k}=${typeof x === "object" ? JSON.stringify(x) : x}`)
      .join(", ") || null;
  }
  return String(v);
}

function renderCard() {
  const c = desk.card;
  const card = $("card");
  card.hidden = false;
  card.dataset.call = c.call_id;
  card.dataset.phase = c.phase;
  $("card-title").textContent = { ringing: "Incoming call", on_call: "On call",
                                   wrap_up: "Wrap-up" }[c.phase] || "Call";
  const dl = $("card-fields");
  const rows = [];
  const seen = new Set();
  for (const [key, value] of Object.entries(c.fields)) {
    if (SKIP.has(key)) continue;
    const text = fmtValue(key, value);
    const label = LABELS[key] || key.replace(/_/g, " ");
    if (text === null || seen.has(label)) continue;
    seen.add(label);
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = text;
    dd.dataset.field = key;
    rows.push(dt, dd);
  }
  dl.replaceChildren(...rows);
  const crm = c.fields.crm;
  $("card-crm-box").hidden = !(crm && typeof crm === "object" && Object.keys(crm).length);
  if (!$("card-crm-box").hidden) {
    $("card-crm").tBodies[0].replaceChildren(...Object.entries(crm).map(([k, v]) => {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.textContent = k;
      const td = document.createElement("td");
      td.textContent = typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
      td.dataset.crm = k;
      tr.append(th, td);
      return tr;
    }));
  }
  const script = c.fields.script;
  $("card-script-box").hidden = !script;
  $("card-script").textContent = script ? String(script) : "";
  $("wrapup").hidden = !(c.phase === "wrap_up" && c.awaiting);
  renderRecording();
}

// -- pausing the call's recording (card numbers) -----------------------------------------------
function renderRecording() {
  const c = desk.card;
  const st = c && c.phase === "on_call" ? c.recording : null;
  $("recording-box").hidden = !st;
  if (!st) return;
  const label = $("recording-state");
  label.textContent = st === "paused" ? "recording paused" : "recording";
  label.dataset.recording = st;
  $("recording-toggle").textContent = st === "paused" ? "Resume recording" : "Pause recording";
}

async function refreshRecording(callId) {
  try {
    const call = await api("GET", `/calls/${encodeURIComponent(callId)}`);
    if (desk.card && desk.card.call_id === callId) {
      desk.card.recording = call.recording;
      renderRecording();
    }
  } catch (e) { /* not visible yet, or gone */ }
}

async function toggleRecording() {
  const c = desk.card;
  if (!c || !c.recording) return;
  const action = c.recording === "paused" ? "resume" : "pause";
  try {
    const done = await api("POST", `/calls/${encodeURIComponent(c.call_id)}/recording/${action}`,
                           { source: "desktop" });
    c.recording = done.detail.recording;
    say(c.recording === "paused" ? "recording paused" : "recording resumed");
  } catch (e) {
    say(`recording ${action} refused: ${e.message}`, true);
    await refreshRecording(c.call_id);
  }
  renderRecording();
}

function hideCard() {
  desk.card = null;
  $("card").hidden = true;
  $("card").dataset.call = "";
}

function showOffer(ev) {
  desk.card = { call_id: ev.call_id, phase: "ringing", awaiting: false, fields: { ...ev } };
  renderCard();
  fillFromCall(ev.call_id);
}

async function fillFromCall(callId) {
  // the live call adds who calls and what was dialled when the offer event did not say
  // (an agent token may read the call once it takes part: from the answer on)
  const f = desk.card && desk.card.call_id === callId ? desk.card.fields : null;
  if (!f || f.caller !== undefined || f.caller_number !== undefined) return;
  try {
    const call = await api("GET", `/calls/${encodeURIComponent(callId)}`);
    if (desk.card && desk.card.call_id === callId) {
      f.caller = call.caller;
      if (f.dialled === undefined && f.callee === undefined) f.callee = call.callee;
      renderCard();
    }
  } catch (e) { /* not visible yet, or gone */ }
}

async function setDisposition(code) {
  const c = desk.card;
  const body = { code };
  if (c) body.call_id = c.call_id;
  try {
    await api("POST", `/agents/${encodeURIComponent(desk.me)}/disposition`, body);
    say(`disposition: ${code}`);
    hideCard();
  } catch (e) {
    say(`disposition refused: ${e.message}`, true);
  }
  await refreshAgent();
  await refreshCalls();
}

// -- the event stream -------------------------------------------------------------------------
function onEvent(ev) {
  if (typeof ev.seq === "number") desk.since = ev.seq;
  if (ev.agent !== undefined && ev.agent !== desk.me) return;
  const c = desk.card;
  const mine = c && c.call_id === ev.call_id;
  switch (ev.type) {
    case "queue.caller_offered":
      showOffer(ev);
      break;
    case "queue.offer_failed":
    case "queue.caller_abandoned":
      if (mine && c.phase === "ringing") hideCard();
      break;
    case "queue.caller_connected":
      if (mine) {
        c.phase = "on_call";
        renderCard();
        fillFromCall(c.call_id);
        refreshRecording(c.call_id);
      }
      break;
    case "recording.paused":
    case "recording.resumed":
      if (mine) {
        c.recording = ev.type === "recording.paused" ? "paused" : "recording";
        renderRecording();
      }
      break;
    case "queue.call_completed":
    case "queue.call_transferred":
      if (mine) { c.phase = "wrap_up"; c.awaiting = true; renderCard(); }
      refreshCalls();
      break;
    case "queue.call_disposition":
      if (mine) hideCard();
      refreshCalls();
      break;
    case "call.crm":  // the CRM answered after the offer went out (crm_status was pending)
      if (mine) {
        c.fields.crm = ev.crm;
        c.fields.crm_status = ev.crm_status;
        renderCard();
      }
      break;
    case "call.ended":
      refreshCalls();
      break;
    default:
      break;
  }
  if (ev.type.startsWith("agent.") || ev.type.startsWith("queue.")) refreshAgent();
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const q = new URLSearchParams({ agents: desk.me, token: desk.token });
  if (desk.since !== null) q.set("since", String(desk.since));
  const ws = new WebSocket(`${proto}//${location.host}${API}/events?${q}`);
  desk.socket = ws;
  const link = $("link");
  ws.onopen = () => {
    desk.retry = 1000;
    link.textContent = "event stream: connected";
    link.dataset.link = "up";
  };
  ws.onmessage = (m) => {
    try { onEvent(JSON.parse(m.data)); } catch (e) { console.error(e); }
  };
  ws.onclose = () => {
    link.textContent = "event stream: reconnecting";
    link.dataset.link = "down";
    if (desk.token) setTimeout(connect, desk.retry);
    desk.retry = Math.min(desk.retry * 2, 15000);
  };
}

// -- last calls -------------------------------------------------------------------------------
async function refreshCalls() {
  if (!desk.me) return;
  let rows;
  try {
    rows = await api("GET", `/agents/${encodeURIComponent(desk.me)}/calls?limit=10`);
  } catch (e) {
    return;
  }
  const tbody = $("calls").tBodies[0];
  tbody.replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.call = r.call_id;
    const talk = r.answered === null ? "-" : `${Math.round(r.ended - r.answered)} s`;  // answered: by the switch
    const when = new Date(r.started * 1000).toLocaleTimeString();
    for (const text of [when, r.caller, r.callee, r.queue || "", talk, r.disposition || ""]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  }));
}

// -- wiring -----------------------------------------------------------------------------------
function agentPath(action) {
  return `/agents/${encodeURIComponent(desk.me)}/${action}`;
}

document.addEventListener("DOMContentLoaded", () => {
  $("recording-toggle").addEventListener("click", toggleRecording);
  $("ready").addEventListener("click", () => act("ready", "POST", agentPath("ready")));
  $("pause").addEventListener("click", () => {
    const reason = $("pause-reason").value;
    act(`paused: ${reason}`, "POST", agentPath("pause"), { reason });
  });
  $("login").addEventListener("click", () => act("logged in", "POST", agentPath("login")));
  $("logout").addEventListener("click", () => act("logged out", "POST", agentPath("logout")));
  $("dial-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const number = $("dial-number").value.trim();
    act(`dialling ${number}: answer your phone`, "POST", agentPath("dial"), { number });
  });
  auth.start();
});
