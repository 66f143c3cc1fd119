"""The CRM screen pop: templates fill in the call's values (URL-encoded in the lookup's URL),
``[crm]`` and ``script`` are checked at start-up, a call through the demo IVR into a queue
asks the CRM once and every offer carries the caller, the IVR's digits and variables, the CRM
record as it is then and the filled-in script; the CRM's answer comes back as an input."""

from __future__ import annotations

import re

import pytest
from sipphone import Phone, deliver
from test_anchor import offer
from test_ivr_calls import IvrWorld

from ccswitch.acd.events import CallerEntered, CallerOffered
from ccswitch.call.crm import CrmLookup, CrmResult, OfferCard, ScreenPop
from ccswitch.call.eventlog import record_of, wire
from ccswitch.config import parse_config
from ccswitch.config.crm import CrmConfig, Template, TemplateError, url_encode
from ccswitch.errors import ConfigError
from ccswitch.media.commands import Digit

VALUES = {"caller": "+1 555/0100", "caller_name": "Zoë & Co", "dialled": "700",
          "queue": "sales", "call_id": "c-1", "digits": "12#"}


# -- templates ---------------------------------------------------------------------------
def test_a_url_template_encodes_every_value_and_leaves_the_literal_text_alone() -> None:
    t = Template.parse("https://crm.test/find?p={caller}&n={caller_name}&d={digits}"
                       "&a={var.account}&x={var.missing}&q={queue}")
    got = t.fill(VALUES, {"account": "a=b?c"}, encode=url_encode)
    assert got == ("https://crm.test/find?p=%2B1%20555%2F0100&n=Zo%C3%AB%20%26%20Co"
                   "&d=12%23&a=a%3Db%3Fc&x=&q=sales")


def test_a_script_template_is_filled_as_is_with_literal_braces() -> None:
    t = Template.parse("{{hi}} {caller_name}, you dialled {dialled} ({ var.menu_demo })")
    assert t.fill(VALUES, {"menu_demo": "1"}) == "{hi} Zoë & Co, you dialled 700 (1)"


def test_url_encode_keeps_only_unreserved_characters() -> None:
    assert url_encode("aZ09-._~ /?#[]@!$&'()*+,;=%") == (
        "aZ09-._~%20%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%25")
    assert url_encode("") == ""


@pytest.mark.parametrize(("text", "fault"), [
    ("{nope}", "unknown placeholder {nope}"),
    ("{var.}", "unknown placeholder {var.}"),
    ("a { b", "unpaired '{' at character 3"),
    ("a } b", "unpaired '}' at character 3"),
    ("{caller", "unpaired '{'"),
])
def test_a_bad_template_names_its_fault(text: str, fault: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(fault)):
        Template.parse(text)


# -- configuration ------------------------------------------------------------------------
def test_crm_and_script_parse_with_their_defaults() -> None:
    cfg = parse_config('[crm]\nurl = "http://127.0.0.1:9/c?n={caller}"\n'
                       'headers = { Authorization = "Bearer t0k" }\n'
                       '[queues.sales]\nscript = "Hello {caller}"\n', "c.toml")
    assert cfg.crm.active and cfg.crm.timeout == 1.5
    assert cfg.crm.headers == (("Authorization", "Bearer t0k"),)
    assert "t0k" not in repr(cfg.crm)  # credentials stay out of logs
    assert cfg.queues["sales"].script == Template.parse("Hello {caller}")
    assert not parse_config("", "c.toml").crm.active
    off = parse_config('[crm]\nurl = "http://h/{caller}"\nenabled = false\n', "c.toml")
    assert not off.crm.active


@pytest.mark.parametrize(("text", "where"), [
    ('[crm]\ntimeout = 1\n', "c.toml:1: crm.url: is required"),
    ('[crm]\nurl = "{caller}"\n', "c.toml:2: crm.url: must be an http(s) URL"),
    ('[crm]\nurl = "ftp://h/x"\n', "c.toml:2: crm.url: must be an http(s) URL"),
    ('[crm]\nurl = "http://h/{who}"\n', "c.toml:2: crm.url: unknown placeholder {who}"),
    ('[crm]\nurl = "http://h/"\ntimeout = 0\n', "c.toml:3: crm.timeout: must be a positive"),
    ('[crm]\nurl = "http://h/"\ntimeout = 30\n', "c.toml:3: crm.timeout: must be at most 10"),
    ('[crm]\nurl = "http://h/"\nheaders = { "a b" = "x" }\n', 'crm.headers."a b"'),
    ('[crm]\nurl = "http://h/"\nheaders = { X = "a\\nb" }\n', "crm.headers.X"),
    ('[crm]\nurl = "http://h/"\nretries = 3\n', "crm.retries"),
    ('[queues.sales]\nscript = "Hi {name}"\n', "c.toml:2: queues.sales.script: unknown"),
    ('[queues.sales]\nscript = 3\n', "queues.sales.script"),
])
def test_a_bad_crm_or_script_names_the_file_line_and_key(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.toml")
    assert where in str(info.value), str(info.value)


# -- the core -----------------------------------------------------------------------------
CRM = CrmConfig(url=Template.parse("http://crm.test/l?c={caller}&d={digits}&m={var.menu_demo}"
                                   "&q={queue}&id={call_id}"),
                timeout=0.5, headers=(("Authorization", "Bearer k"),))
SCRIPT = Template.parse("Caller {caller} chose {var.menu_demo} for {queue}")


def _into_sales(crm: CrmConfig = CRM) -> tuple[IvrWorld, Phone, list[object]]:
    """1001 dials 700 and presses 1 (sales); agent 2005 is registered and rung."""
    w = IvrWorld()
    sig = w.sig
    sig.screenpop = ScreenPop(crm=crm, scripts={"sales": SCRIPT}, find=sig.b2bua._calls.get,
                              recorded=lambda call: call.queue_name in sig.b2bua.record_queues)
    agent = Phone(sig, "2005", 7105)
    assert agent.register(0.5).status == 200
    agent.inbox.clear()
    w.dial_700()
    (greeting,) = w.plays(w.take())
    sig.media_events([Digit(greeting.leg, "1", "rfc4733")], 2.0)
    deliver(sig, [w.a, w.b, agent])
    return w, agent, sig.events()


def test_a_call_through_the_ivr_asks_the_crm_once_and_the_offer_carries_the_screen_pop() -> None:
    w, agent, events = _into_sales()
    assert agent.take("INVITE").method == "INVITE"  # the offer did not wait for the CRM
    kinds = [type(e).__name__ for e in events]
    # the lookup follows the entry, the card follows the router's offer
    assert kinds.index("CallerEntered") + 1 == kinds.index("CrmLookup")
    assert kinds.index("CallerOffered") + 1 == kinds.index("OfferCard")
    (lookup,) = [e for e in events if isinstance(e, CrmLookup)]
    (entered,) = [e for e in events if isinstance(e, CallerEntered)]
    assert lookup.url == (f"http://crm.test/l?c=1001&d=1&m=1&q=sales&id={entered.call_id}")
    assert lookup.timeout == 0.5 and lookup.headers == (("Authorization", "Bearer k"),)
    assert "Bearer" not in repr(lookup)
    (card,) = [e for e in events if isinstance(e, OfferCard)]
    assert (card.call_id, card.queue, card.agent) == (entered.call_id, "sales", "2005")
    assert (card.caller, card.dialled, card.digits, dict(card.vars)) == (
        "1001", "700", "1", {"menu_demo": "1"})
    assert (card.crm, card.crm_status) == (None, "pending")
    assert card.script == "Caller 1001 chose 1 for sales"
    assert card.recording_id == entered.call_id  # sales records its calls
    assert card.wait_s == 0.0
    # the stream: the card is queue.caller_offered, the router's offer and the lookup are not
    recs = [record_of(e, now=2.0, wall_offset=100.0) for e in events]
    offered = [r for r in recs if r is not None and r.type == "queue.caller_offered"]
    assert len(offered) == 1 and offered[0].agent == "2005"
    assert not any(r is not None and "crm.test" in str(r.fields) for r in recs)
    obj = wire(5, offered[0])
    assert obj["vars"] == {"menu_demo": "1"} and obj["crm"] is None
    assert obj["crm_status"] == "pending" and obj["time"] == 102.0
    call = w.sig.b2bua._calls[entered.call_id]
    assert (call.digits, call.vars) == ("1", {"menu_demo": "1"})


def test_the_crm_answer_is_kept_on_the_call_reported_and_carried_by_later_offers() -> None:
    w, _agent, events = _into_sales()
    (entered,) = [e for e in events if isinstance(e, CallerEntered)]
    w.sig.crm_result(entered.call_id, {"name": "Ann", "tier": 3}, "ok", 2.4)
    (res,) = w.sig.events()
    assert res == CrmResult(2.4, entered.call_id, "sales", "2005", {"name": "Ann", "tier": 3},
                            "ok")
    rec = record_of(res, now=2.4, wall_offset=0.0)
    assert rec is not None and rec.type == "call.crm" and rec.agent == "2005"
    card = w.sig.screenpop.card(CallerOffered(7.5, entered.call_id, "sales", "2005"))
    assert card.crm == {"name": "Ann", "tier": 3} and card.crm_status == "ok"
    assert card.wait_s == pytest.approx(7.5 - 2.0)
    # a timeout later replaces it; an answer nobody asked for is dropped; a bad status is a bug
    w.sig.crm_result(entered.call_id, None, "timeout", 3.0)
    (res2,) = w.sig.events()
    assert isinstance(res2, CrmResult) and res2.crm is None and res2.crm_status == "timeout"
    w.sig.crm_result("no-such-call", {"a": 1}, "ok", 3.0)
    assert w.sig.events() == []
    with pytest.raises(ValueError, match="pending"):
        w.sig.crm_result(entered.call_id, None, "pending", 3.0)


def test_a_second_queue_does_not_ask_again() -> None:
    w, _agent, events = _into_sales()
    (entered,) = [e for e in events if isinstance(e, CallerEntered)]
    again = CallerEntered(9.0, entered.call_id, "support", 0, 1, ())
    assert w.sig.screenpop.entered(again) is None


def test_without_a_crm_the_offer_says_off_and_nothing_is_asked() -> None:
    _w, _agent, events = _into_sales(CrmConfig())
    assert not any(isinstance(e, CrmLookup) for e in events)
    (card,) = [e for e in events if isinstance(e, OfferCard)]
    assert card.crm_status == "off" and card.crm is None and card.digits == "1"


def test_a_call_straight_to_a_queue_has_no_digits_and_a_gone_call_a_bare_card() -> None:
    w = IvrWorld()
    sig = w.sig
    sig.screenpop = ScreenPop(crm=CRM, scripts={}, find=sig.b2bua._calls.get)
    agent = Phone(sig, "2005", 7105)
    assert agent.register(0.5).status == 200
    w.a.invite("801", 1.0, call_id="q-9@127.0.0.1", body=offer(4000), phones=[agent])
    ok = w.a.last_response()
    assert ok.status == 200
    w.a.send(w.a.in_dialog("ACK", ok, cseq=2), 1.05)
    deliver(sig, [w.a, w.b, agent])
    events = sig.events()
    (lookup,) = [e for e in events if isinstance(e, CrmLookup)]
    assert "&d=&m=&q=sales" in lookup.url
    (card,) = [e for e in events if isinstance(e, OfferCard)]
    assert (card.dialled, card.digits, dict(card.vars), card.script) == ("801", "", {}, None)
    assert card.recording_id is None  # no `recorded` rule given to this ScreenPop
    bare = sig.screenpop.card(CallerOffered(3.0, "gone", "sales", "2005"))
    assert (bare.caller, bare.crm_status, bare.agent) == (None, "off", "2005")


def test_an_answer_after_the_call_ended_is_still_reported_with_its_queue_and_agent() -> None:
    w, _agent, events = _into_sales()
    (entered,) = [e for e in events if isinstance(e, CallerEntered)]
    w.a.send(w.a.in_dialog("BYE", w.a.last_response(), cseq=3), 2.5)
    deliver(w.sig, [w.a, w.b])
    assert entered.call_id not in w.sig.b2bua._calls
    w.sig.events()
    w.sig.crm_result(entered.call_id, {"name": "Ann"}, "ok", 4.0)
    assert w.sig.events() == [CrmResult(4.0, entered.call_id, "sales", "2005", {"name": "Ann"},
                                        "ok")]
    w.sig.crm_result(entered.call_id, {"name": "Ann"}, "ok", 4.5)  # asked once: once
    assert w.sig.events() == []


def test_the_demo_configuration_gives_the_offer_its_script_and_the_caller_its_display() -> None:
    w = IvrWorld()  # Signaling's own screen pop, from configs/demo.toml (no [crm])
    sig = w.sig
    agent = Phone(sig, "2005", 7105)
    assert agent.register(0.5).status == 200
    w.dial_700()
    (greeting,) = w.plays(w.take())
    sig.media_events([Digit(greeting.leg, "1", "rfc4733")], 2.0)
    deliver(sig, [w.a, w.b, agent])
    (card,) = [e for e in sig.events() if isinstance(e, OfferCard)]
    assert card.caller_name == "Phone 1001"  # the user's configured display wins
    assert card.script == "Sales: thank Phone 1001 (1001) for calling 700; IVR choice 1."
    assert card.crm_status == "off" and card.recording_id == card.call_id
