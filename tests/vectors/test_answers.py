"""The switch's answer to every vector, over UDP and TCP, in process (``answers.toml``).

Each vector goes into a fresh ``Signaling`` core on the demo configuration the way the shell
hands it over: a datagram whole, or a stream cut by ``StreamFramer`` (a framing fault answered
through ``answer_bad``).  The first final response must carry the indexed status — or nothing
may be sent at all where the index says 0 (a response matching no transaction, a stream
still waiting for its body).  ``tests/e2e/test_torture.py`` sends the same over real sockets.
"""

from __future__ import annotations

import random
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ccswitch.call.signaling import Listener, Signaling
from ccswitch.config.schema import parse_config
from ccswitch.ids import Ids
from ccswitch.sip.addr import Address
from ccswitch.sip.framing import FramingError, Ping, StreamFramer
from ccswitch.sip.message import Headers, parse_head

HERE = Path(__file__).parent
DEMO = HERE.parent.parent / "configs" / "demo.toml"
ANSWERS: dict[str, dict[str, Any]] = tomllib.loads((HERE / "answers.toml").read_text())
DIRS = ("valid", "invalid", "rfc4475")


def expected(name: str, transport: str) -> int:
    entry = ANSWERS[name]
    return int(entry.get(transport, entry["answer"]))


def signaling() -> Signaling:
    return Signaling(config=parse_config(DEMO.read_text(), "demo.toml"),
                     listeners=[Listener("udp", "127.0.0.1", 5060),
                                Listener("tcp", "127.0.0.1", 5060)],
                     ids=Ids(random.Random(5)))


class Answer:
    """A response as sent: its status line and headers (read with ``parse_head``, since an
    answer to a broken request echoes the broken headers, which ``parse_message`` refuses)."""

    def __init__(self, wire: bytes) -> None:
        start, items = parse_head(wire.split(b"\r\n\r\n", 1)[0])
        version, code, self.reason = start.split(" ", 2)
        assert version == "SIP/2.0", "the switch sent a request to a torture vector"
        self.status = int(code)
        self.headers = Headers([(n, v) for _, n, v in items])


def answers(data: bytes, transport: str) -> list[Answer]:
    """Every response the core sends back for ``data`` arriving over ``transport``."""
    sig = signaling()
    source = Address(transport, "127.0.0.1", 40000, 1 if transport == "tcp" else None)
    if transport == "udp":
        sig.receive(data, source, 10.0)
    else:
        framer = StreamFramer()
        try:
            frames = framer.feed(data)
            fault = None
        except FramingError as e:
            frames, fault = e.frames, e
        for f in frames:
            if not isinstance(f, Ping):
                sig.receive(f, source, 10.0)
        if fault is not None:
            sig.answer_bad(fault.pending, fault, source)
    out = []
    for wire, dest in sig.outbox():
        assert dest == source, "an answer goes back where the request came from"
        out.append(Answer(wire))
    return out


def test_every_vector_has_an_answer_entry_and_every_entry_a_vector() -> None:
    files = {f"{p.parent.name}/{p.stem}" for d in DIRS for p in (HERE / d).glob("*.sip")}
    assert files == set(ANSWERS)
    rfc = [n for n in ANSWERS if n.startswith("rfc4475/")]
    sections = {ANSWERS[n]["rfc"] for n in rfc}
    # every message description of RFC 4475 §3 has at least one vector of ours
    assert len([s for s in sections if s.startswith("3.1.1.")]) == 13
    assert len([s for s in sections if s.startswith("3.1.2.")]) == 19
    assert len([s for s in sections if s.startswith("3.3.")]) == 15
    assert {"3.2.1", "3.4.1"} <= sections


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_vector_gets_the_indexed_answer(name: str, transport: str) -> None:
    data = (HERE / f"{name}.sip").read_bytes()
    sent = answers(data, transport)
    finals = [r for r in sent if r.status >= 200]
    want = expected(name, transport)
    if want == 0:
        assert sent == [], f"expected no answer, got {[(r.status, r.reason) for r in sent]}"
        return
    assert finals, "no final answer"
    first = finals[0]
    assert first.status == want, (first.status, first.reason)
    assert first.reason, "every answer carries a reason phrase"
    assert all(r.status == 100 for r in sent[: sent.index(first)])
    if "unsupported" in ANSWERS[name]:
        assert first.headers.get("unsupported") == ANSWERS[name]["unsupported"]
    if first.status == 415:
        assert first.headers.get("accept") == "application/sdp"
    if first.status in (405, 501):
        assert first.headers.get("allow")
