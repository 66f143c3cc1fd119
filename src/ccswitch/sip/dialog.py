"""Dialog state (RFC 3261 §12) and building requests inside a dialog."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .addr import Address
from .message import Headers, Request, Response
from .uri import NameAddr


@dataclass(frozen=True, slots=True)
class LocalContact:
    """How this switch names itself on one transport: Via sent-by and Contact."""

    transport: str
    host: str
    port: int

    def via(self, branch: str) -> str:
        proto = self.transport.upper()
        return f"SIP/2.0/{proto} {_host(self.host)}:{self.port};branch={branch};rport"

    def contact(self, user: str | None = None) -> str:
        u = f"{user}@" if user else ""
        t = "" if self.transport == "udp" else f";transport={self.transport}"
        return f"<sip:{u}{_host(self.host)}:{self.port}{t}>"


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@dataclass(slots=True)
class Dialog:
    """One side of a dialog as seen by this switch (we are ``local``)."""

    call_id: str
    local: NameAddr  # our From/To value, carrying our tag
    remote: NameAddr  # the peer's, carrying its tag once known
    local_seq: int
    remote_target: str  # the peer's Contact URI
    peer: Address  # where requests in this dialog are sent
    remote_seq: int | None = None
    route_set: list[str] = field(default_factory=list)

    @property
    def local_tag(self) -> str:
        return self.local.tag or ""

    @property
    def remote_tag(self) -> str | None:
        return self.remote.tag

    def update_target(self, msg: Request | Response) -> None:
        """Refresh the remote target from a Contact (target refresh, §12.2)."""
        contacts = msg.contacts
        if contacts and not contacts[0].wildcard:
            self.remote_target = str(contacts[0].uri)

    def request(self, method: str, *, me: LocalContact, branch: str, cseq: int | None = None,
                body: bytes = b"", content_type: str | None = None,
                extra: Iterable[tuple[str, str]] = ()) -> Request:
        """A request in this dialog; CSeq is the next local number unless ``cseq`` is given."""
        if cseq is None:
            self.local_seq += 1
            cseq = self.local_seq
        h = Headers()
        h.add("Via", me.via(branch))
        h.add("Max-Forwards", "70")
        for r in self.route_set:
            h.add("Route", r)
        h.add("From", str(self.local))
        h.add("To", str(self.remote))
        h.add("Call-ID", self.call_id)
        h.add("CSeq", f"{cseq} {method}")
        if method in ("INVITE", "UPDATE"):
            h.add("Contact", me.contact())
        for n, v in extra:
            h.add(n, v)
        if body and content_type:
            h.add("Content-Type", content_type)
        return Request(method, self.remote_target, h, body)
