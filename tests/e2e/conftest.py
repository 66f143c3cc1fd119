"""Fixtures for the end-to-end tests: SIPp, baresip and the daemon as a child process.

A missing peer fails the test when run as root and skips it otherwise, with the reason
(`peers.require_peer`; pyproject sets `-ra`, so a skip's reason is printed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_baresip import Baresip, PhoneFactory
from e2e_browser import chromium, new_page
from e2e_daemon import STOP_TIMEOUT, Daemon, DaemonError, DaemonFactory
from e2e_media import settle
from e2e_sipp import Sipp
from e2e_util import demo_ports

from peers import require_peer


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item so fixtures can tell a failed test at teardown."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    rep = getattr(request.node, "rep_call", None)
    return rep is None or rep.failed


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Any:
    """A test that played a demo carrier (e2e_sipp.Sipp took the demo trunk ports) lets the
    ports go once its fixtures, its daemon among them, are torn down."""
    try:
        return (yield)
    finally:
        demo_ports.release()


@pytest.fixture
def sipp(tmp_path: Path) -> Sipp:
    """SIPp runner with its traces under tmp_path/sipp (`require_peer` when SIPp is missing).
    A run on a demo trunk port waits for the machine-wide lock on them (e2e_sipp.Sipp)."""
    binary = require_peer("sipp")
    workdir = tmp_path / "sipp"
    workdir.mkdir()
    return Sipp(binary, workdir)


@pytest.fixture
def baresip() -> str:
    """Path of the baresip binary (`require_peer` when it or a module the tests use is missing)."""
    return require_peer("baresip")


@pytest.fixture
def phones(baresip: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[PhoneFactory]:
    """Factory: `phones(name, account=..., source_wav=...)` starts a baresip phone.

    Every phone is quit (or killed) at teardown; its output is printed when the test failed.
    """
    started: list[Baresip] = []

    def start(name: str, *, account: str, source_wav: Path,
              modules: tuple[str, ...] = ()) -> Baresip:
        phone = Baresip(baresip, tmp_path / name, account=account, source_wav=source_wav,
                        modules=modules)
        started.append(phone)
        return phone

    yield start

    for phone in started:
        phone.stop()
        if _failed(request):
            print(f"--- baresip {phone.dir.name} (port {phone.sip_port}) ---\n{phone.output()}")


class _Daemons:
    """The daemons a fixture started under `base`: started ready, stopped at teardown."""

    def __init__(self, base: Path):
        self.base = base
        self.started: list[Daemon] = []

    def start(self, **kw: Any) -> Daemon:
        workdir = self.base / f"daemon{len(self.started)}"
        workdir.mkdir()
        d = Daemon(workdir, **kw)
        self.started.append(d)
        try:
            d.wait_ready()
        except DaemonError as exc:
            pytest.fail(str(exc), pytrace=False)
        return d

    def stop(self, show_logs: bool) -> None:
        """SIGTERM to every daemon still running, which must exit 0 within 5 s (CONTRACT);
        the logs are printed when `show_logs` or one did not."""
        problems: list[str] = []
        for d in self.started:
            running = d.proc.poll() is None
            rc, took = d.terminate()
            if running and rc != 0:
                problems.append(
                    f"daemon on port {d.sip_port}: SIGTERM gave "
                    + (f"exit status {rc}" if rc is not None
                       else f"no exit in {STOP_TIMEOUT:.0f} s")
                )
            d.kill()
            if show_logs or problems:
                print(f"--- daemon log (port {d.sip_port}, {took:.1f} s to stop) ---\n"
                      f"{d.tail()}")
        assert not problems, "; ".join(problems)


@pytest.fixture
def start_daemon(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[DaemonFactory]:
    """Factory: start a daemon (keywords as for `Daemon`) and wait for its `ready` event.

    At teardown every daemon still running gets SIGTERM and must exit 0 within 5 s
    (CONTRACT); the daemon's log is printed when the test failed.
    """
    daemons = _Daemons(tmp_path)
    yield daemons.start
    daemons.stop(_failed(request))


@pytest.fixture(scope="module")
def module_start_daemon(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[DaemonFactory]:
    """`start_daemon` for a module's own fixtures: its daemons live until the module's last
    test is over (tests that need no fresh daemon share one).  The same checks at teardown;
    the logs are printed when a test of the session failed meanwhile."""
    failed_before = request.session.testsfailed
    daemons = _Daemons(tmp_path_factory.mktemp("module-daemons"))
    yield daemons.start
    daemons.stop(request.session.testsfailed > failed_before)


@pytest.fixture(scope="module")
def module_daemon(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Daemon]:
    """One ready daemon for a whole test module (demo configuration, as `daemon`): the
    issue-9 modules share it to keep the suite short. At teardown it must stop on SIGTERM
    with exit 0 within 5 s; its log is printed when a test of the session failed."""
    failed_before = request.session.testsfailed
    d = Daemon(tmp_path_factory.mktemp("module-daemon"))
    try:
        d.wait_ready()
    except DaemonError as exc:
        pytest.fail(str(exc), pytrace=False)
    settle(d)
    yield d
    running = d.proc.poll() is None
    rc, took = d.terminate()
    d.kill()
    if request.session.testsfailed > failed_before or (running and rc != 0):
        print(f"--- module daemon log (port {d.sip_port}, {took:.1f} s to stop) ---\n{d.tail()}")
    assert not running or rc == 0, f"module daemon: SIGTERM gave exit status {rc}"


@pytest.fixture
def daemon(start_daemon: DaemonFactory) -> Daemon:
    """A ready daemon: demo configuration, UDP and TCP on one loopback port, JSON logs."""
    return start_daemon()


@pytest.fixture(scope="module")
def module_chromium() -> Iterator[Any]:
    """One headless Chromium (the system's ``chromium``, no browser download) for a module's
    page tests: each test takes a page in a context of its own (e2e_browser.new_page)."""
    with chromium() as browser:
        yield browser


@pytest.fixture
def browser(module_chromium: Any) -> Iterator[Any]:
    """A headless Chromium page, 1100 x 900, in a context of its own."""
    with new_page(module_chromium, 1100, 900) as page:
        yield page
