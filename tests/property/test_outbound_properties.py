"""Properties of outside numbers and the burst detector: E.164 round trips through the
national and international forms, idempotent normalisation, and the detector against a
brute-force model of its sliding window."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ccswitch.dialplan.fraud import BurstDetector, TollPolicy
from ccswitch.dialplan.numbers import NumberPlan, is_e164


@st.composite
def plan_and_number(draw: st.DrawFn) -> tuple[NumberPlan, str]:
    """A number plan and an E.164 number of its country (national number not starting with
    a digit of either prefix, as in real plans)."""
    cc = draw(st.sampled_from(["1", "33", "44", "49", "353"]))
    intl, nat = draw(st.sampled_from([("011", "1"), ("00", "0"), ("00", "")]))
    length = draw(st.integers(6, 14 - len(cc)))
    plan = NumberPlan(country_code=cc, international_prefix=intl, national_prefix=nat,
                      national_lengths=(length,))
    first = draw(st.sampled_from("23456789"))
    rest = draw(st.text("0123456789", min_size=length - 1, max_size=length - 1))
    return plan, f"+{cc}{first}{rest}"


@given(plan_and_number())
def test_national_and_international_forms_round_trip(case: tuple[NumberPlan, str]) -> None:
    plan, e164 = case
    national = plan.national(e164)
    assert national is not None
    assert plan.normalize(national) == e164
    assert plan.normalize(plan.international(e164)) == e164
    assert plan.normalize(e164) == e164


@given(st.text("0123456789+ -().", max_size=20))
def test_normalize_gives_e164_or_nothing_and_is_idempotent(dialled: str) -> None:
    plan = NumberPlan(area_code="555", local_lengths=(7,))
    e164 = plan.normalize(dialled)
    if e164 is not None:
        assert is_e164(e164)
        assert plan.normalize(e164) == e164


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from("ab"), st.integers(0, 50)), max_size=40),
       st.integers(1, 20))
def test_burst_detector_matches_a_brute_force_window(hits: list[tuple[str, int]],
                                                     window: int) -> None:
    b = BurstDetector(window=float(window))
    seen: list[tuple[str, float]] = []
    now = 0.0
    for key, step in hits:
        now += step / 10
        seen.append((key, now))
        expected = sum(1 for k, t in seen if k == key and now - window < t <= now)
        assert b.hit(key, now) == expected


@given(st.lists(st.integers(0, 30), max_size=30), st.integers(1, 5), st.integers(1, 20))
def test_a_user_is_blocked_exactly_when_a_window_holds_the_threshold(
        gaps: list[int], threshold: int, window: int) -> None:
    policy = TollPolicy(burst_attempts=threshold, burst_window=float(window))
    times: list[float] = []
    now = 0.0
    for gap in gaps:
        now += gap
        times.append(now)
        policy.attempt("u", now, suspicious=True)
    model = any(sum(1 for s in times[: i + 1] if t - window < s <= t) >= threshold
                for i, t in enumerate(times))
    assert policy.is_blocked("u") is model
    assert len([e for e in policy.events() if e.user == "u"]) == int(model)
