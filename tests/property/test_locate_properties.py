"""RFC 2782 ordering (``sip/locate.order_srv``) for any set of SRV records: every record comes
out once, lower priorities first, and the draw depends only on the injected generator."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from ccswitch.sip.locate import Srv, order_srv

records = st.lists(st.builds(Srv, priority=st.integers(0, 3), weight=st.integers(0, 100),
                             port=st.integers(1, 65535),
                             target=st.text("abc", min_size=1, max_size=3),
                             ttl=st.integers(0, 3600)), max_size=8)


@given(records, st.integers(0, 2**32))
def test_every_record_once_by_priority(recs: list[Srv], seed: int) -> None:
    out = order_srv(recs, random.Random(seed))
    assert sorted(map(repr, out)) == sorted(map(repr, recs))
    assert [r.priority for r in out] == sorted(r.priority for r in recs)
    assert out == order_srv(recs, random.Random(seed))  # seeded: the same order
