"""Pausing a live call's recording (pure): for card numbers, by a person (API, agent desktop)
or by an IVR menu marked ``sensitive``.

A pause is held by *holders*: ``MANUAL`` (the API and the desktop share it: the agent who
paused from the desktop may resume through the API) and ``IVR`` (a sensitive menu).  The
recording is paused while any holder holds it, so a person cannot resume what a sensitive
menu paused.  The media worker writes silence for a paused recording (both channels, the
file's timeline stays the call's: see ``docs/storage.md``).  Each paused span is reported by
``RecordingPaused`` (its start, seconds into the file, and who paused it first) and
``RecordingResumed`` (its end); a span still open when the file closes ends at the file's end.

A pause held before the recording exists (a sensitive menu on a call that is not recorded
yet) is applied from the recording's first frame (``CallMedia.start_recording``).
"""

from __future__ import annotations

from ..media.commands import PauseRecord, ResumeRecord
from .events import RecordingPaused, RecordingResumed, RecordingStarted
from .state import Call

MANUAL = "manual"
IVR = "ivr"
GUARD = 1.0
"""Seconds a sensitive menu's pause lasts after the caller left the menu: a key is detected
as its tone starts, so the tail of the last key (and what the jitter buffer still holds)
would otherwise reach the file."""


def recording_state(call: Call) -> str | None:
    """``"recording"``, ``"paused"``, or ``None`` when the call is not being recorded."""
    cm = call.media
    if cm is None or cm.recording is None or cm.closed:
        return None
    return "paused" if cm.pause_holds else "recording"


def hold(call: Call, holder: str, by: str, now: float, user: str | None = None,
         ) -> RecordingPaused | None:
    """``holder`` holds a pause of ``call``'s recording; the event when this paused it."""
    cm = call.media
    if cm is None:
        return None
    first = not cm.pause_holds
    cm.pause_holds.setdefault(holder, by)
    if not first or cm.recording is None or cm.recording_file is None or cm.closed:
        return None
    cm.plan.send(cm.worker, PauseRecord(cm.recording))
    return RecordingPaused(call.key, cm.recording_file, now, _offset(cm.recording_at, now), by,
                           user, call.queue_name, call.queue_agent)


def start(call: Call, now: float) -> list[RecordingStarted | RecordingPaused]:
    """Record ``call`` (``CallMedia.start_recording``): its ``RecordingStarted``, and when a
    pause was already held, the span from the file's first frame, by whoever holds it."""
    cm = call.media
    assert cm is not None
    fresh = cm.recording is None
    path = cm.start_recording(call.key, now)
    out: list[RecordingStarted | RecordingPaused] = [RecordingStarted(call.key, path, now)]
    if fresh and cm.pause_holds:
        by = next(iter(cm.pause_holds.values()))
        out.append(RecordingPaused(call.key, path, now, 0.0, by, None, call.queue_name,
                                   call.queue_agent))
    return out


def release(call: Call, holder: str, by: str, now: float) -> RecordingResumed | None:
    """``holder`` lets go of its pause; the event when the recording records again."""
    cm = call.media
    if cm is None or cm.pause_holds.pop(holder, None) is None or cm.pause_holds:
        return None
    if cm.recording is None or cm.recording_file is None or cm.closed:
        return None
    cm.plan.send(cm.worker, ResumeRecord(cm.recording))
    return RecordingResumed(call.key, cm.recording_file, now, _offset(cm.recording_at, now), by,
                            call.queue_name, call.queue_agent)


def _offset(start: float, now: float) -> float:
    return round(max(0.0, now - start), 3)
