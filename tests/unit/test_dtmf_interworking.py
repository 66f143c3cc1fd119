"""DTMF interworking between a phone (RFC 4733: callworld's offer has telephone-event) and the
demo trunk ``carrier`` set to each ``dtmf`` mode, through the signaling core (the media worker
is played by hand: its ``Digit`` events are fed in, its commands read)."""

from __future__ import annotations

import pytest
from callworld import Switch, offer
from sipphone import DEMO, header

from ccswitch.config.schema import parse_config
from ccswitch.errors import ConfigError
from ccswitch.media.commands import ConfigureLeg, Detect, Digit, Play, PlayTone, SendDigit
from ccswitch.media.player import PlayerError, tone_spec
from ccswitch.sip.message import Request, Response

MARK = 'caller_id = "+15550700000"\n\n[trunks.carrier2]'


class World(Switch):
    """1001 calls +15550700123 out through ``carrier`` in ``mode``; answered, ACKed."""

    def __init__(self, mode: str) -> None:
        text = DEMO.read_text()
        assert MARK in text
        text = text.replace(MARK, f'caller_id = "+15550700000"\ndtmf = "{mode}"\n\n'
                                  '[trunks.carrier2]')
        super().__init__(config=parse_config(text, "demo.toml"))
        self.carrier = self.add("carrier", 5070, register=False)
        self.dial("1001", "5550700123", 1.0, call_id="dtmf-1", port=4000)
        self.inv = self.carrier.take("INVITE")
        self.carrier.reply(self.inv, 200, "OK", 2.0, to_tag="c1", body=offer(9000))
        self.pump()
        self.ok = self["1001"].last_response()
        assert self.ok.status == 200
        self.ack("1001", self.ok, 2.1)
        self.carrier.take("ACK")
        conf = {c.remote_port: c.leg for c in self.commands(ConfigureLeg)
                if isinstance(c, ConfigureLeg)}
        self.a_leg, self.b_leg = conf[4000], conf[9000]  # phone's and carrier's media legs

    def worker_digit(self, leg: int, key: str, method: str, now: float) -> int:
        """The worker reports ``key`` on media ``leg``; returns the command mark before."""
        mark = self.mark()
        self.sig.media_events([Digit(leg, key, method)], now)  # type: ignore[arg-type]
        self.pump()
        return mark

    def carrier_info(self, body: str, ctype: str, now: float) -> int:
        mark = self.mark()
        info = self.carrier.in_dialog("INFO", self.inv, cseq=1, body=body, my_tag="c1",
                                      extra=f"Content-Type: {ctype}\n")
        self.carrier.send(info, now)
        self.pump()
        return mark


def test_a_phone_digit_reaches_an_info_carrier_as_info() -> None:
    w = World("info")
    mark = w.worker_digit(w.a_leg, "5", "rfc4733", 3.0)
    info = w.carrier.take("INFO")
    assert header(info, "Content-Type") == "application/dtmf-relay"
    assert info.body.startswith(b"Signal=5\r\n") or info.body.startswith(b"Signal=5\n")
    assert not w.since(mark, SendDigit) and not w.since(mark, Play)
    w.carrier.reply(info, 200, "OK", 3.1)
    w.pump()  # the answer is ours: nothing goes to the phone
    assert not [m for m in w["1001"].inbox if isinstance(m, Request) and m.method == "INFO"]


@pytest.mark.parametrize(("body", "ctype"), [
    ("Signal=7\nDuration=160\n", "application/dtmf-relay"),
    ("7", "application/dtmf"),
])
def test_info_from_the_carrier_reaches_the_phone_as_rfc4733(body: str, ctype: str) -> None:
    w = World("info")
    mark = w.carrier_info(body, ctype, 3.0)
    r = w.carrier.last_response()
    assert isinstance(r, Response) and r.status == 200
    assert w.since(mark, SendDigit) == [SendDigit(w.a_leg, "7")]
    assert not w["1001"].requests("INFO")


def test_same_mode_both_ways_costs_nothing() -> None:
    """rfc4733 on both legs: the worker relays the events itself; the switch does nothing."""
    w = World("rfc4733")
    mark = w.worker_digit(w.a_leg, "5", "rfc4733", 3.0)
    mark2 = w.worker_digit(w.b_leg, "6", "rfc4733", 3.5)
    assert not w.since(mark, SendDigit) and not w.since(mark2, Play)
    assert not w.carrier.requests("INFO")
    # no in-band detection was asked for on either leg
    assert not [c for c in w.commands(Detect) if isinstance(c, Detect) and c.inband]


def test_auto_follows_the_carrier_sdp() -> None:
    """auto: the carrier's answer (callworld's offer) has telephone-event, so rfc4733."""
    w = World("auto")
    mark = w.worker_digit(w.a_leg, "5", "rfc4733", 3.0)
    assert not w.since(mark, SendDigit) and not w.carrier.requests("INFO")


def test_an_inband_carrier_hears_tones_and_its_tones_are_detected() -> None:
    w = World("inband")
    detects = [c for c in w.commands(Detect) if isinstance(c, Detect) and c.inband]
    assert [c.leg for c in detects] == [w.b_leg]  # only the in-band leg is decoded
    mark = w.worker_digit(w.a_leg, "#", "rfc4733", 3.0)
    plays = [c for c in w.since(mark, Play) if isinstance(c, Play)]
    assert [(p.leg, p.source, p.mix) for p in plays] == [(w.b_leg, PlayTone("dtmf-#"), True)]
    mark = w.worker_digit(w.b_leg, "3", "inband", 3.5)
    assert w.since(mark, SendDigit) == [SendDigit(w.a_leg, "3")]


def test_an_info_that_is_no_digit_is_relayed_as_before() -> None:
    w = World("inband")
    w.carrier_info("hello", "text/plain", 3.0)
    relayed = w["1001"].requests("INFO")
    assert relayed and relayed[0].body == b"hello"


def test_the_inband_digit_tone_is_the_keys_dual_tone_once() -> None:
    spec = tone_spec("dtmf-5")
    assert spec.freqs == (770.0, 1336.0)  # "5": row 2 (770 Hz) and column 2 (1336 Hz)
    assert spec.cadence == (0.1, 0.0) and not spec.repeat  # 100 ms, played once
    with pytest.raises(PlayerError):
        tone_spec("dtmf-x")


def test_a_bad_dtmf_mode_is_a_config_error_naming_the_key() -> None:
    text = DEMO.read_text().replace(MARK, 'caller_id = "+15550700000"\ndtmf = "sip"\n\n'
                                          '[trunks.carrier2]')
    with pytest.raises(ConfigError) as info:
        parse_config(text, "demo.toml")
    assert info.value.key == "trunks.carrier.dtmf"
    assert "rfc4733, info, inband, auto" in info.value.fault
    assert info.value.line is not None
