"""The admin CLI against the API served over real HTTP (uvicorn in a thread, a callworld
switch behind it): tables, --json, agent commands, hang-up, exit statuses."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from callworld import Switch
from test_api import Api
from test_history_api import api as history_api

from ccswitch import cli
from ccswitch.cliapi import EXIT_AUTH, EXIT_REFUSED, EXIT_UNREACHABLE, duration, table


@contextlib.contextmanager
def serve(app_of: Api) -> Iterator[str]:
    """``app_of``'s app over real HTTP on a free loopback port; yields its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app_of.app, log_level="error", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


@pytest.fixture
def served() -> Iterator[tuple[Switch, str]]:
    w = Switch(("1001", "1002", "2001", "2002"))
    with serve(Api(w)) as url:
        yield w, url


history = pytest.fixture(history_api.__wrapped__)  # type: ignore[attr-defined]


def test_cdr_export_in_every_format(history: Api, capsys: pytest.CaptureFixture[str]) -> None:
    with serve(history) as url:
        code, out, _ = run(capsys, "cdr", "export", "--format", "json", "--url", url)
        rows = json.loads(out)
        assert code == 0 and [r["call_id"] for r in rows] == [f"call{i}" for i in range(25)]
        code, out, _ = run(capsys, "cdr", "export", "--format", "csv", "--queue", "sales",
                           "--url", url)
        lines = out.splitlines()
        assert code == 0 and lines[0].startswith("id,call_id,") and len(lines) == 13
        code, out, _ = run(capsys, "cdr", "export", "--format", "ndjson", "--caller", "1001",
                           "--from", "2027-01-15T08:10:00Z", "--url", url)
        assert [json.loads(x)["call_id"] for x in out.splitlines()] == ["call11", "call16",
                                                                       "call21"]
        code, out, _ = run(capsys, "cdr", "export", "--queue-events", "--format", "json",
                           "--url", url)
        assert code == 0 and len(json.loads(out)) == 5
        code, _, err = run(capsys, "cdr", "export", "--from", "soon", "--url", url)
        assert code == EXIT_REFUSED and "(422)" in err


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:")  # the switch's logs in the test's stdout


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    out = capsys.readouterr()
    text = "".join(line for line in out.out.splitlines(keepends=True)
                   if not LOG_LINE.match(line))
    return code, text, out.err


def test_queue_show_and_calls_tables(served: tuple[Switch, str],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    w, url = served
    for agent in ("2001", "2002"):
        w.sig.b2bua.router.agent_pause(agent, "lunch", 1.0)  # type: ignore[union-attr]
    w.answered("1001", "800", 2.0, call_id="q1", port=4000)
    code, out, _ = run(capsys, "queue", "show", "--url", url)
    assert code == 0
    head, *rows = out.splitlines()
    assert head.split()[:3] == ["QUEUE", "WAITING", "LONGEST"]
    support = next(r.split() for r in rows if r.startswith("support"))
    assert support[1] == "1" and support[7] == "2"  # one waiting, two paused
    code, out, _ = run(capsys, "queue", "show", "support", "--url", url)
    assert code == 0 and "POS" in out and "1001" in out
    code, out, _ = run(capsys, "calls", "--url", url, "--json")
    calls = json.loads(out)
    assert code == 0 and [(c["caller"], c["state"]) for c in calls] == [("1001", "queued")]
    code, out, _ = run(capsys, "calls", "--url", url)
    assert out.split()[:2] == ["CALL", "STATE"] and calls[0]["id"] in out


def test_agent_commands_and_hangup(served: tuple[Switch, str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    w, url = served
    code, out, _ = run(capsys, "agent", "pause", "2001", "--reason", "lunch", "--url", url)
    assert (code, out) == (0, "agent 2001: paused (lunch)\n")
    code, out, _ = run(capsys, "agent", "ready", "2001", "--url", url)
    assert (code, out) == (0, "agent 2001: ready\n")
    code, out, _ = run(capsys, "agent", "list", "--url", url)
    assert code == 0 and any(r.split()[:2] == ["2002", "ready"] for r in out.splitlines())
    code, _, err = run(capsys, "agent", "pause", "2002", "--url", url,
                       "--token", "demo-agent-2001")
    assert code == EXIT_AUTH and "forbidden" in err
    w.call("1001", "1002", 3.0, call_id="c1")
    [call] = json.loads(run(capsys, "calls", "--url", url, "--json")[1])
    code, out, _ = run(capsys, "hangup", call["id"], "--url", url)
    assert (code, out) == (0, f"call {call['id']}: hung up\n")
    assert json.loads(run(capsys, "calls", "--url", url, "--json")[1]) == []
    code, _, err = run(capsys, "hangup", "nosuch", "--url", url)
    assert code == EXIT_REFUSED and "(404)" in err


def test_erlang_and_a_wrong_token(served: tuple[Switch, str],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    _, url = served
    code, out, _ = run(capsys, "erlang", "--calls", "100", "--aht", "180", "--url", url,
                       "--json")
    assert code == 0 and json.loads(out)["agents"] >= 6
    code, _, err = run(capsys, "calls", "--url", url, "--token", "wrong-token")
    assert code == EXIT_AUTH and "token is missing or wrong" in err


def test_a_daemon_that_is_not_running_is_exit_3(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there
    monkeypatch.setenv("CCSWITCH_URL", f"127.0.0.1:{port}")
    code, out, err = run(capsys, "calls")
    assert code == EXIT_UNREACHABLE and out == ""
    assert f"cannot reach the daemon at http://127.0.0.1:{port}" in err


def test_url_and_token_come_from_the_config_when_not_given(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from ccswitch.cliadmin import client_of

    monkeypatch.delenv("CCSWITCH_URL", raising=False)
    monkeypatch.delenv("CCSWITCH_TOKEN", raising=False)
    args = cli.build_parser().parse_args(["calls"])
    c = client_of(args)
    assert (c.url, c.token) == ("http://127.0.0.1:8080", "demo-admin-token")
    monkeypatch.setenv("CCSWITCH_TOKEN", "t1")
    assert client_of(args).token == "t1"
    assert client_of(cli.build_parser().parse_args(["calls", "--token", "t2"])).token == "t2"


def test_table_and_duration_formatting() -> None:
    assert table(["A", "BB"], [["x", None], ["long", 1.25]]) == "A     BB\nx     -\nlong  1.2"
    assert (duration(65), duration(3723), duration(None)) == ("1:05", "1:02:03", "-")


def test_erlang_with_patience_is_erlang_a(served: tuple[Switch, str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _, url = served
    # 200 calls/h of 180 s at 80/20: Erlang C needs 14 agents (test_erlang.py); callers
    # who wait 120 s on average before hanging up need fewer (test_erlang_a.py)
    code, out, _ = run(capsys, "erlang", "--calls", "200", "--aht", "180", "--url", url,
                       "--patience", "120", "--json")
    got = json.loads(out)
    assert code == 0 and got["model"] == "erlang_a" and got["patience_s"] == 120.0
    assert got["agents"] < 14 and got["probability_of_abandon"] > 0
