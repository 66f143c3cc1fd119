"""The three browser pages as ``http/pages.py`` serves them: one document each (the shared
head, sign-in form and script, then the page's own scripts), the shared script once under
``/common/``, only listed files, never cached."""

from __future__ import annotations

import re

import pytest
from callworld import Switch
from test_api import Api

PAGES = [  # path, title, sign-in hint, the page's own scripts
    ("/agent", "agent desktop", "demo-agent-2001", ["/agent/app.js"]),
    ("/", "wallboard", "demo-supervisor-token", ["/reports/chart.js", "/wallboard/board.js"]),
    ("/reports", "reports", "an admin or supervisor token",
     ["/reports/chart.js", "/reports/reports.js"]),
]


@pytest.fixture(scope="module")
def api() -> Api:
    return Api(Switch(("1001",)))


@pytest.mark.parametrize(("path", "title", "hint", "scripts"), PAGES)
def test_a_page_is_its_body_in_the_shared_frame(api: Api, path: str, title: str, hint: str,
                                                 scripts: list[str]) -> None:
    r = api("GET", path, None)
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    doc = r.text
    assert doc.startswith("<!doctype html>\n") and doc.endswith("</body>\n</html>\n")
    assert f"<title>ccswitch {title}</title>" in doc
    assert re.findall(r'<script src="([^"]+)"></script>', doc) == ["/common/ccswitch.js",
                                                                   *scripts]
    assert doc.count('<form id="signin-form">') == 1 and f'placeholder="{hint}"' in doc
    for ident in ("signin", "token", "signin-error", "signout", "message"):
        assert doc.count(f'id="{ident}"') == 1, ident  # what ccswitch.js reaches by id
    assert "$" not in doc  # every placeholder was filled


def test_the_shared_script_is_served_once_and_nothing_else(api: Api) -> None:
    r = api("GET", "/common/ccswitch.js", None)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "no-cache"
    assert "const ccswitch = " in r.text
    for name in ("page.html", "signin.html", "..%2Fpages.py", "nope.js"):
        assert api("GET", f"/common/{name}", None).status_code == 404, name
    for folder in ("agent", "wallboard", "reports"):  # a page's body is only inside its page
        assert api("GET", f"/{folder}/body.html", None).status_code == 404, folder
