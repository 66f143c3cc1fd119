"""Hot reload never ignores a section: every ``SwitchConfig`` field is applied live, in part,
or reported as needing a restart (fake clock, the demo switch of ``callworld``)."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from pathlib import Path

from callworld import Switch
from test_reload import config, demo_text

from ccswitch.call.reload import (
    DERIVED_FIELDS,
    LIVE_FIELDS,
    PART_FIELDS,
    RESTART_FIELDS,
    TRUNKING_PARTS,
    Reloaded,
)
from ccswitch.call.signaling import Listener, Signaling
from ccswitch.config.schema import SwitchConfig
from ccswitch.config.trunks import TrunkingConfig
from ccswitch.dialplan.inbound import DidMatch, DidNotFound
from ccswitch.dialplan.outbound import OutboundCall
from ccswitch.dialplan.targets import QueueTarget
from ccswitch.http.desktop import EXTRA_KEY as DESKTOP_KEY
from ccswitch.http.desktop import Desktop
from ccswitch.ids import Ids
from ccswitch.sip.mwi import Subscribe
from ccswitch.store.db import Location
from ccswitch.switch import Switch as ShellSwitch


def test_every_field_of_the_configuration_has_a_reload_rule() -> None:
    groups = (LIVE_FIELDS, RESTART_FIELDS, PART_FIELDS, DERIVED_FIELDS)
    named = [f for g in groups for f in g]
    assert len(named) == len(set(named)), "a field in two groups"
    # a new SwitchConfig field fails here until call/reload.py says what a reload does to it
    assert set(named) == {f.name for f in dataclasses.fields(SwitchConfig)}
    # and every part of the trunking: a [dns] change was once merged as if live, and ignored
    assert set(TRUNKING_PARTS) == {f.name for f in dataclasses.fields(TrunkingConfig)}


def test_a_new_did_routes_the_next_carrier_call_and_the_old_one_is_404() -> None:
    w = Switch(("1001",))
    did = w.sig._did_routers["carrier"]
    assert isinstance(did.route(request_user="5550900", to_user=None), DidNotFound)
    text = demo_text(replace=('5550800 = "queue:support"', '5550900 = "queue:support"'))
    done = w.sig.reload(config(text), 1.0)
    assert done.changed == ("dids",) and done.restart == ()
    for trunk in ("carrier", "carrier2"):
        route = w.sig._did_routers[trunk].route
        assert route(request_user="5550900", to_user=None) == DidMatch("5550900",
                                                                       QueueTarget("support"))
        assert isinstance(route(request_user="5550800", to_user=None), DidNotFound)


def test_a_route_change_applies_and_the_toll_policy_keeps_its_counts() -> None:
    w = Switch(("1001",))
    legs = w.sig.trunk_legs
    assert legs is not None
    policy = legs.router.policy
    policy.call_started("k1", "1001", "carrier", 0.5)  # an outside call in progress
    # the nanp route now goes to carrier2 first; 1001 may call 3 at once instead of 2
    text = demo_text(replace=('trunks = ["carrier", "carrier2"]', 'trunks = ["carrier2"]'))
    text = text.replace("max_calls_per_user = 2", "max_calls_per_user = 3")
    done = w.sig.reload(config(text), 1.0)
    assert set(done.changed) == {"routes", "outbound"} and done.restart == ()
    assert legs.router.policy is policy
    assert policy.max_user_calls == 3
    decision = legs.decide(caller="1001", dialled="2125550100", now=2.0)
    # 10 digits, NANP: +1 and the number, on the route's only trunk now
    assert isinstance(decision, OutboundCall), decision
    assert (decision.number, decision.trunks) == ("+12125550100", ("carrier2",))
    policy.call_started("k2", "1001", "carrier2", 2.0)
    # 2 calls in progress (the one before the reload counts), 3 allowed: a third goes out
    assert isinstance(legs.decide(caller="1001", dialled="2125550101", now=3.0),
                      OutboundCall)
    policy.call_started("k3", "1001", "carrier2", 3.0)
    refused = legs.decide(caller="1001", dialled="2125550102", now=4.0)
    assert not isinstance(refused, OutboundCall)  # 3 in progress = max_calls_per_user


def test_a_trunk_change_keeps_all_trunking_and_needs_a_restart() -> None:
    w = Switch(("1001",))
    old = w.sig.config.trunking
    text = demo_text(replace=('address = "udp:127.0.0.1:5072"', 'address = "udp:127.0.0.1:5074"'))
    text = text.replace('5550800 = "queue:support"', '5550900 = "queue:support"')
    done = w.sig.reload(config(text), 1.0)
    assert done.restart == ("trunks", "dids") and done.changed == ()
    assert w.sig.config.trunking == old
    assert isinstance(w.sig._did_routers["carrier"].route(request_user="5550800",
                                                          to_user=None), DidMatch)


def test_a_burst_window_change_needs_a_restart_and_the_rest_of_outbound_applies() -> None:
    w = Switch(("1001",))
    text = demo_text(replace=("burst_window = 60", "burst_window = 30"))
    text = text.replace("burst_attempts = 5", "burst_attempts = 4")
    done = w.sig.reload(config(text), 1.0)
    assert done.changed == ("outbound",) and done.restart == ("outbound.burst_window",)
    outbound = w.sig.config.trunking.outbound
    assert (outbound.burst_window, outbound.burst_attempts) == (60.0, 4)
    legs = w.sig.trunk_legs
    assert legs is not None and legs.router.policy.burst_attempts == 4


def test_voicemail_settings_and_pins_apply_and_a_new_mailbox_needs_a_restart() -> None:
    w = Switch(("1001",))
    vm = w.sig.voicemail
    assert vm is not None
    done = w.sig.reload(config(demo_text(replace=("pin_attempts = 3", "pin_attempts = 5"))),
                        1.0)
    assert done.changed == ("voicemail",) and done.restart == ()
    assert vm.config.settings.pin_attempts == 5
    # the longest MWI subscription: the next SUBSCRIBE gets it
    done = w.sig.reload(config(demo_text(replace=("pin_attempts = 3",
                                                  "pin_attempts = 3\nmwi_max_expires = 90"))),
                        1.5)
    assert done.changed == ("voicemail",)
    assert vm.mwi.receive(Subscribe("s", "1001", 600, initial=True), 1.5).expires == 90
    # 1001-1020 have a mailbox; one more user with one is a new box: kept, restart
    boxes = set(vm.config.mailboxes)
    text = demo_text('\n[[users]]\nname = "3001"\npassword = "pw3001"\nmailbox = true\n')
    done = w.sig.reload(config(text), 2.0)
    assert "voicemail.mailboxes" in done.restart and "voicemail" not in done.changed
    assert set(vm.config.mailboxes) == boxes and "3001" not in vm.boxes
    assert "3001" in w.sig.config.users  # the user itself is live


def test_store_is_reported_and_desktop_and_reports_are_live() -> None:
    w = Switch(("1001",))
    text = demo_text('\n[store]\ndsn = "postgresql://ccswitch@127.0.0.1/ccswitch"\n',
                     replace=('pause_reasons = ["break", "lunch", "training"]',
                              'pause_reasons = ["break", "coaching"]'))
    done = w.sig.reload(config(text), 1.0)
    assert done.restart == ("store",) and done.changed == ("agent_desktop",)
    assert w.sig.config.store.dsn is None  # SQLite stays until a restart
    assert w.sig.config.agent_desktop.pause_reasons == ("break", "coaching")


def test_the_shell_looks_prompt_files_up_in_the_running_configuration() -> None:
    sw = ShellSwitch(config(demo_text()))
    sw.config = dataclasses.replace(sw.config, prompt_files={"welcome.wav": "/site/w.wav"})
    assert sw._prompt_file("welcome.wav") == "/site/w.wav"  # a reload's new table


def test_the_shell_hands_the_new_desktop_menus_to_the_api(tmp_path: Path) -> None:
    """``Switch.reload`` (the shell) swaps the desktop's menus: the next GET /api/v1/desktop
    lists the new pause reasons."""
    text = demo_text(replace=('pause_reasons = ["break", "lunch", "training"]',
                              'pause_reasons = ["break", "coaching"]'))
    sw = ShellSwitch(config(demo_text()), load=lambda: config(text))

    async def main() -> Reloaded:
        sw._loop = asyncio.get_running_loop()
        sw.signaling = Signaling(config=sw.config, listeners=[Listener("udp", "127.0.0.1", 5060)],
                                 ids=Ids(random.Random(5)))
        sw.control = sw._control()
        sw.control.extras[DESKTOP_KEY] = Desktop(Location(tmp_path / "ccswitch.db"),
                                                 sw.config.agent_desktop)
        return await sw.reload()

    done = asyncio.run(main())
    assert done.changed == ("agent_desktop",)
    assert sw.control is not None
    desk = sw.control.extras[DESKTOP_KEY]
    assert isinstance(desk, Desktop) and desk.config.pause_reasons == ("break", "coaching")
