"""The SIP trace: its setting, the pcap file it writes (read back here field by field; the
e2e test has tcpdump read a real one) and its log events."""

from __future__ import annotations

import io
import ipaddress
import struct

import pytest
from structlog.testing import capture_logs

from ccswitch.cli import build_config, build_parser
from ccswitch.config.schema import apply_overrides, parse_config
from ccswitch.config.trace import TraceSetting, parse_trace
from ccswitch.errors import ConfigError
from ccswitch.io.trace import LINKTYPE_ETHERNET, PcapWriter, SipTrace, _checksum

INVITE = b"INVITE sip:1002@127.0.0.1 SIP/2.0\r\nCall-ID: x\r\n\r\n"


def records(data: bytes) -> tuple[tuple[int, ...], list[tuple[float, bytes]]]:
    head = struct.unpack("<IHHiIII", data[:24])
    out, at = [], 24
    while at < len(data):
        sec, usec, incl, orig = struct.unpack("<IIII", data[at:at + 16])
        assert incl == orig
        out.append((sec + usec / 1e6, data[at + 16:at + 16 + incl]))
        at += 16 + incl
    assert at == len(data), "a truncated record"
    return head, out


def ipv4_udp(frame: bytes) -> tuple[str, int, str, int, bytes]:
    assert frame[12:14] == b"\x08\x00"
    ip = frame[14:34]
    assert ip[0] == 0x45 and ip[9] == 17 and _checksum(ip) == 0  # a valid header checksum
    total = struct.unpack("!H", ip[2:4])[0]
    udp = frame[34:14 + total]
    sport, dport, length, _ = struct.unpack("!HHHH", udp[:8])
    assert length == len(udp)
    pseudo = ip[12:20] + struct.pack("!xBH", 17, length)
    assert _checksum(pseudo + udp) == 0  # a valid UDP checksum
    src, dst = str(ipaddress.IPv4Address(ip[12:16])), str(ipaddress.IPv4Address(ip[16:20]))
    return src, sport, dst, dport, udp[8:]


def test_the_setting_is_off_log_pcap_or_both() -> None:
    assert parse_trace("") == parse_trace("off") == TraceSetting()
    assert not TraceSetting().on
    assert parse_trace("log") == TraceSetting(log=True)
    assert parse_trace("pcap:/tmp/s.pcap") == TraceSetting(pcap="/tmp/s.pcap")
    assert parse_trace("log, pcap:s.pcap") == TraceSetting(True, "s.pcap")
    for bad in ("yes", "pcap:", "file:/x"):
        with pytest.raises(ValueError):
            parse_trace(bad)


def test_the_flag_and_the_config_key() -> None:
    args = build_parser().parse_args(["serve", "--sip-trace"])
    assert build_config(args).sip.trace == "log"
    args = build_parser().parse_args(["serve", "--sip-trace", "pcap:/tmp/x.pcap"])
    assert build_config(args).sip.trace == "pcap:/tmp/x.pcap"
    assert build_config(build_parser().parse_args(["serve"])).sip.trace == ""
    with pytest.raises(ConfigError, match="--sip-trace"):
        apply_overrides(build_config(build_parser().parse_args(["serve"])), sip_trace="yes")
    config = parse_config('[sip]\ntrace = "log,pcap:/tmp/t.pcap"\n', "t.toml")
    assert config.sip.trace == "log,pcap:/tmp/t.pcap"
    with pytest.raises(ConfigError, match=r"t\.toml.*sip\.trace"):
        parse_config('[sip]\ntrace = "bogus"\n', "t.toml")


def test_udp_messages_become_ipv4_udp_packets_flushed_one_by_one() -> None:
    f = io.BytesIO()
    w = PcapWriter(f)
    w.write("udp", ("127.0.0.1", 5062), ("127.0.0.1", 5060), INVITE, 1000.25)
    size_after_one = len(f.getvalue())
    w.write("udp", ("127.0.0.1", 5060), ("192.0.2.7", 5062), b"SIP/2.0 100 Trying\r\n\r\n",
            1001.5)
    head, recs = records(f.getvalue())
    assert head == (0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET)
    assert len(records(f.getvalue()[:size_after_one])[1]) == 1  # written at once, whole
    (t1, p1), (t2, p2) = recs
    assert (t1, t2) == (1000.25, 1001.5)
    assert ipv4_udp(p1) == ("127.0.0.1", 5062, "127.0.0.1", 5060, INVITE)
    assert ipv4_udp(p2)[:4] == ("127.0.0.1", 5060, "192.0.2.7", 5062)


def test_tcp_messages_carry_advancing_sequence_numbers_per_direction() -> None:
    f = io.BytesIO()
    w = PcapWriter(f)
    a, b = ("127.0.0.1", 40000), ("127.0.0.1", 5060)
    w.write("tcp", a, b, INVITE, 1.0)
    w.write("tcp", b, a, b"SIP/2.0 100 Trying\r\n\r\n", 1.1)
    w.write("tcp", a, b, b"ACK", 1.2)
    _, recs = records(f.getvalue())
    tcp = []
    for _, frame in recs:
        ip = frame[14:34]
        assert ip[9] == 6 and _checksum(ip) == 0
        seg = frame[34:]
        sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", seg[:14])
        pseudo = ip[12:20] + struct.pack("!xBH", 6, len(seg))
        assert _checksum(pseudo + seg) == 0 and off >> 4 == 5 and flags == 0x18
        tcp.append((sport, dport, seq, ack, seg[20:]))
    assert tcp[0] == (40000, 5060, 1, 1, INVITE)
    assert tcp[1][2:4] == (1, 1 + len(INVITE))
    assert tcp[2][2:] == (1 + len(INVITE), 1 + len(tcp[1][4]), b"ACK")


def test_ipv6_addresses_make_ipv6_packets() -> None:
    f = io.BytesIO()
    PcapWriter(f).write("udp", ("::1", 5062), ("::1", 5060), INVITE, 1.0)
    (_, frame), = records(f.getvalue())[1]
    assert frame[12:14] == b"\x86\xdd" and frame[14] >> 4 == 6 and frame[20] == 17
    assert frame[-len(INVITE):] == INVITE


def test_the_log_sink_names_direction_transport_and_addresses() -> None:
    trace = SipTrace(to_log=True, pcap=None)
    with capture_logs() as logs:
        trace.message("in", "udp", ("127.0.0.1", 5062), ("127.0.0.1", 5060), INVITE)
    (e,) = logs
    assert (e["event"], e["direction"], e["transport"], e["src"], e["dst"]) == (
        "sip_trace", "in", "udp", "127.0.0.1:5062", "127.0.0.1:5060")
    assert e["message"] == INVITE.decode() and e["size"] == len(INVITE)


def test_off_is_none_and_an_unwritable_file_is_named() -> None:
    assert SipTrace.start(TraceSetting()) is None
    with pytest.raises(OSError, match=r"/nonexistent/dir/t\.pcap"):
        SipTrace.start(TraceSetting(pcap="/nonexistent/dir/t.pcap"))
