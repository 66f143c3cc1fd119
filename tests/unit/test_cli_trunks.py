"""``ccswitch trunks`` and ``ccswitch fraud [clear USER]`` against the API over real HTTP
(uvicorn in a thread, the demo's trunks behind it)."""

from __future__ import annotations

import json

import pytest
from test_api import Api
from test_cli_admin import run, serve
from test_trunk_calls import World
from test_trunks_api import block

from ccswitch.cliapi import EXIT_AUTH


def test_trunks_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    w = World()
    with serve(Api(w)) as url:
        code, out, _ = run(capsys, "trunks", "--url", url)
        assert code == 0
        lines = out.splitlines()
        assert lines[0].split() == ["trunk", "configured", "state", "addresses", "registered",
                                    "calls", "calls/s"]
        assert lines[1].split() == ["carrier", "udp:127.0.0.1:5070", "available",
                                    "udp:127.0.0.1:5070", "-", "0/-", "-"]
        code, out, _ = run(capsys, "trunks", "--json", "--url", url)
        assert [t["name"] for t in json.loads(out)] == ["carrier", "carrier2"]


def test_fraud_list_and_clear(capsys: pytest.CaptureFixture[str]) -> None:
    w = World()
    block(w, "1001")
    with serve(Api(w)) as url:
        code, out, _ = run(capsys, "fraud", "--url", url)
        assert code == 0 and out.splitlines()[1].split()[0] == "1001", out
        code, out, _ = run(capsys, "fraud", "clear", "1001", "--url", url)
        assert (code, out.strip()) == (0, "user 1001: block cleared")
        code, out, _ = run(capsys, "fraud", "--url", url)
        assert out.strip() == "no user is blocked"
        code, out, _ = run(capsys, "fraud", "clear", "1001", "--url", url)
        assert out.strip() == "user 1001: was not blocked"
        code, _, err = run(capsys, "fraud", "clear", "--url", url)
        assert code == 2 and "which user" in err
        code, _, err = run(capsys, "fraud", "clear", "1001", "--url", url, "--token",
                           "demo-supervisor-token")
        assert code == EXIT_AUTH, err  # a supervisor may not clear a block
