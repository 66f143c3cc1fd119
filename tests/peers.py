"""The outside programs the tests use, and what a test does when one is missing.

`PEERS` is the one list: each peer names the program a test runs, the Debian package that
brings it and the files of that package a test needs. `bin/test` installs every package this
module reports missing (``python tests/peers.py --missing``) when it runs as root.

A test asks for a peer with ``require_peer(name)`` (the program's path back). When the peer is
missing, the test **fails** when it runs as root - CI does, and there `bin/test` has just
installed every peer, so a missing one is a broken setup, not a reason to pass quietly - and
is **skipped** with the reason otherwise (pytest ``-ra`` prints it). ``missing_peer(reason)``
does the same for any other missing outside condition (raw sockets, a data file).
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

BARESIP_MODULE_PATH = "/usr/lib/baresip/modules"  # Debian's baresip-core
BARESIP_MODULES = ("g711", "aufile", "sndfile", "aubridge", "account", "menu", "ctrl_tcp")
SIPP_PCAP_DIR = "/usr/share/sip-tester"  # g711a.pcap, dtmf_2833_*.pcap
SIPP_PCAPS = ("g711a.pcap", *(f"dtmf_2833_{k}.pcap" for k in (*range(10), "star", "pound")))


@dataclass(frozen=True)
class Peer:
    """An outside program (``None``: data files only) from a Debian ``package``."""

    program: str | None
    package: str
    purpose: str
    files: tuple[str, ...] = ()

    def path(self) -> str | None:
        """The program's path (a file-only peer: its first file), or None when missing."""
        found = shutil.which(self.program) if self.program else self.files[0]
        return found if found and all(Path(f).is_file() for f in self.files) else None

    def missing(self) -> str:
        """What is missing, for a message ('' when nothing is)."""
        if self.program and shutil.which(self.program) is None:
            return f"{self.program} not installed"
        absent = [f for f in self.files if not Path(f).is_file()]
        if absent:
            return f"{len(absent)} file(s) of {self.package} missing: {', '.join(absent)}"
        return ""


def postgresql_bin() -> str:
    """The directory of Debian's PostgreSQL server programs (the newest installed version;
    ``/usr/lib/postgresql/15/bin``, Debian 12's, when none is)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return str(Path(found[-1]).parent) if found else "/usr/lib/postgresql/15/bin"


PEERS: dict[str, Peer] = {
    "sipp": Peer("sipp", "sip-tester", "SIPp 3.6, the SIP peer of most end-to-end tests"),
    "sipp-pcaps": Peer(None, "sip-tester", "the RTP pcaps SIPp plays (play_pcap_audio)",
                       tuple(f"{SIPP_PCAP_DIR}/{name}" for name in SIPP_PCAPS)),
    "baresip": Peer("baresip", "baresip", "baresip 1.0, the phone of the audio tests",
                    tuple(f"{BARESIP_MODULE_PATH}/{m}.so" for m in BARESIP_MODULES)),
    "espeak-ng": Peer("espeak-ng", "espeak-ng", "speech for the DTMF talk-off test"),
    "tcpdump": Peer("tcpdump", "tcpdump", "captures and reads pcaps on lo"),
    "postgresql": Peer(None, "postgresql", "a private PostgreSQL server for the store tests",
                       tuple(f"{postgresql_bin()}/{p}" for p in ("initdb", "pg_ctl"))),
    "kamailio": Peer("kamailio", "kamailio", "Kamailio 5.6, the carrier's registrar in the "
                     "trunk tests"),
    "chromium": Peer("chromium", "chromium", "the browser of the agent desktop test "
                     "(driven by Playwright)"),
}


def strict() -> bool:
    """Whether a missing peer fails the test (as root: bin/test installs them) or skips it."""
    return os.geteuid() == 0


def missing_peer(reason: str) -> NoReturn:
    """Fail the test as root, skip it otherwise; ``reason`` says what is missing."""
    if strict():
        pytest.fail(f"{reason} (running as root: bin/test installs every outside peer, "
                    "so a missing one fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


def require_peer(name: str) -> str:
    """The path of peer ``name`` (a key of PEERS); fails or skips the test when missing."""
    peer = PEERS[name]
    found = peer.path()
    if found is None:
        missing_peer(f"{peer.missing()} - {peer.purpose} (apt-get install {peer.package})")
    return found


def missing_packages() -> list[str]:
    """The Debian packages to install for the peers that are missing, each once."""
    return sorted({p.package for p in PEERS.values() if p.path() is None})


def main(argv: list[str]) -> int:
    """``--missing``: the packages to install, one a line; otherwise a status table."""
    if argv[1:] == ["--missing"]:
        for package in missing_packages():
            print(package)
        return 0
    for name, peer in PEERS.items():
        print(f"{name:<11} {peer.path() or 'MISSING: ' + peer.missing()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
