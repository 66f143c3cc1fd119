"""Queue events as Asterisk ``queue_log`` lines, so reporting tools built for Asterisk read
ccswitch's log unchanged.  Pure formatting: no file is written here.

A line is ``epoch|callid|queue|agent|EVENT|data1|data2|...`` (``NONE`` where a field does not
apply).  The field meanings follow Asterisk's documentation (doc/queuelog.txt, "Queue Logs"
on docs.asterisk.org) and app_queue.c:

* CallerEntered -> ENTERQUEUE ``url|callerid`` (agent NONE);
* CallerRefused -> FULL or JOINEMPTY (no data);
* OfferFailed -> RINGNOANSWER (noanswer, busy, rejected) or RINGCANCELED: ``ringtime`` (ms);
* CallerConnected -> CONNECT ``holdtime|bridged channel uniqueid|ringtime``;
* CallCompleted -> COMPLETECALLER or COMPLETEAGENT (who hung up)
  ``holdtime|calltime|origposition``;
* CallTransferred -> BLINDTRANSFER ``extension|context|holdtime|calltime|origposition``, or
  ATTENDEDTRANSFER ``BRIDGE|extension|holdtime|calltime|origposition`` (Asterisk 12 on);
* CallDisposition -> DISPOSITION ``code|wrap-up seconds cut short`` (ours: Asterisk has no
  verb for an agent's disposition code);
* CallerAbandoned -> ABANDON ``position|origposition|waittime``;
* CallerOverflowed -> EXITWITHTIMEOUT (timeout) or EXITEMPTY (leaveempty), data as ABANDON;
* CallerExitedWithKey -> EXITWITHKEY ``key|position|origposition|waittime``;
* CallbackFailed (last attempt) -> ABANDON at position 1 (its turn had come);
* AgentLoggedIn -> ADDMEMBER per queue (``login_style="member"``, the default), or one
  AGENTLOGIN ``channel`` with queue NONE (``"agent"``);
* AgentLoggedOut -> REMOVEMEMBER per queue, or AGENTLOGOFF ``channel|logintime``;
* AgentPaused / AgentUnpaused -> PAUSEALL / UNPAUSEALL ``reason`` (queue NONE), then PAUSE /
  UNPAUSE ``reason`` per queue;
* SwitchStarted -> QUEUESTART (call, queue and agent NONE), as Asterisk writes when it starts.

Times are whole seconds (ring time of RINGNOANSWER/RINGCANCELED in milliseconds, as
Asterisk writes it).  ``CallerOffered``, ``CallbackRequested`` and ``CallbackMade`` have no
Asterisk counterpart and give no line unless ``extended=True`` (then ``RINGSTART|``,
``CALLBACKREQUEST|number|position|waittime``, ``CALLBACKMADE|number|waittime``); nor has
``CallHeld`` (``HOLD|by`` / ``UNHOLD|by`` when extended); ``CallerPriorityChanged`` is
extended too (``PRIORITY|priority|old priority|position``).  The
``bridged uniqueid`` of CONNECT is left empty: the router does not know the agent leg's id.
The router's clock is monotonic; ``epoch_offset`` (wall clock minus that clock) turns its
times into Unix time.  ``|`` and control characters inside names become ``_``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Literal

from . import events as ev

LoginStyle = Literal["member", "agent"]
_UNSAFE = re.compile(r"[|\x00-\x1f\x7f]")


def _clean(value: object) -> str:
    return _UNSAFE.sub("_", str(value))


def _secs(seconds: float) -> int:
    return max(0, round(seconds))


class _Line:
    """Builds the lines of one event."""

    def __init__(self, epoch_offset: float, login_style: LoginStyle, extended: bool,
                 context: str) -> None:
        self.offset = epoch_offset
        self.login_style = login_style
        self.extended = extended
        self.context = context

    def line(self, time: float, call_id: str, queue: str, agent: str, event: str,
             *data: object) -> str:
        fields = [str(int(time + self.offset)), _clean(call_id), _clean(queue), _clean(agent),
                  event, *(_clean(d) for d in data)]
        if not data:
            fields.append("")
        return "|".join(fields)

    def entered(self, e: ev.CallerEntered) -> list[str]:
        return [self.line(e.time, e.call_id, e.queue, "NONE", "ENTERQUEUE", "", e.number or "")]

    def refused(self, e: ev.CallerRefused) -> list[str]:
        name = "FULL" if e.reason == "full" else "JOINEMPTY"
        return [self.line(e.time, e.call_id, e.queue, "NONE", name)]

    def offered(self, e: ev.CallerOffered) -> list[str]:
        if not self.extended:
            return []
        return [self.line(e.time, e.call_id, e.queue, e.agent, "RINGSTART")]

    def offer_failed(self, e: ev.OfferFailed) -> list[str]:
        name = "RINGCANCELED" if e.reason == "cancelled" else "RINGNOANSWER"
        return [self.line(e.time, e.call_id, e.queue, e.agent, name,
                          max(0, round(e.ring_time * 1000)))]

    def connected(self, e: ev.CallerConnected) -> list[str]:
        return [self.line(e.time, e.call_id, e.queue, e.agent, "CONNECT", _secs(e.wait), "",
                          _secs(e.ring_time))]

    def completed(self, e: ev.CallCompleted) -> list[str]:
        name = "COMPLETECALLER" if e.by == "caller" else "COMPLETEAGENT"
        return [self.line(e.time, e.call_id, e.queue, e.agent, name, _secs(e.wait),
                          _secs(e.talk), e.entry_position)]

    def transferred(self, e: ev.CallTransferred) -> list[str]:
        if e.attended:
            return [self.line(e.time, e.call_id, e.queue, e.agent, "ATTENDEDTRANSFER", "BRIDGE",
                              e.target, _secs(e.wait), _secs(e.talk), e.entry_position)]
        return [self.line(e.time, e.call_id, e.queue, e.agent, "BLINDTRANSFER", e.target,
                          self.context, _secs(e.wait), _secs(e.talk), e.entry_position)]

    def abandoned(self, e: ev.CallerAbandoned) -> list[str]:
        return [self.line(e.time, e.call_id, e.queue, "NONE", "ABANDON", e.position,
                          e.entry_position, _secs(e.wait))]

    def overflowed(self, e: ev.CallerOverflowed) -> list[str]:
        name = "EXITWITHTIMEOUT" if e.reason == "timeout" else "EXITEMPTY"
        return [self.line(e.time, e.call_id, e.queue, "NONE", name, e.position,
                          e.entry_position, _secs(e.wait))]

    def exited_with_key(self, e: ev.CallerExitedWithKey) -> list[str]:
        return [self.line(e.time, e.call_id, e.queue, "NONE", "EXITWITHKEY", e.key, e.position,
                          e.entry_position, _secs(e.wait))]

    def callback_requested(self, e: ev.CallbackRequested) -> list[str]:
        if not self.extended:
            return []
        return [self.line(e.time, e.call_id, e.queue, "NONE", "CALLBACKREQUEST", e.number,
                          e.position, _secs(e.wait))]

    def priority_changed(self, e: ev.CallerPriorityChanged) -> list[str]:
        if not self.extended:
            return []
        return [self.line(e.time, e.call_id, e.queue, "NONE", "PRIORITY", e.priority, e.old,
                          e.position)]

    def callback_made(self, e: ev.CallbackMade) -> list[str]:
        if not self.extended:
            return []
        return [self.line(e.time, e.call_id, e.queue, e.agent, "CALLBACKMADE", e.number,
                          _secs(e.wait))]

    def callback_failed(self, e: ev.CallbackFailed) -> list[str]:
        lines = []
        if self.extended:
            lines.append(self.line(e.time, e.call_id, e.queue, e.agent, "CALLBACKFAILED",
                                   e.number, e.attempts))
        if e.final:  # its turn had come: it left from the head of the line
            lines.append(self.line(e.time, e.call_id, e.queue, "NONE", "ABANDON", 1,
                                   e.entry_position, _secs(e.wait)))
        return lines

    def disposition(self, e: ev.CallDisposition) -> list[str]:
        # not an Asterisk verb (it has none for this): data1 is the code, data2 the wrap-up
        # seconds it cut short
        return [self.line(e.time, e.call_id, e.queue, e.agent, "DISPOSITION", e.code,
                          _secs(e.wrapup_left))]

    def logged_in(self, e: ev.AgentLoggedIn) -> list[str]:
        if self.login_style == "agent":
            return [self.line(e.time, "NONE", "NONE", e.agent, "AGENTLOGIN", e.agent)]
        return [self.line(e.time, "NONE", queue, e.agent, "ADDMEMBER") for queue, _ in e.queues]

    def logged_out(self, e: ev.AgentLoggedOut) -> list[str]:
        if self.login_style == "agent":
            return [self.line(e.time, "NONE", "NONE", e.agent, "AGENTLOGOFF", e.agent,
                              _secs(e.session))]
        return [self.line(e.time, "NONE", queue, e.agent, "REMOVEMEMBER") for queue in e.queues]

    def paused(self, e: ev.AgentPaused) -> list[str]:
        return [self.line(e.time, "NONE", "NONE", e.agent, "PAUSEALL", e.reason)] + [
            self.line(e.time, "NONE", queue, e.agent, "PAUSE", e.reason) for queue in e.queues]

    def unpaused(self, e: ev.AgentUnpaused) -> list[str]:
        return [self.line(e.time, "NONE", "NONE", e.agent, "UNPAUSEALL", e.reason)] + [
            self.line(e.time, "NONE", queue, e.agent, "UNPAUSE", e.reason)
            for queue in e.queues]

    def held(self, e: ev.CallHeld) -> list[str]:
        if not self.extended:
            return []
        return [self.line(e.time, e.call_id, e.queue, e.agent, "HOLD" if e.held else "UNHOLD",
                          e.by)]

    def started(self, e: ev.SwitchStarted) -> list[str]:
        return [self.line(e.time, "NONE", "NONE", "NONE", "QUEUESTART")]


_FORMATTERS: dict[type, Callable[[_Line, Any], list[str]]] = {
    ev.CallerEntered: _Line.entered, ev.CallerRefused: _Line.refused,
    ev.CallerOffered: _Line.offered, ev.OfferFailed: _Line.offer_failed,
    ev.CallerConnected: _Line.connected, ev.CallCompleted: _Line.completed,
    ev.CallTransferred: _Line.transferred, ev.CallDisposition: _Line.disposition,
    ev.CallerPriorityChanged: _Line.priority_changed,
    ev.CallerAbandoned: _Line.abandoned,
    ev.CallerOverflowed: _Line.overflowed, ev.CallerExitedWithKey: _Line.exited_with_key,
    ev.CallbackRequested: _Line.callback_requested, ev.CallbackMade: _Line.callback_made,
    ev.CallbackFailed: _Line.callback_failed, ev.AgentLoggedIn: _Line.logged_in,
    ev.AgentLoggedOut: _Line.logged_out, ev.AgentPaused: _Line.paused,
    ev.AgentUnpaused: _Line.unpaused, ev.SwitchStarted: _Line.started,
    ev.CallHeld: _Line.held,
}


def format_event(event: ev.LoggedEvent, *, epoch_offset: float = 0.0,
                 login_style: LoginStyle = "member", extended: bool = False,
                 context: str = "ccswitch") -> list[str]:
    """The queue_log lines (without newline) for one event; [] when it has none."""
    return _FORMATTERS[type(event)](_Line(epoch_offset, login_style, extended, context), event)


def format_events(events: Iterable[ev.LoggedEvent], *, epoch_offset: float = 0.0,
                  login_style: LoginStyle = "member", extended: bool = False,
                  context: str = "ccswitch") -> list[str]:
    """The queue_log lines for ``events``, in order."""
    builder = _Line(epoch_offset, login_style, extended, context)
    return [line for e in events for line in _FORMATTERS[type(e)](builder, e)]
