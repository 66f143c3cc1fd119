"""DTMF: RFC 4733 payloads, receiver and sender, SIP INFO bodies, in-band Goertzel detection."""

from __future__ import annotations

import math
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from ccswitch.media import g711
from ccswitch.media.dtmf import (
    EVENT_KEYS,
    DtmfBegin,
    DtmfDigit,
    DtmfEnd,
    DtmfError,
    DtmfEventReceiver,
    DtmfEventSender,
    InbandDetector,
    InfoDigit,
    TelephoneEvent,
    build_dtmf_relay,
    event_of_key,
    goertzel,
    parse_dtmf,
    parse_dtmf_relay,
    parse_info_dtmf,
    parse_telephone_event,
)
from ccswitch.media.tones import DTMF_FREQS, DTMF_KEYS, ToneGenerator, dbm0_to_peak, dtmf_spec
from peers import require_peer

RATE = 8000


# ------------------------------------------------------------------------- RFC 4733 payload
def test_payload_known_bytes() -> None:
    ev = parse_telephone_event(b"\x05\x8a\x03\x20")
    assert ev == TelephoneEvent(5, end=True, volume=10, duration=800)
    assert ev.key == "5"
    assert ev.to_bytes() == b"\x05\x8a\x03\x20"
    # the R bit is ignored on receipt and sent as 0; extra bytes after the block are ignored
    assert parse_telephone_event(b"\x0b\x4a\x00\xa0\xff") == TelephoneEvent(11, False, 10, 160)
    assert parse_telephone_event(b"\x10\x00\x00\x00").key is None  # 16: flash, not DTMF


def test_payload_round_trip_and_errors() -> None:
    for event in (0, 9, 10, 11, 15, 16, 255):
        for end in (False, True):
            for volume in (0, 10, 63):
                for duration in (0, 160, 0xFFFF):
                    ev = TelephoneEvent(event, end, volume, duration)
                    assert parse_telephone_event(ev.to_bytes()) == ev
    with pytest.raises(DtmfError):
        parse_telephone_event(b"\x05\x8a\x03")
    with pytest.raises(DtmfError):
        TelephoneEvent(5, volume=64)
    with pytest.raises(DtmfError):
        TelephoneEvent(5, duration=0x10000)


def test_event_codes() -> None:
    assert EVENT_KEYS == "0123456789*#ABCD"
    assert [event_of_key(k) for k in "0*#Ad"] == [0, 10, 11, 12, 15]
    with pytest.raises(DtmfError):
        event_of_key("E")


# -------------------------------------------------------------------------- RFC 4733 receiver
def feed(rx: DtmfEventReceiver, packets: list[tuple[float, int, bool, TelephoneEvent]]) -> None:
    for now, ts, marker, ev in packets:
        rx.receive(ev.to_bytes(), timestamp=ts, marker=marker, now=now)


def press(key: str, ts: int, t0: float, ms: int = 100, *, ends: int = 3,
          first: bool = True) -> list[tuple[float, int, bool, TelephoneEvent]]:
    """Packets of one press, every 20 ms, then ``ends`` end packets."""
    e = event_of_key(key)
    total = ms * 8
    out = [(t0 + k * 0.02, ts, k == 1, TelephoneEvent(e, False, 10, k * 160))
           for k in range(1, total // 160)]
    if not first:
        out = out[1:]
    out += [(t0 + ms / 1000 + i * 0.02, ts, False, TelephoneEvent(e, True, 10, total))
            for i in range(ends)]
    return out


def digits(events: list[DtmfBegin | DtmfDigit]) -> list[DtmfDigit]:
    return [e for e in events if isinstance(e, DtmfDigit)]


def test_one_digit_per_press_with_retransmitted_ends() -> None:
    rx = DtmfEventReceiver()
    feed(rx, press("5", 1000, 10.0))
    events = rx.events()
    assert events[0] == DtmfBegin("5", 1000, 10.02)
    assert events[1:] == [DtmfDigit("5", 5, 1000, 800, 100.0, 10, 10.02, 10.1, DtmfEnd.END_BIT)]
    assert rx.stale == 2  # the two retransmitted end packets
    assert rx.next_deadline() is None and rx.pressed is None
    assert rx.events() == []


def test_new_timestamp_is_a_new_press_even_for_the_same_key() -> None:
    rx = DtmfEventReceiver()
    feed(rx, press("1", 1000, 0.0) + press("1", 2600, 0.2) + press("#", 4200, 0.4))
    assert [(d.key, d.timestamp) for d in digits(rx.events())] == [
        ("1", 1000), ("1", 2600), ("#", 4200)]


def test_lost_end_packets_end_by_timeout() -> None:
    rx = DtmfEventReceiver(end_timeout=0.3)
    feed(rx, press("7", 500, 1.0, ends=0))  # last update at 1.08
    assert rx.pressed == "7"
    assert rx.next_deadline() == pytest.approx(1.38)
    rx.handle_timer(1.37)
    assert digits(rx.events()) == []
    rx.handle_timer(1.4)
    (d,) = digits(rx.events())
    assert (d.key, d.duration, d.how, d.ended) == ("7", 640, DtmfEnd.TIMEOUT, 1.4)
    assert rx.next_deadline() is None
    # an end packet arriving after the timeout is not a second press
    feed(rx, [(1.5, 500, False, TelephoneEvent(7, True, 10, 800))])
    assert rx.events() == [] and rx.stale == 1


def test_lost_end_then_next_event_ends_the_first() -> None:
    rx = DtmfEventReceiver()
    feed(rx, press("2", 100, 0.0, ends=0) + press("3", 1700, 0.2))
    d2, d3 = digits(rx.events())
    assert (d2.key, d2.how, d3.key, d3.how) == ("2", DtmfEnd.NEXT_EVENT, "3", DtmfEnd.END_BIT)


def test_lost_first_packet_and_only_end_packets() -> None:
    rx = DtmfEventReceiver()
    feed(rx, press("9", 100, 0.0, first=False))  # the marker packet is lost
    feed(rx, [(0.5 + i * 0.02, 5000, False, TelephoneEvent(0, True, 10, 960)) for i in range(3)])
    assert [(d.key, d.duration) for d in digits(rx.events())] == [("9", 800), ("0", 960)]


def test_late_and_reordered_packets() -> None:
    rx = DtmfEventReceiver()
    p = press("4", 1000, 0.0)
    feed(rx, [p[1], p[0], *p[2:]])  # a duration update arrives out of order
    feed(rx, [(0.5, 1000, False, TelephoneEvent(4, False, 10, 320))])  # late, same press
    feed(rx, press("6", 3000, 1.0))
    feed(rx, [(1.5, 1000, False, TelephoneEvent(4, True, 10, 800))])  # older timestamp
    assert [(d.key, d.duration) for d in digits(rx.events())] == [("4", 800), ("6", 800)]


def test_timestamp_wraparound() -> None:
    rx = DtmfEventReceiver()
    feed(rx, press("1", 0xFFFFFF00, 0.0) + press("2", 0x00000400, 0.2))
    assert [d.key for d in digits(rx.events())] == ["1", "2"]


def test_long_event_segments_continue_one_press() -> None:
    rx = DtmfEventReceiver()
    feed(rx, [(0.0, 100, True, TelephoneEvent(0, False, 10, 160)),
              (8.0, 100, False, TelephoneEvent(0, False, 10, 0xFFFF)),
              (8.2, 100 + 0xFFFF, False, TelephoneEvent(0, False, 10, 1600)),
              (8.4, 100 + 0xFFFF, False, TelephoneEvent(0, True, 10, 3200))])
    (d,) = digits(rx.events())
    assert (d.key, d.timestamp, d.duration) == ("0", 100, 0xFFFF + 3200)


def test_reset_for_a_new_stream() -> None:
    rx = DtmfEventReceiver()
    feed(rx, press("1", 900000, 0.0) + press("2", 901600, 0.2, ends=0))
    rx.reset(0.5)
    # the new stream's timestamps start lower: without the reset they would look stale
    feed(rx, press("3", 1000, 0.6))
    got = digits(rx.events())
    assert [(d.key, d.how) for d in got] == [
        ("1", DtmfEnd.END_BIT), ("2", DtmfEnd.NEXT_EVENT), ("3", DtmfEnd.END_BIT)]


def test_non_dtmf_events_are_ignored() -> None:
    rx = DtmfEventReceiver()
    feed(rx, [(0.0, 100, True, TelephoneEvent(16, True, 10, 800))])
    assert rx.events() == [] and rx.ignored == 1
    with pytest.raises(DtmfError):
        rx.receive(b"\x01", timestamp=1, marker=True, now=0.0)


# ---------------------------------------------------------------------------- RFC 4733 sender
def test_sender_packet_sequence() -> None:
    pkts = DtmfEventSender().packets("5", timestamp=4000, duration=0.1)
    assert [p.marker for p in pkts] == [True] + [False] * 6
    assert {p.timestamp for p in pkts} == {4000}
    assert [p.event.duration for p in pkts] == [160, 320, 480, 640, 800, 800, 800]
    assert [p.event.end for p in pkts] == [False] * 4 + [True] * 3
    assert [round(p.offset, 3) for p in pkts] == [0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.14]
    assert pkts[-1].payload == b"\x05\x8a\x03\x20"
    # a press shorter than one interval is the end packets alone, the first with the marker
    short = DtmfEventSender().packets("#", timestamp=0, duration=0.01)
    assert [(p.marker, p.event.end, p.event.duration) for p in short] == [
        (True, True, 80), (False, True, 80), (False, True, 80)]
    with pytest.raises(ValueError):
        DtmfEventSender().packets("1", timestamp=0, duration=9.0)
    with pytest.raises(DtmfError):
        DtmfEventSender().packets("X", timestamp=0)


@pytest.mark.parametrize("lose_ends", [False, True])
def test_sender_to_receiver_round_trip(lose_ends: bool) -> None:
    tx = DtmfEventSender(volume=7)
    rx = DtmfEventReceiver(end_timeout=0.25)
    ts, t = 12345, 100.0
    for key in DTMF_KEYS:
        for p in tx.packets(key, timestamp=ts, duration=0.12):
            if lose_ends and p.event.end:
                continue
            rx.receive(p.payload, timestamp=p.timestamp, marker=p.marker, now=t + p.offset)
        deadline = rx.next_deadline()
        if deadline is not None:
            rx.handle_timer(deadline)
        t += 0.5
        ts += int(0.5 * RATE)
    got = digits(rx.events())
    assert "".join(d.key for d in got) == DTMF_KEYS
    assert {d.volume for d in got} == {7}
    if lose_ends:
        assert {d.how for d in got} == {DtmfEnd.TIMEOUT}
        assert {d.duration for d in got} == {800}
    else:
        assert {(d.how, d.duration, d.duration_ms) for d in got} == {(DtmfEnd.END_BIT, 960, 120.0)}


# ------------------------------------------------------------------------------ SIP INFO
def test_dtmf_relay_bodies() -> None:
    assert parse_dtmf_relay(b"Signal=5\r\nDuration=160\r\n") == InfoDigit("5", 0.16)
    assert parse_dtmf_relay("signal = #\nDURATION= 250\n") == InfoDigit("#", 0.25)
    assert parse_dtmf_relay(b"Signal=*\r\n") == InfoDigit("*")
    assert parse_dtmf_relay(b"Signal=10\r\nDuration=100") == InfoDigit("*", 0.1)
    assert parse_dtmf_relay(b"Signal=d\r\nX-Vendor=1\r\n") == InfoDigit("D")
    for bad in (b"Duration=160\r\n", b"Signal=E\r\n", b"Signal=16", b"Signal=5\r\nDuration=x",
                b"Signal=\xff", b""):
        with pytest.raises(DtmfError):
            parse_dtmf_relay(bad)


def test_dtmf_bodies_and_dispatch() -> None:
    assert parse_dtmf(b"5\r\n") == InfoDigit("5")
    assert parse_dtmf(" 11 ") == InfoDigit("#")
    with pytest.raises(DtmfError):
        parse_dtmf(b"55")
    ct = "Application/DTMF-Relay; charset=utf-8"
    assert parse_info_dtmf(ct, b"Signal=3\r\nDuration=100\r\n") == InfoDigit("3", 0.1)
    assert parse_info_dtmf("application/dtmf", b"A") == InfoDigit("A")
    with pytest.raises(DtmfError):
        parse_info_dtmf("application/sdp", b"v=0")
    for key in DTMF_KEYS:
        assert parse_dtmf_relay(build_dtmf_relay(key, 0.2)) == InfoDigit(key, 0.2)


# --------------------------------------------------------------------------- in-band detection
def dtmf_tone(key: str, ms: float, *, shift: tuple[float, float] = (0.0, 0.0),
              levels: tuple[float, float] = (-8.0, -6.0), phase: float = 0.0) -> np.ndarray:
    lo, hi = DTMF_FREQS[key]
    t = np.arange(round(ms * RATE / 1000)) / RATE
    return (dbm0_to_peak(levels[0]) * np.sin(2 * np.pi * lo * (1 + shift[0]) * t + phase)
            + dbm0_to_peak(levels[1]) * np.sin(2 * np.pi * hi * (1 + shift[1]) * t + 2 * phase))


def with_noise(x: np.ndarray, snr_db: float | None, rng: np.random.Generator,
               ref_power: float | None = None) -> np.ndarray:
    if snr_db is not None:
        power = ref_power if ref_power is not None else float(np.mean(x[x != 0] ** 2))
        x = x + rng.normal(0.0, math.sqrt(power / 10 ** (snr_db / 10)), len(x))
    out: np.ndarray = np.clip(np.rint(x), -32768, 32767).astype(np.int16)
    return out


def layout(parts: list[tuple[str | None, float]], total: int, lead: int = 0) -> np.ndarray:
    """Tones (key, ms) and silences (None, ms) one after the other from sample ``lead``."""
    x = np.zeros(total)
    pos = lead
    for i, (key, ms) in enumerate(parts):
        n = round(ms * RATE / 1000)
        if key is not None:
            x[pos:pos + n] = dtmf_tone(key, ms, phase=0.7 * i)
        pos += n
    return x


def detect(legs: np.ndarray, chunk: int = 160, **kw: float) -> list[str]:
    """The keys found on each leg, feeding ``chunk`` samples per call."""
    det = InbandDetector(legs.shape[0], **kw)  # type: ignore[arg-type]
    found = [""] * legs.shape[0]
    for i in range(0, legs.shape[1], chunk):
        for d in det.process(legs[:, i:i + chunk]):
            found[d.leg] += d.key
    return found


def test_goertzel_is_the_dft_and_the_bank_computes_it() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 160))
    n = np.arange(160)
    for f in (697.0, 1633.0, 2418.0):
        direct = (x * np.exp(-2j * np.pi * f * n / RATE)).sum(axis=1)
        assert np.allclose(goertzel(x, f), direct)
    det = InbandDetector(1)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * (n + 0.5) / 160)
    bank = x.astype(np.float32) @ det._basis
    for j, f in enumerate((697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0)):
        ref = goertzel(x * window, f)
        assert np.allclose(bank[:, j] + 1j * bank[:, 12 + j], ref, rtol=1e-4, atol=1e-3)


def test_every_key_at_20db_snr_in_one_batch() -> None:
    rng = np.random.default_rng(20)
    keys, legs = [], []
    for key in DTMF_KEYS:
        for lead in (400, 413, 437):
            x = np.zeros(3000)
            x[lead:lead + 800] = dtmf_tone(key, 100, phase=float(rng.uniform(0, 6.3)))
            keys.append(key)
            legs.append(with_noise(x, 20.0, rng))
    signals = np.stack(legs)
    assert detect(signals) == keys
    # the same through a µ-law and an A-law channel
    assert detect(g711.ulaw_decode(g711.ulaw_encode(signals))) == keys
    assert detect(g711.alaw_decode(g711.alaw_encode(signals))) == keys


def shifted_batch(shifts: list[tuple[float, float]], rng: np.random.Generator) -> np.ndarray:
    legs = []
    for key in DTMF_KEYS:
        for shift in shifts:
            x = np.zeros(2400)
            x[300:1100] = dtmf_tone(key, 100, shift=shift)
            legs.append(with_noise(x, 30.0, rng))
    return np.stack(legs)


def test_frequency_deviation_of_1_5_percent_is_accepted() -> None:
    shifts = [(s1, s2) for s1 in (-0.015, 0.015) for s2 in (-0.015, 0.015)]
    found = detect(shifted_batch(shifts, np.random.default_rng(15)))
    assert found == [k for k in DTMF_KEYS for _ in shifts]


def test_frequency_deviation_of_3_5_percent_is_rejected() -> None:
    shifts = [(s1, s2) for s1 in (-0.035, 0.035) for s2 in (-0.035, 0.035)]
    shifts += [(0.035, 0.0), (-0.035, 0.0), (0.0, 0.035), (0.0, -0.035)]
    found = detect(shifted_batch(shifts, np.random.default_rng(35)))
    assert found == [""] * (16 * len(shifts))


@pytest.mark.parametrize(
    ("low", "high", "accepted"),
    [(-14.0, -6.0, True),  # normal twist (high group louder) 8 dB
     (-18.0, -6.0, False),  # 12 dB
     (-6.0, -10.0, True),  # reverse twist (low group louder) 4 dB
     (-6.0, -14.0, False),  # 8 dB
     (-25.0, -25.0, True),  # quiet but above the minimum level
     (-36.0, -36.0, False)],  # below it
)
def test_twist_and_level(low: float, high: float, accepted: bool) -> None:
    rng = np.random.default_rng(8)
    legs = []
    for key in DTMF_KEYS:
        x = np.zeros(2400)
        x[300:1100] = dtmf_tone(key, 100, levels=(low, high))
        legs.append(with_noise(x, 30.0, rng))
    assert detect(np.stack(legs)) == (list(DTMF_KEYS) if accepted else [""] * 16)


@pytest.mark.parametrize(("ms", "accepted"), [(30, False), (40, True), (50, True)])
def test_minimum_tone_duration_at_every_alignment(ms: int, accepted: bool) -> None:
    # every key starting at each of the 40 sample offsets within a 5 ms hop
    rng = np.random.default_rng(ms)
    legs = []
    for key in DTMF_KEYS:
        for lead in range(40):
            x = np.zeros(1600)
            x[400 + lead:400 + lead + ms * 8] = dtmf_tone(key, ms, phase=lead / 7)
            legs.append(with_noise(x, 20.0, rng))
    found = detect(np.stack(legs))
    assert found == ([k for k in DTMF_KEYS for _ in range(40)] if accepted else [""] * 640)


@pytest.mark.parametrize(
    ("parts", "expected"),
    [([("5", 60), (None, 40), ("5", 60)], "55"),  # a 40 ms pause separates two presses
     ([("5", 60), (None, 10), ("5", 60)], "5"),  # a 10 ms drop-out does not split one
     ([("1", 50), (None, 40), ("2", 50), (None, 40), ("3", 50)], "123"),
     ([("8", 2000)], "8")],  # a long press is one digit
)
def test_pauses_and_dropouts(parts: list[tuple[str | None, float]], expected: str) -> None:
    rng = np.random.default_rng(4)
    ref = float(np.mean(dtmf_tone("5", 100) ** 2))
    legs = np.stack([with_noise(layout(parts, 20000, lead), 20.0, rng, ref)
                     for lead in range(0, 40, 3)])
    assert detect(legs) == [expected] * legs.shape[0]


def test_results_do_not_depend_on_how_the_audio_is_framed() -> None:
    rng = np.random.default_rng(9)
    ref = float(np.mean(dtmf_tone("5", 100) ** 2))
    parts: list[tuple[str | None, float]] = [
        ("4", 70), (None, 60), ("2", 45), (None, 50), ("#", 120)]
    legs = np.stack([with_noise(layout(parts, 6000, lead), 25.0, rng, ref)
                     for lead in (0, 7, 31)])
    positions = {}
    for chunk in (160, 37, 1000, 6000):
        det = InbandDetector(3)
        got = []
        for i in range(0, 6000, chunk):
            got += [(d.leg, i + d.offset, d.key) for d in det.process(legs[:, i:i + chunk])]
        positions[chunk] = sorted(got)
    assert positions[160] == positions[37] == positions[1000] == positions[6000]
    assert [k for leg, _, k in positions[160] if leg == 1] == ["4", "2", "#"]


def test_generated_tones_and_reset() -> None:
    gen_audio = np.concatenate([
        ToneGenerator(dtmf_spec(k, on=0.06, off=0.06)).read(960) for k in DTMF_KEYS])
    assert detect(gen_audio[None, :]) == [DTMF_KEYS]
    # a held key is not reported again, unless its leg is reset (a new call on the slot)
    det = InbandDetector(2)
    tone = ToneGenerator(dtmf_spec("6")).read(4000)
    both = np.stack([tone, tone])
    assert [(d.leg, d.key) for d in det.process(both[:, :2000])] == [(0, "6"), (1, "6")]
    det.reset([1])
    assert [(d.leg, d.key) for d in det.process(both[:, 2000:])] == [(1, "6")]
    with pytest.raises(ValueError):
        det.process(np.zeros((3, 160), np.int16))
    assert InbandDetector(0).process(np.zeros((0, 160), np.int16)) == []


# ----------------------------------------------------------------- talk-off: speech and music
SPEECH = (
    "Thank you for calling. Press one for sales, two for support, or stay on the line. "
    "Please say or enter your account number after the tone: nine eight seven six five four "
    "three two one zero, star, pound. Your call may be recorded for quality purposes. "
    "All of our agents are busy helping other customers; the estimated waiting time is four "
    "minutes. The quick brown fox jumps over the lazy dog."
)
# the default voice, and high-pitched variants whose few strong harmonics come closest to
# DTMF pairs (a detector without the steadiness and drift checks reports digits in them)
VOICES = [("en", 50), ("en+f2", 99), ("en-us", 99), ("en+m3", 99)]


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling by truncating the spectrum."""
    n_out = len(x) * rate_out // rate_in
    spec = np.fft.rfft(x.astype(np.float64))
    return np.fft.irfft(spec[: n_out // 2 + 1], n_out) * (n_out / len(x))


def espeak(tmp: Path, voice: str, pitch: int) -> np.ndarray:
    out = tmp / f"{voice}-{pitch}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-w", str(out), SPEECH],
                   check=True, capture_output=True, timeout=60)
    with wave.open(str(out)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    return resample(x, rate, RATE)


def run_with_digit_after(audio: list[np.ndarray]) -> list[str]:
    """Each signal at three levels, linear and through µ-law, then a real digit on every leg
    (so a deaf detector fails too)."""
    n = max(len(a) for a in audio)
    tail = np.zeros(2400)
    tail[400:1200] = dtmf_tone("7", 100)
    legs = []
    for a in audio:
        a = np.pad(a / np.max(np.abs(a)), (0, n - len(a)))
        for peak in (1000.0, 8000.0, 30000.0):
            legs.append(with_noise(np.concatenate([a * peak, tail]), None, np.random.default_rng()))
    signals = np.stack(legs)
    return detect(np.concatenate([signals, g711.ulaw_decode(g711.ulaw_encode(signals))]))


def test_no_digits_in_speech(tmp_path: Path) -> None:
    require_peer("espeak-ng")
    speech = [espeak(tmp_path, v, p) for v, p in VOICES]
    assert sum(len(s) for s in speech) / RATE >= 20.0
    found = run_with_digit_after(speech)
    assert found == ["7"] * len(found)


def chord_sweep(seconds: float = 20.0) -> np.ndarray:
    """Triads of harmonic-rich notes gliding over two octaves and back, with vibrato, plus a
    random melody of quarter-second notes."""
    rng = np.random.default_rng(12)
    t = np.arange(int(seconds * RATE)) / RATE
    root = 110.0 * 2.0 ** (2.0 * (1.0 - np.abs(2.0 * t / seconds - 1.0)))
    third = np.where((t // 0.5) % 2 == 0, 2 ** (4 / 12), 2 ** (3 / 12))
    out = np.zeros_like(t)
    for ratio in (1.0, third, 2 ** (7 / 12), 2.0):
        phase = 2 * np.pi * np.cumsum(root * ratio * (1 + 0.004 * np.sin(2 * np.pi * 5.5 * t)))
        for k, a in ((1, 1.0), (2, 0.5), (3, 0.3), (4, 0.2), (5, 0.1)):
            out += a * np.sin(k * phase / RATE)
    notes = 440.0 * 2.0 ** (rng.integers(-12, 13, int(seconds * 4)) / 12)
    phase = 2 * np.pi * np.cumsum(np.repeat(notes, RATE // 4)[: len(t)]) / RATE
    return out + 0.8 * np.sin(phase) + 0.3 * np.sin(2 * phase)


def test_no_digits_in_music() -> None:
    found = run_with_digit_after([chord_sweep()])
    assert found == ["7"] * len(found)
