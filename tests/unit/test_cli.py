"""The command line (check-config, serve's flag handling) and the log configuration."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
import structlog

from ccswitch import cli, logs
from ccswitch.config import ListenUri, SwitchConfig
from ccswitch.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "demo.toml"

SMALL = """\
listen = ["udp:127.0.0.1:5070"]
rtp_ports = "40000-40099"
data_dir = "/var/lib/cc"
log_format = "console"

[[users]]
name = "alice"
password = "secret"
"""


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "ccswitch", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


# -- check-config as a process ---------------------------------------------------------------


def test_check_config_demo_ok() -> None:
    proc = run_module("check-config", "configs/demo.toml")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "configs/demo.toml: OK"
    assert lines[1] == ("30 users (10 agents), 2 queues (support, sales), "
                        "listen udp:127.0.0.1:5060 tcp:127.0.0.1:5060")
    assert len(lines) == 2 and proc.stderr == ""


def test_check_config_bad_file_exits_2_with_one_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[auth]\nalgorithms = ["MD5", "SHA-1"]\n')
    proc = run_module("check-config", str(bad))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"{bad}:2: auth.algorithms[1]: unsupported algorithm 'SHA-1' (one of MD5, SHA-256)"]


def test_check_config_missing_file_exits_2(tmp_path: Path) -> None:
    proc = run_module("check-config", str(tmp_path / "nope.toml"))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"{tmp_path / 'nope.toml'}: (file): cannot read: No such file or directory"]


def test_no_command_is_a_usage_error() -> None:
    proc = run_module()
    assert proc.returncode == 2
    assert "usage: ccswitch" in proc.stderr


# -- in process ---------------------------------------------------------------------------------


def test_main_check_config_in_process(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(SMALL)
    assert cli.main(["check-config", str(good)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{good}: OK",
                   "1 users (0 agents), 0 queues (none), listen udp:127.0.0.1:5070"]


def test_load_config_errors(tmp_path: Path) -> None:
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'data_dir = "a"\nrealm = "caf\xe9"\n')
    with pytest.raises(ConfigError) as info:
        cli.load_config(str(latin))
    assert (info.value.file, info.value.line, info.value.fault) == (str(latin), 2, "not UTF-8 text")
    with pytest.raises(ConfigError, match="cannot read"):
        cli.load_config(str(tmp_path))  # a directory


def test_packaged_demo_is_the_default() -> None:
    assert cli.demo_text() == DEMO.read_text(encoding="utf-8")
    cfg = cli.demo_config()
    assert len(cfg.users) == 30 and set(cfg.queues) == {"support", "sales"}


def parse(*argv: str) -> SwitchConfig:
    return cli.build_config(cli.build_parser().parse_args(["serve", *argv]))


def test_build_config_without_flags_is_the_demo() -> None:
    assert parse() == cli.demo_config()


def test_build_config_flags_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(SMALL)
    base = parse("--config", str(path))
    assert base.listen == (ListenUri("udp", "127.0.0.1", 5070),)
    assert (base.rtp_ports, base.data_dir, base.log_format) == ((40000, 40099), "/var/lib/cc",
                                                                 "console")
    cfg = parse("--config", str(path), "--listen", "tcp:0.0.0.0:5080", "--listen",
                "udp:[::1]:5090", "--rtp-ports", "10000-10999", "--data-dir", "/tmp/x",
                "--http", "0.0.0.0:9090", "--log-format", "json", "--log-level", "debug")
    assert cfg.listen == (ListenUri("tcp", "0.0.0.0", 5080), ListenUri("udp", "::1", 5090))
    assert cfg.rtp_ports == (10000, 10999)
    assert (cfg.data_dir, cfg.http) == ("/tmp/x", ("0.0.0.0", 9090))
    assert (cfg.log_format, cfg.log_level) == ("json", "debug")
    assert cfg.users == base.users
    # a flag that is not given keeps the file's value
    assert parse("--config", str(path), "--data-dir", "d").rtp_ports == (40000, 40099)


def test_build_config_bad_flag_names_it() -> None:
    with pytest.raises(ConfigError) as info:
        parse("--rtp-ports", "5-10")
    assert str(info.value) == "command line: --rtp-ports: LO must be even (RTP on even, RTCP on " \
                              "odd ports), got 5"


@pytest.fixture
def fake_daemon(monkeypatch: pytest.MonkeyPatch) -> list[SwitchConfig]:
    """Stand-ins for ccswitch.daemon.run and the log setup; collects the configs run with."""
    started: list[SwitchConfig] = []
    logged: list[tuple[str | None, str]] = []
    module = types.ModuleType("ccswitch.daemon")

    def run(config: SwitchConfig, load: Callable[[], SwitchConfig] | None = None) -> int:
        assert logged == [(config.log_format, config.log_level)]
        assert load is not None and load() == config  # SIGHUP re-reads the same sources
        started.append(config)
        return 7

    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ccswitch.daemon", module)
    monkeypatch.setattr(logs, "configure_logging",
                        lambda fmt, level="info": logged.append((fmt, level)))
    return started


def test_serve_runs_the_daemon_with_the_merged_config(fake_daemon: list[SwitchConfig]) -> None:
    assert cli.main(["serve", "--listen", "udp:127.0.0.1:5999", "--log-level", "warning"]) == 7
    [config] = fake_daemon
    assert config.listen == (ListenUri("udp", "127.0.0.1", 5999),)
    assert config.log_level == "warning"
    assert len(config.users) == 30


def test_serve_bad_config_exits_2_before_starting(fake_daemon: list[SwitchConfig],
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[users]]\nname = "a"\npassword = "p"\nagent = { queues = ["sales"] }\n')
    assert cli.main(["serve", "--config", str(bad)]) == 2
    assert cli.main(["serve", "--listen", "udp:127.0.0.1"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{bad}:4: users[0].agent.queues[0]: queue 'sales' is not declared in [queues]",
        "command line: --listen: expected HOST:PORT, got '127.0.0.1'",
    ]
    assert fake_daemon == []


def test_serve_rejects_unknown_log_format() -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["serve", "--log-format", "xml"])
    assert info.value.code == 2


# -- logging -------------------------------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_logs_carry_time_level_event_and_context(restore_logging: None) -> None:
    out = io.StringIO()
    logs.configure_logging(None, "info", stream=out)  # StringIO is no TTY: JSON
    log = structlog.get_logger()
    structlog.contextvars.bind_contextvars(call_id="c1", leg="a")
    log.info("ready", listen=["udp:127.0.0.1:5060"])
    log.debug("hidden")
    logging.getLogger("asyncio").warning("loop %s", "slow")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert list(first)[:3] == ["timestamp", "level", "event"]
    assert (first["event"], first["level"], first["listen"]) == ("ready", "info",
                                                                 ["udp:127.0.0.1:5060"])
    assert (first["call_id"], first["leg"]) == ("c1", "a")
    assert datetime.fromisoformat(first["timestamp"].replace("Z", "+00:00")).tzinfo is not None
    assert (second["event"], second["level"], second["logger"]) == ("loop slow", "warning",
                                                                     "asyncio")


def test_console_logs_and_reconfiguration(restore_logging: None) -> None:
    first, out = io.StringIO(), io.StringIO()
    logs.configure_logging("json", "info", stream=first)
    logs.configure_logging("console", "debug", stream=out)
    structlog.get_logger().debug("offer_sent", agent="2001")
    logging.getLogger("x").info("stdlib")
    text = out.getvalue()
    assert first.getvalue() == ""
    assert "offer_sent" in text and "agent=2001" in text and "debug" in text
    assert "stdlib" in text
    assert not text.lstrip().startswith("{")
    assert sum(isinstance(h, logging.StreamHandler) and h.stream is out
               for h in logging.getLogger().handlers) == 1


def test_configure_logging_rejects_bad_arguments(restore_logging: None) -> None:
    with pytest.raises(ValueError):
        logs.configure_logging("xml")
    with pytest.raises(ValueError):
        logs.configure_logging("json", "loud")
