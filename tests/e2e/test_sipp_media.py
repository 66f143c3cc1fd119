"""SIPp plays Debian's RTP pcaps through the daemon: echo 9196, RFC 4733 digits, relay.

SIPp's play_pcap_audio sends the packets of /usr/share/sip-tester/*.pcap unchanged (payload
types, SSRC, sequence numbers, timestamps) from its media port to the address in the SDP
answer, through a raw socket. tcpdump on `lo` records every RTP packet to and from the
daemon's RTP ports, so each check reads what really crossed the wire; the daemon's JSON
log gives the `digit` events.
"""

from __future__ import annotations

import time
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest
from e2e_daemon import Daemon, DaemonFactory
from e2e_media import (
    Capture,
    Rtp,
    events,
    require_capture,
    rtp_ports,
    sdp_audio,
    settle,
)
from e2e_sipp import Sipp, SippResult, dial_args
from e2e_util import LOOPBACK, free_port

from peers import require_peer

pytestmark = pytest.mark.e2e

TIMEOUT = 20.0
PCMA, TE = 8, 101
ECHO_DIGITS = ["0"]  # uac_pcap_echo.xml, after g711a.pcap
ALL_DIGITS = list("123456789*#")  # uac_pcap_dtmf.xml
G711A_PACKETS = 236  # packets in g711a.pcap


@pytest.fixture
def daemon(start_daemon: DaemonFactory) -> Daemon:
    """A ready daemon (demo configuration) whose media workers are up (see `settle`)."""
    return settle(start_daemon())


@pytest.fixture(autouse=True)
def _peers() -> None:
    """SIPp's pcap play and tcpdump need raw sockets; the pcaps come with sip-tester."""
    require_capture()
    require_peer("sipp-pcaps")


def creds(sipp: Sipp, user: str) -> tuple[str, ...]:
    return ("-inf", str(sipp.credentials(user, f"pw{user}")))


def media_port(command: tuple[str, ...] | list[str]) -> int:
    """The -mp port of a SIPp command line."""
    return int(command[list(command).index("-mp") + 1])


def answer_sdp(result: SippResult) -> tuple[str, int]:
    """(address, port) of the SDP in the 200 OK to the INVITE that SIPp received."""
    for m in result.received():
        if m.status == 200 and "m=audio" in m.text:
            got = sdp_audio(m.text)
            assert got is not None, m.text
            return got
    raise AssertionError("no 200 OK with SDP\n" + result.describe())


def assert_in_range(addr: tuple[str, int], daemon: Daemon, what: str) -> None:
    lo, hi = rtp_ports(daemon)
    assert addr[0] == LOOPBACK and lo <= addr[1] <= hi, (
        f"{what} names {addr[0]}:{addr[1]}, not the daemon's RTP range {lo}-{hi}: "
        "media is not anchored"
    )


def flow(packets: list[Rtp], *, src: int | None = None, dst: int | None = None) -> list[Rtp]:
    """Packets from port `src` and/or to port `dst`."""
    return [
        p for p in packets if (src is None or p.src[1] == src) and (dst is None or p.dst[1] == dst)
    ]


def unechoed(sent: list[Rtp], back: list[Rtp]) -> list[Rtp]:
    """The sent audio packets whose payload did not come back (payloads as a multiset)."""
    have = Counter(p.payload for p in back)
    missing: list[Rtp] = []
    for p in sent:
        if have[p.payload] > 0:
            have[p.payload] -= 1
        else:
            missing.append(p)
    return missing


def digits(daemon: Daemon, count: int, timeout: float = 3.0) -> dict[int, list[str]]:
    """The daemon's `digit` events, keys per leg, once `count` of them arrived (or timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for e in daemon.log.events() if e.get("event") == "digit") >= count:
            break
        time.sleep(0.1)
    by_leg: dict[int, list[str]] = {}
    for e in daemon.log.events():
        if e.get("event") == "digit":
            assert e.get("method") == "rfc4733", f"RFC 4733 digit reported as {e}"
            by_leg.setdefault(int(e["leg"]), []).append(str(e["key"]))
    return by_leg


def test_harness_pcap_scenario_against_sipp_rtp_echo(sipp: Sipp, tmp_path: Path) -> None:
    """The harness itself, without the daemon: uac_pcap_dtmf.xml against a SIPp that
    answers (mock/switch_answer.xml) and echoes RTP (-rtp_echo); the capture sees the 11
    events go out and come back."""
    port = free_port()
    srv = sipp.start("mock/switch_answer.xml", "-rtp_echo", local_port=port, timeout=TIMEOUT)
    try:
        time.sleep(0.3)  # let the server SIPp bind its port
        srv_mp = media_port(srv.command)
        with Capture(tmp_path / "mock.pcap", f"udp and port {srv_mp}") as cap:
            uac = sipp.run(
                "uac_pcap_dtmf.xml", *dial_args("9196", port), *creds(sipp, "1001"),
                remote=port, timeout=TIMEOUT,
            )  # fmt: skip
        uac_mp = media_port(uac.command)
        srv_result = srv.wait(TIMEOUT)
    finally:
        srv.stop()
    assert uac.ok, uac.describe()
    assert srv_result.ok, srv_result.describe()
    packets = cap.rtp()
    out = flow(packets, src=uac_mp, dst=srv_mp)
    back = flow(packets, src=srv_mp, dst=uac_mp)
    assert events(out, TE) == ALL_DIGITS, f"sent {len(out)} packets: {events(out, TE)}"
    assert len(out) == 10 * len(ALL_DIGITS)  # every packet of every pcap
    assert events(back, TE) == ALL_DIGITS, f"echoed {len(back)} packets"


def test_echo_9196_returns_the_g711a_pcap_and_reports_digits(
    sipp: Sipp, daemon: Daemon, tmp_path: Path
) -> None:
    lo, hi = rtp_ports(daemon)
    with Capture(tmp_path / "echo.pcap", f"udp and portrange {lo}-{hi}") as cap:
        uac = sipp.run(
            "uac_pcap_echo.xml", *dial_args("9196", daemon.sip_port), *creds(sipp, "1001"),
            remote=daemon.sip_port, timeout=TIMEOUT,
        )  # fmt: skip
    assert uac.ok, uac.describe()
    ours = answer_sdp(uac)
    assert_in_range(ours, daemon, "the SDP answer of 9196")
    mp = media_port(uac.command)
    packets = cap.rtp()
    sent = flow(packets, src=mp, dst=ours[1])
    back = flow(packets, src=ours[1], dst=mp)
    sent_audio = [p for p in sent if p.pt == PCMA]
    back_audio = [p for p in back if p.pt == PCMA]
    assert len(sent_audio) == G711A_PACKETS, f"SIPp sent {len(sent_audio)} PCMA packets"
    stray = Counter((p.src, p.dst) for p in packets if p not in sent and p not in back)
    assert not stray, f"RTP on the daemon's ports outside the call's flow: {stray}"
    missing = len(unechoed(sent_audio, back_audio))
    first_back = 1e3 * (back_audio[0].time - sent_audio[0].time) if back_audio else -1.0
    assert missing == 0, (
        f"9196 did not echo {missing} of the {len(sent_audio)} A-law packets "
        f"({len(back_audio)} came back); the first echoed packet left {first_back:.1f} ms "
        f"after the first one sent (payloads repeat in silence: which ones is ambiguous)"
    )
    ssrcs = {p.ssrc for p in back_audio}
    assert len(ssrcs) == 1, f"echoed audio with SSRCs {[hex(s) for s in ssrcs]}"
    steps = Counter((b.seq - a.seq) % 65536 for a, b in pairwise(back_audio))
    assert set(steps) == {1}, f"echoed sequence numbers not continuous: steps {steps}"
    assert events(back, TE) == ECHO_DIGITS, f"telephone-events echoed: {events(back, TE)}"

    by_leg = digits(daemon, len(ECHO_DIGITS))
    assert list(by_leg.values()) == [ECHO_DIGITS], (
        f"digit events per leg {by_leg}, expected {ECHO_DIGITS} on the caller's leg"
    )


def test_digits_of_a_caller_reach_a_registered_callee(
    sipp: Sipp, daemon: Daemon, tmp_path: Path
) -> None:
    """SIPp 1005 calls SIPp 1006 (registered, PCMA, echoing RTP); the 11 RFC 4733 digits
    are relayed to the callee and back, and the daemon reports them on the caller's leg."""
    port = free_port()
    reg = sipp.run(
        "register.xml", *creds(sipp, "1006"), remote=daemon.sip_port, local_port=port, timeout=10
    )
    assert reg.ok, reg.describe()
    lo, hi = rtp_ports(daemon)
    uas = sipp.start("uas_answer_pcma.xml", "-rtp_echo", local_port=port, timeout=TIMEOUT)
    try:
        with Capture(tmp_path / "b2bua.pcap", f"udp and portrange {lo}-{hi}") as cap:
            uac = sipp.run(
                "uac_pcap_dtmf.xml", *dial_args("1006", daemon.sip_port), *creds(sipp, "1005"),
                remote=daemon.sip_port, timeout=TIMEOUT,
            )  # fmt: skip
        uas_result = uas.wait(TIMEOUT)
    finally:
        uas.stop()
    assert uac.ok, uac.describe()
    assert uas_result.ok, uas_result.describe()
    to_caller = answer_sdp(uac)
    assert_in_range(to_caller, daemon, "the 200 OK the caller got")
    (invite,) = uas_result.requests("INVITE", "received")
    to_callee = sdp_audio(invite.text)
    assert to_callee is not None, invite.text
    assert_in_range(to_callee, daemon, "the INVITE the callee got")

    packets = cap.rtp()
    a_mp, b_mp = media_port(uac.command), media_port(uas.command)
    sent = flow(packets, src=a_mp, dst=to_caller[1])
    at_callee = flow(packets, src=to_callee[1], dst=b_mp)
    at_caller = flow(packets, src=to_caller[1], dst=a_mp)
    assert events(sent, TE) == ALL_DIGITS, f"SIPp sent {events(sent, TE)}"
    assert events(at_callee, TE) == ALL_DIGITS, (
        f"the callee got telephone-events {events(at_callee, TE)} "
        f"({len(at_callee)} packets, payload types {sorted({p.pt for p in at_callee})})"
    )
    assert events(at_caller, TE) == ALL_DIGITS, (
        f"the callee's echo reached the caller as {events(at_caller, TE)} ({len(at_caller)} pkts)"
    )

    by_leg = digits(daemon, len(ALL_DIGITS))
    assert by_leg, f"no digit events in the daemon log\n{daemon.tail()}"
    first = next(int(e["leg"]) for e in daemon.log.events() if e.get("event") == "digit")
    assert by_leg[first] == ALL_DIGITS, f"digit events per leg: {by_leg}"
    for leg, keys in by_leg.items():  # the callee's echo, if its leg reports digits too
        assert keys == ALL_DIGITS, f"leg {leg} reported {keys}"
