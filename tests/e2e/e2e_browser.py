"""Chromium for the page tests (agent desktop, wallboard): Debian's ``chromium`` driven by
Playwright (no browser download), and where their screenshots are kept: under
``var/test-artifacts/e2e/<test>/`` (``$CCSWITCH_TEST_ARTIFACTS`` instead when set;
docs/e2e.md)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from e2e_daemon import REPO

from peers import missing_peer, require_peer

ARTIFACTS = Path(os.environ.get("CCSWITCH_TEST_ARTIFACTS", REPO / "var" / "test-artifacts"))
WAIT_MS = 30_000  # generous: the machine is shared; nothing here asserts timing


def artifact_dir(request: pytest.FixtureRequest) -> Path:
    d = ARTIFACTS / "e2e" / re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser (Playwright's ``Browser``): pages come from `new_page`."""
    binary = require_peer("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_peer("the Python package playwright is not installed (dev extras)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=binary, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def new_page(browser: Any, width: int, height: int) -> Iterator[Any]:
    """A page of ``width`` x ``height`` CSS pixels in a context of its own (nothing shared
    with the browser's other pages: storage, cookies), closed at the end."""
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        yield context.new_page()
    finally:
        context.close()


@contextmanager
def chromium_page(width: int, height: int) -> Iterator[Any]:
    """A headless Chromium page of ``width`` x ``height`` CSS pixels (a browser of its own)."""
    with chromium() as browser, new_page(browser, width, height) as page:
        yield page
