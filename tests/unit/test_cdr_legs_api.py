"""``GET /api/v1/cdrs`` carries each call's legs and transfer chain: JSON and NDJSON as
lists of objects, CSV as compact text (``http/history.py`` ``cdr_flat``); on SQLite and
PostgreSQL (``store_at``)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from callworld import Switch
from test_api import Api
from test_cdr_legs_store import WALL, call

from ccswitch.http.history import EXTRA_KEY
from ccswitch.store.cdr import CdrStore
from ccswitch.store.db import Location
from ccswitch.store.history import History


@pytest.fixture
def api(store_at: Location) -> Api:
    store = CdrStore(store_at.connect(writer=True))
    store.add(call(), wall_offset=WALL)
    store.close()
    a = Api(Switch(("1001",)))
    a.ctl.extras[EXTRA_KEY] = History(store_at)
    return a


def test_json_items_carry_the_legs_and_the_chain(api: Api) -> None:
    (item,) = api("GET", "/api/v1/cdrs").json()["items"]
    legs = item["legs"]
    assert [(g["role"], g["party"], g["status"], g["ended_by"], g["codec"], g["call_end"])
            for g in legs] == [
        ("caller", "1001", 200, "party", "PCMA", "caller"),
        ("agent", "2001", 487, "switch", None, None),
        ("agent", "2002", 200, "party", "PCMU", None),
        ("transfer", "1003", 200, "peer", "PCMU", "callee")]
    # WALL = 1_700_000_000 is 2023-11-14T22:13:20Z; 2001's fork ended 3.2 s after WALL
    assert legs[1]["ended"] == "2023-11-14T22:13:23.200000Z"
    assert legs[1]["answered"] is None
    assert item["transfers"] == [{"kind": "blind", "by": "2002", "target": "1003",
                                  "at": "2023-11-14T22:13:30Z", "via": "refer",
                                  "result": "answered"}]


def test_ndjson_and_csv(api: Api) -> None:
    line = api("GET", "/api/v1/cdrs?format=ndjson").text.splitlines()
    assert len(line) == 1 and len(json.loads(line[0])["legs"]) == 4
    (row,) = csv.DictReader(io.StringIO(api("GET", "/api/v1/cdrs?format=csv").text))
    # ROLE:PARTY:STATUS[:CODEC] per leg; KIND:TARGET>BY>RESULT per transfer
    assert row["legs"] == ("caller:1001:200:PCMA;agent:2001:487;agent:2002:200:PCMU;"
                           "transfer:1003:200:PCMU")
    assert row["transfers"] == "blind:1003>2002>answered"
