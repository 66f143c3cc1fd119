"""Carrier trunks and toll-fraud blocks in the API: ``GET /api/v1/trunks`` (admin and
supervisors), ``GET /api/v1/fraud`` and ``POST /api/v1/fraud/{user}/clear`` (admin only: a
user blocked by the burst detector stays blocked until an admin clears it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from ..call.signaling import Signaling
from .access import Caller, Ctl, forbidden
from .app import API
from .views import ERRORS, NOT_FOUND

router = APIRouter(prefix=API, responses=ERRORS)


class TrunkOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    address: str | None = Field(description="TRANSPORT:HOST:PORT as configured (null: a "
                                "domain)")
    domain: str | None = Field(description="the domain found by RFC 3263 (null: an address)")
    addresses: list[str] = Field(description="where calls go, in the order tried (a "
                                 "domain's: what NAPTR/SRV/A gave; empty: not found yet)")
    dns_ttl: int | None = Field(description="seconds the DNS answer is kept (domains)")
    dns_records: list[str] = Field(description="the DNS records used (domains)")
    state: Literal["available", "down", "unregistered", "unresolved"] = Field(
        description="available: calls may use it; down: its OPTIONS keep-alive failed; "
        "unregistered: it registers and is not registered; unresolved: no address yet")
    up: bool | None = Field(description="the OPTIONS keep-alive's verdict (null: not probed): "
                            "false only when no address answers")
    addresses_down: list[str] = Field(description="addresses the keep-alive found down "
                                      "(tried last)")
    registered: bool | None = Field(description="null: the trunk does not register")
    registrar: str | None = Field(description="the address the registration's REGISTERs go "
                                  "to (null: the trunk does not register)")
    calls_active: int
    max_calls: int = Field(description="concurrent calls allowed (0: no limit)")
    calls_per_second: float = Field(description="new calls per second allowed (0: no limit)")
    codecs: list[str] | None = Field(description="offered to the trunk (null: [media] codecs)")
    number_format: str


class BlockedUserOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    user: str
    blocked_at: datetime = Field(description="when the burst of attempts blocked the user")
    outbound_class: str


class ClearedOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    user: str
    cleared: bool = Field(description="false: the user was not blocked")


def _trunks(sig: Signaling) -> list[TrunkOut]:
    legs, drv = sig.trunk_legs, sig.trunk_driver
    if legs is None:
        return []
    out = []
    for name, cfg in legs.trunks.items():
        found = legs.located.get(name)
        up = drv.up.get(name) if drv is not None else None
        registered = drv.registered.get(name) if drv is not None and cfg.register else None
        addresses = legs.addresses(name)
        down = legs.down_addresses.get(name, frozenset())
        where = drv.registrar(name) if drv is not None and cfg.register else None
        state: Literal["available", "down", "unregistered", "unresolved"] = "available"
        if not addresses:
            state = "unresolved"
        elif up is False:
            state = "down"
        elif cfg.register and not registered:
            state = "unregistered"
        out.append(TrunkOut(
            name=name, address=str(cfg.address) if cfg.address is not None else None,
            domain=cfg.domain, addresses=[str(a) for a in addresses],
            dns_ttl=found.ttl if found is not None else None,
            dns_records=list(found.records) if found is not None else [], state=state,
            up=up, addresses_down=[str(a) for a in addresses if a in down],
            registered=registered, registrar=str(where) if where is not None else None,
            calls_active=legs.active_calls(name),
            max_calls=cfg.max_calls, calls_per_second=cfg.calls_per_second,
            codecs=list(cfg.codecs) if cfg.codecs is not None else None,
            number_format=cfg.number_format))
    return out


@router.get("/trunks", tags=["trunks"])
async def list_trunks(who: Caller, ctl: Ctl) -> list[TrunkOut]:
    """Every carrier trunk: where its calls go, its keep-alive and registration state, its
    live calls and limits (admin and supervisors)."""
    if who.role == "agent":
        raise forbidden()
    return _trunks(ctl.core())


@router.get("/fraud", tags=["trunks"])
async def list_blocked(who: Caller, ctl: Ctl) -> list[BlockedUserOut]:
    """Users blocked from outside calls by a burst of refused, failed or expensive attempts
    (admin only)."""
    if not who.is_admin:
        raise forbidden()
    sig = ctl.core()
    if sig.trunk_legs is None:
        return []
    policy = sig.trunk_legs.router.policy
    off = ctl.wall_offset()
    return [BlockedUserOut(user=user, blocked_at=datetime.fromtimestamp(at + off, UTC),
                           outbound_class=policy.class_of(user).value)
            for user, at in sorted(policy.blocked_users.items())]


@router.post("/fraud/{user}/clear", tags=["trunks"], responses=NOT_FOUND)
async def clear_block(user: str, who: Caller, ctl: Ctl) -> ClearedOut:
    """Lift ``user``'s toll-fraud block (admin only); logged as ``fraud_cleared``."""
    if not who.is_admin:
        raise forbidden()
    sig = ctl.core()
    if user not in sig.config.users:
        raise HTTPException(status_code=404, detail="no user")
    if sig.trunk_legs is None:
        return ClearedOut(user=user, cleared=False)
    try:
        return ClearedOut(user=user, cleared=sig.trunk_legs.clear_fraud(user, ctl.clock()))
    finally:
        ctl.flush()
