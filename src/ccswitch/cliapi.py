"""The admin CLI's client of a running daemon's HTTP API (standard library only, plus
``websockets`` for ``events --follow``), and the tables it prints.

Every failure is an ``ApiError`` whose ``exit`` is the command's exit status
(``docs/cli.md``): 3 the daemon is not reachable, 4 the token is missing, wrong or not
allowed, 5 the daemon failed or is starting/stopping, 1 any other refusal.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

EXIT_REFUSED = 1
EXIT_UNREACHABLE = 3
EXIT_AUTH = 4
EXIT_SERVER = 5
CHUNK = 64 * 1024


class ApiError(Exception):
    """A request that did not succeed; ``str()`` is the one line the CLI prints."""

    def __init__(self, message: str, exit: int, status: int | None = None) -> None:
        super().__init__(message)
        self.exit = exit
        self.status = status


@dataclass(frozen=True, slots=True)
class Client:
    """``url``: the daemon's HTTP base (``http://127.0.0.1:8080``); ``token``: a bearer."""

    url: str
    token: str | None
    timeout: float = 10.0

    def _request(self, method: str, path: str, params: Mapping[str, Any] | None = None,
                 body: Any = None) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        full = self.url.rstrip("/") + path + ("?" + urllib.parse.urlencode(query)
                                              if query else "")
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(full, data=data, method=method, headers=headers)
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            raise _refusal(e) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ApiError(f"cannot reach the daemon at {self.url}: {reason} "
                           "(is `ccswitch serve` running? see --url)", EXIT_UNREACHABLE) from None

    def call(self, method: str, path: str, params: Mapping[str, Any] | None = None,
             body: Any = None) -> Any:
        """The decoded JSON answer of one request."""
        with self._request(method, path, params, body) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", "/api/v1" + path, params)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", "/api/v1" + path, None, body if body is not None else {})

    def delete(self, path: str) -> Any:
        return self.call("DELETE", "/api/v1" + path)

    def stream(self, path: str, **params: Any) -> Iterator[bytes]:
        """The answer's body in chunks, as it arrives (exports)."""
        with self._request("GET", "/api/v1" + path, params) as resp:
            while chunk := resp.read(CHUNK):
                yield chunk

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a cursor-paged list (``items`` / ``next_cursor``)."""
        cursor = 0
        while True:
            page = self.get(path, cursor=cursor, **params)
            yield from page["items"]
            if page.get("next_cursor") is None:
                return
            cursor = page["next_cursor"]

    def ws_url(self, path: str, params: Mapping[str, Any]) -> str:
        parts = urllib.parse.urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        return urllib.parse.urlunsplit((scheme, parts.netloc,
                                        parts.path.rstrip("/") + path, query, ""))

    def follow(self, since: int | None, **filters: str | None) -> Iterator[dict[str, Any]]:
        """The live event stream (WebSocket), from ``since`` when given; reconnects with the
        last ``seq`` seen when the daemon closes it (a slow client or a restart)."""
        from websockets.exceptions import ConnectionClosed, InvalidStatus
        from websockets.sync.client import connect

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        last = since
        while True:
            url = self.ws_url("/api/v1/events", {"since": last, **filters})
            try:
                with connect(url, additional_headers=headers, open_timeout=self.timeout) as ws:
                    for message in ws:
                        ev = json.loads(message)
                        last = ev.get("seq", last)
                        yield ev
            except InvalidStatus as e:
                status = e.response.status_code
                raise ApiError(_status_text(status, ""), _exit_of(status), status) from None
            except ConnectionClosed:
                continue
            except OSError as e:
                raise ApiError(f"cannot reach the daemon at {self.url}: {e}",
                               EXIT_UNREACHABLE) from None


def _exit_of(status: int) -> int:
    if status in (401, 403, 429):
        return EXIT_AUTH
    if status >= 500:
        return EXIT_SERVER
    return EXIT_REFUSED


def _status_text(status: int, detail: str) -> str:
    if status == 401:
        return "the token is missing or wrong (see --token, CCSWITCH_TOKEN)"
    if status == 403:
        return "this token may not do that (forbidden)"
    if status == 429:
        return "too many wrong tokens from this address: wait and retry"
    if status == 503:
        return "the daemon is starting or stopping (503)"
    return f"{detail or 'refused'} ({status})"


def _refusal(e: urllib.error.HTTPError) -> ApiError:
    detail = ""
    try:
        body = json.loads(e.read() or b"null")
        if isinstance(body, dict):
            d = body.get("detail")
            detail = d if isinstance(d, str) else json.dumps(d)
    except (ValueError, OSError):
        pass
    return ApiError(_status_text(e.code, detail), _exit_of(e.code), e.code)


# -- tables ------------------------------------------------------------------------------
def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned columns, two spaces apart; ``-`` for empty cells."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in cells]
    return "\n".join(lines)


def _cell(v: Any) -> str:
    if v is None or v == "":
        return "-"
    if isinstance(v, float):
        return f"{v:.1f}"
    if isinstance(v, list | tuple):
        return ",".join(str(x) for x in v) or "-"
    return str(v)


def duration(seconds: float | None) -> str:
    """``1:05`` / ``1:02:03``."""
    if seconds is None:
        return "-"
    s = int(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def calls_table(calls: Sequence[Mapping[str, Any]]) -> str:
    return table(["CALL", "STATE", "CALLER", "CALLEE", "QUEUE", "AGENT", "TIME", "TALK"],
                 [[c["id"], c["state"], c.get("caller"), c.get("callee"), c.get("queue"),
                   c.get("agent"), duration(c.get("duration_s")), duration(c.get("talk_s"))]
                  for c in calls])


AGENT_STATES = ("ready", "ringing", "on_call", "wrap_up", "paused", "logged_out")


def queues_table(queues: Sequence[Mapping[str, Any]]) -> str:
    def sl(v: float | None) -> str:
        return "-" if v is None else f"{v * 100:.0f}%"

    return table(["QUEUE", "WAITING", "LONGEST", "READY", "RINGING", "ON_CALL", "WRAP_UP",
                  "PAUSED", "OUT", "ANSWERED", "ABANDONED", "SL"],
                 [[q["name"], q["waiting"], duration(q["longest_wait_s"]),
                   *(q["agents"][s] for s in AGENT_STATES), q.get("answered"),
                   q.get("abandoned"), sl(q.get("service_level"))] for q in queues])


def callers_table(q: Mapping[str, Any]) -> str:
    return table(["POS", "CALL", "CALLER", "WAIT", "PRIORITY", "STATE"],
                 [[c["position"], c["call_id"], c.get("caller"), duration(c["wait_s"]),
                   c["priority"], c["state"]] for c in q.get("callers", [])])


def agents_table(agents: Sequence[Mapping[str, Any]]) -> str:
    return table(["AGENT", "STATE", "FOR", "QUEUES", "PAUSE", "CALL"],
                 [[a["id"], a["state"], duration(a.get("time_in_state_s")), a.get("queues"),
                   a.get("pause_reason"), a.get("call_id")] for a in agents])


def event_line(ev: Mapping[str, Any]) -> str:
    """One event on one line: seq, time, type, then its other fields as key=value."""
    rest = " ".join(f"{k}={json.dumps(v) if isinstance(v, dict | list) else v}"
                    for k, v in ev.items() if k not in ("seq", "time", "type") and v is not None)
    return f"{ev.get('seq')}  {ev.get('time')}  {ev.get('type')}  {rest}".rstrip()
