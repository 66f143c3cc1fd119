"""``number:`` targets through the signaling core: a blind transfer (REFER) to an outside
number with the transferring user's class, a queue's overflow and an IVR menu's action
(the configuration's own choice), each placing a trunk leg on the answered call."""

from __future__ import annotations

import dataclasses

import pytest
from callworld import demo_config, offer
from sipphone import DEMO
from test_api import Api
from test_transfer_calls import Call, notifies, refer
from test_trunk_calls import World, invites

from ccswitch.call.targets import route
from ccswitch.config.schema import SwitchConfig, parse_config
from ccswitch.dialplan import OutsideTarget
from ccswitch.dialplan.fraud import OutboundClass
from ccswitch.errors import ConfigError
from ccswitch.media.commands import Digit, Play


def test_blind_transfer_to_an_outside_number_goes_out_on_the_trunk() -> None:
    w = World()
    c = Call(w)
    resp = refer(w, "1002", c.inv, 5.0, cseq=1, my_tag="bt",
                 refer_to="<sip:5550700123@ccswitch.local>")
    assert resp.status == 202
    inv = w.carrier.take("INVITE")
    assert inv.uri.user == "+15550700123"
    # forwarded by the switch: the carrier learns the number the call was for (1002, the
    # transferor's extension here) with RFC 5806's reason for a person's transfer
    diversion = inv.headers.get("diversion")
    assert diversion is not None and "1002@" in diversion and "reason=deflection" in diversion
    # the offer is ours (from the call's end b), not the caller's
    assert b"m=audio" in inv.body
    w.carrier.reply(inv, 200, "OK", 5.5, to_tag="far", body=offer(9000))
    w.pump()
    assert w.carrier.take("ACK").method == "ACK"
    assert any("200 OK" in n.body.decode() for n in notifies(w, "1002", 5.6))
    assert w.sig.trunk_legs is not None
    assert w.sig.trunk_legs.active_calls("carrier") == 1


def test_a_transfer_to_an_international_number_is_refused_by_the_users_class() -> None:
    w = World()
    c = Call(w)
    resp = refer(w, "1002", c.inv, 5.0, cseq=1, my_tag="bt",
                 refer_to="<sip:011442079460000@ccswitch.local>")
    assert resp.status == 202  # a dial-able form: accepted, then refused by the policy
    assert not invites(w.carrier) and not invites(w.carrier2)
    frags = [n.body.decode() for n in notifies(w, "1002", 5.1)]
    assert any("403" in f for f in frags), frags
    assert w.sig.trunk_legs is not None
    assert w.sig.trunk_legs.counters["outbound_refused"] == 1


def test_a_user_of_class_international_may_transfer_abroad() -> None:
    def intl(cfg: SwitchConfig) -> SwitchConfig:
        t = cfg.trunking
        classes = {**t.classes, "1002": OutboundClass.INTERNATIONAL}
        return dataclasses.replace(cfg, trunking=dataclasses.replace(t, classes=classes))

    w = World(demo_config(intl))
    c = Call(w)
    assert refer(w, "1002", c.inv, 5.0, cseq=1, my_tag="bt",
                 refer_to="<sip:011442079460000@ccswitch.local>").status == 202
    # the demo's international route sends +44... to carrier only
    assert w.carrier.take("INVITE").uri.user == "+442079460000"


def configured(extra: str, numbers: str = "") -> SwitchConfig:
    text = DEMO.read_text().replace('700 = "ivr:demo"', '700 = "ivr:demo"\n' + numbers, 1)
    return parse_config(text + extra, "demo+.toml")


def test_number_is_accepted_in_menus_and_queue_rules_only() -> None:
    cfg = configured('\n[ivr.out]\nprompt = "main-menu"\n[ivr.out.choices]\n'
                     '1 = "number:5550700999"\n', numbers='760 = "ivr:out"')
    assert cfg.menus["out"].choices["1"] == ("number:5550700999",)
    text = DEMO.read_text().replace('wrapup = 5\n', 'wrapup = 5\non_timeout = '
                                    '"number:+15550700998"\nmax_wait = 60\n', 1)
    q = parse_config(text, "q.toml").queues["support"]
    assert str(q.overflow_for("on_timeout")) == "number:+15550700998"


def answered_ivr_call(w: World) -> object:
    """1001 calls 700 (the IVR answers); returns the switch's call."""
    w.dial("1001", "700", 1.0, call_id="ivr-out")
    ok = w["1001"].last_response()
    assert ok.status == 200
    w.ack("1001", ok, 1.1)
    (call,) = w.sig.b2bua._calls.values()
    return call


def test_a_configured_number_target_calls_out_without_a_user() -> None:
    """What a menu's ``number:`` action or a queue's overflow does: ``route`` to an
    OutsideTarget, trusted (no user class), with the route's or the trunk's caller ID."""
    w = World()
    call = answered_ivr_call(w)
    assert route(w.sig.b2bua, call, OutsideTarget("5550700999"), 2.0) == "ringing"
    w.pump()
    inv = w.carrier.take("INVITE")
    assert inv.uri.user == "+15550700999"
    assert inv.from_.uri.user == "+15550700000"  # the trunk's caller ID: no user's own
    w.carrier.reply(inv, 503, "Service Unavailable", 2.5, to_tag="x")
    w.pump()
    assert w.carrier2.take("INVITE").uri.user == "+15550700999"  # failover works here too


def test_a_configured_number_to_a_blocked_prefix_is_refused() -> None:
    def blocked(cfg: SwitchConfig) -> SwitchConfig:
        t = cfg.trunking
        out = dataclasses.replace(t.outbound, blocked_prefixes=("+1555070099",))
        return dataclasses.replace(cfg, trunking=dataclasses.replace(t, outbound=out))

    w = World(demo_config(blocked))
    call = answered_ivr_call(w)
    assert route(w.sig.b2bua, call, OutsideTarget("5550700999"), 2.0) == "failed:403"
    assert not invites(w.carrier)


def test_the_apis_transfer_command_to_an_outside_number() -> None:
    w = World()
    api = Api(w)
    c = Call(w)
    assert c.ok.status == 200
    (call,) = w.sig.b2bua._calls.values()
    r = api("POST", f"/api/v1/calls/{call.key}/transfer", json={"number": "5550700123"})
    assert r.status_code == 200, r.text
    assert w.carrier.take("INVITE").uri.user == "+15550700123"
    # an international number: accepted as a command, refused by 1002's class (national)
    w2 = World()
    api2 = Api(w2)
    Call(w2)
    (call2,) = w2.sig.b2bua._calls.values()
    r = api2("POST", f"/api/v1/calls/{call2.key}/transfer", json={"number": "011442079460000"})
    assert r.status_code == 200, r.text
    assert not invites(w2.carrier) and not invites(w2.carrier2)
    assert w2.sig.trunk_legs is not None
    assert w2.sig.trunk_legs.counters["outbound_refused"] == 1


def test_a_configured_number_that_no_route_takes_is_refused_at_load() -> None:
    with pytest.raises(ConfigError) as info:  # "12" is no outside number of the NANP plan
        configured('\n[ivr.out]\nprompt = "main-menu"\n[ivr.out.choices]\n'
                   '1 = "number:12"\n', numbers='760 = "ivr:out"')
    assert (info.value.key, "not an outside number" in info.value.fault) == (
        "ivr.out.choices.1", True)
    # without the demo's "international" route, +44 is taken by no route
    text = DEMO.read_text().replace('prefixes = ["+"]', 'prefixes = ["+1"]', 1)
    text = text.replace('wrapup = 5\n', 'wrapup = 5\non_timeout = "number:+442079460000"\n'
                        'max_wait = 60\n', 1)
    with pytest.raises(ConfigError) as info:
        parse_config(text, "q.toml")
    assert (info.value.key, info.value.fault) == (
        "queues.support.on_timeout", "no [[routes]] entry takes +442079460000")


def test_a_menu_key_with_number_calls_out() -> None:
    """The demo menu with ``3 = "number:5550700999"``: 1001 dials 700 and presses 3 during
    the greeting; the call goes out on carrier with the trunk's caller ID."""
    text = DEMO.read_text().replace('9 = "echo"', '9 = "echo"\n3 = "number:5550700999"', 1)
    w = World(parse_config(text, "menu.toml"))
    w.dial("1001", "700", 1.0, call_id="menu-out")
    ok = w["1001"].last_response()
    assert ok.status == 200
    w.ack("1001", ok, 1.1)
    (greeting,) = [c for c in w.commands(Play)]
    w.sig.media_events([Digit(greeting.leg, "3", "rfc4733")], 2.0)
    w.pump()
    inv = w.carrier.take("INVITE")
    assert (inv.uri.user, inv.from_.uri.user) == ("+15550700999", "+15550700000")
    # the menu's rule forwards the call dialled to 700: Diversion names 700, unconditional
    diversion = inv.headers.get("diversion")
    assert diversion is not None and "700@" in diversion and "reason=unconditional" in diversion


def test_a_queue_overflow_to_number_calls_out_after_max_wait() -> None:
    text = DEMO.read_text().replace('wrapup = 5\n', 'wrapup = 5\nmax_wait = 10\n'
                                    'on_timeout = "number:5550700998"\n', 1)
    w = World(parse_config(text, "overflow.toml"))
    w.dial("1001", "800", 1.0, call_id="q-out")  # support: no agent logged in
    ok = w["1001"].last_response()
    assert ok.status == 200  # queued: answered with music
    w.ack("1001", ok, 1.1)
    w.run_until(10.5)  # max_wait 10 s from 1.0: not yet
    assert not invites(w.carrier)
    w.run_until(11.5)
    sent = invites(w.carrier)  # the INVITE and its UDP retransmission (timer A, 0.5 s)
    assert {(i.uri.user, i.call_id, i.cseq.seq) for i in sent} == {
        ("+15550700998", sent[0].call_id, 1)}
    diversion = sent[0].headers.get("diversion")  # the queue's number, 800, diverted it
    assert diversion is not None and "800@" in diversion and "reason=unconditional" in diversion
    # the number is busy: no other trunk for a 486; the caller's call ends (no flow to go back to)
    w.carrier.reply(sent[0], 486, "Busy Here", 12.0, to_tag="busy")
    w.pump()
    assert not invites(w.carrier2)
    assert w["1001"].requests("BYE")
    (ended,) = w.ended()
    assert ended.status == 486
