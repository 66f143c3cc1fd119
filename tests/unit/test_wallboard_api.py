"""The wallboard's routes over a real ``Signaling`` (callworld, fake clock): the page and its
assets without a token, and ``GET /api/v1/wallboard``: the token's rights (which buttons the
page shows), queue labels, agent names and today's figures per queue, computed by hand."""

from __future__ import annotations

import dataclasses

import pytest
from callworld import Switch, demo_config
from test_api import ADMIN, AGENTS, SUP, Api

from ccswitch.call.queries import QueueView
from ccswitch.config.schema import SwitchConfig
from ccswitch.http.wallboard import TodayOut, today_of

AGENT = "demo-agent-2001"


def labelled(cfg: SwitchConfig) -> SwitchConfig:
    queues = dict(cfg.queues)
    queues["support"] = dataclasses.replace(queues["support"], display="Customer support")
    return dataclasses.replace(cfg, queues=queues)


def world() -> tuple[Switch, Api]:
    w = Switch(("1001", "1002", "1003", *AGENTS), config=demo_config(labelled))
    return w, Api(w)


def test_the_page_and_its_assets_need_no_token() -> None:
    _, api = world()
    page = api("GET", "/", None)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/wallboard/board.js">' in page.text
    assert '<script src="/reports/chart.js">' in page.text  # the chart's drawing code
    for name, kind in (("board.js", "text/javascript"), ("board.css", "text/css")):
        r = api("GET", f"/wallboard/{name}", None)
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind), name
    assert api("GET", "/wallboard/index.html", None).status_code == 404
    assert api("GET", "/wallboard/..%2Fwallboard.py", None).status_code == 404
    assert api("GET", "/api/v1/wallboard", None).status_code == 401


def test_rights_labels_and_names_by_token() -> None:
    _, api = world()
    admin = api("GET", "/api/v1/wallboard", ADMIN).json()
    assert (admin["role"], admin["user"], admin["may_command"], admin["supervisors"]) == (
        "admin", None, True, ["1020"])  # the admin chooses whose phone rings: the demo's one
    assert [(q["name"], q["label"], q["service_level_s"]) for q in admin["queues"]] == [
        ("support", "Customer support", 20.0), ("sales", "sales", 20.0)]
    assert admin["agents"][0] == {"id": "2001", "name": "Agent 2001"}  # display "Agent {user}"
    assert [a["id"] for a in admin["agents"]] == [f"20{n:02}" for n in range(1, 11)]
    sup = api("GET", "/api/v1/wallboard", SUP).json()
    assert (sup["role"], sup["user"], sup["may_command"], sup["supervisors"]) == (
        "supervisor", "1020", True, ["1020"])  # its own phone only
    agent = api("GET", "/api/v1/wallboard", AGENT).json()
    assert (agent["may_command"], agent["supervisors"]) == (False, [])
    assert [q["name"] for q in agent["queues"]] == ["support"]  # the queue it serves
    assert [a["id"] for a in agent["agents"]] == ["2001"]


def test_today_counts_an_abandon_and_an_answer_within_the_threshold() -> None:
    w, api = world()
    for agent in ("2001", "2002"):  # support's registered agents, paused: callers wait
        assert api("POST", f"/api/v1/agents/{agent}/pause").status_code == 200
    w.answered("1001", "800", 2.0, call_id="q1", port=4000)
    w.answered("1002", "800", 3.0, call_id="q2", port=4100)
    before = api("GET", "/api/v1/wallboard").json()["queues"][0]["today"]
    assert before == {"since": "start", "offered": None, "answered": 0, "abandoned": 0,
                      "service_level": None, "abandon_rate": None}
    api.now = 10.0
    first = api("GET", "/api/v1/calls").json()[0]["id"]  # 1001's, the oldest
    assert api("DELETE", f"/api/v1/calls/{first}").status_code == 200  # gone while waiting
    api.now = 12.0
    assert api("POST", "/api/v1/agents/2001/ready").status_code == 200  # 1002 is offered
    w.answer("2001", 13.0, tag="ag1", port=6000)  # answered after 13 - 3 = 10 s <= 20 s
    w.pump()
    today = api("GET", "/api/v1/wallboard").json()["queues"][0]["today"]
    # 1 answered (within the threshold: service level 1/1), 1 abandoned: 1 / (1 + 1)
    assert today == {"since": "start", "offered": None, "answered": 1, "abandoned": 1,
                     "service_level": 1.0, "abandon_rate": 0.5}


def view(answered: int, abandoned: int, service_level: float | None) -> QueueView:
    return QueueView("q", 0, 0.0, {}, (), answered, abandoned, service_level, None, None)


@pytest.mark.parametrize(("answered", "abandoned", "sl", "rate"), [
    (0, 0, None, None),  # nothing ended yet: no rate rather than 0 %
    (7, 3, 0.8, 0.3),  # 3 / (7 + 3)
    (0, 4, None, 1.0),  # 4 / (0 + 4)
    (9, 0, 2 / 3, 0.0),  # 0 / 9
])
def test_today_of_a_queue_view(answered: int, abandoned: int, sl: float | None,
                               rate: float | None) -> None:
    assert today_of(view(answered, abandoned, sl)) == TodayOut(
        since="start", answered=answered, abandoned=abandoned, service_level=sl,
        abandon_rate=rate)
