"""A tiny authoritative DNS responder for tests: UDP on loopback, a zone given as text
records, answers built with dnspython's message classes (dnspython cannot serve by itself).

``DnsServer({"carrier.test.": ["SRV 10 100 5070 sip1.carrier.test."]})`` answers SRV queries
of ``carrier.test`` with that record (TTL ``ttl``), NXDOMAIN for a name
it does not hold and an empty answer for a type the name lacks.  ``queries`` lists what was
asked (``"NAPTR carrier.test."``)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping, Sequence

import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class DnsServer:
    def __init__(self, zone: Mapping[str, Sequence[str]], *, ttl: int = 60) -> None:
        self.zone = {dns.name.from_text(n): list(recs) for n, recs in zone.items()}
        self.ttl = ttl
        self.queries: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dns-test", daemon=True)

    def __enter__(self) -> DnsServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            try:
                query = dns.message.from_wire(data)
            except dns.exception.DNSException:
                continue
            self._sock.sendto(self.answer(query).to_wire(), peer)

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        resp = dns.message.make_response(query)
        resp.flags |= dns.flags.AA
        q = query.question[0]
        self.queries.append(f"{dns.rdatatype.to_text(q.rdtype)} {q.name}")
        records = self.zone.get(q.name)
        if records is None:
            resp.set_rcode(dns.rcode.NXDOMAIN)
            return resp
        wanted = dns.rdatatype.to_text(q.rdtype)
        rdata = [r.split(" ", 1)[1] for r in records if r.split(" ", 1)[0] == wanted]
        if rdata:
            resp.answer.append(dns.rrset.from_text_list(q.name, self.ttl, dns.rdataclass.IN,
                                                        q.rdtype, rdata))
        return resp
