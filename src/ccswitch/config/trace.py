"""The ``[sip] trace`` setting (and ``--sip-trace``): which sinks the SIP message trace uses.
The trace itself is ``ccswitch.io.trace``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TraceSetting:
    """What ``[sip] trace`` / ``--sip-trace`` asked for."""

    log: bool = False
    pcap: str | None = None

    @property
    def on(self) -> bool:
        return self.log or self.pcap is not None


def parse_trace(text: str) -> TraceSetting:
    """``""``/``"off"``, ``"log"``, ``"pcap:PATH"`` or both, comma-separated
    (``"log,pcap:/tmp/sip.pcap"``).  Raises ValueError naming the fault."""
    want_log, pcap = False, None
    for part in (p.strip() for p in text.split(",")):
        if part in ("", "off"):
            continue
        if part == "log":
            want_log = True
        elif part.startswith("pcap:") and part[5:].strip():
            pcap = part[5:].strip()
        else:
            raise ValueError(f"{part!r}: use off, log, pcap:PATH or log,pcap:PATH")
    return TraceSetting(want_log, pcap)
