"""Every call attempt leaves a CDR row, failed ones included; the operator's log lines about
them; the SIP trace to a pcap file that tcpdump reads.  SIPp on both sides, the daemon as a
process, rows read from DATA_DIR/ccswitch.db.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from e2e_daemon import Daemon, DaemonFactory
from e2e_media import query, settle
from e2e_sipp import Sipp, SippResult, dial_args
from e2e_util import free_port_block, wait_until
from test_sipp_calls import TIMEOUT, call, callee, creds, finish

from peers import require_peer

pytestmark = pytest.mark.e2e

CDR_SQL = ("SELECT call_id, sip_call_id, caller, callee, status, ended_by, answered, queue,"
           " agent FROM cdr ORDER BY id")


def sip_id(result: SippResult) -> str:
    """The Call-ID of the SIPp caller's (last) INVITE."""
    invites = result.requests("INVITE")
    assert invites, result.describe()
    value = invites[-1].header("Call-ID")
    assert value, result.describe()
    return value


def cdr_of(daemon: Daemon, result: SippResult) -> dict[str, Any]:
    """The one CDR row of the SIPp caller's call (waits for it: it is written at the end)."""
    sid = sip_id(result)

    def rows() -> list[dict[str, Any]]:
        return [r for r in query(daemon.data_dir, CDR_SQL) if r["sip_call_id"] == sid]

    assert wait_until(lambda: bool(rows()), timeout=5), (
        f"no CDR for {sid}: {query(daemon.data_dir, CDR_SQL)}\n{daemon.tail()}")
    (row,) = rows()
    assert re.fullmatch(r"[a-z0-9]{16}", row["call_id"]), row  # the switch's own call id
    return row


def shed(daemon: Daemon, result: SippResult) -> bool:
    """Whether `result` is a 503 of the overload guard (a loaded test machine), not the
    answer under test: its CDR says so.  Waits for the guard to clear before a retry."""
    statuses = result.received_statuses()
    if not statuses or statuses[-1] != 503:
        return False
    line = daemon.log.find("call_refused", sip_call_id=sip_id(result))
    if line is None or line.get("reason") != "overloaded":
        return False
    wait_until(lambda: [e["event"] for e in daemon.log.events()
                        if e.get("event") in ("overload", "overload_cleared")][-1:]
               == ["overload_cleared"], timeout=5)  # fmt: skip
    return True


def failed_call(sipp: Sipp, daemon: Daemon, caller: str, number: str,
                password: str | None = None) -> SippResult:
    for _ in range(3):
        result = sipp.run("uac_call_fail.xml", *dial_args(number, daemon.sip_port),
                          *creds(sipp, caller, password), remote=daemon.sip_port,
                          timeout=TIMEOUT)  # fmt: skip
        assert result.ok, result.describe()
        if not shed(daemon, result):
            break
    return result


def test_every_failed_attempt_has_a_cdr_and_a_log_line(sipp: Sipp,
                                                       start_daemon: DaemonFactory) -> None:
    daemon = settle(start_daemon())
    # 404: no such number; 480: a user without a registered phone (an agent: phones 1001-1020
    # have a mailbox, which would take the call)
    r404 = failed_call(sipp, daemon, "1001", "55555")
    r480 = failed_call(sipp, daemon, "1001", "2003")
    # 486: the callee (a SIPp UAS, an agent without a mailbox) is busy
    uas = callee(sipp, daemon, "2010", "uas_busy.xml")
    try:
        r486 = failed_call(sipp, daemon, "1009", "2010")
        assert finish(uas).ok
    finally:
        uas.stop()
    # 487: the caller cancels while the callee rings
    uas = callee(sipp, daemon, "1006", "uas_cancelled.xml")
    try:
        r487 = call(sipp, daemon, "uac_cancel.xml", "1005", "1006")
        assert r487.ok, r487.describe()
        assert finish(uas).ok
    finally:
        uas.stop()
    # 403: five wrong passwords block (source, user); the sixth attempt is refused
    guesses = [failed_call(sipp, daemon, "1014", "1002", "guess") for _ in range(6)]
    assert [g.received_statuses()[-1] for g in guesses] == [407] * 5 + [403]
    # and an answered call for comparison, hung up by the caller
    uas = callee(sipp, daemon, "1002", "uas_answer.xml")
    try:
        r200 = call(sipp, daemon, "uac_call.xml", "1001", "1002")
        assert r200.ok, r200.describe()
        assert finish(uas).ok
    finally:
        uas.stop()

    expect = [(r404, 404, "switch", "1001", "55555"), (r480, 480, "switch", "1001", "2003"),
              (r486, 486, "callee", "1009", "2010"), (r487, 487, "caller", "1005", "1006"),
              (guesses[-1], 403, "switch", "1014", "1002"),
              (r200, 200, "caller", "1001", "1002")]
    for result, status, ended_by, caller, number in expect:
        assert result.received_statuses()[-1] == status or status == 200, result.describe()
        row = cdr_of(daemon, result)
        assert (row["status"], row["ended_by"], row["caller"], row["callee"]) == (
            status, ended_by, caller, number), row
        assert (row["answered"] is not None) == (status == 200), row
    # the challenged attempts left no CDR: only the 403 among the six guesses did
    guessed = {sip_id(g) for g in guesses}
    assert [r["status"] for r in query(daemon.data_dir, CDR_SQL)
            if r["sip_call_id"] in guessed] == [403]

    # refusals are logged with the CDR's call id and a reason
    for result, status, why in ((r404, 404, "no such number"),
                                (r480, 480, "user not registered")):
        row = cdr_of(daemon, result)
        line = daemon.log.find("call_refused", call_id=row["call_id"])
        assert line is not None and (line["status"], line["reason"]) == (status, why), line
    # every call line of the answered call carries its id
    answered = cdr_of(daemon, r200)
    for event in ("call_started", "call_answered", "call_ended", "cdr"):
        assert daemon.log.find(event, call_id=answered["call_id"]) is not None, event

    # failed authentication, fail2ban-friendly: one event name, user, plain source address
    failed = [e for e in daemon.log.events()
              if e.get("event") == "auth_failed" and e.get("user") == "1014"]
    assert [e["reason"] for e in failed] == ["wrong_password"] * 5 + ["blocked"], failed
    assert all(e["level"] == "info" and re.fullmatch(r"127\.0\.0\.1:\d+", e["source"])
               and e["ip"] == "127.0.0.1" for e in failed), failed
    blocked = daemon.log.find("auth_blocked", user="1014")
    assert blocked is not None and blocked["failures"] == 5, blocked


def test_no_free_rtp_port_is_a_503_attempt(sipp: Sipp, start_daemon: DaemonFactory) -> None:
    lo = free_port_block(2)
    daemon = settle(start_daemon(extra_args=("--rtp-ports", f"{lo}-{lo + 1}")))  # a call: 2 legs
    reg = sipp.run("register.xml", *creds(sipp, "1002"), remote=daemon.sip_port, timeout=10)
    assert reg.ok, reg.describe()
    result = failed_call(sipp, daemon, "1001", "1002")
    assert result.received_statuses()[-1] == 503
    row = cdr_of(daemon, result)
    assert (row["status"], row["ended_by"], row["answered"]) == (503, "switch", None), row
    line = daemon.log.find("call_refused", call_id=row["call_id"])
    assert line is not None and line["reason"] == "no RTP port free", line


def test_sip_trace_to_a_pcap_that_tcpdump_reads(sipp: Sipp, start_daemon: DaemonFactory,
                                                tmp_path: Path) -> None:
    tcpdump = require_peer("tcpdump")
    pcap = tmp_path / "sip.pcap"
    daemon = settle(start_daemon(extra_args=("--sip-trace", f"log,pcap:{pcap}")))
    uas = callee(sipp, daemon, "1004", "uas_answer.xml")
    try:
        uac = call(sipp, daemon, "uac_call.xml", "1003", "1004")
        assert uac.ok, uac.describe()
        assert finish(uas).ok
    finally:
        uas.stop()
    assert wait_until(lambda: daemon.log.find("cdr") is not None, timeout=5)
    traced = [e for e in daemon.log.events() if e.get("event") == "sip_trace"]
    # read while the daemon still runs: every packet is flushed as it is written
    out = subprocess.run([tcpdump, "-r", str(pcap), "-nn", "-vv", "-A"], capture_output=True,
                         text=True, timeout=30)  # fmt: skip
    assert out.returncode == 0, out.stderr
    headers = [line for line in out.stdout.splitlines() if re.match(r"\d\d:\d\d:\d\d\.", line)]
    assert len(headers) == len(traced) >= 10, (len(headers), len(traced), out.stdout[-3000:])
    assert "bad udp cksum" not in out.stdout and "[udp sum ok]" in out.stdout
    # every message SIPp sent and received is in the file, with its addresses
    for msg in uac.sent() + uac.received():
        assert msg.first_line in out.stdout, msg.first_line
    assert f"127.0.0.1.{daemon.sip_port} > 127.0.0.1." in out.stdout
    assert sip_id(uac) in out.stdout
    # and in the log: direction, transport, addresses and the text
    ins = [e for e in traced if e["direction"] == "in"]
    assert ins and all(e["transport"] == "udp" and e["dst"].endswith(f":{daemon.sip_port}")
                       for e in ins)
    assert any(e["message"].startswith("INVITE sip:1004@") for e in ins)
