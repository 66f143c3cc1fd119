"""tests/peers.py: a missing outside peer fails the test as root and skips it otherwise."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _pytest.outcomes import Failed, Skipped

import peers
from peers import PEERS, Peer, missing_packages, missing_peer, require_peer

ABSENT = Peer("ccswitch-no-such-program", "ccswitch-nonexistent-pkg", "a test of the helper")


@pytest.fixture
def absent(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(PEERS, "absent", ABSENT)
    return "absent"


def as_root(monkeypatch: pytest.MonkeyPatch, root: bool) -> None:
    monkeypatch.setattr(peers.os, "geteuid", lambda: 0 if root else 1000)


def test_a_missing_peer_fails_as_root(monkeypatch: pytest.MonkeyPatch, absent: str) -> None:
    as_root(monkeypatch, True)
    with pytest.raises(Failed, match=r"ccswitch-no-such-program not installed.*apt-get install "
                                     r"ccswitch-nonexistent-pkg.*running as root"):
        require_peer(absent)


def test_a_missing_peer_skips_without_root(monkeypatch: pytest.MonkeyPatch,
                                           absent: str) -> None:
    as_root(monkeypatch, False)
    with pytest.raises(Skipped, match=r"ccswitch-no-such-program not installed - a test of the "
                                      r"helper \(apt-get install ccswitch-nonexistent-pkg\)$"):
        require_peer(absent)
    with pytest.raises(Skipped, match=r"^raw sockets$"):
        missing_peer("raw sockets")


def test_a_present_peer_gives_its_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PEERS, "python", Peer(Path(sys.executable).name, "python3", "x"))
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    assert Path(require_peer("python")).samefile(sys.executable)


def test_a_missing_file_makes_the_peer_missing(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    there = tmp_path / "there.pcap"
    there.write_bytes(b"")
    monkeypatch.setitem(PEERS, "files", Peer(None, "pkg-files", "x", (str(there),)))
    assert require_peer("files") == str(there)
    monkeypatch.setitem(PEERS, "files", Peer(None, "pkg-files", "x",
                                             (str(there), str(tmp_path / "gone.pcap"))))
    as_root(monkeypatch, False)
    with pytest.raises(Skipped, match=r"1 file.* of pkg-files missing: .*gone.pcap"):
        require_peer("files")


def test_missing_packages_name_each_package_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peers, "PEERS", {
        "a": ABSENT, "b": Peer("ccswitch-no-such-2", ABSENT.package, "x"),
        "c": Peer(None, "pkg-c", "x", ("/nonexistent/ccswitch/file",))})
    assert missing_packages() == ["ccswitch-nonexistent-pkg", "pkg-c"]
