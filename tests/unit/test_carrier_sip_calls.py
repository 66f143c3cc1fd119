"""100rel/PRACK both ways, early media relayed and Diversion/History-Info, through the
signaling core with scripted phones and carriers and a fake clock (T1 = 0.5 s)."""

from __future__ import annotations

import pytest
import structlog
from callworld import Switch, offer
from sipphone import DEMO, Phone, header

from ccswitch.config.schema import SwitchConfig, parse_config
from ccswitch.media.commands import ConfigureLeg
from ccswitch.sip.message import Request, Response


def config(*, carrier: str = "", dids: str = "") -> SwitchConfig:
    """The demo, the trunk ``carrier`` given extra keys, DID 5550850 ringing user 1002."""
    text = DEMO.read_text()
    text = text.replace('[trunks.carrier]\n', f'[trunks.carrier]\n{carrier}', 1)
    text = text.replace('5550850 = "room:850"', dids or '5550850 = "user:1002"', 1)
    return parse_config(text, "demo.toml")


class World(Switch):
    def __init__(self, cfg: SwitchConfig | None = None) -> None:
        super().__init__(config=cfg or config())
        self.carrier = self.add("carrier", 5070, register=False)

    def from_carrier(self, did: str, now: float, *, call_id: str, extra: str = "") -> Request:
        text = self.carrier.request("INVITE", f"sip:{did}@127.0.0.1:5060", call_id=call_id,
                                    cseq=1, to=f"<sip:{did}@127.0.0.1>", body=offer(8000),
                                    extra=extra)
        text = text.replace("<sip:carrier@ccswitch.local>", "<sip:+15557654321@127.0.0.1>")
        self.carrier.send(text, now)
        self.pump()
        msg = self.carrier.inbox[0]
        assert isinstance(msg, Response)
        return self.sig.txn.request_of(f"s:INVITE:{self.carrier.last_branch}:127.0.0.1:5070")

    def call_out(self, call_id: str, *, extra: str = "") -> Request:
        """1001 calls an outside number at 1.0 (its INVITE with SDP, ``extra`` headers): the
        INVITE the carrier gets."""
        self["1001"].invite("5550700123", 1.0, call_id=call_id, body=offer(4000), extra=extra,
                            phones=list(self.phones.values()))
        self.pump()
        return self.carrier.take("INVITE")

    def early_183(self, call_id: str, at: float, *, caller: str = "carrier",
                  extra: str = "Supported: 100rel\n") -> Request:
        """A call to 1002 (from the carrier to DID 5550850, else from ``caller`` without SDP)
        with ``extra`` headers, which 1002 answers 183 with SDP at ``at``: 1002's INVITE."""
        if caller == "carrier":
            self.from_carrier("5550850", 1.0, call_id=call_id, extra=extra)
        else:
            self[caller].invite("1002", 1.0, call_id=call_id, extra=extra,
                                phones=list(self.phones.values()))
            self.pump()
        to_phone = self["1002"].take("INVITE")
        self["1002"].reply(to_phone, 183, "Session Progress", at, to_tag="p1", body=offer(6000))
        self.pump()
        return to_phone


def resp_of(phone: Phone, status: int) -> list[Response]:
    """The responses to INVITEs with ``status`` that ``phone`` received."""
    return [m for m in phone.inbox if isinstance(m, Response) and m.status == status
            and m.cseq.method == "INVITE"]


def prack_text(phone: Phone, resp: Response, rack: str, cseq: int = 2) -> str:
    return phone.in_dialog("PRACK", resp, cseq=cseq, extra=f"RAck: {rack}\n")


# -- as UAC: our trunk legs ------------------------------------------------------------------


def test_a_reliable_183_from_a_trunk_is_pracked_once() -> None:
    w = World()
    inv = w.call_out("o1")
    r183 = w.carrier.response(inv, 183, "Session Progress", to_tag="c1", body=offer(9000),
                              extra="Require: 100rel\nRSeq: 5\n")
    w.carrier.send(r183, 1.5)
    w.pump()
    prack = w.carrier.take("PRACK")
    assert header(prack, "RAck") == "5 1 INVITE"  # RSeq 5, the INVITE's CSeq 1
    assert prack.cseq.seq == 2 and prack.to.tag == "c1"  # CSeq 1 + 1, in the early dialog
    assert prack.uri.port == 5070  # the 183's Contact
    early = resp_of(w["1001"], 183)
    assert len(early) == 1 and b"127.0.0.9" in early[0].body  # our media address
    w.carrier.send(r183, 2.0)  # the carrier retransmits it (it missed our PRACK)
    w.pump()
    assert not w.carrier.requests("PRACK")  # no second PRACK from the core...
    assert len(resp_of(w["1001"], 183)) == 1  # ...and not relayed again
    w.carrier.reply(inv, 200, "OK", 3.0, to_tag="c1", body=offer(9000))
    w.pump()
    okr = w["1001"].last_response()
    assert okr.status == 200
    w.ack("1001", okr, 3.1)
    w["1001"].send(w["1001"].in_dialog("BYE", okr, cseq=3), 4.0)
    w.pump()
    assert w.carrier.take("BYE").cseq.seq == 3  # after INVITE 1 and PRACK 2


@pytest.mark.parametrize(("setting", "supported", "require"), [
    ("", "100rel, timer", None),  # the trunk's defaults: 100rel and session timers supported
    ('100rel = "required"\n', "timer", "100rel"),  # required: not merely supported
    ('100rel = "off"\n', "timer", None),
])
def test_a_trunk_invite_offers_100rel_as_the_trunk_says(setting: str, supported: str,
                                                        require: str | None) -> None:
    inv = World(config(carrier=setting)).call_out("o2")
    assert (inv.headers.get("supported"), inv.headers.get("require")) == (supported, require)


def test_carrier_early_media_then_answer_with_new_sdp_keeps_the_caller_media() -> None:
    w = World()
    inv = w.call_out("o4")
    w.carrier.reply(inv, 183, "Session Progress", 1.5, to_tag="c1", body=offer(9000))
    w.pump()
    [early] = resp_of(w["1001"], 183)
    w.carrier.reply(inv, 200, "OK", 2.0, to_tag="c1", body=offer(9100, version=2))
    w.pump()
    okr = w["1001"].last_response()
    assert okr.status == 200
    # the caller keeps talking to the same port of ours, before and after the answer
    port = [ln for ln in early.body.split(b"\n") if ln.startswith(b"m=audio")]
    assert port == [ln for ln in okr.body.split(b"\n") if ln.startswith(b"m=audio")]
    # our leg towards the carrier sent to the 183's port (9000), then to the 200's (9100)
    remote = [c.remote_port for c in w.commands(ConfigureLeg)
              if isinstance(c, ConfigureLeg) and c.remote_port in (9000, 9100)]
    assert remote[0] == 9000 and remote[-1] == 9100


# -- as UAS: the caller's INVITE --------------------------------------------------------------


def test_a_carrier_supporting_100rel_gets_early_media_reliably_and_the_2xx_after_prack() -> None:
    w = World()
    w.from_carrier("5550850", 1.0, call_id="i1", extra="Supported: 100rel\n")
    to_phone = w["1002"].take("INVITE")
    w["1002"].reply(to_phone, 180, "Ringing", 1.2, to_tag="p1")
    w.pump()
    [r180] = resp_of(w.carrier, 180)
    assert r180.headers.get("rseq") is None  # no SDP, trunk "supported": unreliable
    w["1002"].reply(to_phone, 183, "Session Progress", 1.4, to_tag="p1", body=offer(6000))
    w.pump()
    [r183] = resp_of(w.carrier, 183)
    rseq = int(header(r183, "RSeq"))
    assert header(r183, "Require") == "100rel" and b"m=audio" in r183.body
    w.run_until(2.0)  # sent at 1.4, resent at 1.4 + 0.5 = 1.9
    assert len(resp_of(w.carrier, 183)) == 2
    w["1002"].reply(to_phone, 200, "OK", 2.0, to_tag="p1", body=offer(6000))
    w.pump()
    assert not resp_of(w.carrier, 200)  # held: the 183 carried SDP and is not PRACKed
    w.carrier.send(prack_text(w.carrier, r183, f"{rseq} 1 INVITE"), 2.2)
    w.pump()
    assert [r.status for r in w.carrier.responses() if r.cseq.method == "PRACK"] == [200]
    assert len(resp_of(w.carrier, 200)) == 1  # the 2xx to the INVITE followed
    w.run_until(10.0)
    assert len(resp_of(w.carrier, 183)) == 2  # no retransmission after the PRACK


def test_no_prack_within_64_t1_refuses_the_invite_with_504_and_cancels_the_callee() -> None:
    w = World()
    with structlog.testing.capture_logs() as logs:
        w.early_183("i2", 1.0)
        w.run_until(32.9)  # 1.0 + 64 * 0.5 = 33.0
        assert not resp_of(w.carrier, 504)
        w.run_until(33.0)
    assert len(resp_of(w.carrier, 504)) == 1
    assert w["1002"].requests("CANCEL")
    assert any(e["event"] == "prack_timeout" for e in logs)
    assert not w.sig.b2bua._calls


def test_a_phone_requiring_100rel_gets_its_180_reliably() -> None:
    w2 = World()
    w2["1001"].invite("1002", 1.0, call_id="p2", body=offer(4000),
                      extra="Require: 100rel\n", phones=list(w2.phones.values()))
    w2.pump()
    to_phone = w2["1002"].take("INVITE")
    w2["1002"].reply(to_phone, 180, "Ringing", 1.2, to_tag="p1")
    w2.pump()
    [r180] = resp_of(w2["1001"], 180)
    assert header(r180, "Require") == "100rel" and header(r180, "RSeq").isdigit()


def test_a_prack_naming_nothing_is_481_and_one_outside_a_dialog_too() -> None:
    w = World()
    w.early_183("i3", 1.2)
    [r183] = resp_of(w.carrier, 183)
    rseq = int(header(r183, "RSeq"))
    w.carrier.send(prack_text(w.carrier, r183, f"{rseq + 1} 1 INVITE"), 1.3)
    w.pump()
    w.carrier.send(w.carrier.request("PRACK", "sip:5550850@127.0.0.1", call_id="zz", cseq=1,
                                     to="<sip:5550850@127.0.0.1>",
                                     extra=f"RAck: {rseq} 1 INVITE\n"), 1.4)
    w.pump()
    assert [r.status for r in w.carrier.responses() if r.cseq.method == "PRACK"] == [481, 481]


def test_require_100rel_from_a_trunk_with_100rel_off_is_420() -> None:
    w = World(config(carrier='100rel = "off"\n'))
    w.from_carrier("5550850", 1.0, call_id="i4", extra="Require: 100rel\n")
    final = w.carrier.last_response()
    assert (final.status, header(final, "Unsupported")) == (420, "100rel")
    assert not w["1002"].requests("INVITE")


def test_a_required_trunk_gets_every_provisional_reliably() -> None:
    w = World(config(carrier='100rel = "required"\n'))
    w.from_carrier("5550850", 1.0, call_id="i5", extra="Supported: 100rel\n")
    to_phone = w["1002"].take("INVITE")
    w["1002"].reply(to_phone, 180, "Ringing", 1.2, to_tag="p1")
    w.pump()
    [r180] = resp_of(w.carrier, 180)
    assert header(r180, "Require") == "100rel"


# -- Diversion / History-Info -----------------------------------------------------------------


def test_a_diverted_did_call_keeps_the_original_number_for_the_ivr() -> None:
    w = World()
    with structlog.testing.capture_logs() as logs:
        w.from_carrier("5550700", 1.0, call_id="d1",
                       extra="Diversion: <sip:+15551112222@carrier.example>;reason=user-busy"
                             ";counter=1\n")
    call = next(iter(w.sig.b2bua._calls.values()))
    assert call.diversion == "+15551112222"
    assert call.ivr is not None and call.ivr.runner.call.vars["diversion"] == "+15551112222"
    assert call.vars["diversion"] == "+15551112222"  # what the CRM lookup fills URLs from
    assert any(e["event"] == "inbound_call" and e["diversion"] == "+15551112222"
               for e in logs)


def test_history_info_from_a_carrier_names_the_first_target() -> None:
    w = World()
    w.from_carrier("5550800", 1.0, call_id="d2",
                   extra="History-Info: <sip:+15553334444@c.example?Reason=SIP%3Bcause%3D408>"
                         ";index=1, <sip:5550800@127.0.0.1;cause=408>;index=1.1;mp=1\n")
    call = next(iter(w.sig.b2bua._calls.values()))
    assert call.diversion == "+15553334444"
    assert call.vars == {"did": "5550800", "diversion": "+15553334444"}


FORWARDED = "Diversion: <sip:1001@ccswitch.local>;reason=no-answer\n"  # by 1001 itself


@pytest.mark.parametrize(("setting", "extra", "diversion", "history"), [
    # the original target with the Reason (cause 408 for no-answer), then the new one
    ('diversion = "both"\n', FORWARDED,
     "<sip:1001@ccswitch.local>;reason=no-answer;counter=1",
     "<sip:1001@ccswitch.local?Reason=SIP%3Bcause%3D408>;index=1, "
     "<sip:+15550700123@127.0.0.1:5070;cause=408>;index=1.1;mp=1"),
    ('diversion = "none"\n', FORWARDED, None, None),  # a trunk set to none gets neither
    # 1001 claims the call was forwarded from a number that is not its own: not passed on
    ("", "Diversion: <sip:+15550700999@ccswitch.local>;reason=no-answer\n", None, None),
])
def test_a_forwarded_phone_call_names_its_own_number_to_the_carrier_as_the_trunk_says(
        setting: str, extra: str, diversion: str | None, history: str | None) -> None:
    inv = World(config(carrier=setting)).call_out("d3", extra=extra)
    assert (inv.headers.get("diversion"), inv.headers.get("history-info")) == (diversion,
                                                                                history)


def test_early_sdp_to_a_delayed_offer_caller_is_never_sent_reliably() -> None:
    # the caller's INVITE has no SDP: the callee's 183 SDP would be an offer to it
    w = World()
    w.early_183("do1", 1.2, caller="1001")
    [r183] = resp_of(w["1001"], 183)
    assert r183.headers.get("rseq") is None and b"m=audio" in r183.body  # as before 100rel


def test_a_delayed_offer_caller_requiring_100rel_gets_the_183_reliably_without_sdp() -> None:
    w = World()
    w.early_183("do2", 1.2, caller="1001", extra="Require: 100rel\n")
    [r183] = resp_of(w["1001"], 183)
    assert header(r183, "Require") == "100rel" and r183.body == b""
    assert r183.headers.get("content-type") is None


def test_a_held_2xx_given_up_hangs_up_the_callee_that_answered() -> None:
    w = World()
    to_phone = w.early_183("g1", 1.0)
    w["1002"].reply(to_phone, 200, "OK", 2.0, to_tag="p1", body=offer(6000))
    w.pump()
    assert not resp_of(w.carrier, 200)  # held for the PRACK that never comes
    w.run_until(33.0)  # the 183 went at 1.0: 1.0 + 64 * 0.5 = 33.0
    assert [r.status for r in w.carrier.responses() if r.status >= 200] == [504]
    assert w["1002"].requests("BYE")  # the callee had answered: BYE, not CANCEL
    assert not w.sig.b2bua._calls


def test_the_prack_follows_the_record_route_of_the_reliable_183() -> None:
    # a carrier proxy record-routes twice: the PRACK's route set is that list reversed
    # (RFC 3261 §12.1.2), its Request-URI the 183's Contact
    w = World()
    inv = w.call_out("rr1")
    r183 = w.carrier.response(inv, 183, "Session Progress", to_tag="c1", body=offer(9000),
                              extra="Record-Route: <sip:p2.example;lr>\n"
                                    "Record-Route: <sip:p1.example;lr>\n"
                                    "Require: 100rel\nRSeq: 77\n")
    r183 = r183.replace("Contact: <sip:carrier@127.0.0.1:5070>",
                        "Contact: <sip:far@192.0.2.9:5099>")
    w.carrier.send(r183, 1.5)
    w.pump()
    prack = w.carrier.take("PRACK")  # still sent to the trunk's address
    assert prack.headers.get_all("route") == ["<sip:p1.example;lr>", "<sip:p2.example;lr>"]
    assert str(prack.uri) == "sip:far@192.0.2.9:5099"
    assert header(prack, "RAck") == "77 1 INVITE"


def test_metrics_count_pracks_both_ways() -> None:
    from prometheus_client.parser import text_string_to_metric_families
    from test_api import Api

    w = World()
    api = Api(w)
    inv = w.call_out("m1")
    w.carrier.reply(inv, 183, "Session Progress", 1.5, to_tag="c1", body=offer(9000),
                    extra="Require: 100rel\nRSeq: 5\n")
    w.pump()
    w.carrier.reply(inv, 183, "Session Progress", 1.6, to_tag="c1", body=offer(9000),
                    extra="Require: 100rel\nRSeq: 5\n")  # a retransmission
    w.pump()
    r = api("GET", "/metrics", None)
    samples = {(s.name, tuple(s.labels.items())): s.value
               for f in text_string_to_metric_families(r.text) for s in f.samples}
    assert samples[("ccswitch_sip_100rel_total", (("event", "pracks_sent"),))] == 1
    assert samples[("ccswitch_sip_100rel_total", (("event", "provisionals_ignored"),))] == 1


def test_a_reliable_183_with_a_broken_contact_is_still_pracked() -> None:
    w = World()
    inv = w.call_out("bc1")
    r183 = w.carrier.response(inv, 183, "Session Progress", to_tag="c1", body=offer(9000),
                              extra="Require: 100rel\nRSeq: 3\n")
    w.carrier.send(r183.replace("Contact: <sip:carrier@127.0.0.1:5070>", "Contact: <bad"), 1.5)
    w.pump()
    prack = w.carrier.take("PRACK")
    assert str(prack.uri) == "sip:+15550700123@127.0.0.1:5070"  # the INVITE's target


def test_reliable_provisionals_and_their_retransmissions_are_counted_apart() -> None:
    w = World()
    w.early_183("c1", 1.0)
    w.run_until(4.0)  # sent at 1.0, resent at 1.0 + 0.5 = 1.5, 1.5 + 1 = 2.5 (next 4.5)
    counters = w.sig.b2bua.reliable.counters
    assert (counters["reliable_sent"], counters["retransmitted"]) == (1, 2)  # 1.5 and 2.5
    assert len(resp_of(w.carrier, 183)) == 3
