"""A G.722 phone and a PCMU phone through a real media worker process with PyAV codecs: each
hears the other (transcoded both ways) and the recording holds both at 8 kHz."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_worker_process import Collector, create_leg, read_wav, udp_client

from ccswitch.media.commands import ConfigureLeg, Connect, RecordDone, StartRecord, StopRecord
from ccswitch.media.g711 import ulaw_decode, ulaw_encode
from ccswitch.media.rtp import build_rtp, is_rtcp, parse_rtp
from ccswitch.mediaworker.codecs import AvCodecs, available, make_codec_engine
from ccswitch.mediaworker.process import WorkerHandle
from ccswitch.mediaworker.settings import WorkerSettings

LOCAL = "127.0.0.1"
pytestmark = pytest.mark.skipif("G722" not in available(), reason="PyAV without G.722")


class WidePhone:
    """Sends a tone as 20 ms RTP of ``codec`` (G.722 by PyAV, or PCMU) and keeps what comes
    back."""

    def __init__(self, hz: float, codec: str, pt: int) -> None:
        self.sock = udp_client()
        self.sock.settimeout(0.05)
        self.hz, self.codec, self.pt = hz, codec, pt
        self.got: list[Any] = []
        self.stop = threading.Event()
        self.rx = threading.Thread(target=self._receive, daemon=True)
        self.rx.start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _receive(self) -> None:
        while not self.stop.is_set():
            try:
                data = self.sock.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            if not is_rtcp(data):
                self.got.append(parse_rtp(data))

    def send_tone(self, dest: int, packets: int) -> threading.Thread:
        enc = AvCodecs()

        def run() -> None:
            pcm = (8000 * np.sin(2 * np.pi * self.hz * np.arange(packets * 160) / 8000))
            pcm = pcm.astype(np.int16)
            start = time.monotonic()
            for i in range(packets):
                frame = pcm[i * 160:(i + 1) * 160]
                payload = (enc.encode(1, "G722", frame) if self.codec == "G722"
                           else ulaw_encode(frame).tobytes())
                self.sock.sendto(build_rtp(payload_type=self.pt, sequence=i, timestamp=i * 160,
                                           ssrc=0x4242 + self.pt, payload=payload),
                                 (LOCAL, dest))
                time.sleep(max(0.0, start + (i + 1) * 0.02 - time.monotonic()))
        th = threading.Thread(target=run, daemon=True)
        th.start()
        return th

    def heard(self) -> np.ndarray:
        pkts = [p for p in self.got if p.payload_type == self.pt]
        if self.codec == "PCMU":
            return np.concatenate([ulaw_decode(p.payload) for p in pkts])
        dec = AvCodecs()
        return np.concatenate([dec.decode(1, "G722", p.payload) for p in pkts])

    def close(self) -> None:
        self.stop.set()
        self.rx.join(1)
        self.sock.close()


def dominant_hz(x: np.ndarray) -> float:
    x = x.astype(np.float64)
    spec = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(len(x))))
    return float(np.argmax(spec) * 8000 / len(x))


def test_g722_and_pcmu_phones_hear_each_other_and_are_recorded(tmp_path: Path) -> None:
    h = WorkerHandle.spawn(WorkerSettings(index=2, recordings_dir=str(tmp_path),
                                          header_interval=0.2,
                                          engine_factory=make_codec_engine))
    a, b = WidePhone(440, "G722", 9), WidePhone(1000, "PCMU", 0)
    try:
        ev = Collector(h)
        pa, pb = create_leg(h, ev, 1), create_leg(h, ev, 2)
        h.send([ConfigureLeg(1, LOCAL, a.port, a.port + 1, "G722", 9),
                ConfigureLeg(2, LOCAL, b.port, b.port + 1, "PCMU", 0),
                Connect(1, 2), Connect(2, 1), StartRecord(5, "wide.wav", (1, 2))])
        for th in (a.send_tone(pa, 50), b.send_tone(pb, 50)):
            th.join()
        time.sleep(0.2)
        h.send([StopRecord(5)])
        done = ev.wait(lambda e: isinstance(e, RecordDone) and e.rec_id == 5)
        to_b, to_a = b.heard(), a.heard()
        assert len(to_b) >= 40 * 160 and len(to_a) >= 40 * 160
        assert dominant_hz(to_b[800:]) == pytest.approx(440, abs=10)
        assert dominant_hz(to_a[800:]) == pytest.approx(1000, abs=10)
        # the median of the 20 ms frames' levels: a frame or two concealed at the end (the
        # sending threads pace themselves by sleep on a busy machine) must not decide it
        frames = to_a[800:][: (len(to_a) - 800) // 160 * 160].astype(float).reshape(-1, 160)
        level = float(np.median(np.sqrt(np.mean(frames ** 2, axis=1))))
        assert 4000 < level < 7000  # 8000 peak: ~5657 rms
        rec = read_wav(tmp_path / "wide.wav")
        assert done.ok and rec.shape[1] == 2 and len(rec) == round(done.seconds * 8000)
        for channel, hz in ((0, 440), (1, 1000)):
            x = rec[:, channel]
            loud = np.flatnonzero(np.abs(x) > 1000)
            assert loud[-1] - loud[0] > 0.9 * 8000
            assert dominant_hz(x[loud[0]:loud[-1] + 1]) == pytest.approx(hz, abs=5)
        h.stop(5.0)
    finally:
        a.close()
        b.close()
