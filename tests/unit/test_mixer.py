"""The mixer graph and plan: edges with gains, several layers, buses minus self, listeners of
two buses, saturation, and G.711 of rows with mixed codecs against the reference codecs."""

from __future__ import annotations

import numpy as np
import pytest

from ccswitch.media.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from ccswitch.media.mixer import MixGraph, MixPlan, decode_rows, encode_rows, saturate

N = 160


def frames(*values: int) -> np.ndarray:
    """Slot 0 silent, slot i (1-based) a ramp offset by ``values[i-1]``."""
    ramp = np.arange(N, dtype=np.int16)
    rows = [np.zeros(N, np.int16)] + [(v + ramp).astype(np.int16) for v in values]
    return np.stack(rows)


def test_graph_edges_buses_and_removal() -> None:
    g = MixGraph()
    g.connect(1, 2)
    g.connect(3, 2, 0.5)
    g.connect(2, 1)
    g.join(9, 1)
    g.join(9, 4, talk=True, listen=False)
    assert g.sources(2) == {1: 1.0, 3: 0.5}
    assert g.listened(1) == {9} and g.listened(4) == set()
    assert g.members(9) == {1: (True, True), 4: (True, False)}
    assert set(g.sinks()) == {1, 2}
    g.join(9, 1, listen=False)  # re-join changes the flags
    assert g.listened(1) == set()
    g.disconnect(3, 2)
    g.disconnect(7, 7)  # unknown: no error
    assert g.sources(2) == {1: 1.0}
    g.remove_leg(1)
    assert g.sources(2) == {} and g.members(9) == {4: (True, False)}
    assert set(g.sinks()) == set()  # both of its edges (1 -> 2, 2 -> 1) are gone
    g.connect(2, 1)
    g.remove_leg(2)
    assert g.sources(1) == {}
    g.leave(9, 4)
    assert g.members(9) == {}


def test_edges_with_gains_in_layers() -> None:
    pcm = frames(100, 1000, -300, 7)
    mp = MixPlan()
    r0 = mp.add_row(alaw=False)
    r1 = mp.add_row(alaw=True)
    r2 = mp.add_row(alaw=False)
    for slot, gain in ((1, 1.0), (2, 0.5), (3, 2.0)):  # three layers into row 0
        mp.add_edge(r0, slot, gain)
    mp.add_edge(r1, 4, 1.0)
    mp.add_edge(r1, 0, 1.0)  # the silent slot: ignored
    mp.add_edge(r2, 2, 0.0)  # gain 0: ignored
    mp.freeze()
    out = mp.mix(pcm)
    p = pcm.astype(np.float32)
    assert np.allclose(out[r0], p[1] + 0.5 * p[2] + 2.0 * p[3])
    assert np.allclose(out[r1], p[4])
    assert not out[r2].any()
    assert mp.alaw.tolist() == [False, True, False]
    assert mp.slots_used() == {1, 2, 3, 4}


def test_bus_sum_minus_self_for_every_member() -> None:
    values = [10, 200, 3000, -4000, 55]
    pcm = frames(*values)
    mp = MixPlan()
    rows = {}
    for slot in range(1, 6):  # slots 1-4 talk and listen on bus 7; slot 5 only listens
        rows[slot] = mp.add_row(alaw=False)
        mp.add_listener(rows[slot], 7, slot if slot <= 4 else 0)
    for slot in range(1, 5):
        mp.add_talker(7, slot)
    mp.freeze()
    out = mp.mix(pcm)
    total = pcm[1:5].astype(np.int64).sum(axis=0)
    for slot in range(1, 5):
        assert np.array_equal(out[rows[slot]], total - pcm[slot])
    assert np.array_equal(out[rows[5]], total)


def test_listener_of_two_buses_with_an_edge() -> None:
    pcm = frames(1, 2, 4, 8, 16)
    mp = MixPlan()
    r = mp.add_row(alaw=False)
    mp.add_listener(r, 1, 1)  # talks on bus 1 as slot 1
    mp.add_listener(r, 2, 0)  # only listens to bus 2
    mp.add_edge(r, 5, 1.0)
    for bus, slot in ((1, 1), (1, 2), (2, 3), (2, 4)):
        mp.add_talker(bus, slot)
    mp.freeze()
    assert mp.buses() == [1, 2]
    out = mp.mix(pcm)
    p = pcm.astype(np.int64)
    assert np.array_equal(out[r], p[2] + p[3] + p[4] + p[5])


def test_empty_plan_and_bus_without_talkers() -> None:
    mp = MixPlan()
    r = mp.add_row(alaw=True)
    mp.add_listener(r, 3, 0)
    mp.freeze()
    out = mp.mix(frames(5))
    assert out.shape == (1, N) and not out.any()
    assert MixPlan().freeze().mix(frames(5)).shape == (0, N)


def test_saturate_rounds_and_clips() -> None:
    mix = np.array([[0.4, 0.6, -0.6, 40000.0, -40000.0, 32767.4, -32768.6]], np.float32)
    assert saturate(mix).tolist() == [[0, 1, -1, 32767, -32768, 32767, -32768]]


def test_rows_of_mixed_codecs_match_the_reference_codecs() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(-32768, 32768, size=(4, N), dtype=np.int16)
    alaw = np.array([False, True, True, False])
    codes = encode_rows(x, alaw)
    for i in range(4):
        ref = alaw_encode(x[i]) if alaw[i] else ulaw_encode(x[i])
        assert np.array_equal(codes[i], ref)
    back = decode_rows(codes, alaw)
    for i in range(4):
        ref = alaw_decode(codes[i]) if alaw[i] else ulaw_decode(codes[i])
        assert np.array_equal(back[i], ref)
    assert back.dtype == np.int16 and codes.dtype == np.uint8
    # all µ-law: the no-offset path
    none = np.zeros(4, bool)
    assert np.array_equal(decode_rows(encode_rows(x, none), none)[0],
                          ulaw_decode(ulaw_encode(x[0])))


@pytest.mark.parametrize("members", [3, 50, 500])
def test_big_bus_is_exact(members: int) -> None:
    rng = np.random.default_rng(members)
    pcm = np.zeros((members + 1, N), np.int16)
    pcm[1:] = rng.integers(-32768, 32768, size=(members, N), dtype=np.int16)
    mp = MixPlan()
    for slot in range(1, members + 1):
        mp.add_listener(mp.add_row(alaw=False), 1, slot)
        mp.add_talker(1, slot)
    mp.freeze()
    out = mp.mix(pcm)
    total = pcm[1:].astype(np.int64).sum(axis=0)
    expect = total[None, :] - pcm[1:].astype(np.int64)
    assert np.array_equal(out.astype(np.int64), expect)  # exact in float32 below 2**24
