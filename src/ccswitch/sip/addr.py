"""Where a message came from or goes to: transport, host, port and (for streams) connection."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Address:
    """A transport address.  ``conn`` names the stream connection (TCP/TLS/WS) or the local
    UDP socket a message came over, so answers leave the same way; ``None`` when unknown."""

    transport: str  # "udp" | "tcp" | "tls" | "ws" | "wss"
    host: str
    port: int
    conn: int | None = None

    @property
    def reliable(self) -> bool:
        return self.transport != "udp"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}:{host}:{self.port}"
