"""Hot reload of the configuration in the core (fake clock): queues, users, tokens change
without touching a call or a waiting caller; start-up settings are reported, not applied."""

from __future__ import annotations

import asyncio

import pytest
from callworld import DEMO, Switch
from test_api import Api

from ccswitch.call.crm import CrmLookup, OfferCard
from ccswitch.call.reload import Reloaded
from ccswitch.config.schema import SwitchConfig, parse_config
from ccswitch.errors import ConfigError
from ccswitch.http.reload import EXTRA_KEY
from ccswitch.switch import Switch as ShellSwitch

BILLING = """
[queues.billing]
strategy = "longest_idle"
ring_timeout = 20
wrapup = 5
"""


def demo_text(extra: str = "", *, replace: tuple[str, str] | None = None) -> str:
    text = DEMO.read_text()
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace)
    return text + extra


def config(text: str) -> SwitchConfig:
    return parse_config(text, "demo.toml")


def test_a_waiting_caller_survives_a_reload_that_adds_a_queue() -> None:
    w = Switch(("1001", "2001"))
    w.sig.b2bua.router.agent_pause("2001", "lunch", 1.0)  # type: ignore[union-attr]
    w.answered("1001", "800", 2.0, call_id="q1", port=4000)
    assert w.sig.b2bua.router.waiting("support") == 1  # type: ignore[union-attr]
    text = demo_text(BILLING, replace=('801 = "queue:sales"',
                                       '801 = "queue:sales"\n802 = "queue:billing"'))
    done = w.sig.reload(config(text), 3.0)
    w.pump()
    assert "queues" in done.changed and "dialplan" in done.changed and done.restart == ()
    router = w.sig.b2bua.router
    assert router is not None
    assert router.waiting("support") == 1 and "billing" in w.sig.b2bua.queue_settings
    assert not [m for m in w["1001"].inbox if getattr(m, "method", "") == "BYE"]
    router.agent_unpause("2001", 4.0)
    w.sig.b2bua.queues.settle(4.0)
    w.pump()
    assert w["2001"].take("INVITE").method == "INVITE"  # the caller is offered as before
    # the new queue takes callers
    w.add("1002", 7100)
    w.answered("1002", "802", 5.0, call_id="b1", port=4200)
    assert router.waiting("billing") == 1


def test_a_removed_users_new_calls_get_404_and_its_call_goes_on() -> None:
    w = Switch(("1001", "1002", "1003"))
    w.call("1001", "1003", 1.0, call_id="c1")
    text = demo_text(replace=('range = "1001-1020"', 'range = "1001-1002"'))
    text += '\n[[users]]\nrange = "1004-1020"\npassword = "pw{user}"\n'
    text = text.replace("[[users]]\nrange = \"1004-1020\"", "[[users]]\nrange = \"1004-1020\"")
    done = w.sig.reload(config(text), 3.0)
    w.pump()
    assert "users" in done.changed
    assert len(w.sig.b2bua._calls) == 1  # the call with 1003 goes on
    w.dial("1002", "1003", 4.0, call_id="c2", port=4300)
    assert w["1002"].last_response().status == 404


def test_start_up_settings_are_reported_and_kept() -> None:
    w = Switch(("1001",))
    text = demo_text(replace=('data_dir = "./var"', 'data_dir = "/elsewhere"'))
    new = config(text)
    old = w.sig.config
    done = w.sig.reload(new, 1.0)
    assert "data_dir" in done.restart
    assert w.sig.config.data_dir == old.data_dir


def test_a_removed_queue_with_a_caller_is_kept_until_it_empties() -> None:
    w = Switch(("1001", "2005"))
    w.sig.b2bua.router.agent_pause("2005", "lunch", 1.0)  # type: ignore[union-attr]
    w.answered("1001", "801", 2.0, call_id="s1", port=4000)
    text = demo_text().replace("sales", "newsales")  # queue sales is gone
    done = w.sig.reload(config(text), 3.0)
    assert any("sales" in k for k in done.kept)
    router = w.sig.b2bua.router
    assert router is not None and router.waiting("sales") == 1
    assert "sales" not in w.sig.b2bua.queue_settings  # no new caller enters it
    assert router.waiting("newsales") == 0


def test_a_token_change_takes_effect_and_a_bad_file_changes_nothing() -> None:
    w = Switch(("1001", "2001"))
    api = Api(w)
    new_text = demo_text(replace=('token = "demo-admin-token"', 'token = "new-admin-token"'))
    outcome: list[str] = []

    async def reloader() -> Reloaded:
        if outcome and outcome[-1] == "bad":
            raise ConfigError("site.toml", "queues.x.strategy", "unknown strategy", 12)
        done = w.sig.reload(config(new_text), api.now)
        api.ctl.tokens, api.ctl.agent_queues = ShellSwitch._control_tables(w.sig.config)
        return done

    api.ctl.extras[EXTRA_KEY] = reloader
    outcome.append("bad")
    r = api("POST", "/api/v1/reload")
    assert r.status_code == 400 and r.json()["detail"] == (
        "site.toml:12: queues.x.strategy: unknown strategy")
    assert api("GET", "/api/v1/queues").status_code == 200  # the old token still works
    assert api("POST", "/api/v1/reload", "demo-supervisor-token").status_code == 403
    outcome.append("good")
    r = api("POST", "/api/v1/reload")
    assert r.status_code == 200 and "api" in r.json()["changed"]
    assert api("GET", "/api/v1/queues").status_code == 401
    assert api("GET", "/api/v1/queues", "new-admin-token").status_code == 200


def test_reload_refused_while_not_running() -> None:
    sw = ShellSwitch(config(demo_text()))
    with pytest.raises(ConfigError):
        asyncio.run(sw.reload())


def test_a_removed_agent_is_logged_out_and_a_new_one_registered_is_logged_in() -> None:
    w = Switch(("1001", "1002", "2001"))
    router = w.sig.b2bua.router
    assert router is not None
    assert router.agent_state("2001").name == "READY"
    # 2001 is no longer an agent; 1002 (registered) becomes one of support
    text = demo_text(replace=('range = "2001-2004"', 'range = "2002-2004"'))
    text = text.replace('range = "1001-1020"', 'range = "1003-1020"')
    text = text.replace('range = "2001-2010"', 'range = "2002-2010"')  # its API token
    text += ('\n[[users]]\nname = "2001"\npassword = "pw2001"\n'
             '\n[[users]]\nname = "1001"\npassword = "pw1001"\n'
             '\n[[users]]\nname = "1002"\npassword = "pw1002"\n'
             'agent = { queues = ["support"] }\n')
    w.sig.reload(config(text), 2.0)
    w.pump()
    assert router.agent_state("2001").name == "LOGGED_OUT"
    assert router.agent_state("1002").name == "READY"
    w.answered("1001", "800", 3.0, call_id="q1", port=4000)
    assert w["1002"].take("INVITE").method == "INVITE"  # the new agent is offered the call


def test_a_strategy_change_waits_while_agents_are_logged_in() -> None:
    w = Switch(("1001", "2005"))  # 2005: sales, logged in
    text = demo_text().replace('[queues.sales]\nstrategy = "longest_idle"',
                               '[queues.sales]\nstrategy = "round_robin"')
    text = text.replace('[queues.support]\nstrategy = "longest_idle"',
                        '[queues.support]\nstrategy = "round_robin"')
    done = w.sig.reload(config(text), 2.0)
    assert done.kept == ("queue sales: strategy stays longest_idle while agents are "
                         "logged in",)
    router = w.sig.b2bua.router
    assert router is not None
    assert router._queues["sales"].settings.strategy == "longest_idle"
    assert router._queues["support"].settings.strategy == "round_robin"  # nobody logged in


def test_crm_and_queue_scripts_reload_for_the_next_call_and_keep_the_waiting_one() -> None:
    w = Switch(("1001", "1002", "2001"))
    router = w.sig.b2bua.router
    assert router is not None
    router.agent_pause("2001", "lunch", 1.0)
    w.answered("1001", "800", 2.0, call_id="q1", port=4000)  # waits; no CRM configured yet
    assert not [e for e in w.events if isinstance(e, CrmLookup)]
    old_script = ('script = "Support, {caller_name} ({caller}) speaking? Ask for the order or '
                  'ticket number."')
    text = demo_text('\n[crm]\nurl = "http://crm.test/find?n={caller}"\ntimeout = 2\n',
                     replace=(old_script, 'script = "New script for {caller}"'))
    done = w.sig.reload(config(text), 3.0)
    w.pump()
    assert {"crm", "queues"} <= set(done.changed)
    assert router.waiting("support") == 1  # the waiting caller is still in line
    assert not [m for m in w["1001"].inbox if getattr(m, "method", "") == "BYE"]
    # the next call entering a queue is looked up with the new [crm]
    w.answered("1002", "800", 4.0, call_id="q2", port=4100)
    (lookup,) = [e for e in w.events if isinstance(e, CrmLookup)]
    assert (lookup.url, lookup.timeout) == ("http://crm.test/find?n=1002", 2.0)
    # the next offer carries the new script, also for the caller who was already waiting
    router.agent_unpause("2001", 5.0)
    w.sig.b2bua.queues.settle(5.0)
    w.pump()
    (card,) = [e for e in w.events if isinstance(e, OfferCard)]
    assert (card.caller, card.script, card.crm_status) == ("1001", "New script for 1001",
                                                            "off")
    # and back off: the next call is not looked up
    done = w.sig.reload(config(demo_text()), 6.0)
    assert "crm" in done.changed
    w.add("1003", 7200)
    w.answered("1003", "800", 7.0, call_id="q3", port=4200)
    assert len([e for e in w.events if isinstance(e, CrmLookup)]) == 1


def test_trunk_changes_need_a_restart_and_the_running_trunks_are_kept() -> None:
    w = Switch(("1001",))
    old = w.sig.config.trunking
    new = config(demo_text(replace=('address = "udp:127.0.0.1:5070"',
                                    'address = "udp:127.0.0.1:5070"\ncodecs = ["PCMA"]')))
    done = w.sig.reload(new, 1.0)
    assert "trunks" in done.restart and "trunks" not in done.changed
    assert w.sig.config.trunking == old  # not accepted and ignored: reported, kept
