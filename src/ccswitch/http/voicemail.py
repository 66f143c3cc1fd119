"""Voice messages over the API: ``/api/v1/voicemail/{box}/messages…``.

The admin token reaches every mailbox, any other token only the mailbox of its own user (a
supervisor or an agent whose user has one); anything else is the same 403 (404 for the admin
when the box or message does not exist).  The list is the switch's own view of the box (the
order of ``voicemail/mailbox.py``: new oldest first, then saved); a message's audio downloads
with ``Range`` support (206 / 416); ``DELETE`` removes it (row and file) and ``POST
…/saved`` moves it to the saved folder.  Both change the box in the core at once, so the
message-waiting NOTIFYs go out with the response; every download and change is logged.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from ..call.voicemail import Voicemail
from ..voicemail import Message
from .access import Caller, Ctl, forbidden
from .app import API
from .auth import Principal
from .views import NOT_FOUND, missing

log = structlog.get_logger()
router = APIRouter(prefix=f"{API}/voicemail", tags=["voicemail"], responses=NOT_FOUND)
Box = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.+-]+$")]
MessageId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class VoiceMessageOut(BaseModel):
    """One voice message; ``folder``: ``new`` (lights the lamp) or ``saved``."""

    id: str
    box: str
    caller: str
    received: datetime
    duration_s: float
    folder: str
    size: int | None = Field(description="bytes of the WAV file (null when it is missing)")


class MailboxOut(BaseModel):
    """A mailbox's counts (what the lamp shows) and its messages in mailbox order."""

    box: str
    new: int
    saved: int
    items: list[VoiceMessageOut]


def _mailbox(who: Principal, ctl: Ctl, box: str) -> Voicemail:
    """The switch's mailboxes when ``who`` may reach ``box`` and it exists."""
    if not who.is_admin and who.user != box:
        raise forbidden()
    vm = ctl.core().voicemail
    if vm is None or not vm.has(box):
        raise missing(who, "mailbox")
    return vm


def _message(who: Principal, vm: Voicemail, box: str, message_id: str) -> Message:
    m = vm.boxes[box].get(message_id)
    if m is None:
        raise missing(who, "message")
    return m


def _path(vm: Voicemail, m: Message) -> str:
    return f"{vm.box_dir(m.box)}/{m.file}"


def _out(vm: Voicemail, m: Message, wall_offset: float) -> VoiceMessageOut:
    try:
        size: int | None = os.path.getsize(_path(vm, m))
    except OSError:
        size = None
    return VoiceMessageOut(id=m.id, box=m.box, caller=m.caller,
                           received=datetime.fromtimestamp(m.received + wall_offset, UTC),
                           duration_s=round(m.duration, 3), folder=m.folder.value, size=size)


@router.get("/{box}/messages")
async def list_messages(box: Box, who: Caller, ctl: Ctl) -> MailboxOut:
    """The box's counts and messages: new ones oldest first, then saved ones."""
    vm = _mailbox(who, ctl, box)
    new, saved = vm.boxes[box].counts()
    offset = ctl.wall_offset()
    return MailboxOut(box=box, new=new, saved=saved,
                      items=[_out(vm, m, offset) for m in vm.boxes[box].messages()])


@router.get("/{box}/messages/{message_id}", response_class=FileResponse,
            responses={200: {"content": {"audio/wav": {}}, "description": "the message"},
                       206: {"description": "the Range asked for"},
                       416: {"description": "the Range is outside the file"}})
async def download_message(box: Box, message_id: MessageId, request: Request, who: Caller,
                           ctl: Ctl) -> FileResponse:
    """The message's WAV; ``Range: bytes=A-B`` gives 206, a range outside it 416."""
    vm = _mailbox(who, ctl, box)
    m = _message(who, vm, box, message_id)
    path = _path(vm, m)
    if not os.path.isfile(path):
        raise missing(who, "message file")
    client = request.client.host if request.client is not None else "?"
    log.info("voicemail_download", box=box, message=message_id, role=who.role, user=who.user,
             client=client, range=request.headers.get("range"))
    return FileResponse(path, media_type="audio/wav", filename=m.file)


def _change(who: Principal, ctl: Ctl, box: str, message_id: str, *, delete: bool) -> Voicemail:
    """Delete or save a message in the core, then send what it queued (the NOTIFYs)."""
    vm = _mailbox(who, ctl, box)
    _message(who, vm, box, message_id)
    ctl.core().voice_message(box, message_id, delete=delete, now=ctl.clock())
    ctl.flush()
    log.info("voicemail_api_deleted" if delete else "voicemail_api_saved", box=box,
             message=message_id, role=who.role, user=who.user)
    return vm


@router.delete("/{box}/messages/{message_id}", status_code=204, response_class=Response)
async def delete_message(box: Box, message_id: MessageId, who: Caller, ctl: Ctl) -> Response:
    """Delete the message (its row and file); the box's lamps are told at once."""
    _change(who, ctl, box, message_id, delete=True)
    return Response(status_code=204)


@router.post("/{box}/messages/{message_id}/saved")
async def save_message(box: Box, message_id: MessageId, who: Caller,
                       ctl: Ctl) -> VoiceMessageOut:
    """Move the message to the saved folder (it no longer lights the lamp); idempotent."""
    vm = _change(who, ctl, box, message_id, delete=False)
    return _out(vm, _message(who, vm, box, message_id), ctl.wall_offset())
