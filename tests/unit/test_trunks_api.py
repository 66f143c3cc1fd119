"""The trunks and toll-fraud routes over a real ``Signaling`` (the demo's two carriers,
scripted phones, fake clock), through httpx's ASGI transport."""

from __future__ import annotations

from callworld import demo_config
from test_api import SUP, Api
from test_trunk_calls import World, invites
from test_trunk_options import LOCATED, trunks

from ccswitch.http.metrics import Metrics


def test_trunks_list_state_calls_and_limits() -> None:
    w = World(demo_config(trunks(carrier2={"max_calls": 3, "codecs": ("PCMA",),
                                           "number_format": "national"})))
    api = Api(w)
    w.dial("1001", "5550700123", 1.0, call_id="t-1")
    assert invites(w.carrier)  # one call ringing at carrier
    r = api("GET", "/api/v1/trunks")
    assert r.status_code == 200, r.text
    by = {t["name"]: t for t in r.json()}
    assert set(by) == {"carrier", "carrier2"}
    c, c2 = by["carrier"], by["carrier2"]
    assert (c["address"], c["domain"], c["addresses"]) == (
        "udp:127.0.0.1:5070", None, ["udp:127.0.0.1:5070"])
    assert (c["state"], c["up"], c["registered"]) == ("available", None, None)
    assert (c["calls_active"], c2["calls_active"]) == (1, 0)
    assert (c2["max_calls"], c2["codecs"], c2["number_format"]) == (3, ["PCMA"], "national")
    assert (c["codecs"], c["number_format"]) == (None, "+e164")
    assert api("GET", "/api/v1/trunks", SUP).status_code == 200
    assert api("GET", "/api/v1/trunks", "demo-agent-2001").status_code == 403


def test_a_domain_trunk_is_unresolved_until_the_dns_answers() -> None:
    w = World(demo_config(trunks(carrier={"address": None, "domain": "carrier.test",
                                          "peers": ()})))
    api = Api(w)
    c = next(t for t in api("GET", "/api/v1/trunks").json() if t["name"] == "carrier")
    assert (c["state"], c["addresses"], c["dns_ttl"]) == ("unresolved", [], None)
    w.sig.trunk_located("carrier", LOCATED, 1.0)
    c = next(t for t in api("GET", "/api/v1/trunks").json() if t["name"] == "carrier")
    assert (c["state"], c["addresses"], c["dns_ttl"]) == (
        "available", ["udp:127.0.0.1:5074", "udp:127.0.0.1:5070"], 300)


def block(w: World, user: str) -> None:
    """Five refused international attempts (the demo's burst_attempts) block ``user``."""
    for i in range(5):
        w.dial(user, f"01144207946000{i}", 1.0 + i, call_id=f"intl-{user}-{i}")
        assert w[user].last_response().status == 403


def test_fraud_blocks_are_listed_and_cleared_by_the_admin_only() -> None:
    w = World()
    api = Api(w)
    api.ctl.wall_offset = lambda: 1_700_000_000.0
    assert api("GET", "/api/v1/fraud").json() == []
    block(w, "1002")
    rows = api("GET", "/api/v1/fraud").json()
    # blocked at the fifth attempt, t = 1.0 + 4 = 5.0 on the core's clock; wall = 1700000005
    # = 2023-11-14T22:13:25Z
    assert rows == [{"user": "1002", "blocked_at": "2023-11-14T22:13:25Z",
                     "outbound_class": "national"}]
    assert api("GET", "/api/v1/fraud", SUP).status_code == 403
    assert api("POST", "/api/v1/fraud/1002/clear", SUP).status_code == 403
    assert api("POST", "/api/v1/fraud/9999/clear").status_code == 404
    r = api("POST", "/api/v1/fraud/1002/clear")
    assert r.json() == {"user": "1002", "cleared": True}
    assert api("GET", "/api/v1/fraud").json() == []
    assert api("POST", "/api/v1/fraud/1002/clear").json() == {"user": "1002", "cleared": False}
    # cleared: a national call goes out again
    w.dial("1002", "5550700123", 10.0, call_id="after")
    assert invites(w.carrier)


def test_metrics_count_blocked_users() -> None:
    w = World()
    api = Api(w)
    assert isinstance(api.ctl.metrics, Metrics)
    block(w, "1003")
    text = api("GET", "/metrics", None).text
    assert "ccswitch_fraud_blocked_users 1.0" in text, text
