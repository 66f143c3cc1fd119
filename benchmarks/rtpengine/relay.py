"""rtpengine as a relay under test: start the daemon pinned to one core, set calls up over ng."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .ng import NgClient, NgError, phone_sdp, sdp_media_address

CONF = Path(__file__).resolve().parent / "rtpengine.conf"
HOST = "127.0.0.1"


def rtpengine_version() -> str:
    exe = shutil.which("rtpengine")
    if not exe:
        return ""
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    return (out.stdout + out.stderr).strip().splitlines()[-1] if out.stdout + out.stderr else "?"


class RtpengineRelay:
    """One rtpengine daemon (userspace forwarding, ``num-threads`` 1) for one load point."""

    name = "rtpengine"

    def __init__(self, work: Path, *, cpu: int | None, ng_port: int = 39222) -> None:
        exe = shutil.which("rtpengine")
        if not exe:
            raise RuntimeError("rtpengine is not installed (apt-get install rtpengine-daemon)")
        self.log = work / "rtpengine.log"
        cmd = [exe, f"--config-file={CONF}", "--config-section=rtpengine-bench",
               f"--listen-ng={HOST}:{ng_port}", f"--pidfile={work / 'rtpengine.pid'}"]
        if cpu is not None:
            cmd = ["taskset", "-c", str(cpu), *cmd]
        self._logf = self.log.open("wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=subprocess.STDOUT)
        self.pid = self.proc.pid  # taskset execs rtpengine: same pid
        self.ng = NgClient(HOST, ng_port, timeout=0.5, retries=1)
        self.calls: list[tuple[str, str]] = []
        self._wait_ready()

    def _wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rtpengine exited ({self.proc.returncode}): "
                                   f"{self.log.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(NgError, OSError):
                if self.ng.ping():
                    self.ng.retries = 3
                    self.ng.sock.settimeout(2.0)
                    return
        raise RuntimeError("rtpengine did not answer ng ping")

    def setup_pairs(self, gen_ports: list[int]) -> list[tuple[str, int]]:
        """Offer from phone A (stream 2i) and answer from phone B (2i+1) per call."""
        targets: list[tuple[str, int]] = [(HOST, 0)] * len(gen_ports)
        for i in range(len(gen_ports) // 2):
            call_id, ftag, ttag = f"load-{i}", f"a{i}", f"b{i}"
            to_b = self.ng.offer(call_id, ftag, phone_sdp(HOST, gen_ports[2 * i], 2 * i))
            to_a = self.ng.answer(call_id, ftag, ttag,
                                  phone_sdp(HOST, gen_ports[2 * i + 1], 2 * i + 1))
            targets[2 * i] = sdp_media_address(to_a)
            targets[2 * i + 1] = sdp_media_address(to_b)
            self.calls.append((call_id, ftag))
        return targets

    def poll(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"rtpengine died ({self.proc.returncode})")

    def fileno(self) -> int | None:
        return None

    def stop(self) -> dict[str, object]:
        """Delete the calls, stop the daemon; a few figures for the report."""
        deleted = 0
        if self.proc.poll() is None:
            for call_id, ftag in self.calls:
                with contextlib.suppress(NgError, OSError):
                    self.ng.delete(call_id, ftag)
                    deleted += 1
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.ng.close()
        self._logf.close()
        return {"deleted": deleted, "exit": self.proc.returncode}
