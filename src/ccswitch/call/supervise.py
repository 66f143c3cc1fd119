"""Supervision of agents' calls (pure): how each mode places the supervisor's leg in the
agent's bridge.

A supervisor dials a code and the agent's extension (``*31`` + 2001 listens to agent 2001's
call; who may is ``dialplan.may_supervise``); during the call the keys ``4``, ``5`` and ``6``
switch between listen, whisper and barge, as ChanSpy users expect.  Listen: the supervisor
hears both parties and nobody hears it.  Whisper: the agent hears the supervisor too, the
caller never does.  Barge: all three hear each other.  Joining, switching and leaving change
only the supervisor's edges in the bridge, so the call and its recording go on untouched.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..dialplan import SuperviseMode as Mode
from .bridge import Role

__all__ = ["ROLES", "Mode"]

ROLES: Mapping[str, Role] = {"listen": Role.LISTEN, "whisper": Role.WHISPER,
                             "barge": Role.PARTY}
