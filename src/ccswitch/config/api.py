"""``[api]``: the HTTP API's bearer tokens (pure).

Part of the configuration parser (like ``config/features.py``): every fault goes through
``_Parser.fail`` with its key path and line.

Each ``[[api.tokens]]`` entry gives a ``token`` a ``role``:

- ``admin``: everything (no ``user``);
- ``supervisor``: ``user`` must have a ``[supervisors.USER]`` entry; the token sees and
  commands that supervisor's queues and their agents;
- ``agent``: ``user`` (or a numeric ``range`` of users, with ``{user}`` in the token) must be
  agents; each token sees its own agent only.

Tokens are at least ``MIN_TOKEN`` visible ASCII characters and each is given once.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .schema import Path, _Parser

ROLES: Final = ("admin", "supervisor", "agent")
MIN_TOKEN: Final = 12
TOKEN_KEYS: Final = ("token", "role", "user", "range")
_TOKEN = re.compile(r"[\x21-\x7e]+")  # visible ASCII: fits an Authorization header as is


@dataclass(frozen=True, slots=True)
class ApiToken:
    """One bearer token (kept out of ``repr``) and whom it speaks for."""

    token: str = field(repr=False)
    role: str
    user: str | None = None


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """The ``[api]`` table: ``tokens`` in configuration order (none: the API answers 401 to
    everything but ``/metrics`` and the OpenAPI document)."""

    tokens: tuple[ApiToken, ...] = ()


def parse_api(p: _Parser, value: object, path: Path, *, users: Collection[str],
              agents: Collection[str], supervisors: Collection[str]) -> ApiConfig:
    t: Mapping[str, Any] = p.table(value, path)
    p.check_keys(t, ("tokens",), path)
    out: list[ApiToken] = []
    where: dict[str, Path] = {}
    tp = (*path, "tokens")
    for i, entry in enumerate(p.array(t.get("tokens", []), tp)):
        ep = (*tp, i)
        e: Mapping[str, Any] = p.table(entry, ep)
        p.check_keys(e, TOKEN_KEYS, ep)
        for key in ("token", "role"):
            if key not in e:
                p.fail((*ep, key), "missing")
        role = p.string(e["role"], (*ep, "role"))
        if role not in ROLES:
            p.fail((*ep, "role"), f"{role!r} is not a role (admin, supervisor or agent)")
        template = p.string(e["token"], (*ep, "token"))
        names = _names(p, e, ep, role, users=users, agents=agents, supervisors=supervisors)
        if len(names) > 1 and "{user}" not in template:
            p.fail((*ep, "token"), "must contain {user} when a range of users shares the entry")
        for name in names:
            token = template if name is None else template.replace("{user}", name)
            if len(token) < MIN_TOKEN or not _TOKEN.fullmatch(token):
                p.fail((*ep, "token"), f"must be at least {MIN_TOKEN} visible ASCII characters "
                       "(no spaces)")
            if token in where:
                p.fail((*ep, "token"), "is the same as another token's "
                       f"(api.tokens.{where[token][-1]})")
            where[token] = ep
            out.append(ApiToken(token, role, name))
    return ApiConfig(tuple(out))


def _names(p: _Parser, e: Mapping[str, Any], ep: Path, role: str, *, users: Collection[str],
           agents: Collection[str], supervisors: Collection[str]) -> list[str | None]:
    """The users an entry's tokens speak for (``[None]`` for the admin)."""
    if role == "admin":
        for key in ("user", "range"):
            if key in e:
                p.fail((*ep, key), "an admin token speaks for no user")
        return [None]
    if ("user" in e) == ("range" in e):
        p.fail(ep, f"a {role} token needs exactly one of 'user' or 'range'")
    if "range" in e:
        if role != "agent":
            p.fail((*ep, "range"), "only agent tokens take a range")
        names, key = p.user_names({"range": e["range"]}, ep)
    else:
        names, key = [p.string(e["user"], (*ep, "user"))], "user"
    for name in names:
        if name not in users:
            p.fail((*ep, key), f"user {name!r} does not exist")
        if role == "agent" and name not in agents:
            p.fail((*ep, key), f"user {name!r} is not an agent")
        if role == "supervisor" and name not in supervisors:
            p.fail((*ep, key), f"user {name!r} is not in [supervisors]")
    return [*names]
