"""The HTTP API over a real ``Signaling`` (the callworld switch, fake clock), through httpx's
ASGI transport: access, scope, views, commands, Erlang, OpenAPI and /metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from callworld import Switch
from prometheus_client.parser import text_string_to_metric_families

from ccswitch.call import queries
from ccswitch.http.app import create_app
from ccswitch.http.auth import FailureGate, GateSettings, principals
from ccswitch.http.control import Control
from ccswitch.http.metrics import Metrics, SwitchStats

ADMIN = "demo-admin-token"
SUP = "demo-supervisor-token"
AGENTS = ("2001", "2002", "2005")


class Api:
    """The app serving a callworld switch; ``now`` is the core's clock."""

    def __init__(self, w: Switch, *, gate: GateSettings | None = None) -> None:
        self.w = w
        self.now = 1.0
        cfg = w.sig.config
        tokens = principals(((t.token, t.role, t.user) for t in cfg.api.tokens),
                            {u: s.queues for u, s in cfg.supervisors.items()})
        self.ctl = Control(signaling=lambda: w.sig, clock=lambda: self.now, flush=w.pump,
                           tokens=tokens, agent_queues=queries.agent_queues(w.sig),
                           gate=FailureGate(gate or GateSettings(base_delay=0.001)))
        self.ctl.metrics = Metrics(self.ctl, lambda: SwitchStats(
            transaction=w.sig.txn.counters, signaling=w.sig.counters,
            sip_auth=w.sig.auth.counters))
        self.app = create_app(self.ctl)

    def __call__(self, method: str, path: str, token: str | None = ADMIN, *,
                 json: Any = None, client: str = "127.0.0.1") -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=(client, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://ccswitch") as c:
                return await c.request(method, path, headers=headers, json=json)

        return asyncio.run(go())


def world() -> tuple[Switch, Api]:
    w = Switch(("1001", "1002", "1003", *AGENTS))
    return w, Api(w)


def only(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


# -- access ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1/queues", "/api/v1/agents", "/api/v1/calls",
                                  "/api/v1/queues/support", "/api/v1/agents/2001",
                                  "/api/v1/erlang?calls=100&aht=180"])
@pytest.mark.parametrize("token", [None, "wrong-token-123", "demo-admin-token2"])
def test_no_token_or_a_wrong_one_is_401_with_a_bearer_challenge(path: str,
                                                                 token: str | None) -> None:
    _, api = world()
    r = api("GET", path, token)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json() == {"detail": "missing or invalid token"}


def test_out_of_scope_and_missing_objects_get_the_same_403() -> None:
    _, api = world()
    agent = "demo-agent-2001"
    a = api("GET", "/api/v1/agents/2002", agent)
    b = api("GET", "/api/v1/agents/9999", agent)
    c = api("POST", "/api/v1/agents/9999/pause", SUP, json={"reason": "x"})
    d = api("POST", "/api/v1/agents/2005/pause", SUP,
            json={"reason": "x"})
    e = api("DELETE", "/api/v1/calls/nosuch", agent)
    assert [r.status_code for r in (a, b, c, e)] == [403, 403, 403, 403]
    assert a.json() == b.json() == c.json() == e.json() == {"detail": "forbidden"}
    assert d.status_code == 200  # 2005 is a sales agent: the supervisor has sales too
    assert api("GET", "/api/v1/agents/9999").status_code == 404  # the admin learns it
    assert api("DELETE", "/api/v1/calls/nosuch").status_code == 404


def test_repeated_failures_from_one_address_are_banned_others_go_on() -> None:
    w = Switch(("1001",))
    api = Api(w, gate=GateSettings(free=1, base_delay=0.001, max_delay=0.002, ban_after=3))
    codes = [api("GET", "/api/v1/queues", "bad-token-000", client="10.1.1.1").status_code
             for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert api("GET", "/api/v1/queues", ADMIN, client="10.1.1.1").status_code == 429
    assert api("GET", "/api/v1/queues", ADMIN, client="10.1.1.2").status_code == 200


# -- views -------------------------------------------------------------------------------
def test_queues_show_waiting_callers_and_agents_by_state() -> None:
    w, api = world()
    for agent in ("2001", "2002"):
        assert api("POST", f"/api/v1/agents/{agent}/pause", json={"reason": "lunch"}
                   ).status_code == 200
    w.answered("1001", "800", 2.0, call_id="q1", port=4000)
    w.answered("1002", "800", 3.0, call_id="q2", port=4100)
    api.now = 10.0
    r = api("GET", "/api/v1/queues")
    assert r.status_code == 200
    support = only(r.json(), name="support")
    assert support["waiting"] == 2
    assert support["longest_wait_s"] == pytest.approx(8.0, abs=0.1)
    # support: 2001-2004 and 2008-2010; 2001 and 2002 registered and paused
    assert support["agents"] == {"ready": 0, "ringing": 0, "on_call": 0, "wrap_up": 0,
                                 "paused": 2, "logged_out": 5}
    assert [(c["caller"], c["position"], c["state"]) for c in support["callers"]] == [
        ("1001", 1, "waiting"), ("1002", 2, "waiting")]
    sales = only(r.json(), name="sales")
    assert sales["waiting"] == 0 and sales["agents"]["ready"] == 1  # 2005
    one = api("GET", "/api/v1/queues/support").json()
    assert one["waiting"] == 2
    assert api("GET", "/api/v1/queues/nosuch").status_code == 404
    calls = api("GET", "/api/v1/calls").json()
    assert {(c["caller"], c["state"], c["queue"]) for c in calls} == {
        ("1001", "queued", "support"), ("1002", "queued", "support")}


def test_agents_list_state_queues_and_time_in_state() -> None:
    _, api = world()
    api.now = 5.0
    api("POST", "/api/v1/agents/2002/pause", json={"reason": "training"})
    api.now = 12.5
    rows = api("GET", "/api/v1/agents").json()
    assert [r["id"] for r in rows] == [str(n) for n in range(2001, 2011)]
    a2002 = only(rows, id="2002")
    assert (a2002["state"], a2002["pause_reason"], a2002["queues"]) == (
        "paused", "training", ["support"])
    assert a2002["time_in_state_s"] == pytest.approx(7.5)
    assert only(rows, id="2008")["state"] == "logged_out"
    assert only(rows, id="2008")["queues"] == ["support", "sales"]
    assert only(rows, id="2001")["state"] == "ready"


def test_scoped_lists() -> None:
    _, api = world()
    mine = api("GET", "/api/v1/agents", "demo-agent-2005").json()
    assert [r["id"] for r in mine] == ["2005"]
    queues = api("GET", "/api/v1/queues", "demo-agent-2005").json()
    assert [q["name"] for q in queues] == ["sales"]
    assert len(api("GET", "/api/v1/agents", SUP).json()) == 10


def test_a_live_call_with_its_legs_and_durations() -> None:
    w, api = world()
    w.call("1001", "1002", 2.0, call_id="c1")
    api.now = 10.0
    (call,) = api("GET", "/api/v1/calls").json()
    assert (call["state"], call["caller"], call["callee"], call["queue"], call["agent"]) == (
        "talking", "1001", "1002", None, None)
    assert call["duration_s"] == pytest.approx(8.0, abs=0.01)
    assert call["talk_s"] == pytest.approx(7.0, abs=0.05)
    assert call["legs"] == [{"role": "caller", "party": "1001", "state": "up"},
                            {"role": "callee", "party": "1002", "state": "up"}]
    assert api("GET", f"/api/v1/calls/{call['id']}").json() == call
    # the supervisor sees no call of non-agents; an agent token neither
    assert api("GET", "/api/v1/calls", SUP).json() == []
    assert api("GET", f"/api/v1/calls/{call['id']}", "demo-agent-2001").status_code == 403


# -- commands ----------------------------------------------------------------------------
def test_an_agent_pauses_itself_and_not_another() -> None:
    _, api = world()
    r = api("POST", "/api/v1/agents/2001/pause", "demo-agent-2001", json={"reason": "coffee"})
    assert r.status_code == 200
    assert r.json()["detail"]["state"] == "paused"
    assert api("GET", "/api/v1/agents/2001", "demo-agent-2001").json()["state"] == "paused"
    other = api("POST", "/api/v1/agents/2002/pause", "demo-agent-2001", json={"reason": "x"})
    assert other.status_code == 403
    assert api("GET", "/api/v1/agents/2002").json()["state"] == "ready"
    assert api("POST", "/api/v1/agents/2001/ready", "demo-agent-2001").json()["detail"][
        "state"] == "ready"
    assert api("POST", "/api/v1/agents/2001/logout", "demo-agent-2001").json()["detail"][
        "state"] == "logged_out"
    assert api("POST", "/api/v1/agents/2001/login", "demo-agent-2001").json()["detail"][
        "state"] == "ready"


def test_a_paused_agent_gets_no_call_and_ready_brings_the_waiting_caller() -> None:
    w, api = world()
    for agent in ("2001", "2002"):
        api("POST", f"/api/v1/agents/{agent}/pause", json={"reason": "x"})
    w.answered("1001", "800", 2.0, call_id="q1")
    assert w["2001"].requests("INVITE") == []
    api.now = 3.0
    api("POST", "/api/v1/agents/2001/ready", "demo-agent-2001")
    assert len(w["2001"].requests("INVITE")) == 1  # flushed at once, as after SIP input


def test_delete_hangs_up_with_bye_to_both_phones() -> None:
    w, api = world()
    w.call("1001", "1002", 2.0, call_id="c1")
    (call,) = api("GET", "/api/v1/calls").json()
    r = api("DELETE", f"/api/v1/calls/{call['id']}")
    assert r.status_code == 200 and r.json() == {"command": "Hangup",
                                                  "detail": {"call_id": call["id"]}}
    assert w["1001"].take("BYE").method == "BYE" and w["1002"].take("BYE").method == "BYE"
    assert api("GET", "/api/v1/calls").json() == []
    assert api("DELETE", f"/api/v1/calls/{call['id']}").status_code == 404


def test_hold_resume_transfer_and_refusals() -> None:
    w, api = world()
    w.call("1001", "1002", 2.0, call_id="c1")
    (call,) = api("GET", "/api/v1/calls").json()
    cid = call["id"]
    assert api("POST", f"/api/v1/calls/{cid}/hold").json()["detail"]["on"] is True
    assert api("POST", f"/api/v1/calls/{cid}/resume").json()["detail"]["on"] is False
    bad = api("POST", f"/api/v1/calls/{cid}/transfer", json={"number": "99999"})
    assert bad.status_code == 404 and bad.json()["code"] == "not_found"
    assert api("POST", f"/api/v1/calls/{cid}/transfer", json={"number": "bad number"}
               ).status_code == 422
    assert api("POST", f"/api/v1/calls/{cid}/mode", json={"mode": "barge"}
               ).status_code == 400  # not a supervisor's call: CommandError invalid
    ok = api("POST", f"/api/v1/calls/{cid}/transfer", json={"number": "1003"})
    assert ok.status_code == 200 and ok.json()["detail"]["to"] == "1003"
    assert w["1003"].requests("INVITE")


def test_a_call_ringing_cannot_be_held() -> None:
    w, api = world()
    w.dial("1001", "1002", 2.0, call_id="c1")
    (call,) = api("GET", "/api/v1/calls").json()
    assert call["state"] == "ringing"
    r = api("POST", f"/api/v1/calls/{call['id']}/hold")
    assert r.status_code == 409 and r.json()["code"] == "conflict"


def test_room_members_mute_and_kick() -> None:
    w, api = world()
    w.answered("1001", "850", 1.0, call_id="r1", port=4000)
    w.answered("1002", "850", 2.0, call_id="r2", port=4100)
    members = api("GET", "/api/v1/rooms/850/members").json()
    assert sorted(m["caller"] for m in members) == ["1001", "1002"]
    target = only(members, caller="1001")["call_id"]
    assert api("POST", f"/api/v1/rooms/850/members/{target}/mute").status_code == 200
    assert only(api("GET", "/api/v1/rooms/850/members").json(), caller="1001")["muted"]
    assert api("GET", "/api/v1/rooms/850/members", SUP).status_code == 403
    assert api("DELETE", f"/api/v1/rooms/850/members/{target}").status_code == 200
    assert w["1001"].take("BYE").method == "BYE"
    assert api("GET", "/api/v1/rooms/851/members").json() == []
    assert api("GET", "/api/v1/rooms/999/members").status_code == 404


def test_supervise_names_only_the_supervisor_itself() -> None:
    w, api = world()
    w.call("1001", "2001", 2.0, call_id="c1")
    (call,) = api("GET", "/api/v1/calls", SUP).json()  # a direct call to its agent 2001
    assert api("GET", "/api/v1/agents/2001", SUP).json()["call_id"] == call["id"]
    assert api("GET", "/api/v1/agents/2002", SUP).json()["call_id"] is None
    r = api("POST", f"/api/v1/calls/{call['id']}/supervise", SUP,
            json={"supervisor": "1019", "mode": "listen"})
    assert r.status_code == 403
    r = api("POST", f"/api/v1/calls/{call['id']}/supervise", "demo-agent-2001",
            json={"supervisor": "1020", "mode": "listen"})
    assert r.status_code == 403


# -- Erlang, OpenAPI, metrics ------------------------------------------------------------
def test_erlang_staffing() -> None:
    _, api = world()
    r = api("GET", "/api/v1/erlang?calls=100&aht=180&target=80/20")
    assert r.status_code == 200
    body = r.json()
    assert body["traffic_erlangs"] == pytest.approx(5.0)
    assert body["agents"] == 8 and body["service_level"] >= 0.8
    fewer = api("GET", "/api/v1/erlang?calls=100&aht=180&target=80/20&agents=6").json()
    assert fewer["agents"] == 6 and fewer["service_level"] < 0.8
    assert api("GET", "/api/v1/erlang?calls=100&aht=180&target=eighty").status_code == 422
    assert api("GET", "/api/v1/erlang?calls=1e9&aht=180").status_code == 400


def test_openapi_document_is_3_1_and_lists_the_routes() -> None:
    _, api = world()
    doc = api("GET", "/api/v1/openapi.json", None).json()
    assert doc["openapi"].startswith("3.1")
    paths = doc["paths"]
    for p in ("/api/v1/queues", "/api/v1/agents/{agent}/pause", "/api/v1/calls/{call_id}",
              "/api/v1/erlang"):
        assert p in paths
    assert "bearer" in str(doc["components"]["securitySchemes"]).lower()
    assert "QueueOut" in doc["components"]["schemas"]


def test_metrics_parse_without_a_token() -> None:
    w, api = world()
    api("POST", "/api/v1/agents/2001/pause", json={"reason": "x"})
    api("POST", "/api/v1/agents/2002/pause", json={"reason": "x"})
    w.answered("1001", "800", 2.0, call_id="q1")
    w.call("1002", "1003", 3.0, call_id="c2")
    api("GET", "/api/v1/queues", "nope-nope-nope")
    r = api("GET", "/metrics", None)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    fams = {f.name: f for f in text_string_to_metric_families(r.text)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in fams.values() for s in f.samples}
    assert samples[("ccswitch_queue_waiting", (("queue", "support"),))] == 1
    assert samples[("ccswitch_queue_agents", (("queue", "support"), ("state", "paused")))] == 2
    assert samples[("ccswitch_agents", (("state", "ready"),))] == 1
    assert samples[("ccswitch_calls_active", (("state", "talking"),))] == 1
    assert samples[("ccswitch_calls_active", (("state", "queued"),))] == 1
    assert samples[("ccswitch_api_auth_failures_total", ())] == 1
    assert ("ccswitch_call_setup_seconds_count", ()) in samples
    assert samples[("ccswitch_sip_retransmissions_total", ())] >= 0


def test_sip_messages_are_counted_by_method_and_status_with_bounded_keys() -> None:
    _, api = world()
    m = api.ctl.metrics
    assert m is not None
    for data in (b"INVITE sip:800@h SIP/2.0\r\n", b"INVITE sip:801@h SIP/2.0\r\n",
                 b"BYE sip:x SIP/2.0\r\n", b"FOO sip:x SIP/2.0\r\n", b"\r\n\r\n"):
        m.sip(data, "in")
    m.sip(b"SIP/2.0 200 OK\r\n", "out")
    m.sip(b"SIP/2.0 486 Busy Here\r\n", "out")
    for i in range(1000):  # garbage of every shape: the table stays bounded
        m.sip(f"G{i} x".encode(), "in")
    assert len(m.sip_counts["in"]) <= 256
    fams = {f.name: f for f in text_string_to_metric_families(m.render().decode())}
    got = {(s.labels["direction"], s.labels["kind"], s.labels["method_or_status"]): s.value
           for s in fams["ccswitch_sip_messages"].samples}
    assert got[("in", "request", "INVITE")] == 2
    assert got[("in", "request", "BYE")] == 1
    assert got[("in", "request", "other")] == 1002
    assert got[("out", "response", "200")] == 1 and got[("out", "response", "486")] == 1


def test_while_the_switch_stops_the_api_answers_503() -> None:
    w, api = world()
    api.ctl.signaling = lambda: None
    r = api("GET", "/api/v1/queues")
    assert r.status_code == 503 and r.json() == {"detail": "the switch is not running"}
    assert api("POST", "/api/v1/agents/2001/pause", json={"reason": "x"}).status_code == 503
    assert api("GET", "/metrics", None).status_code == 200  # counters without the core
    assert w.sig.b2bua.router is not None
    assert w.sig.b2bua.router.agent_info("2001")[0].value == "ready"  # nothing was changed


def test_requests_without_a_token_are_not_counted_as_guesses() -> None:
    w = Switch(("1001",))
    api = Api(w, gate=GateSettings(free=0, base_delay=0.001, max_delay=0.001, ban_after=2))
    for _ in range(5):
        assert api("GET", "/api/v1/queues", None).status_code == 401
    assert api("GET", "/api/v1/queues").status_code == 200
    assert api.ctl.gate.failures == 0


def test_the_api_call_states_are_the_live_phases() -> None:
    from typing import get_args

    from ccswitch.call.queries import CALL_STATES
    from ccswitch.http.models import CallOut

    assert set(get_args(CallOut.model_fields["state"].annotation)) == set(CALL_STATES)
