"""The SIP message trace an engineer switches on (``--sip-trace``, ``[sip] trace``): every
message sent and received, with transport and addresses, to the log (a ``sip_trace`` event)
and/or to a pcap file that Wireshark, sngrep and tcpdump open.

The pcap file is classic libpcap (microsecond timestamps, LINKTYPE_ETHERNET).  Each SIP
message becomes one packet with synthesized Ethernet, IPv4 or IPv6, and UDP or TCP headers
around its bytes (TCP with per-direction sequence numbers that advance by the payload, so
dissectors reassemble the stream).  Every packet is flushed as it is written: a killed daemon
leaves a readable file.  When the trace is off the transports hold ``None`` and pay one
``is not None`` test per message.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import time
from typing import BinaryIO

import structlog

from ..config.trace import TraceSetting

log = structlog.get_logger()

PCAP_MAGIC = 0xA1B2C3D4  # microsecond timestamps
LINKTYPE_ETHERNET = 1
SNAPLEN = 262144
_ETH_IPV4, _ETH_IPV6 = 0x0800, 0x86DD
_MAC_SRC, _MAC_DST = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
_TCP_PSH_ACK = 0x18
MAX_PAYLOAD = 65535 - 60 - 20  # what an IPv4 packet can carry with the largest headers


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:  # a name (should not happen on a socket): a documentation address
        return ipaddress.ip_address("192.0.2.1")


def packet(transport: str, src: tuple[str, int], dst: tuple[str, int], payload: bytes,
           seq: int = 0, ack: int = 0) -> bytes:
    """An Ethernet frame carrying ``payload`` from ``src`` to ``dst`` over UDP (``udp``) or
    TCP (any stream transport; ``seq``/``ack`` are its sequence numbers)."""
    s_ip, d_ip = _ip(src[0]), _ip(dst[0])
    v6 = s_ip.version == 6 or d_ip.version == 6
    if v6:
        s_ip, d_ip = (ipaddress.IPv6Address(f"::ffff:{a}") if a.version == 4 else a
                      for a in (s_ip, d_ip))
    proto = socket.IPPROTO_UDP if transport == "udp" else socket.IPPROTO_TCP
    if proto == socket.IPPROTO_UDP:
        l4 = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    else:
        l4 = struct.pack("!HHIIBBHHH", src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                         5 << 4, _TCP_PSH_ACK, 65535, 0, 0) + payload
    pseudo = (s_ip.packed + d_ip.packed
              + (struct.pack("!IxxxB", len(l4), proto) if v6
                 else struct.pack("!xBH", proto, len(l4))))
    csum = _checksum(pseudo + l4)
    if proto == socket.IPPROTO_UDP:
        csum = csum or 0xFFFF  # RFC 768: a computed zero is sent as all ones
    at = 6 if proto == socket.IPPROTO_UDP else 16
    l4 = l4[:at] + struct.pack("!H", csum) + l4[at + 2:]
    if v6:
        ip = struct.pack("!IHBB", 6 << 28, len(l4), proto, 64) + s_ip.packed + d_ip.packed
        eth_type = _ETH_IPV6
    else:
        head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0x4000, 64, proto, 0,
                           s_ip.packed, d_ip.packed)
        ip = head[:10] + struct.pack("!H", _checksum(head)) + head[12:]
        eth_type = _ETH_IPV4
    return _MAC_DST + _MAC_SRC + struct.pack("!H", eth_type) + ip + l4


class PcapWriter:
    """Classic pcap, one flushed record per SIP message."""

    def __init__(self, file: BinaryIO) -> None:
        self._f = file
        self._seq: dict[tuple[str, str, int, str, int], int] = {}
        file.write(struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET))
        file.flush()

    @classmethod
    def open(cls, path: str) -> PcapWriter:
        return cls(open(path, "wb"))

    def write(self, transport: str, src: tuple[str, int], dst: tuple[str, int], data: bytes,
              at: float) -> None:
        data = data[:MAX_PAYLOAD]
        seq = ack = 0
        if transport != "udp":  # a TCP flow per direction, sequence numbers from 1
            fwd = (transport, src[0], src[1], dst[0], dst[1])
            back = (transport, dst[0], dst[1], src[0], src[1])
            seq = self._seq.get(fwd, 1)
            ack = self._seq.get(back, 1)
            self._seq[fwd] = seq + len(data)
        frame = packet(transport, src, dst, data, seq, ack)
        sec = int(at)
        usec = min(int((at - sec) * 1e6), 999_999)
        self._f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
        self._f.flush()

    def close(self) -> None:
        self._f.close()


class SipTrace:
    """Where traced messages go: the log, a pcap file, or both."""

    def __init__(self, *, to_log: bool, pcap: PcapWriter | None) -> None:
        self.to_log = to_log
        self.pcap = pcap

    @classmethod
    def start(cls, setting: TraceSetting) -> SipTrace | None:
        """The trace ``setting`` asks for (None when off).  Raises OSError naming the file
        that cannot be opened."""
        if not setting.on:
            return None
        writer = None
        if setting.pcap is not None:
            try:
                writer = PcapWriter.open(setting.pcap)
            except OSError as e:
                raise OSError(f"cannot open the SIP trace file {setting.pcap}: "
                              f"{e.strerror or e}") from e
        log.warning("sip_trace_on", log=setting.log, pcap=setting.pcap)
        return cls(to_log=setting.log, pcap=writer)

    def message(self, direction: str, transport: str, src: tuple[str, int],
                dst: tuple[str, int], data: bytes) -> None:
        """One SIP message ``direction`` ("in" or "out") between ``src`` and ``dst``."""
        if self.pcap is not None:
            try:
                self.pcap.write(transport, src, dst, data, time.time())
            except (OSError, ValueError) as e:  # disk full, file closed: stop writing it
                log.error("sip_trace_write_failed", error=str(e))
                self.pcap = None
        if self.to_log:
            log.info("sip_trace", direction=direction, transport=transport,
                     src=_hostport(src), dst=_hostport(dst), size=len(data),
                     message=data.decode("utf-8", "replace"))

    def close(self) -> None:
        if self.pcap is not None:
            self.pcap.close()
            self.pcap = None


def _hostport(addr: tuple[str, int]) -> str:
    host = addr[0]
    return f"[{host}]:{addr[1]}" if ":" in host else f"{host}:{addr[1]}"
