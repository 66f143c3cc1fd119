"""The agent desktop's routes over a real ``Signaling`` (callworld, fake clock): the page and
its assets, the token's menus, the agent's last calls from a CDR file, disposition codes
(configured ones only, own agent only) and click-to-dial."""

from __future__ import annotations

from pathlib import Path

from callworld import Switch
from test_api import ADMIN, SUP, Api

from ccswitch.call.events import CallEnded
from ccswitch.config.desktop import AgentDesktopConfig
from ccswitch.http.desktop import EXTRA_KEY, Desktop
from ccswitch.store.cdr import CdrStore
from ccswitch.store.db import Location

AGENT = "demo-agent-2001"


def world(tmp_path: Path) -> tuple[Switch, Api]:
    w = Switch(("1001", "1002", "2001", "2002"))
    api = Api(w)
    api.ctl.extras[EXTRA_KEY] = Desktop(Location(tmp_path / "ccswitch.db"), AgentDesktopConfig())
    return w, api


def test_the_page_and_its_assets_need_no_token(tmp_path: Path) -> None:
    _, api = world(tmp_path)
    page = api("GET", "/agent", None)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/agent/app.js">' in page.text
    for name, kind in (("app.js", "text/javascript"), ("desktop.css", "text/css")):
        r = api("GET", f"/agent/{name}", None)
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind), name
    assert api("GET", "/agent/index.py", None).status_code == 404
    assert api("GET", "/agent/..%2Fdesktop.py", None).status_code == 404


def test_the_token_learns_who_it_is_and_the_menus(tmp_path: Path) -> None:
    _, api = world(tmp_path)
    r = api("GET", "/api/v1/desktop", AGENT)
    assert r.json() == {"role": "agent", "user": "2001",
                        "pause_reasons": ["break", "lunch", "training"],
                        "dispositions": ["resolved", "callback", "escalated", "wrong_number"]}
    assert api("GET", "/api/v1/desktop", None).status_code == 401


def test_last_calls_come_from_the_cdr_store_in_scope(tmp_path: Path) -> None:
    _, api = world(tmp_path)
    assert api("GET", "/api/v1/agents/2001/calls", AGENT).json() == []  # no database yet
    store = CdrStore(tmp_path / "ccswitch.db")
    store.add(CallEnded("q1", "1001", "queue:support", 200, "OK", 4.0, 4.5, 9.0, "caller",
                        None, "x@h", "support", "2001"), wall_offset=1000.0)
    store.add(CallEnded("q2", "1002", "queue:support", 200, "OK", 5.0, 5.5, 9.0, "caller",
                        None, "y@h", "support", "2002"), wall_offset=1000.0)
    store.set_disposition("q1", "callback")
    store.close()
    (row,) = api("GET", "/api/v1/agents/2001/calls", AGENT).json()
    assert (row["call_id"], row["caller"], row["queue"], row["disposition"], row["started"]) \
        == ("q1", "1001", "support", "callback", 1004.0)
    assert api("GET", "/api/v1/agents/2002/calls", AGENT).status_code == 403
    assert [r["call_id"] for r in api("GET", "/api/v1/agents/2002/calls", SUP).json()] == ["q2"]


def test_disposition_codes_are_the_configured_ones_for_the_agents_own_call(
        tmp_path: Path) -> None:
    _, api = world(tmp_path)
    r = api("POST", "/api/v1/agents/2001/disposition", AGENT, json={"code": "made_up"})
    assert r.status_code == 400
    r = api("POST", "/api/v1/agents/2002/disposition", AGENT, json={"code": "resolved"})
    assert r.status_code == 403
    r = api("POST", "/api/v1/agents/2001/disposition", AGENT, json={"code": "resolved"})
    assert r.status_code == 409 and r.json()["code"] == "conflict"  # no call ended yet


def test_click_to_dial_rings_the_agents_phone_first(tmp_path: Path) -> None:
    w, api = world(tmp_path)
    assert api("POST", "/api/v1/agents/2001/dial", AGENT, json={"number": "x y"}
               ).status_code == 422
    assert api("POST", "/api/v1/agents/2001/dial", AGENT, json={"number": "5999"}
               ).status_code == 404
    assert api("POST", "/api/v1/agents/2001/dial", SUP, json={"number": "1002"}
               ).status_code == 403
    r = api("POST", "/api/v1/agents/2001/dial", AGENT, json={"number": "1002"})
    assert r.status_code == 200, r.text
    assert r.json() == {"command": "Dial", "detail": {"agent": "2001", "number": "1002"}}
    (inv,) = w["2001"].requests("INVITE")
    assert inv.from_.uri.user == "1002" and not w["1002"].requests("INVITE")
    assert api("POST", "/api/v1/agents/2001/dial", ADMIN, json={"number": "1002"}
               ).status_code == 200
