"""Message-waiting subscriptions as SIP dialogs (pure): the SIP side of ``sip/mwi.py``.

``Signaling`` checks who subscribes (the Event, digest authentication, the subscriber owns the
mailbox) and hands the SUBSCRIBE here; :class:`MwiDialogs` makes the subscription's dialog
(our tag, the subscriber's Contact and Record-Route, the mailbox watched), lets the
``MwiNotifier`` answer it (200 with Expires, 423, 481), and sends the notifier's NOTIFYs as
requests in that dialog.  A NOTIFY answered 481 or 408, or not answered at all, ends its
subscription (``notify_failed``).  SUBSCRIBEs inside the dialog are refreshes (``Expires:
0``: the end) of the box the dialog was made for (:meth:`MwiDialogs.box_of`), whatever their
Request-URI (our Contact); ``Signaling`` authenticates them as it did the initial one.

Unsolicited MWI (a user's ``mailbox = { unsolicited = true }``): ``registered`` follows the
user's bindings; each registered contact gets the box's state at once and on every change, as
an out-of-dialog NOTIFY (``Subscription-State: active``) to the flow it registered over.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from ..errors import SipParseError
from ..ids import Ids
from ..sip.dialog import Dialog, LocalContact
from ..sip.message import make_response
from ..sip.mwi import CONTENT_TYPE, MwiNotifier, MwiNotify, subscribe_of
from ..sip.registrar import Binding
from ..sip.transaction import RequestReceived, ResponseReceived, TransactionLayer
from ..sip.uri import NameAddr, SipUri

log = structlog.get_logger()

ALLOW_EVENTS = "message-summary, refer"
CHALLENGED_SUBSCRIBES = (10, 10.0)
"""At most 10 SUBSCRIBEs without credentials (each gets a challenge and a nonce) per source
(transport, address, port) in 10 s: a phone needs one per mailbox and refresh; a client
looping on new subscriptions gets 503 + Retry-After beyond that (docs/voicemail.md)."""
NOTIFY_FAILURES = frozenset({404, 405, 408, 410, 416, 480, 481, 482, 483, 484, 485, 489, 501,
                             604})
"""Answers to a NOTIFY that end its subscription (RFC 6665 §4.2.2: 481, 408 and those that
say the subscriber is gone)."""


class MwiDialogs:
    """Every message-summary subscription's dialog, and the NOTIFYs in flight."""

    def __init__(self, *, txn: TransactionLayer, ids: Ids, notifier: MwiNotifier,
                 local: Callable[[str], LocalContact], user_agent: str,
                 domain: str = "ccswitch.local") -> None:
        self._txn = txn
        self._domain = domain
        self._targets: dict[str, Binding] = {}  # unsolicited target -> the binding it is
        self._ids = ids
        self.notifier = notifier
        self._local = local
        self._ua = user_agent
        # sub id -> its dialog, our side of it, and the mailbox it watches
        self._dialogs: dict[str, tuple[Dialog, LocalContact, str]] = {}
        self._notifies: dict[str, str] = {}  # NOTIFY client txn -> sub id
        self.sent = 0  # NOTIFYs sent (a counter for tests and metrics)

    def __len__(self) -> int:
        return len(self._dialogs)

    def knows(self, ev: RequestReceived) -> bool:
        """Whether ``ev`` (a request with a To tag) is in one of our subscriptions."""
        req = ev.request
        return _sub_id(req.call_id, req.to.tag or "") in self._dialogs

    def box_of(self, ev: RequestReceived) -> str | None:
        """The mailbox the subscription of ``ev`` (a request in its dialog) watches."""
        req = ev.request
        known = self._dialogs.get(_sub_id(req.call_id, req.to.tag or ""))
        return known[2] if known is not None else None

    def subscribe(self, ev: RequestReceived, box: str, now: float) -> None:
        """Answer an authorized SUBSCRIBE to ``box`` (initial, or in one of our dialogs)."""
        req = ev.request
        initial = req.to.tag is None
        if initial:
            me = self._local(ev.source.transport)
            dialog = Dialog(call_id=req.call_id, local=req.to.with_tag(self._ids.tag()),
                            remote=req.from_, local_seq=0,
                            remote_target=str(req.contacts[0].uri) if req.contacts
                            else str(req.from_.uri), peer=ev.source, remote_seq=req.cseq.seq)
            for rr in req.headers.get_all("record-route"):
                dialog.route_set.append(rr)
        else:
            known = self._dialogs.get(_sub_id(req.call_id, req.to.tag or ""))
            if known is None:
                self._reply(ev, 481, "Subscription Does Not Exist", now)
                return
            dialog, me, box = known
            if dialog.remote_seq is not None and req.cseq.seq <= dialog.remote_seq:
                self._reply(ev, 500, "Out of Order CSeq", now, to_tag=dialog.local_tag)
                return
            dialog.remote_seq = req.cseq.seq
            dialog.update_target(req)
        sid = _sub_id(req.call_id, dialog.local_tag)
        try:
            sub = subscribe_of(req, sub_id=sid, mailbox=box)
        except SipParseError as err:
            extra = [("Allow-Events", ALLOW_EVENTS)] if err.status == 489 else []
            self._reply(ev, err.status, err.reason, now, extra, to_tag=dialog.local_tag)
            return
        answer = self.notifier.receive(sub, now)
        if answer.status == 200:
            self._dialogs[sid] = (dialog, me, box)
        reason = {200: "OK", 423: "Interval Too Brief"}.get(answer.status,
                                                           "Subscription Does Not Exist")
        self._reply(ev, answer.status, reason, now,
                    [*answer.headers(), ("Contact", me.contact())], to_tag=dialog.local_tag)
        log.info("mwi_subscribe", box=box, status=answer.status, expires=answer.expires,
                 initial=initial)
        self.flush(now)

    def registered(self, box: str, bindings: tuple[Binding, ...], now: float) -> None:
        """The owner of ``box`` (an unsolicited one) now has ``bindings``: new contacts get
        the state at once, gone ones no more NOTIFYs."""
        now_targets = {_target(b): b for b in bindings}
        for target in [t for t, b in self._targets.items()
                       if b.user == box and t not in now_targets]:
            del self._targets[target]
            self.notifier.remove_unsolicited(target)
        for target, b in now_targets.items():
            fresh = target not in self._targets
            self._targets[target] = b
            if fresh:
                self.notifier.add_unsolicited(target, box, now)
        self.flush(now)

    def flush(self, now: float) -> None:
        """Send the notifier's NOTIFYs; forget the dialogs of ended subscriptions."""
        for n in self.notifier.outbox():
            self._send(n, now)
        for ended in self.notifier.events():
            self._dialogs.pop(ended.sub_id, None)
            log.info("mwi_subscription_ended", box=ended.mailbox, reason=ended.reason)

    def on_response(self, ev: ResponseReceived, now: float) -> bool:
        """A response to one of our NOTIFYs (False: not ours)."""
        sid = self._notifies.get(ev.txn_id)
        if sid is None:
            return False
        status = ev.response.status
        if status < 200:
            return True
        del self._notifies[ev.txn_id]
        if sid and status in NOTIFY_FAILURES:
            log.info("mwi_notify_failed", status=status)
            self.notifier.notify_failed(sid, now)
            self.flush(now)
        return True

    def on_timeout(self, txn_id: str, now: float) -> bool:
        sid = self._notifies.pop(txn_id, None)
        if sid is None:
            return False
        if not sid:
            return True  # an unsolicited NOTIFY: the phone may be gone, its binding will go
        self.notifier.notify_failed(sid, now)
        self.flush(now)
        return True

    def _send(self, n: MwiNotify, now: float) -> None:
        if n.unsolicited:
            self._send_unsolicited(n, now)
            return
        known = self._dialogs.get(n.sub_id)
        if known is None:
            return
        dialog, me, _ = known
        req = dialog.request("NOTIFY", me=me, branch=self._ids.branch(), body=n.body,
                             content_type=CONTENT_TYPE,
                             extra=[*n.headers()[:2], ("Contact", me.contact()),
                                    ("User-Agent", self._ua)])
        self._notifies[self._txn.send_request(req, dialog.peer, now)] = n.sub_id
        self.sent += 1
        log.info("mwi_notify", box=n.mailbox, waiting=n.summary.waiting,
                 state=n.subscription_state)

    def _send_unsolicited(self, n: MwiNotify, now: float) -> None:
        b = self._targets.get(n.sub_id)
        if b is None:
            return
        me = self._local(b.source.transport)
        dialog = Dialog(call_id=self._ids.call_id(me.host),
                        local=NameAddr(SipUri(host=self._domain, user=n.mailbox), None,
                                       {"tag": self._ids.tag()}),
                        remote=NameAddr(SipUri(host=self._domain, user=b.user)), local_seq=0,
                        remote_target=b.contact, peer=b.source)
        req = dialog.request("NOTIFY", me=me, branch=self._ids.branch(), body=n.body,
                             content_type=CONTENT_TYPE,
                             extra=[*n.headers()[:2], ("Contact", me.contact()),
                                    ("User-Agent", self._ua)])
        # its answer, whatever it is, only ends the transaction
        self._notifies[self._txn.send_request(req, b.source, now)] = ""
        self.sent += 1
        log.info("mwi_notify", box=n.mailbox, waiting=n.summary.waiting, unsolicited=True,
                 contact=b.contact)

    def _reply(self, ev: RequestReceived, status: int, reason: str, now: float,
               extra: list[tuple[str, str]] | None = None, *, to_tag: str | None = None) -> None:
        resp = make_response(ev.request, status, reason,
                             to_tag=to_tag if ev.request.to.tag is None else None,
                             headers=[*(extra or []), ("Server", self._ua)])
        self._txn.send_response(ev.txn_id, resp, now)


def _target(b: Binding) -> str:
    return f"{b.user} {b.contact}"


def _sub_id(call_id: str, local_tag: str) -> str:
    return f"{call_id};{local_tag}"
