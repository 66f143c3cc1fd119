"""The daemon as a process: ready event, OPTIONS, bad input, signals, exit codes (CONTRACT).

The probes (ready event, OPTIONS, bad input) share the module's daemon (``daemon`` below): none
changes what another reads, and each bad input's test ends by checking the daemon still
answers.  The signal tests start daemons of their own."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from e2e_daemon import REPO, Daemon, DaemonFactory, ccswitch_command, child_env
from e2e_sipp import Sipp
from e2e_util import (
    LOOPBACK,
    free_port,
    options_tcp,
    options_udp,
    tcp_exchange,
    udp_exchange,
)

pytestmark = pytest.mark.e2e

ERROR_ANSWER = re.compile(r"^SIP/2\.0 4\d\d ")

GARBAGE = [
    b"\x00\xff\xfe garbage \x80\x81" * 20,
    b"hello\r\n\r\n",
    b"INVITE sip:1001@127.0.0.1 SIP/2.0\r\n\r\n",  # no mandatory headers
    b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\n"
    b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: g1\r\nCSeq: banana OPTIONS\r\n"
    b"Content-Length: 0\r\n\r\n",  # bad CSeq
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKstray\r\n\r\n",  # stray
]


@pytest.fixture
def daemon(module_daemon: Daemon) -> Daemon:
    """The module's daemon (demo configuration), for the probes."""
    return module_daemon


def listed(listen: object, transport: str, port: int) -> bool:
    """Whether the `listen` field of the ready event names this transport and port."""
    items = listen if isinstance(listen, list) else [listen]
    for item in items:
        text = json.dumps(item).lower() if not isinstance(item, str) else item.lower()
        if transport in text and re.search(rf"\b{port}\b", text):
            return True
    return False


def test_ready_event_lists_every_listen_address(daemon: Daemon) -> None:
    listen = daemon.ready.get("listen")
    assert listen, f"ready event without listen addresses: {daemon.ready}"
    assert listed(listen, "udp", daemon.sip_port), listen
    assert listed(listen, "tcp", daemon.sip_port), listen


@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_options_answered_200(sipp: Sipp, daemon: Daemon, transport: str) -> None:
    result = sipp.run("options.xml", remote=daemon.sip_port, transport=transport, timeout=10)
    assert result.ok, result.describe()
    assert result.received_statuses() == [200]


def test_udp_garbage_is_answered_400_or_dropped(daemon: Daemon) -> None:
    for payload in GARBAGE:
        answer = udp_exchange(daemon.sip_port, payload, timeout=0.5)
        if answer is not None:
            line = answer.split(b"\r\n", 1)[0].decode("utf-8", "replace")
            assert ERROR_ANSWER.match(line), f"{payload[:40]!r} -> {line!r}"
    status = options_udp(daemon.sip_port)
    assert status is not None and status.startswith("SIP/2.0 200"), (status, daemon.tail())
    assert daemon.proc.poll() is None


def test_tcp_garbage_is_answered_400_or_dropped(daemon: Daemon) -> None:
    for payload in GARBAGE:
        try:
            answer = tcp_exchange(daemon.sip_port, payload, timeout=0.5)
        except ConnectionError:
            continue
        if answer:
            line = answer.split(b"\r\n", 1)[0].decode("utf-8", "replace")
            assert ERROR_ANSWER.match(line), f"{payload[:40]!r} -> {line!r}"
    status = options_tcp(daemon.sip_port)
    assert status is not None and status.startswith("SIP/2.0 200"), (status, daemon.tail())
    assert daemon.proc.poll() is None


def test_oversized_udp_datagram_does_not_stop_the_daemon(daemon: Daemon) -> None:
    big = (
        b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbig\r\n"
        + b"X-Filler: "
        + b"a" * 60000
        + b"\r\n\r\n"
    )
    answer = udp_exchange(daemon.sip_port, big, timeout=0.5)
    if answer is not None:
        assert ERROR_ANSWER.match(answer.split(b"\r\n", 1)[0].decode("utf-8", "replace"))
    status = options_udp(daemon.sip_port)
    assert status is not None and status.startswith("SIP/2.0 200"), daemon.tail()


def test_sigterm_exits_0_within_5_seconds(start_daemon: DaemonFactory) -> None:
    d = start_daemon()
    rc, took = d.terminate(timeout=5.0)
    assert rc == 0, f"exit status {rc} after {took:.1f} s\n{d.tail()}"
    assert took < 5.0


def test_sigint_exits_0(start_daemon: DaemonFactory) -> None:
    d = start_daemon()
    d.proc.send_signal(signal.SIGINT)
    assert d.proc.wait(timeout=5.0) == 0, d.tail()


def run_cli(*args: str, cwd: Path, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ccswitch_command(*args),
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_check_config_accepts_the_demo_configuration(tmp_path: Path) -> None:
    proc = run_cli("check-config", str(REPO / "configs" / "demo.toml"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_config_bad_file_exits_2_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken-config.toml"
    bad.write_text('[sip\nlisten = "udp:127.0.0.1:5060"\n')
    proc = run_cli("check-config", str(bad), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "broken-config.toml" in proc.stdout + proc.stderr


def test_serve_with_a_bad_config_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "broken-config.toml"
    bad.write_text("this is not toml = = =\n")
    port = free_port()
    proc = run_cli(
        "serve",
        "--config", str(bad),
        "--listen", f"udp:{LOOPBACK}:{port}",
        "--data-dir", str(tmp_path / "data"),
        "--http", f"{LOOPBACK}:{free_port(udp=False)}",
        "--log-format", "json",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "broken-config.toml" in proc.stdout + proc.stderr


UNBUILT = [
    ('listen = ["tls:127.0.0.1:5061"]\n', "listen[0]"),
    ('listen = ["wss:127.0.0.1:8089"]\n', "listen[0]"),
    ('[dialplan.numbers]\n555 = "transfer:5551234"\n', "dialplan.numbers.555"),
]


@pytest.mark.parametrize(("text", "key"), UNBUILT)
def test_configuration_of_unbuilt_features_is_refused(tmp_path: Path, text: str,
                                                      key: str) -> None:
    """check-config and serve refuse it with "not supported yet" (never accept and ignore)."""
    site = tmp_path / "site.toml"
    site.write_text(text)
    checked = run_cli("check-config", str(site), cwd=tmp_path)
    served = run_cli("serve", "--config", str(site), "--listen", f"udp:{LOOPBACK}:{free_port()}",
                     "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    for proc in (checked, served):
        out = proc.stdout + proc.stderr
        assert proc.returncode == 2, out
        assert "site.toml" in out and key in out and "not supported yet" in out, out
        assert len(out.strip().splitlines()) == 1, out


def test_serve_refuses_a_tls_listen_flag(tmp_path: Path) -> None:
    proc = run_cli("serve", "--listen", f"tls:{LOOPBACK}:{free_port(udp=False)}",
                   "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "--listen" in out and "not supported yet" in out, out


def test_serve_exits_2_naming_a_port_in_use(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind((LOOPBACK, port))
        proc = run_cli(
            "serve",
            "--listen", f"udp:{LOOPBACK}:{port}",
            "--data-dir", str(tmp_path / "data"),
            "--http", f"{LOOPBACK}:{free_port(udp=False)}",
            "--log-format", "json",
            cwd=tmp_path,
        )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert str(port) in proc.stdout + proc.stderr
