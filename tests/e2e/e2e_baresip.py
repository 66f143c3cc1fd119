"""Drive baresip 1.0 as a test phone: its own config dir, aufile audio, ctrl_tcp commands.

Each phone plays a WAV file as its microphone (`aufile` source), records what it sends
and what it receives (`sndfile` filter: dump-*-enc.wav and dump-*-dec.wav under
rec/), has no sound device (`aubridge` as the player), and is driven over the
`ctrl_tcp` module: netstring-framed JSON commands, responses and events.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from e2e_util import LOOPBACK, free_port, free_port_block

from peers import BARESIP_MODULE_PATH as MODULE_PATH

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _free_sip_port() -> int:
    """A port free for SIP on UDP+TCP whose next port is free for TCP (baresip's TLS)."""
    for _ in range(100):
        port = free_port()
        if port < 65535 and _tcp_free(port + 1):
            return port
    raise RuntimeError("no free port pair for baresip")


def _tcp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


class BaresipError(RuntimeError):
    """baresip did not start, answer or raise the expected event; carries its output."""


class Baresip:
    """One baresip process with one account line (`{sip_port}` is replaced by its port)."""

    def __init__(
        self,
        binary: str,
        workdir: Path,
        *,
        account: str,
        source_wav: Path,
        modules: tuple[str, ...] = (),
    ):
        """``modules``: more application modules to load (``mwi.so``)."""
        self.binary = binary
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rec = self.dir / "rec"
        self.rec.mkdir(exist_ok=True)
        self.sip_port = _free_sip_port()
        self.ctrl_port = free_port(udp=False)
        rtp = free_port_block(8)
        self.rtp_ports = (rtp, rtp + 7)  # inclusive: where this phone receives RTP
        (self.dir / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen {LOOPBACK}:{self.sip_port}",
                    f"net_interface {LOOPBACK}",
                    "call_local_timeout 30",
                    "call_max_calls 4",
                    "audio_player aubridge,nil",
                    "audio_alert aubridge,nil",
                    f"audio_source aufile,{source_wav}",
                    f"rtp_ports {rtp}-{rtp + 7}",
                    "jitter_buffer_delay 1-5",
                    f"module_path {MODULE_PATH}",
                    "module g711.so",
                    "module aufile.so",
                    "module sndfile.so",
                    "module aubridge.so",
                    "module_tmp account.so",
                    "module_app menu.so",
                    *(f"module_app {m}" for m in modules),
                    "module_app ctrl_tcp.so",
                    f"ctrl_tcp_listen {LOOPBACK}:{self.ctrl_port}",
                    f"snd_path {self.rec}",
                    "",
                ]
            )
        )
        self.account = account.replace("{sip_port}", str(self.sip_port))
        # baresip 1.0.0's mwi module walks its list of subscriptions in a 1 ms timer started
        # at load, and each step appends one more: when REGISTER_OK (which adds the first)
        # comes before that timer has run, it loops for ever, sending a new SUBSCRIBE each
        # turn and never answering ctrl_tcp again (docs/voicemail.md).  With mwi the account
        # is therefore created (and registers) by `uanew` once the main loop is running.
        late = "mwi.so" in modules
        (self.dir / "accounts").write_text("" if late else self.account + "\n")
        self._log = (self.dir / "baresip.log").open("wb")
        self.proc = subprocess.Popen(
            [binary, "-f", str(self.dir)],
            cwd=self.dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._messages: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        try:
            self._sock = self._connect(timeout=10.0)
        except BaresipError:
            self.proc.kill()
            self.proc.wait()
            self._log.close()
            raise
        self._tokens = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if late:
            self.command("about")  # the main loop runs: mwi's 1 ms timer is due
            time.sleep(0.2)  # and has fired on an empty list
            self._ok("uanew", self.account)

    # -- control channel ---------------------------------------------------------------
    def _connect(self, timeout: float) -> socket.socket:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise BaresipError(f"baresip exited {self.proc.returncode}\n{self.output()}")
            try:
                return socket.create_connection((LOOPBACK, self.ctrl_port), timeout=1.0)
            except OSError:
                if time.monotonic() > deadline:
                    raise BaresipError(f"ctrl_tcp not listening\n{self.output()}") from None
                time.sleep(0.05)

    def _read(self) -> None:
        buf = b""
        self._sock.settimeout(None)
        while True:
            try:
                chunk = self._sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            while True:
                colon = buf.find(b":")
                if colon < 0:
                    break
                size = int(buf[:colon])
                if len(buf) < colon + 1 + size + 1:
                    break
                body = buf[colon + 1 : colon + 1 + size]
                buf = buf[colon + 2 + size :]
                try:
                    msg = json.loads(body)
                except ValueError:
                    continue
                with self._cond:
                    self._messages.append(msg)
                    self._cond.notify_all()

    def command(self, name: str, params: str = "", timeout: float = 5.0) -> dict[str, Any]:
        """Run a baresip command (menu module) and return its response."""
        self._tokens += 1
        token = f"t{self._tokens}"
        body = json.dumps({"command": name, "params": params, "token": token}).encode()
        self._sock.sendall(str(len(body)).encode() + b":" + body + b",")
        resp = self._wait(lambda m: m.get("response") and m.get("token") == token, timeout)
        if resp is None:
            raise BaresipError(f"no response to {name!r}\n{self.output()}")
        return resp

    def events(self) -> list[dict[str, Any]]:
        with self._cond:
            return [m for m in self._messages if m.get("event")]

    def wait_event(self, kind: str, timeout: float, **fields: Any) -> dict[str, Any]:
        """The first event of type `kind` (e.g. REGISTER_OK, CALL_ESTABLISHED)."""
        found = self._wait(
            lambda m: (
                bool(m.get("event"))
                and m.get("type") == kind
                and all(m.get(k) == v for k, v in fields.items())
            ),
            timeout,
        )
        if found is None:
            seen = [e.get("type") for e in self.events()]
            raise BaresipError(
                f"no {kind} event within {timeout:.0f} s (events: {seen})\n{self.output()}"
            )
        return found

    def wait_nth(self, kind: str, n: int, timeout: float) -> dict[str, Any]:
        """The `n`-th event (1-based) of type `kind`: a phone's second call, say."""
        found = self._wait(
            lambda _m: len([e for e in self.events() if e.get("type") == kind]) >= n, timeout
        )
        if found is None:
            seen = [e.get("type") for e in self.events()]
            raise BaresipError(
                f"no {kind} #{n} within {timeout:.0f} s (events: {seen})\n{self.output()}"
            )
        return [e for e in self.events() if e.get("type") == kind][n - 1]

    def _wait(self, match: Any, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for m in self._messages:
                    if match(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def wait_registered(self, timeout: float) -> str:
        """Poll `reginfo` until the account shows OK; return the registration info."""
        deadline = time.monotonic() + timeout
        while True:
            info = _ANSI.sub("", str(self.command("reginfo").get("data", "")))
            if re.search(r"\sOK\s", info):
                return info
            if time.monotonic() > deadline:
                raise BaresipError(
                    f"not registered within {timeout:.0f} s: {info}\n{self.output()}"
                )
            time.sleep(0.1)

    # -- calls -------------------------------------------------------------------------
    def dial(self, uri: str) -> None:
        resp = self.command("dial", uri)
        if not resp.get("ok"):
            raise BaresipError(f"dial {uri} refused: {resp}")

    def hangup(self) -> None:
        self.command("hangup")

    def _ok(self, name: str, params: str = "") -> dict[str, Any]:
        resp = self.command(name, params)
        if not resp.get("ok"):
            raise BaresipError(f"{name} {params} refused: {resp}\n{self.output()}")
        return resp

    def transfer(self, uri: str) -> None:
        """Blind-transfer the current call to `uri`: baresip sends REFER (RFC 3515) with
        ``Refer-To: <uri>`` and, on the final NOTIFY, hangs up by itself."""
        self._ok("transfer", uri)

    def hold(self) -> None:
        """Put the current call on hold: a re-INVITE whose SDP says ``a=sendonly``."""
        self._ok("hold")

    def resume(self) -> None:
        """Take the current call off hold: a re-INVITE with ``a=sendrecv``."""
        self._ok("resume")

    def send_digits(self, keys: str) -> None:
        """Send `keys` as RFC 4733 telephone-events, one after the other (``sndcode``)."""
        self._ok("sndcode", keys)

    def closed_reason(self, timeout: float) -> str:
        """Wait for CALL_CLOSED and return its reason text (e.g. "403 Forbidden")."""
        ev = self.wait_event("CALL_CLOSED", timeout=timeout)
        return str(ev.get("param", ""))

    def closed(self) -> bool:
        """Whether a CALL_CLOSED event has come."""
        return any(e.get("type") == "CALL_CLOSED" for e in self.events())

    def recordings(self) -> tuple[Path, Path]:
        """(sent, received) WAV files of the last call."""
        enc = sorted(self.rec.glob("dump-*-enc.wav"))
        dec = sorted(self.rec.glob("dump-*-dec.wav"))
        if not enc or not dec:
            raise BaresipError(f"no recordings in {self.rec}\n{self.output()}")
        return enc[-1], dec[-1]

    # -- lifetime ----------------------------------------------------------------------
    def output(self, tail: int = 3000) -> str:
        if not self._log.closed:
            self._log.flush()
        try:
            text = (self.dir / "baresip.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return text[-tail:]

    def stop(self) -> None:
        """Quit cleanly (unregisters, closes the recordings), kill after 3 s."""
        if self.proc.poll() is None:
            try:
                body = json.dumps({"command": "quit", "params": "", "token": "quit"}).encode()
                self._sock.sendall(str(len(body)).encode() + b":" + body + b",")
            except OSError:
                pass
            try:
                self.proc.wait(timeout=3.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._sock.close()
        self._log.close()


PhoneFactory = Callable[..., Baresip]
