"""PathTable: the first matching literal pattern wins, whatever the table size."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rpc.runtime.routing import PathTable


def first_match(entries: list[tuple[str, int, str]], path: str) -> str | None:
    """The obvious linear scan PathTable must agree with."""
    for pattern, _, value in sorted(entries, key=lambda e: e[1]):
        p = pattern.lower()
        if (p.endswith("*") and path.startswith(p[:-1])) or p == path:
            return value
    return None


def test_prefix_exact_and_order() -> None:
    table = PathTable(
        [("/api/*", 0, "api"), ("/api/v1/*", 1, "v1"), ("/ap*", 2, "ap"), ("/x", 3, "x")]
    )
    assert table.lookup("/api/v1/users") == "api"  # earlier route wins even if shorter
    assert table.lookup("/apx") == "ap"
    assert table.lookup("/api") == "ap"  # `/api/*` needs the slash
    assert table.lookup("/x") == "x"
    assert table.lookup("/x/y") is None


def test_thousand_routes() -> None:
    table = PathTable([(f"/p{i:04d}/*", i, i) for i in range(1000)])
    assert table.lookup("/p0999/small") == 999
    assert table.lookup("/p1000/small") is None


pattern = st.builds(
    lambda body, star: "/" + body + ("*" if star else ""),
    st.text("ab/", max_size=4),
    st.booleans(),
)


@given(st.lists(pattern, max_size=12), st.text("ab/", max_size=6).map(lambda s: "/" + s))
def test_agrees_with_a_linear_scan(patterns: list[str], path: str) -> None:
    entries = [(p, i, f"v{i}") for i, p in enumerate(patterns)]
    assert PathTable(entries).lookup(path) == first_match(entries, path)
