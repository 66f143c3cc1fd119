"""The browser pages (the agent desktop, the wallboard, the report page), served one way:
plain HTML/JS/CSS shipped in the package under ``http/static/`` (no build step, no outside
resources), no token needed, ``Cache-Control: no-cache``, only the files a page lists (any
other name, ``..`` included, is 404).

A page is its own ``static/<folder>/body.html`` set into ``static/common/page.html`` (the
head, the shared script ``/common/ccswitch.js`` and the page's scripts) with the sign-in
form of ``static/common/signin.html`` where the body says ``$signin``.  The shared files
are served once, under ``/common/``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from string import Template

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

_COMMON = {"ccswitch.js": "text/javascript"}
_NO_CACHE = {"Cache-Control": "no-cache"}

router = APIRouter()


@dataclass(frozen=True, slots=True)
class Page:
    """One page: its folder under ``static/`` (also the path of its assets, ``/<folder>/``)."""

    folder: str
    title: str
    """After "ccswitch " in the window's title."""
    stylesheet: str
    token_hint: str
    """The sign-in field's placeholder."""
    scripts: tuple[str, ...]
    """After ``/common/ccswitch.js``, in this order."""
    assets: Mapping[str, str]
    """File name -> content type of what ``/<folder>/{name}`` serves."""


def _read(folder: str, name: str) -> str:
    return resources.files("ccswitch.http").joinpath("static", folder, name).read_text("utf-8")


def _answer(body: str | bytes, kind: str) -> Response:
    return Response(body, media_type=f"{kind}; charset=utf-8", headers=_NO_CACHE)


def html(page: Page) -> str:
    """The page's document."""
    signin = Template(_read("common", "signin.html")).substitute(token_hint=page.token_hint)
    body = Template(_read(page.folder, "body.html")).substitute(signin=signin.rstrip("\n"))
    scripts = "\n".join(f'<script src="{s}"></script>' for s in page.scripts)
    return Template(_read("common", "page.html")).substitute(
        title=page.title, stylesheet=page.stylesheet, body=body.rstrip("\n"), scripts=scripts)


def _asset(folder: str, assets: Mapping[str, str], name: str) -> Response:
    kind = assets.get(name)
    if kind is None:
        raise HTTPException(status_code=404, detail="not found")
    data = resources.files("ccswitch.http").joinpath("static", folder, name).read_bytes()
    return _answer(data, kind)


def add_page(into: APIRouter, path: str, page: Page) -> None:
    """Route ``GET path`` to the page and ``GET /<folder>/{name}`` to its assets."""
    async def document() -> Response:
        return _answer(html(page), "text/html")

    async def asset(name: str) -> Response:
        return _asset(page.folder, page.assets, name)

    into.add_api_route(path, document, methods=["GET"], include_in_schema=False,
                       name=f"{page.folder}_page")
    into.add_api_route(f"/{page.folder}/{{name}}", asset, methods=["GET"],
                       include_in_schema=False, name=f"{page.folder}_asset")


@router.get("/common/{name}", include_in_schema=False)
async def common_asset(name: str) -> Response:
    """The pages' shared script."""
    return _asset("common", _COMMON, name)
