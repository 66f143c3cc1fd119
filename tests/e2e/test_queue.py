"""Queues end to end with real peers: IVR 700 to an agent, no-answer, abandon, order.

baresip phones play a tone as their microphone and record what they receive (e2e_baresip);
SIPp plays agents (register, then a UAS scenario on the registered port) and callers. The
queue event log (SQLite table `queue_events`) is the record every test checks.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from e2e_audio import spectrum, write_tone
from e2e_baresip import PhoneFactory
from e2e_daemon import Daemon, DaemonFactory
from e2e_media import channels, query, settle, wav_info
from e2e_queue import (
    MOH,
    PROMPTS,
    agent,
    call_rows,
    caller,
    credentials,
    cut,
    describe,
    find_prompt,
    matching,
    queue_call_id,
    queue_events,
    register,
    sip_call_id,
    tone_onset,
    wait_queue_event,
    write_config,
)
from e2e_sipp import Sipp, SippProcess, dial_args
from e2e_util import LOOPBACK, wait_until

pytestmark = pytest.mark.e2e

CALLER_HZ, AGENT_HZ = 440.0, 880.0
TALK_SECONDS = 2.5
HOLD_SECONDS = 14.0  # alone in the queue: please-hold (6 s), place and wait (5 s), music
EXITS = ("CallerConnected", "CallerAbandoned", "CallerOverflowed", "CallerExitedWithKey")
MATCH = 0.5  # normalized cross-correlation that counts as "this prompt was heard"


def account(daemon: Daemon, user: str, *, register: bool, auto: bool = False) -> str:
    return (
        f"<sip:{user}@{LOOPBACK}:{daemon.sip_port};transport=udp>;auth_pass=pw{user}"
        + (";regint=300" if register else ";regint=0")
        + (";answermode=auto" if auto else "")
    )


def config(
    tmp_path: Path, *, ring_timeout: float = 3, wrapup: float = 0.5, extra: str = ""
) -> Path:
    """Phones 1001-1020, agents 2001-2004 (support; 2001 and 2003 with auto-answer),
    queue support on 800 with a short ring timeout, and `extra` TOML appended."""
    return write_config(tmp_path / "queue.toml", f"""
        domains = ["ccswitch.local"]

        [[users]]
        range = "1001-1020"
        password = "pw{{user}}"

        [[users]]
        name = "2001"
        password = "pw2001"
        agent = {{ queues = ["support"], auto_answer = true }}

        [[users]]
        name = "2002"
        password = "pw2002"
        agent = {{ queues = ["support"] }}

        [[users]]
        name = "2003"
        password = "pw2003"
        agent = {{ queues = ["support"], auto_answer = true }}

        [[users]]
        name = "2004"
        password = "pw2004"
        agent = {{ queues = ["support"], skills = {{ french = 5 }} }}

        [queues.support]
        ring_timeout = {ring_timeout}
        wrapup = {wrapup}
        announce_interval = 30

        [dialplan.numbers]
        800 = "queue:support"
        {extra}
        """)  # fmt: skip


@pytest.fixture
def tones(tmp_path: Path) -> tuple[Path, Path]:
    return (write_tone(tmp_path / "caller.wav", CALLER_HZ, 30),
            write_tone(tmp_path / "agent.wav", AGENT_HZ, 30))  # fmt: skip


# -- 1. the "done when" ----------------------------------------------------------
def test_ivr_700_key_2_reaches_a_support_agent_recorded_and_logged(
    phones: PhoneFactory, tones: tuple[Path, Path], start_daemon: DaemonFactory, tmp_path: Path
) -> None:
    """Demo configuration: 1001 dials 700, presses 2 (RFC 4733 from baresip), waits alone
    (hears its position and the music on hold), then agent 2001 registers and answers
    (auto-answer): two-way audio, a 2-channel recording, and every step in the log."""
    daemon = settle(start_daemon())
    phone = phones("caller", account=account(daemon, "1001", register=False),
                   source_wav=tones[0])  # fmt: skip
    phone.dial(f"sip:700@{LOOPBACK}:{daemon.sip_port}")
    phone.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(2.5)  # the greeting (1.6 s) is over, the main menu plays
    resp = phone.command("sndcode", "2")
    assert resp.get("ok"), resp
    (entered,) = wait_queue_event(daemon, "CallerEntered", 8, queue="support")
    call_id = entered.call_id
    assert call_id is not None
    time.sleep(HOLD_SECONDS)  # alone in the queue: please-hold, position, wait, then music

    agent_phone = phones("agent", account=account(daemon, "2001", register=True, auto=True),
                         source_wav=tones[1])  # fmt: skip
    # it is offered the call as soon as it registers: faster than baresip's ctrl_tcp starts
    # reporting events, so the daemon's log tells when it answered
    wait_queue_event(daemon, "CallerConnected", 10, call_id=call_id, agent="2001")
    time.sleep(TALK_SECONDS)
    phone.hangup()
    agent_phone.wait_event("CALL_CLOSED", timeout=10)
    wait_queue_event(daemon, "CallCompleted", 5, call_id=call_id)
    phone.stop()
    agent_phone.stop()

    # every step is in the queue event log, in order
    rows = queue_events(daemon.data_dir)
    assert matching(rows, "AgentLoggedIn", agent="2001"), describe(rows)
    steps = call_rows(rows, call_id)
    assert steps == ["CallerEntered", "CallerOffered", "CallerConnected", "CallCompleted"], (
        describe(rows)
    )
    (offered,) = matching(rows, "CallerOffered", call_id=call_id)
    (connected,) = matching(rows, "CallerConnected", call_id=call_id)
    (completed,) = matching(rows, "CallCompleted", call_id=call_id)
    assert offered.agent == connected.agent == completed.agent == "2001", describe(rows)
    assert entered.data.get("position") == 1, entered
    assert HOLD_SECONDS <= connected.data["wait"] <= HOLD_SECONDS + 8, connected
    assert TALK_SECONDS - 0.5 <= completed.data["talk"] <= TALK_SECONDS + 3, completed
    assert completed.data.get("by") == "caller", completed

    # the caller heard its place in line and the music, then the agent
    _sent, heard = phone.recordings()
    onset = tone_onset(heard, AGENT_HZ)
    assert onset is not None, f"the caller never heard the agent: {spectrum(heard).describe()}"
    position = find_prompt(heard, PROMPTS / "en" / "you-are-caller.wav")
    number = find_prompt(heard, PROMPTS / "en" / "digits" / "1.wav")
    music = find_prompt(heard, MOH, seconds=1.5)
    assert position.score > MATCH and number.score > MATCH and position.at < number.at < onset, (
        f"'you are caller number 1' not heard before the agent (at {onset:.2f} s): "
        f"'you are caller' {position}, 'one' {number}"
    )
    assert music.score > MATCH and number.at < music.at and music.at + 1.5 <= onset, (
        f"music on hold not heard after the position and before the agent "
        f"(at {onset:.2f} s): {music}"
    )
    talk = spectrum(cut(heard, tmp_path / "caller-talk.wav", onset + 0.3))
    assert talk.seconds >= 1.5 and talk.share(AGENT_HZ) > 0.8, (
        f"the caller should hear only the agent once connected: {talk.describe()}"
    )
    _sent, agent_heard = agent_phone.recordings()
    got = spectrum(agent_heard)
    assert got.seconds >= 1.5 and got.share(CALLER_HZ) > 0.8, (
        f"the agent should hear the caller: {got.describe()}"
    )

    # the call is recorded: channel 1 the caller, channel 2 the agent
    done = daemon.log.wait_for("recording_done", timeout=5)
    assert done is not None and done.get("ok") is True, f"{done}\n{daemon.tail()}"
    path = Path(done["path"])
    assert path.name == f"{call_id}.wav", (path, call_id)  # one id: CDR, queue log, file
    assert path.parent.parent == daemon.data_dir / "recordings", path
    info = wav_info(path)
    assert (info.channels, info.rate, info.sample_bits) == (2, 8000, 16), info
    assert TALK_SECONDS - 1.0 <= info.seconds <= TALK_SECONDS + 3.0, info
    ch1, ch2 = (spectrum(p) for p in channels(path, tmp_path / "split"))
    assert ch1.seconds >= 1.5 and ch1.share(CALLER_HZ) > 0.8 and ch1.share(AGENT_HZ) < 0.05, (
        f"channel 1 should hold the caller's {CALLER_HZ:.0f} Hz: {ch1.describe()}"
    )
    assert ch2.seconds >= 1.5 and ch2.share(AGENT_HZ) > 0.8 and ch2.share(CALLER_HZ) < 0.05, (
        f"channel 2 should hold the agent's {AGENT_HZ:.0f} Hz: {ch2.describe()}"
    )
    sql = "SELECT path, call_id, state, seconds FROM recordings"
    assert wait_until(lambda: any(r["state"] == "complete" for r in query(daemon.data_dir, sql)),
                      timeout=5), query(daemon.data_dir, sql)  # fmt: skip
    (row,) = query(daemon.data_dir, sql)
    assert row["path"] == str(path) and row["seconds"] is not None, row
    assert abs(row["seconds"] - info.seconds) < 0.5, (row, info)
    cdrs = query(daemon.data_dir, "SELECT call_id, caller, recording, recording_state FROM cdr")
    assert [(c["caller"], c["recording"], c["recording_state"]) for c in cdrs] == [
        ("1001", str(path), "complete")
    ], cdrs
    assert cdrs[0]["call_id"] == row["call_id"] == call_id, (cdrs, row, call_id)  # one id


# -- 2. agents who do not answer ---------------------------------------------------------
def test_unanswered_offer_moves_to_the_next_agent(
    sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path
) -> None:
    """Two agents of support: 2003 (longest idle, auto-answer headers) rings and never
    answers; after ring_timeout (3 s) its offer is cancelled, OfferFailed(noanswer) is
    logged and 2002 is offered the call and answers."""
    daemon = settle(start_daemon(extra_args=["--config", str(config(tmp_path))]))
    silent = agent(sipp, daemon, "2003", "uas_cancelled.xml")
    wait_queue_event(daemon, "AgentLoggedIn", 5, agent="2003")
    answering = agent(sipp, daemon, "2002", "uas_answer.xml")
    wait_queue_event(daemon, "AgentLoggedIn", 5, agent="2002")
    try:
        result = caller(sipp, daemon, "1001", "800", "queue_caller.xml", hold_ms=6000).wait(30)
        silent_result, answering_result = silent.wait(10), answering.wait(10)
    finally:
        silent.stop()
        answering.stop()
    assert result.ok, result.describe()
    assert silent_result.ok, silent_result.describe()
    assert answering_result.ok, answering_result.describe()

    wait_queue_event(daemon, "CallCompleted", 5)
    rows = queue_events(daemon.data_dir)
    call_id = queue_call_id(daemon, rows, sip_call_id(result))
    steps = [(r.event, r.agent) for r in rows if r.call_id == call_id]
    assert steps == [
        ("CallerEntered", None),
        ("CallerOffered", "2003"),
        ("OfferFailed", "2003"),
        ("CallerOffered", "2002"),
        ("CallerConnected", "2002"),
        ("CallCompleted", "2002"),
    ], describe(rows)
    (failed,) = matching(rows, "OfferFailed", call_id=call_id)
    assert failed.data["reason"] == "noanswer", failed
    assert 2.5 <= failed.data["ring_time"] <= 4.5, failed
    (connected,) = matching(rows, "CallerConnected", call_id=call_id)
    assert 2.5 <= connected.data["wait"] <= 6.0, connected

    # the switch gave up on 2003 with CANCEL; auto-answer headers only for agents configured so
    (invite,) = silent_result.requests("INVITE", "received")
    assert silent_result.requests("CANCEL", "received"), silent_result.describe()
    assert "answer-after=0" in (invite.header("Call-Info") or ""), invite.text
    assert invite.header("Alert-Info"), invite.text
    (invite,) = answering_result.requests("INVITE", "received")
    assert invite.header("Call-Info") is None and invite.header("Alert-Info") is None, invite.text
    assert "1001" in (invite.header("From") or ""), invite.text


def test_three_missed_offers_pause_the_agent_until_it_dials_star_24(
    sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path
) -> None:
    """An agent who lets three offers in a row ring out is paused (AgentPaused, auto) and
    offered nothing more; dialling *24 unpauses it, the waiting caller is offered again and
    this time the agent answers."""
    daemon = settle(start_daemon(
        extra_args=["--config", str(config(tmp_path, ring_timeout=1.5))]))  # fmt: skip
    port = register(sipp, daemon, "2003")
    silent = sipp.start("uas_cancelled.xml", "-m", "3", local_port=port, timeout=30,
                        tag="2003-silent")  # fmt: skip
    wait_queue_event(daemon, "AgentLoggedIn", 5, agent="2003")
    waiting = caller(sipp, daemon, "1001", "800", "queue_caller_held.xml", timeout=60)
    answering: SippProcess | None = None
    try:
        # offers at 0, 6.5, 13 s (1.5 s ring, then the agent's 5 s rest after a miss)
        (paused,) = wait_queue_event(daemon, "AgentPaused", 20, agent="2003")
        rows = queue_events(daemon.data_dir)
        assert paused.data["auto"] is True and paused.data["reason"] == "autopause", paused
        misses = matching(rows, "OfferFailed", agent="2003")
        assert [m.data["reason"] for m in misses] == ["noanswer"] * 3, describe(rows)
        assert len(matching(rows, "CallerOffered", agent="2003")) == 3, describe(rows)
        assert misses[-1].id < paused.id, describe(rows)
        silent_result = silent.wait(5)
        assert silent_result.ok, silent_result.describe()
        assert len(silent_result.requests("CANCEL", "received")) == 3, silent_result.describe()

        time.sleep(6.0)  # past the rest after the last miss: paused, so still no offer
        rows = queue_events(daemon.data_dir)
        assert len(matching(rows, "CallerOffered", agent="2003")) == 3, describe(rows)

        # the same phone now answers (and hangs up after 0.5 s); the agent dials *24
        answering = sipp.start("uas_bye.xml", local_port=port, timeout=30, tag="2003-answer")
        feature = sipp.run("queue_feature_code.xml", *dial_args("*24", daemon.sip_port),
                           *credentials(sipp, "2003"), remote=daemon.sip_port, timeout=15,
                           tag="star24")  # fmt: skip
        assert feature.ok, feature.describe()
        (unpaused,) = wait_queue_event(daemon, "AgentUnpaused", 5, agent="2003")
        assert unpaused.data["reason"] == "autopause", unpaused
        wait_queue_event(daemon, "CallCompleted", 10, agent="2003")
        caller_result = waiting.wait(10)
        answer_result = answering.wait(10)
    finally:
        waiting.stop()
        silent.stop()
        if answering is not None:
            answering.stop()
    assert caller_result.ok, caller_result.describe()
    assert answer_result.ok, answer_result.describe()
    rows = queue_events(daemon.data_dir)
    call_id = queue_call_id(daemon, rows, sip_call_id(caller_result))
    offers = matching(rows, "CallerOffered", call_id=call_id, agent="2003")
    assert len(offers) == 4 and offers[-1].id > unpaused.id, describe(rows)
    (connected,) = matching(rows, "CallerConnected", call_id=call_id)
    assert connected.agent == "2003" and connected.id > unpaused.id, describe(rows)


# -- 3. callers who give up --------------------------------------------------------------
def test_caller_who_hangs_up_while_waiting_is_logged_as_abandoned(
    sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path
) -> None:
    """No agent at all: the queue still takes the caller (no join-when-empty rule); it
    hangs up after 3 s and leaves a CallerAbandoned with its position and wait."""
    daemon = settle(start_daemon(extra_args=["--config", str(config(tmp_path))]))
    result = caller(sipp, daemon, "1001", "800", "queue_caller.xml", hold_ms=3000).wait(20)
    assert result.ok, result.describe()
    (abandoned,) = wait_queue_event(daemon, "CallerAbandoned", 5)
    rows = queue_events(daemon.data_dir)
    call_id = queue_call_id(daemon, rows, sip_call_id(result))
    assert call_rows(rows, call_id) == ["CallerEntered", "CallerAbandoned"], describe(rows)
    assert abandoned.data["position"] == 1 and abandoned.data["entry_position"] == 1, abandoned
    assert 2.5 <= abandoned.data["wait"] <= 5.0, abandoned


def test_caller_who_hangs_up_while_an_agent_rings_cancels_the_offer(
    sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path
) -> None:
    """The caller hangs up while agent 2003 rings (ring_timeout 20 s): the agent's INVITE
    is CANCELled, the offer fails as cancelled and the caller abandons."""
    daemon = settle(start_daemon(
        extra_args=["--config", str(config(tmp_path, ring_timeout=20))]))  # fmt: skip
    ringing = agent(sipp, daemon, "2003", "uas_cancelled.xml")
    wait_queue_event(daemon, "AgentLoggedIn", 5, agent="2003")
    try:
        result = caller(sipp, daemon, "1001", "800", "queue_caller.xml", hold_ms=2500).wait(20)
        agent_result = ringing.wait(10)
    finally:
        ringing.stop()
    assert result.ok, result.describe()
    assert agent_result.ok, agent_result.describe()
    assert agent_result.requests("CANCEL", "received"), agent_result.describe()
    wait_queue_event(daemon, "CallerAbandoned", 5)
    rows = queue_events(daemon.data_dir)
    call_id = queue_call_id(daemon, rows, sip_call_id(result))
    steps = [(r.event, r.agent) for r in rows if r.call_id == call_id]
    assert steps == [
        ("CallerEntered", None),
        ("CallerOffered", "2003"),
        ("OfferFailed", "2003"),
        ("CallerAbandoned", None),
    ], describe(rows)
    (failed,) = matching(rows, "OfferFailed", call_id=call_id)
    assert failed.data["reason"] == "cancelled", failed
    (abandoned,) = matching(rows, "CallerAbandoned", call_id=call_id)
    assert abandoned.data["position"] == 1 and 2.0 <= abandoned.data["wait"] <= 4.5, abandoned


def test_sigterm_ends_a_waiting_caller_and_logs_its_exit(
    sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path
) -> None:
    """CONTRACT: on SIGTERM every active call is ended with BYE and the daemon exits 0
    within 5 s - also a caller waiting in a queue, whose exit is logged once. Every queue
    event is also a `queue_event` line of the JSON log."""
    daemon = settle(start_daemon(extra_args=["--config", str(config(tmp_path))]))
    waiting = caller(sipp, daemon, "1001", "800", "queue_caller_held.xml", timeout=20)
    try:
        wait_queue_event(daemon, "CallerEntered", 8)
        time.sleep(0.5)  # its log line, and the entry announcement under way
        rc, took = daemon.terminate()
        result = waiting.wait(10)
    finally:
        waiting.stop()
    assert rc == 0, f"SIGTERM with a caller in a queue: exit {rc} after {took:.1f} s\n" + (
        daemon.tail(6000)
    )
    assert result.ok, result.describe()  # it got the switch's BYE
    rows = queue_events(daemon.data_dir)
    call_id = queue_call_id(daemon, rows, sip_call_id(result))
    exits = [e for e in call_rows(rows, call_id) if e in EXITS]
    assert exits == ["CallerAbandoned"], describe(rows)
    logged = [e for e in daemon.log.events() if e.get("event") == "queue_event"]
    assert len(logged) == len(rows), (logged, describe(rows))


# -- 4. who is served first --------------------------------------------------------------
IVR_MENU = """
        [ivr.line]
        prompt = "main-menu"
        timeout = 5
        retries = 0
        default = "queue:support"

        [ivr.line.choices]
        1 = ["priority:5", "queue:support"]
        2 = "queue:support"
        3 = ["skill:french=3", "queue:support"]
"""


def ivr_config(tmp_path: Path) -> Path:
    return config(tmp_path, extra='700 = "ivr:line"\n' + IVR_MENU)


def enter(sipp: Sipp, daemon: Daemon, user: str, key: str, count: int) -> SippProcess:
    """Caller `user` dials 700, presses `key` (SIP INFO) and waits for the switch's BYE;
    returns once it is the `count`-th caller to have entered the queue."""
    proc = caller(sipp, daemon, user, "700", "queue_caller_ivr.xml", digit=key, timeout=40)
    wait_queue_event(daemon, "CallerEntered", 8, count=count)
    return proc


def test_priority_first_then_first_come_first_served(
    sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path
) -> None:
    """Three callers wait with no agent: 1001 and 1002 pressed 2, then 1003 pressed 1
    (priority 5). When agent 2002 comes (answers, hangs up after 0.5 s, three times), it
    takes 1003 first, then 1001, then 1002."""
    daemon = settle(start_daemon(extra_args=["--config", str(ivr_config(tmp_path))]))
    callers: dict[str, SippProcess] = {}
    try:
        for n, (user, key) in enumerate((("1001", "2"), ("1002", "2"), ("1003", "1")), 1):
            callers[user] = enter(sipp, daemon, user, key, n)
        served = agent(sipp, daemon, "2002", "uas_bye.xml", calls=3)
        wait_queue_event(daemon, "CallCompleted", 20, count=3)
        results = {user: proc.wait(10) for user, proc in callers.items()}
        agent_result = served.wait(10)
    finally:
        for proc in callers.values():
            proc.stop()
    for res in (*results.values(), agent_result):
        assert res.ok, res.describe()
    rows = queue_events(daemon.data_dir)
    ids = {user: queue_call_id(daemon, rows, sip_call_id(res)) for user, res in results.items()}
    entered = {user: matching(rows, "CallerEntered", call_id=ids[user])[0] for user in ids}
    assert [entered[u].data["priority"] for u in ("1001", "1002", "1003")] == [0, 0, 5], describe(
        rows
    )
    assert [entered[u].data["position"] for u in ("1001", "1002", "1003")] == [1, 2, 1], describe(
        rows
    )
    connected = [r.call_id for r in matching(rows, "CallerConnected", agent="2002")]
    assert connected == [ids["1003"], ids["1001"], ids["1002"]], describe(rows)
    offered = [r.call_id for r in matching(rows, "CallerOffered")]
    assert offered == connected, describe(rows)  # each offered once, in that order


def test_caller_needing_a_skill_waits_for_an_agent_who_has_it(
    sipp: Sipp, start_daemon: DaemonFactory, tmp_path: Path
) -> None:
    """1001 presses 3 (french >= 3 required) while only 2002 (no french) is free: it is not
    offered to 2002, and 1002 (key 2), who came later, is. When 2004 (french 5) registers,
    it gets 1001."""
    daemon = settle(start_daemon(extra_args=["--config", str(ivr_config(tmp_path))]))
    plain = agent(sipp, daemon, "2002", "uas_bye.xml")
    wait_queue_event(daemon, "AgentLoggedIn", 5, agent="2002")
    procs: list[SippProcess] = []
    try:
        french = enter(sipp, daemon, "1001", "3", 1)
        procs.append(french)
        time.sleep(1.0)
        rows = queue_events(daemon.data_dir)
        assert not matching(rows, "CallerOffered"), describe(rows)
        other = enter(sipp, daemon, "1002", "2", 2)
        procs.append(other)
        wait_queue_event(daemon, "CallerConnected", 5, agent="2002")
        skilled = agent(sipp, daemon, "2004", "uas_bye.xml")
        procs.append(skilled)
        wait_queue_event(daemon, "CallerConnected", 5, agent="2004")
        wait_queue_event(daemon, "CallCompleted", 5, count=2)
        results = [p.wait(10) for p in (french, other, skilled)] + [plain.wait(10)]
    finally:
        plain.stop()
        for p in procs:
            p.stop()
    for res in results:
        assert res.ok, res.describe()
    rows = queue_events(daemon.data_dir)
    french_id = queue_call_id(daemon, rows, sip_call_id(results[0]))
    other_id = queue_call_id(daemon, rows, sip_call_id(results[1]))
    (entered,) = matching(rows, "CallerEntered", call_id=french_id)
    assert entered.data["skills"] == [["french", 3]], entered
    assert [(r.event, r.agent) for r in rows if r.call_id == french_id] == [
        ("CallerEntered", None),
        ("CallerOffered", "2004"),
        ("CallerConnected", "2004"),
        ("CallCompleted", "2004"),
    ], describe(rows)
    assert [r.agent for r in matching(rows, "CallerConnected", call_id=other_id)] == ["2002"], (
        describe(rows)
    )
