"""The admin commands of ``ccswitch`` (``calls``, ``queue show``, ``agent``, ``hangup``,
``events``, ``cdr export``, ``reload``, ``erlang``, ``trunks``, ``fraud``): each is one or
a few requests to a running daemon's HTTP API (``cliapi.Client``), printed as a table or,
with ``--json``, as the API's JSON.  Where the daemon is and which token to use:
``--url``/``--token``, else ``CCSWITCH_URL``/``CCSWITCH_TOKEN``, else the configuration
(``--config`` or the demo): its ``http`` address and its first admin token.  Exit statuses:
``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from .cliapi import (
    ApiError,
    Client,
    agents_table,
    callers_table,
    calls_table,
    event_line,
    queues_table,
    table,
)
from .errors import ConfigError

EXIT_USAGE = 2


def client_of(args: argparse.Namespace) -> Client:
    """The daemon's address and token from the flags, the environment or the config."""
    url = args.url or os.environ.get("CCSWITCH_URL")
    token = args.token or os.environ.get("CCSWITCH_TOKEN")
    if url is None or token is None:
        from .cli import demo_config, load_config

        config = load_config(args.config) if args.config else demo_config()
        if url is None:
            host, port = config.http
            host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
            url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        if token is None:
            token = next((t.token for t in config.api.tokens if t.role == "admin"), None)
    if "://" not in url:
        url = "http://" + url
    return Client(url, token, args.timeout)


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _json(value: Any) -> None:
    _out(json.dumps(value, indent=2))


def _calls(c: Client, a: argparse.Namespace) -> int:
    calls = c.get("/calls")
    if a.json:
        _json(calls)
    else:
        _out(calls_table(calls) if calls else "no live calls")
    return 0


def _queue(c: Client, a: argparse.Namespace) -> int:
    if a.name is None:
        queues = c.get("/queues")
        if a.json:
            _json(queues)
        else:
            _out(queues_table(queues))
        return 0
    q = c.get(f"/queues/{_seg(a.name)}")
    if a.json:
        _json(q)
    else:
        _out(queues_table([q]))
        _out("")
        _out(callers_table(q) if q.get("callers") else "nobody waiting")
    return 0


def _agent(c: Client, a: argparse.Namespace) -> int:
    if a.action == "list":
        agents = c.get("/agents") if a.id is None else [c.get(f"/agents/{_seg(a.id)}")]
        if a.json:
            _json(agents)
        else:
            _out(agents_table(agents))
        return 0
    if a.id is None:
        raise ApiError(f"agent {a.action}: which agent? (ccswitch agent {a.action} ID)",
                       EXIT_USAGE)
    body = {"reason": a.reason} if a.action == "pause" else None
    done = c.post(f"/agents/{_seg(a.id)}/{a.action}", body)
    if a.json:
        _json(done)
    else:
        after = c.get(f"/agents/{_seg(a.id)}")
        _out(f"agent {a.id}: {after['state']}"
             + (f" ({after['pause_reason']})" if after.get("pause_reason") else ""))
    return 0


def _hangup(c: Client, a: argparse.Namespace) -> int:
    done = c.delete(f"/calls/{_seg(a.call)}")
    if a.json:
        _json(done)
    else:
        _out(f"call {a.call}: hung up")
    return 0


def _events(c: Client, a: argparse.Namespace) -> int:
    filters = {"types": a.types, "queues": a.queues, "agents": a.agents}

    def show(ev: dict[str, Any]) -> None:
        _out(json.dumps(ev, separators=(",", ":")) if a.json else event_line(ev))
        sys.stdout.flush()

    if not a.follow:
        since = a.since or 0
        while True:
            page = c.get("/events", since=since, limit=500, **filters)
            for ev in page["events"]:
                show(ev)
            if not page["events"] or page["next"] <= since:
                return 0
            since = page["next"]
    try:
        for ev in c.follow(a.since, **filters):
            show(ev)
    except KeyboardInterrupt:
        pass
    return 0


def _cdr(c: Client, a: argparse.Namespace) -> int:
    path = "/queue-events" if a.queue_events else "/cdrs"
    params = {"from": a.from_, "to": a.to_, "queue": a.queue, "agent": a.agent,
              "caller": a.caller}
    if a.format == "json":  # one array, page after page
        out = sys.stdout
        out.write("[")
        for i, row in enumerate(c.pages(path, limit=1000, **params)):
            out.write(("," if i else "") + "\n" + json.dumps(row, separators=(",", ":")))
        out.write("\n]\n")
        return 0
    raw = sys.stdout.buffer
    for chunk in c.stream(path, format=a.format, **params):
        raw.write(chunk)
    raw.flush()
    return 0


def _reload(c: Client, a: argparse.Namespace) -> int:
    done = c.post("/reload")
    if a.json:
        _json(done)
        return 0
    _out("configuration reloaded")
    _out("  changed: " + (", ".join(done["changed"]) or "nothing"))
    if done["needs_restart"]:
        _out("  needs a restart (running values kept): " + ", ".join(done["needs_restart"]))
    for line in done["kept"]:
        _out("  not yet: " + line)
    return 0


def _erlang(c: Client, a: argparse.Namespace) -> int:
    r = c.get("/erlang", calls=a.calls, aht=a.aht, target=a.target, period=a.period,
              agents=a.agents, patience=a.patience)
    if a.json:
        _json(r)
    else:
        _out(table(list(r), [list(r.values())]))
    return 0


def _trunks(c: Client, a: argparse.Namespace) -> int:
    trunks = c.get("/trunks")
    if a.json:
        _json(trunks)
        return 0
    if not trunks:
        _out("no trunks configured")
        return 0
    rows = [[t["name"], t["domain"] or t["address"], t["state"],
             " ".join(t["addresses"]) or "-",
             "-" if t["registered"] is None else ("yes" if t["registered"] else "no"),
             f"{t['calls_active']}/{t['max_calls'] or '-'}",
             t["calls_per_second"] or "-"] for t in trunks]
    _out(table(["trunk", "configured", "state", "addresses", "registered", "calls",
                "calls/s"], rows))
    return 0


def _fraud(c: Client, a: argparse.Namespace) -> int:
    if a.action == "clear":
        if a.user is None:
            raise ApiError("fraud clear: which user? (ccswitch fraud clear USER)", EXIT_USAGE)
        done = c.post(f"/fraud/{_seg(a.user)}/clear")
        if a.json:
            _json(done)
        else:
            _out(f"user {a.user}: " + ("block cleared" if done["cleared"] else "was not "
                                                                               "blocked"))
        return 0
    blocked = c.get("/fraud")
    if a.json:
        _json(blocked)
    elif not blocked:
        _out("no user is blocked")
    else:
        _out(table(["user", "blocked at", "class"],
                   [[b["user"], b["blocked_at"], b["outbound_class"]] for b in blocked]))
    return 0


def _seg(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


HANDLERS: dict[str, Callable[[Client, argparse.Namespace], int]] = {
    "calls": _calls, "queue": _queue, "agent": _agent, "hangup": _hangup, "events": _events,
    "cdr": _cdr, "reload": _reload, "erlang": _erlang, "trunks": _trunks, "fraud": _fraud}


def run_admin(args: argparse.Namespace) -> int:
    """Run one admin command; an error is one line on stderr and its exit status."""
    try:
        return HANDLERS[args.command](client_of(args), args)
    except ConfigError as e:
        sys.stderr.write(f"ccswitch: {e}\n")
        return EXIT_USAGE
    except ApiError as e:
        sys.stderr.write(f"ccswitch {args.command}: {e}\n")
        return e.exit
    except BrokenPipeError:  # `ccswitch cdr export | head`
        return 0
