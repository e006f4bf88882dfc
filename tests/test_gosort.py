"""The Go-compatible stable sort agrees with Python's on strict orders, at every size."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from rpc.compiler.gosort import slice_stable


@given(st.lists(st.tuples(st.integers(0, 5), st.integers()), max_size=120))
def test_matches_a_stable_sort_for_strict_orders(items: list[tuple[int, int]]) -> None:
    data = list(items)
    slice_stable(data, lambda x, y: x[0] < y[0])
    assert data == sorted(items, key=lambda x: x[0])


def test_inconsistent_comparator_is_deterministic() -> None:
    # Caddy's `vars` order compares "less" both ways for equal items; the
    # outcome must be the same every time (it is Go's, by construction).
    rng = random.Random(7)
    items = [rng.randrange(3) for _ in range(50)]
    first = list(items)
    second = list(items)
    slice_stable(first, lambda x, y: not (x < y))
    slice_stable(second, lambda x, y: not (x < y))
    assert first == second


def test_small_inconsistent_case_matches_go() -> None:
    # Insertion sort with less(x, y) = True always reverses the slice (Go does the same).
    data = [1, 2, 3, 4]
    slice_stable(data, lambda x, y: True)
    assert data == [4, 3, 2, 1]
