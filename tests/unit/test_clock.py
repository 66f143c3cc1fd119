"""TimerHeap against a plain dict of deadlines, under any sequence of operations."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ccswitch.clock import TimerHeap

ops = st.lists(st.one_of(
    st.tuples(st.just("arm"), st.integers(0, 5), st.integers(0, 20)),
    st.tuples(st.just("cancel"), st.integers(0, 5), st.just(0)),
    st.tuples(st.just("pop"), st.just(0), st.integers(0, 20)),
    st.tuples(st.just("next"), st.just(0), st.just(0)),
), max_size=60)


@settings(max_examples=500, deadline=None)
@given(ops)
def test_the_heap_answers_as_a_dict_of_deadlines(script: list[tuple[str, int, int]]) -> None:
    heap: TimerHeap[int] = TimerHeap()
    model: dict[int, tuple[float, int]] = {}  # key -> (deadline, order it was armed)
    order = 0
    for op, key, t in script:
        if op == "arm":
            order += 1
            heap.arm(key, float(t))
            model[key] = (float(t), order)
        elif op == "cancel":
            heap.cancel(key)
            model.pop(key, None)
        elif op == "pop":
            due = sorted((v, k) for k, v in model.items() if v[0] <= t)
            assert heap.pop_due(float(t)) == [k for _, k in due]
            for _, k in due:
                del model[k]
        assert heap.next_deadline() == (min(v[0] for v in model.values()) if model else None)
        assert len(heap) == len(model) and all(k in heap for k in model)
