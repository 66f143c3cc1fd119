"""The OpenAPI document matches the server: schemathesis generates requests for every GET
and POST operation of ``/api/v1/openapi.json`` (examples, boundary values, random fuzzing)
against a live daemon with the admin token (and again with an agent's, whose answers are
mostly 403s), and finds no 5xx, no undocumented status code,
no body outside its schema and no undocumented content type.  DELETE is left out (it hangs
up calls and kicks room members; nothing to hang up here, but a fuzzer has no business
there); the WebSocket is not in the document."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_daemon import DaemonFactory
from e2e_util import LOOPBACK

pytestmark = pytest.mark.e2e
CHECKS = ("not_a_server_error,status_code_conformance,response_schema_conformance,"
          "content_type_conformance")


def schemathesis_command() -> list[str]:
    exe = Path(sys.executable).with_name("schemathesis")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("schemathesis")
    if found is None:
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    return [found]


@pytest.mark.parametrize("token", ["demo-admin-token", "demo-agent-2001"])
def test_schemathesis_finds_no_server_error_and_no_response_outside_the_schema(
        start_daemon: DaemonFactory, tmp_path: Path, token: str) -> None:
    command = schemathesis_command()
    daemon = start_daemon()
    base = f"http://{LOOPBACK}:{daemon.http_port}"
    run = subprocess.run(
        [*command, "run", f"{base}/api/v1/openapi.json",
         "--header", f"Authorization: Bearer {token}",
         "--exclude-method", "DELETE", "--checks", CHECKS,
         "--max-examples", "25", "--seed", "20261207", "--no-color",
         "--request-timeout", "20", "--report", "junit", "--report-dir", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-6000:]
    assert "Tested: " in out and " passed" in out, out[-3000:]
    assert "Exception in ASGI application" not in daemon.tail(200_000)
