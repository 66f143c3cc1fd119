"""Outbound routing: normalisation to E.164, routes, failover, caller ID and the toll-fraud
policy (classes, blocked prefixes, limits, the burst detector)."""

from __future__ import annotations

import re

import pytest

from ccswitch.dialplan.fraud import (
    BurstDetector,
    FraudCleared,
    FraudSuspected,
    OutboundClass,
    TollPolicy,
)
from ccswitch.dialplan.numbers import DestinationClass, NumberPlan, is_e164
from ccswitch.dialplan.outbound import (
    Failover,
    NotOutside,
    OutboundCall,
    OutboundRefused,
    OutboundRouter,
    Route,
    fails_over,
    final_status,
)

NANP = NumberPlan()
LOCAL_NANP = NumberPlan(area_code="555", local_lengths=(7,))
GERMANY = NumberPlan(country_code="49", international_prefix="00", national_prefix="0",
                     national_lengths=(10, 11), area_code="30", local_lengths=(7, 8))


# -- normalisation -------------------------------------------------------------------------
@pytest.mark.parametrize(("plan", "dialled", "e164"), [
    (NANP, "5550700123", "+15550700123"),
    (NANP, "15550700123", "+15550700123"),
    (NANP, "(555) 070-0123", "+15550700123"),
    (NANP, "1-555-070-0123", "+15550700123"),
    (NANP, "011442079460000", "+442079460000"),
    (NANP, "+442079460000", "+442079460000"),
    (NANP, "+1 555 070 0123", "+15550700123"),
    (LOCAL_NANP, "0700123", "+15550700123"),
    (GERMANY, "030123456789", "+4930123456789"),
    (GERMANY, "0049301234567", "+49301234567"),
    (GERMANY, "12345678", "+493012345678"),
])
def test_normalize(plan: NumberPlan, dialled: str, e164: str) -> None:
    assert plan.normalize(dialled) == e164


@pytest.mark.parametrize("dialled", [
    "1001", "5550700", "*97", "555070012", "555070012345", "+0123456789", "+123456",
    "+1234567890123456", "011", "0110", "abc", "", "+", "555-070-012x"])
def test_not_an_outside_number(dialled: str) -> None:
    assert NANP.normalize(dialled) is None


def test_classify() -> None:
    assert LOCAL_NANP.classify("+15550700123") is DestinationClass.LOCAL
    assert LOCAL_NANP.classify("+12125550123") is DestinationClass.NATIONAL
    assert NANP.classify("+15550700123") is DestinationClass.NATIONAL
    assert NANP.classify("+442079460000") is DestinationClass.INTERNATIONAL
    assert NANP.classify("+1555070012") is DestinationClass.INTERNATIONAL  # not 10 digits


def test_national_and_international_forms() -> None:
    assert NANP.national("+15550700123") == "15550700123"
    assert NANP.national("+442079460000") is None
    assert NANP.international("+442079460000") == "011442079460000"
    assert GERMANY.national("+4930123456789") == "030123456789"


@pytest.mark.parametrize("kw", [
    {"country_code": "x"}, {"national_prefix": "011"}, {"national_lengths": ()},
    {"local_lengths": (7,)}, {"national_lengths": (15,)}, {"area_code": "5a"}])
def test_bad_number_plans(kw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        NumberPlan(**kw)  # type: ignore[arg-type]


def test_is_e164() -> None:
    assert is_e164("+15550700123")
    assert not is_e164("15550700123")
    assert not is_e164("+1555")
    assert is_e164("+2901234")  # St Helena: 4-digit numbers


# -- failover ------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "extra", "expected"), [
    (None, (), True), (408, (), True), (500, (), True), (503, (), True), (599, (), True),
    (404, (), False), (403, (), False), (486, (), False), (480, (), False),
    (404, (403, 404), True), (403, (403,), True), (486, (403, 404), False),
    (302, (), False), (600, (), False), (603, (), False)])
def test_fails_over(status: int | None, extra: tuple[int, ...], expected: bool) -> None:
    assert fails_over(status, extra) is expected


def test_failover_walks_the_trunks_in_order() -> None:
    f = Failover(("carrier", "carrier2", "carrier3"))
    assert f.current == "carrier"
    assert f.failed(503) == "carrier2"
    assert f.failed(None) == "carrier3"
    assert f.failed(500) is None
    assert f.tried == [("carrier", 503), ("carrier2", None), ("carrier3", 500)]
    with pytest.raises(ValueError):
        f.failed(500)


def test_failover_stops_on_the_callees_answer() -> None:
    f = Failover(("carrier", "carrier2"))
    assert f.failed(486) is None
    assert f.current is None


def test_final_status() -> None:
    assert final_status(None) == 408
    assert final_status(503) == 500
    assert final_status(486) == 486


def test_route_validation() -> None:
    with pytest.raises(ValueError):
        Route("r", trunks=())
    with pytest.raises(ValueError):
        Route("r", trunks=("t",))
    with pytest.raises(ValueError):
        Route("r", trunks=("t",), prefixes=("+1",), failover_on=frozenset({486}))


# -- the router (the demo: CONTRACT "Trunks") ----------------------------------------------
def demo_router(policy: TollPolicy | None = None, **kw: object) -> OutboundRouter:
    routes = [Route("nanp", trunks=("carrier", "carrier2"),
                    patterns=(re.compile(r"\+1[0-9]{10}"),), caller_id="+15550700000"),
              Route("world", trunks=("carrier",), prefixes=("+",))]
    return OutboundRouter(plan=NANP, routes=routes, policy=policy or TollPolicy(),
                          **kw)  # type: ignore[arg-type]


def test_ten_digits_go_to_carrier_then_carrier2_as_e164() -> None:
    d = demo_router().decide(caller="1001", dialled="5550700123", now=0.0)
    assert isinstance(d, OutboundCall)
    assert (d.number, d.route, d.trunks) == ("+15550700123", "nanp", ("carrier", "carrier2"))
    assert d.destination is DestinationClass.NATIONAL
    assert d.caller_id == "+15550700000"
    assert d.answer_timeout == 5.0
    f = d.failover()
    assert f.failed(503) == "carrier2"


@pytest.mark.parametrize("dialled", ["011442079460000", "+442079460000"])
def test_international_is_refused_by_default(dialled: str) -> None:
    d = demo_router().decide(caller="1001", dialled=dialled, now=0.0)
    assert isinstance(d, OutboundRefused)
    assert (d.status, d.why) == (403, "class")


def test_international_allowed_for_an_international_user() -> None:
    policy = TollPolicy(classes={"1020": OutboundClass.INTERNATIONAL})
    d = demo_router(policy).decide(caller="1020", dialled="011442079460000", now=0.0)
    assert isinstance(d, OutboundCall)
    assert (d.route, d.trunks) == ("world", ("carrier",))


def test_unauthenticated_never_reaches_a_trunk() -> None:
    d = demo_router().decide(caller=None, dialled="5550700123", now=0.0)
    assert isinstance(d, OutboundRefused)
    assert (d.status, d.why) == (403, "unauthenticated")


def test_internal_numbers_are_not_outside() -> None:
    assert demo_router().decide(caller="1001", dialled="1002", now=0.0) == NotOutside("1002")


@pytest.mark.parametrize(("cls", "allowed"), [
    (OutboundClass.NONE, False), (OutboundClass.INTERNAL, False), (OutboundClass.LOCAL, False),
    (OutboundClass.NATIONAL, True), (OutboundClass.INTERNATIONAL, True)])
def test_classes_for_a_national_number(cls: OutboundClass, allowed: bool) -> None:
    d = demo_router(TollPolicy(classes={"u": cls})).decide(caller="u", dialled="5550700123",
                                                           now=0.0)
    assert isinstance(d, OutboundCall) is allowed


def test_local_class_reaches_the_home_area_only() -> None:
    policy = TollPolicy(classes={"u": OutboundClass.LOCAL})
    router = OutboundRouter(plan=LOCAL_NANP, routes=[Route("all", ("carrier",), ("+",))],
                            policy=policy)
    assert isinstance(router.decide(caller="u", dialled="0700123", now=0.0), OutboundCall)
    refused = router.decide(caller="u", dialled="2125550123", now=0.0)
    assert isinstance(refused, OutboundRefused)
    assert refused.why == "class"


def test_blocked_prefix_and_no_route() -> None:
    router = demo_router(TollPolicy(blocked_prefixes=("+1900",)))
    d = router.decide(caller="1001", dialled="9005550123", now=0.0)
    assert isinstance(d, OutboundRefused)
    assert d.why == "blocked_prefix"
    only_nanp = OutboundRouter(plan=NANP, routes=[Route("x", ("carrier",), ("+1212",))],
                               policy=TollPolicy())
    d2 = only_nanp.decide(caller="1001", dialled="5550700123", now=0.0)
    assert isinstance(d2, OutboundRefused)
    assert (d2.status, d2.why) == (404, "no_route")


def test_down_and_full_trunks_are_skipped() -> None:
    policy = TollPolicy(trunk_limits={"carrier": 1}, max_user_calls=0)
    router = demo_router(policy)
    d = router.decide(caller="1001", dialled="5550700123", now=0.0, unavailable={"carrier2"})
    assert isinstance(d, OutboundCall)
    assert d.trunks == ("carrier",)
    policy.call_started("c1", "1001", "carrier", 0.0)
    d2 = router.decide(caller="1001", dialled="5550700123", now=0.0)
    assert isinstance(d2, OutboundCall)
    assert d2.trunks == ("carrier2",)
    d3 = router.decide(caller="1001", dialled="5550700123", now=0.0, unavailable={"carrier2"})
    assert isinstance(d3, OutboundRefused)
    assert (d3.status, d3.why) == (503, "no_trunk")
    policy.call_ended("c1")
    assert policy.calls_of_trunk("carrier") == 0


def test_calls_per_second_per_trunk() -> None:
    policy = TollPolicy(trunk_rates={"carrier": 2.0, "carrier2": 0.5}, max_user_calls=0)
    router = demo_router(policy)
    policy.call_started("a", "1001", "carrier", 10.0)
    policy.call_started("b", "1001", "carrier2", 10.0)
    d = router.decide(caller="1001", dialled="5550700123", now=10.5)
    assert isinstance(d, OutboundCall)
    assert d.trunks == ("carrier",)  # carrier2: one call per 2 s
    policy.call_started("c", "1001", "carrier", 10.5)
    d2 = router.decide(caller="1001", dialled="5550700123", now=10.9)
    assert isinstance(d2, OutboundRefused)
    assert d2.why == "no_trunk"
    d3 = router.decide(caller="1001", dialled="5550700123", now=12.0)
    assert isinstance(d3, OutboundCall)
    assert d3.trunks == ("carrier", "carrier2")
    with pytest.raises(ValueError):
        TollPolicy(trunk_rates={"x": 0.0})


def test_user_caller_id_wins_over_the_route() -> None:
    router = demo_router(user_caller_ids={"1001": "+15550701001"})
    d = router.decide(caller="1001", dialled="5550700123", now=0.0)
    assert isinstance(d, OutboundCall)
    assert d.caller_id == "+15550701001"


def test_concurrent_calls_per_user() -> None:
    policy = TollPolicy(max_user_calls=2)
    router = demo_router(policy)
    policy.call_started("a", "1001", "carrier", 0.0)
    policy.call_started("b", "1001", "carrier2", 0.0)
    d = router.decide(caller="1001", dialled="5550700123", now=0.0)
    assert isinstance(d, OutboundRefused)
    assert d.why == "user_limit"
    assert isinstance(router.decide(caller="1002", dialled="5550700123", now=0.0), OutboundCall)
    policy.call_ended("a")
    policy.call_ended("a")  # ended twice: ignored
    assert policy.calls_of_user("1001") == 1
    with pytest.raises(ValueError):
        policy.call_started("b", "1001", "carrier", 0.0)


# -- fraud ---------------------------------------------------------------------------------
def test_a_burst_of_refused_attempts_blocks_the_user_until_cleared() -> None:
    policy = TollPolicy(burst_attempts=3, burst_window=60.0)
    router = demo_router(policy)
    for t in (0.0, 10.0):
        router.decide(caller="1001", dialled="011442079460000", now=t)
    assert not policy.is_blocked("1001")
    assert policy.events() == []
    router.decide(caller="1001", dialled="011442079460000", now=20.0)
    assert policy.is_blocked("1001")
    assert policy.events() == [FraudSuspected("1001", 3, 60.0, 20.0)]
    d = router.decide(caller="1001", dialled="5550700123", now=30.0)  # even a national call
    assert isinstance(d, OutboundRefused)
    assert d.why == "blocked_user"
    assert isinstance(router.decide(caller="1002", dialled="5550700123", now=30.0),
                      OutboundCall)
    assert policy.blocked_users == {"1001": 20.0}
    assert policy.clear("1001", 40.0)
    assert not policy.clear("1001", 41.0)
    assert policy.events() == [FraudCleared("1001", 40.0)]
    assert isinstance(router.decide(caller="1001", dialled="5550700123", now=50.0),
                      OutboundCall)


def test_attempts_outside_the_window_do_not_add_up() -> None:
    policy = TollPolicy(burst_attempts=3, burst_window=60.0)
    for t in (0.0, 30.0, 60.0, 90.0, 120.0):
        policy.attempt("1001", t, suspicious=True)
    assert not policy.is_blocked("1001")
    policy.attempt("1001", 121.0, suspicious=True)
    assert policy.is_blocked("1001")


def test_failed_calls_and_international_calls_count_as_suspicious() -> None:
    policy = TollPolicy(classes={"u": OutboundClass.INTERNATIONAL}, burst_attempts=3)
    router = demo_router(policy)
    assert isinstance(router.decide(caller="u", dialled="+442079460000", now=0.0), OutboundCall)
    router.call_failed("u", 1.0)
    policy.attempt("u", 2.0, suspicious=False)
    assert not policy.is_blocked("u")
    router.call_failed("u", 3.0)
    assert policy.is_blocked("u")


def test_burst_detector_counts_in_a_sliding_window() -> None:
    b = BurstDetector(window=10.0)
    assert [b.hit("u", t) for t in (0.0, 1.0, 5.0, 10.0, 11.0)] == [1, 2, 3, 3, 3]
    assert b.count("u", 100.0) == 0
    assert len(b) == 0
    with pytest.raises(ValueError):
        BurstDetector(window=0.0)


def test_outbound_class_order() -> None:
    assert [c.rank for c in OutboundClass] == [0, 1, 2, 3, 4]
    assert not OutboundClass.NONE.internal_calls
    assert OutboundClass.INTERNAL.internal_calls
    assert not OutboundClass.INTERNAL.allows(DestinationClass.LOCAL)
