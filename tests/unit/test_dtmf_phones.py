"""A phone's ``[[users]] dtmf`` (rfc4733, info, inband, auto) and DTMF interworking between
any two legs by their modes — phone to phone and phone to trunk — through the signaling core
(fake clock; the worker's ``Digit`` events fed in by hand, its commands read)."""

from __future__ import annotations

import dataclasses

import pytest
from callworld import Switch, offer
from sipphone import DEMO, header

from ccswitch.config.schema import SwitchConfig, parse_config
from ccswitch.errors import ConfigError
from ccswitch.media.commands import (
    ConfigureLeg,
    Detect,
    Digit,
    Play,
    PlayTone,
    RelayEvents,
    SendDigit,
)
from ccswitch.sip.message import Request, Response


def with_dtmf(cfg: SwitchConfig, **modes: str) -> SwitchConfig:
    users = dict(cfg.users)
    for user, mode in modes.items():
        users[user.lstrip("u")] = dataclasses.replace(users[user.lstrip("u")], dtmf=mode)
    return dataclasses.replace(cfg, users=users)


def demo(**modes: str) -> SwitchConfig:
    return with_dtmf(parse_config(DEMO.read_text(), "demo.toml"), **modes)


class Pair(Switch):
    """1001 calls 1002, answered and ACKed; ``a_leg``/``b_leg`` their media legs."""

    def __init__(self, config: SwitchConfig) -> None:
        super().__init__(("1001", "1002"), config=config)
        self.ok, self.inv = self.call("1001", "1002", 1.0, call_id="d1")
        conf = {c.remote_port: c.leg for c in self.commands(ConfigureLeg)
                if isinstance(c, ConfigureLeg)}
        self.a_leg, self.b_leg = conf[4000], conf[6000]

    def worker_digit(self, leg: int, key: str, method: str, now: float) -> int:
        mark = self.mark()
        self.sig.media_events([Digit(leg, key, method)], now)  # type: ignore[arg-type]
        self.pump()
        return mark

    def info_from(self, user: str, key: str, now: float, *, cseq: int = 5) -> int:
        """``user``'s phone sends an INFO digit in the call's dialog."""
        mark = self.mark()
        p = self[user]
        dialog = self.ok if user == "1001" else self.inv
        p.send(p.in_dialog("INFO", dialog, cseq=cseq, my_tag="bt" if user == "1002" else "",
                           body=f"Signal={key}\nDuration=160\n",
                           extra="Content-Type: application/dtmf-relay\n"), now)
        self.pump()
        return mark


def test_the_user_key_is_parsed_and_checked() -> None:
    text = DEMO.read_text().replace('display = "Phone {user}"\n',
                                    'display = "Phone {user}"\ndtmf = "info"\n', 1)
    cfg = parse_config(text, "demo.toml")
    assert cfg.users["1001"].dtmf == "info" and cfg.users["2001"].dtmf == "auto"
    bad = DEMO.read_text().replace('display = "Phone {user}"\n',
                                   'display = "Phone {user}"\ndtmf = "sip"\n', 1)
    with pytest.raises(ConfigError) as info:
        parse_config(bad, "demo.toml")
    assert info.value.key == "users[0].dtmf" and "rfc4733, info, inband, auto" in \
        info.value.fault


def test_an_rfc4733_digit_reaches_an_info_phone_as_info_and_back() -> None:
    w = Pair(demo(u1002="info"))
    # 1002's SDP has telephone-event: the relay passes it no RFC 4733 event (the INFO only)
    assert w.commands(RelayEvents) == [RelayEvents(w.b_leg, on=False)]
    mark = w.worker_digit(w.a_leg, "5", "rfc4733", 3.0)
    info = w["1002"].take("INFO")
    assert header(info, "Content-Type") == "application/dtmf-relay"
    assert info.body.startswith(b"Signal=5")
    assert not w.since(mark, SendDigit) and not w.since(mark, Play)
    w["1002"].reply(info, 200, "OK", 3.1)
    w.pump()
    # 1002's INFO digit: answered here, sent to 1001 (auto, telephone-event) as RFC 4733
    mark = w.info_from("1002", "9", 4.0)
    ok = [r for r in w["1002"].responses() if r.cseq.method == "INFO"][-1]
    assert ok.status == 200
    assert w.since(mark, SendDigit) == [SendDigit(w.a_leg, "9")]
    assert not w["1001"].requests("INFO")


def test_an_info_phone_to_an_inband_phone_hears_the_tone() -> None:
    w = Pair(demo(u1001="info", u1002="inband"))
    detects = [c.leg for c in w.commands(Detect) if isinstance(c, Detect) and c.inband]
    assert detects == [w.b_leg]  # only the in-band phone's audio is decoded for digits
    assert sorted(c.leg for c in w.commands(RelayEvents) if isinstance(c, RelayEvents)) == \
        sorted((w.a_leg, w.b_leg))
    mark = w.info_from("1001", "#", 3.0)
    plays = [c for c in w.since(mark, Play) if isinstance(c, Play)]
    assert [(p.leg, p.source, p.mix) for p in plays] == [(w.b_leg, PlayTone("dtmf-#"), True)]
    mark = w.worker_digit(w.b_leg, "4", "inband", 3.5)
    info = w["1001"].take("INFO")
    assert info.body.startswith(b"Signal=4")


def test_two_info_phones_relay_info_as_it_is() -> None:
    w = Pair(demo(u1001="info", u1002="info"))
    w.info_from("1001", "3", 3.0)
    relayed = w["1002"].requests("INFO")
    assert len(relayed) == 1 and relayed[0].body.startswith(b"Signal=3")
    assert not w.commands(SendDigit)


def test_auto_phones_cost_nothing() -> None:
    """The demo: both phones auto with telephone-event, so RFC 4733 both ways: relayed by
    the worker, nothing converted, no in-band detection."""
    w = Pair(demo())
    mark = w.worker_digit(w.a_leg, "5", "rfc4733", 3.0)
    assert not w.since(mark, SendDigit) and not w.since(mark, Play)
    assert not w["1002"].requests("INFO")
    assert not [c for c in w.commands(Detect) if isinstance(c, Detect) and c.inband]
    assert not w.commands(RelayEvents)


def test_a_reload_changes_the_mode_of_the_next_call() -> None:
    w = Switch(("1001", "1002"), config=demo())
    w.sig.reload(demo(u1002="info"), 0.5)
    w.call("1001", "1002", 1.0, call_id="d2")
    conf = {c.remote_port: c.leg for c in w.commands(ConfigureLeg)
            if isinstance(c, ConfigureLeg)}
    w.sig.media_events([Digit(conf[4000], "2", "rfc4733")], 3.0)
    w.pump()
    assert w["1002"].take("INFO").body.startswith(b"Signal=2")


MARK = 'caller_id = "+15550700000"\n\n[trunks.carrier2]'


def test_an_info_phone_and_an_rfc4733_carrier_interwork() -> None:
    """Phone to trunk by the phone's mode: 1001 (info) calls out through ``carrier`` (auto,
    its SDP has telephone-event): 1001's INFO goes out as RFC 4733, the carrier's RFC 4733
    reaches 1001 as INFO."""
    w = Switch(("1001",), config=with_dtmf(parse_config(DEMO.read_text(), "demo.toml"),
                                           u1001="info"))
    carrier = w.add("carrier", 5070, register=False)
    w.dial("1001", "5550700123", 1.0, call_id="t1", port=4000)
    inv = carrier.take("INVITE")
    carrier.reply(inv, 200, "OK", 2.0, to_tag="c1", body=offer(9000))
    w.pump()
    ok = w["1001"].last_response()
    assert isinstance(ok, Response) and ok.status == 200
    w.ack("1001", ok, 2.1)
    conf = {c.remote_port: c.leg for c in w.commands(ConfigureLeg)
            if isinstance(c, ConfigureLeg)}
    a_leg, b_leg = conf[4000], conf[9000]
    p = w["1001"]
    mark = w.mark()
    p.send(p.in_dialog("INFO", ok, cseq=5, body="Signal=8\nDuration=160\n",
                       extra="Content-Type: application/dtmf-relay\n"), 3.0)
    w.pump()
    assert w.since(mark, SendDigit) == [SendDigit(b_leg, "8")]
    assert not carrier.requests("INFO")
    w.sig.media_events([Digit(b_leg, "1", "rfc4733")], 3.5)
    w.pump()
    got = [m for m in p.inbox if isinstance(m, Request) and m.method == "INFO"]
    assert len(got) == 1 and got[0].body.startswith(b"Signal=1")
    assert a_leg != b_leg
