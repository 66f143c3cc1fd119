"""Error types shared by the core: each protocol error carries the wire answer."""

from __future__ import annotations


class CcswitchError(Exception):
    """Base of every ccswitch error."""


class SipParseError(CcswitchError):
    """A SIP message that cannot be accepted; ``status``/``reason`` are the answer to send."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


class SipProtocolError(CcswitchError):
    """A peer broke the protocol above the syntax level (answer with ``status``)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


class ConfigError(CcswitchError):
    """Bad configuration: names the file, the key, the line where known, and the fault."""

    def __init__(self, file: str, key: str, fault: str, line: int | None = None) -> None:
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {key}: {fault}")
        self.file = file
        self.key = key
        self.fault = fault
        self.line = line
