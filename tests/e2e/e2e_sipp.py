"""Drive SIPp 3.6 from the tests: one foreground run per scenario, traces kept for asserts."""

from __future__ import annotations

import hashlib
import itertools
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from e2e_util import DEMO_TRUNK_PORTS, LOOPBACK, demo_ports, free_port, free_port_block

SCENARIOS = Path(__file__).resolve().parent / "scenarios"

_STATUS = re.compile(r"^SIP/2\.0 (\d{3}) ?(.*)$")
_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]+))')
_BLOCK = re.compile(
    r"^-{20,}[^\n]*\n(?P<proto>\w+) message (?P<dir>sent|received)[^\n]*\n\n",
    re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class SipMessage:
    """One message from a SIPp -trace_msg file."""

    direction: str  # "sent" or "received"
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0].strip()

    @property
    def status(self) -> int | None:
        m = _STATUS.match(self.first_line)
        return int(m.group(1)) if m else None

    def header(self, name: str) -> str | None:
        """First value of header `name` (case-insensitive), or None."""
        prefix = name.lower() + ":"
        for line in self.text.split("\n")[1:]:
            if not line.strip():
                break
            if line.lower().startswith(prefix):
                return line.split(":", 1)[1].strip()
        return None


def digest_params(value: str) -> dict[str, str]:
    """The parameters of a `Digest ...` credentials or challenge header value."""
    return {m.group(1).lower(): m.group(2) or m.group(3) or "" for m in _PARAM.finditer(value)}


def digest_valid(request: SipMessage, password: str) -> bool:
    """Whether the request's (Proxy-)Authorization is a correct RFC 2617 MD5 answer.

    The digest uri must equal the Request-URI (SIPp needs -auth_uri for that, see
    `dial_args`).
    """
    value = request.header("Proxy-Authorization") or request.header("Authorization")
    if value is None:
        return False
    p = digest_params(value)
    method, ruri = request.first_line.split()[:2]
    if p.get("uri") != ruri:
        return False

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1 = md5(f"{p.get('username')}:{p.get('realm')}:{password}")
    ha2 = md5(f"{method}:{ruri}")
    if p.get("qop"):
        expected = md5(f"{ha1}:{p.get('nonce')}:{p.get('nc')}:{p.get('cnonce')}:{p['qop']}:{ha2}")
    else:
        expected = md5(f"{ha1}:{p.get('nonce')}:{ha2}")
    return p.get("response") == expected


def dial_args(number: str, remote_port: int) -> tuple[str, ...]:
    """SIPp arguments to call `number` at 127.0.0.1:`remote_port`.

    -s sets the Request-URI user; -auth_uri makes the digest uri equal the
    Request-URI (SIPp's default is sip:remote_ip:remote_port).
    """
    return ("-s", number, "-auth_uri", f"{number}@{LOOPBACK}:{remote_port}")


@dataclass(frozen=True, slots=True)
class SippResult:
    """What one SIPp run left behind."""

    scenario: str
    command: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    errors: str
    messages: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def trace(self) -> list[SipMessage]:
        """Every message sent or received, in order."""
        out: list[SipMessage] = []
        matches = list(_BLOCK.finditer(self.messages))
        for m, nxt in itertools.zip_longest(matches, matches[1:]):
            end = nxt.start() if nxt is not None else len(self.messages)
            out.append(SipMessage(m.group("dir"), self.messages[m.end() : end].strip()))
        return out

    def received(self) -> list[SipMessage]:
        return [m for m in self.trace() if m.direction == "received"]

    def sent(self) -> list[SipMessage]:
        return [m for m in self.trace() if m.direction == "sent"]

    def requests(self, method: str, direction: str = "sent") -> list[SipMessage]:
        """Requests of `method` sent (or received), in order."""
        return [
            m
            for m in self.trace()
            if m.direction == direction and m.first_line.startswith(method + " ")
        ]

    def received_statuses(self) -> list[int]:
        """Status codes of the responses received, retransmissions included."""
        return [s for m in self.received() if (s := m.status) is not None]

    def describe(self) -> str:
        """A readable report for assertion messages."""
        tail = "\n".join(self.stdout.strip().splitlines()[-15:])
        return (
            f"sipp {self.scenario} exited {self.returncode}\n"
            f"command: {' '.join(self.command)}\n"
            f"--- error log ---\n{self.errors.strip()[-3000:]}\n"
            f"--- stderr ---\n{self.stderr.strip()[-1500:]}\n"
            f"--- screen (tail) ---\n{tail}\n"
            f"--- messages (tail) ---\n{self.messages[-4000:]}"
        )


class SippProcess:
    """A SIPp run in the background (a UAS waiting for the daemon)."""

    def __init__(self, sipp: Sipp, scenario: str, command: list[str], files: dict[str, Path]):
        self._sipp = sipp
        self.scenario = scenario
        self.command = tuple(command)
        self._files = files
        self._out = files["stdout"].open("wb")
        self._err = files["stderr"].open("wb")
        self.proc = subprocess.Popen(
            command,
            cwd=sipp.workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=self._err,
        )

    def wait(self, timeout: float) -> SippResult:
        """Wait for SIPp to end (interrupt it after `timeout` s) and collect its traces."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            rc = -9
        self._close()
        return _collect(self.scenario, self.command, rc, self._files)

    def stop(self) -> None:
        """End SIPp if it still runs: SIGINT (it then writes its traces), SIGKILL after 2 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()

    def _close(self) -> None:
        self._out.close()
        self._err.close()


class Sipp:
    """Runs SIPp scenarios from tests/e2e/scenarios against 127.0.0.1.

    Every run gets its own local SIP port (-p) and media port (-mp), stops after
    one call (-m 1), fails on its global timeout (-timeout N -timeout_error), and
    writes its error log (-trace_err) and message trace (-trace_msg) under
    `workdir`.

    A run on a demo trunk port (5070, 5072: the demo's carriers) first takes the machine-wide
    `e2e_util.demo_ports` lock, which the e2e conftest releases when the test's teardown is
    over: another test run playing a carrier waits instead of colliding, and the demo carriers'
    calls reach this test's SIPp only.
    """

    def __init__(self, binary: str, workdir: Path):
        self.binary = binary
        self.workdir = workdir
        self._runs = itertools.count(1)

    def credentials(self, user: str, password: str) -> Path:
        """An -inf file: [field0] is the user, [field1] the whole authentication keyword.

        SIPp 3.6 does not expand [fieldN] inside [authentication ...], so the keyword
        itself is injected from the file.
        """
        path = self.workdir / f"cred-{user}-{next(self._runs)}.csv"
        path.write_text(
            f"SEQUENTIAL\n{user};[authentication username={user} password={password}]\n"
        )
        return path

    def command(
        self,
        scenario: str,
        *args: str,
        remote: int | None = None,
        local_port: int | None = None,
        transport: str = "u1",
        timeout: float = 20.0,
        tag: str = "",
    ) -> tuple[list[str], dict[str, Path]]:
        """Build a SIPp command line and the paths of its trace files."""
        if local_port in DEMO_TRUNK_PORTS:
            demo_ports.acquire(str(self.workdir))
        n = next(self._runs)
        stem = f"{n:03d}-{Path(scenario).stem}{'-' + tag if tag else ''}"
        files = {
            "errors": self.workdir / f"{stem}.errors.log",
            "messages": self.workdir / f"{stem}.messages.log",
            "stdout": self.workdir / f"{stem}.stdout",
            "stderr": self.workdir / f"{stem}.stderr",
        }
        path = Path(scenario)
        if not path.is_absolute():
            path = SCENARIOS / scenario
        cmd = [self.binary]
        if remote is not None:
            cmd.append(f"{LOOPBACK}:{remote}")
        cmd += [
            "-sf", str(path),
            "-t", transport,
            "-i", LOOPBACK,
            "-p", str(local_port if local_port is not None else free_port()),
            "-mi", LOOPBACK,
            "-mp", str(free_port_block(4)),
            "-m", "1",
            "-nostdin",
            "-timeout", f"{int(timeout)}s",
            "-timeout_error",
            "-trace_err", "-error_file", str(files["errors"]),
            "-trace_msg", "-message_file", str(files["messages"]),
            *args,
        ]  # fmt: skip
        return cmd, files

    def run(
        self,
        scenario: str,
        *args: str,
        remote: int | None = None,
        local_port: int | None = None,
        transport: str = "u1",
        timeout: float = 20.0,
        tag: str = "",
    ) -> SippResult:
        """Run a scenario in the foreground until it ends (keywords as for `command`)."""
        cmd, files = self.command(
            scenario,
            *args,
            remote=remote,
            local_port=local_port,
            transport=transport,
            timeout=timeout,
            tag=tag,
        )
        try:
            proc = subprocess.run(
                cmd,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout + 10,
            )
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            rc, out, err = -9, exc.stdout or b"", exc.stderr or b""
        files["stdout"].write_bytes(out)
        files["stderr"].write_bytes(err)
        return _collect(scenario, tuple(cmd), rc, files)

    def start(
        self,
        scenario: str,
        *args: str,
        remote: int | None = None,
        local_port: int | None = None,
        transport: str = "u1",
        timeout: float = 20.0,
        tag: str = "",
    ) -> SippProcess:
        """Start a scenario in the background (keywords as for `command`); `.wait()` on it."""
        cmd, files = self.command(
            scenario,
            *args,
            remote=remote,
            local_port=local_port,
            transport=transport,
            timeout=timeout,
            tag=tag,
        )
        return SippProcess(self, scenario, cmd, files)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _collect(scenario: str, cmd: tuple[str, ...], rc: int, files: dict[str, Path]) -> SippResult:
    return SippResult(
        scenario=scenario,
        command=tuple(cmd),
        returncode=rc,
        stdout=_read(files["stdout"]),
        stderr=_read(files["stderr"]),
        errors=_read(files["errors"]),
        messages=_read(files["messages"]),
    )
