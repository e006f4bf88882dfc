"""`rpc fmt`: byte-identical to `caddy fmt` (corpus and differential), idempotent, and its CLI."""

from __future__ import annotations

import random
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rpc.compiler.cli import main
from rpc.compiler.envsubst import substitute_env
from rpc.compiler.fmt import format_caddyfile
from rpc.compiler.lexer import tokenize
from rpctest.corpus import cases

FMT_CASES = Path(__file__).resolve().parent / "conformance" / "caddy-fmt"
INPUTS = sorted(FMT_CASES.glob("*.input.txt"))

# Fragments that reach the formatter's corner cases: braces glued to words,
# comments, both quote kinds nested in each other, escapes, line continuations,
# heredocs (valid, invalid and look-alikes), `import` before a bare `{`, CRLF,
# and Unicode white space that Go and Python classify differently.
FRAGMENTS = [
    "a", "b.com", ":80", "import", "x", "respond", "@m", "*", "{$X}", "{a}",
    "{", "}", "{\n", "}\n", "ab{", "}x", "{}",
    " ", " ", "\t", "\n", "\n", "\n\n", "\n\n\n", "\r\n", "\v", "\f",
    "#c", "# hi", '"q s"', '"', '"{"', "`", "`b t`", '\\"', "\\", "\\\n",
    "<", "<<", "EOF", "<<EOF\nbody\nEOF", "<<A\n  x\n  A", "<<E\nE", "\\<<EOF",
    "\xa0", "\x85", "\u2028", "\x1c", "é",
]  # fmt: skip


def _expected(path: Path) -> str:
    return path.with_name(path.name.replace(".input.", ".expect.")).read_text(encoding="utf-8")


@pytest.mark.parametrize("path", INPUTS, ids=[p.name.split(".")[0] for p in INPUTS])
def test_conformance_case(path: Path) -> None:
    assert format_caddyfile(path.read_text(encoding="utf-8")) == _expected(path)


def test_conformance_corpus_is_complete() -> None:
    # Guards against a glob that silently finds nothing.
    assert len(INPUTS) >= 30


def _caddy_fmt(caddy: str, text: str) -> str:
    done = subprocess.run(
        [caddy, "fmt", "-"], input=text.encode(), capture_output=True, timeout=30, check=True
    )
    return done.stdout.decode("utf-8", "surrogateescape")


def _assert_same_as_caddy(caddy: str, texts: list[str]) -> None:
    # One caddy process per text; run them side by side to keep the suite quick.
    with ThreadPoolExecutor(max_workers=4) as pool:
        expected = list(pool.map(lambda t: _caddy_fmt(caddy, t), texts))
    wrong = [(t, e) for t, e in zip(texts, expected, strict=True) if format_caddyfile(t) != e]
    if wrong:
        text, want = min(wrong, key=lambda w: len(w[0]))  # the smallest is the easiest to read
        pytest.fail(
            f"{len(wrong)}/{len(texts)} differ from caddy fmt; smallest input {text!r}\n"
            f"caddy: {want!r}\nrpc:   {format_caddyfile(text)!r}"
        )


def _generated(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(FRAGMENTS, k=rng.randint(1, 30))) for _ in range(count)]


def _mutated(seed: int, count: int) -> list[str]:
    """Real Caddyfiles from the adapt corpus with a few fragments inserted, deleted or swapped."""
    rng = random.Random(seed)
    sources = [c.caddyfile for c in cases()]
    out = []
    for _ in range(count):
        text = rng.choice(sources)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(text) + 1)
            cut = rng.randint(0, 3) if rng.random() < 0.5 else 0
            text = text[:at] + rng.choice(FRAGMENTS) + text[at + cut :]
        out.append(text)
    return out


# Each comparison starts a caddy process (~0.1 s), so the counts are bounded;
# larger seeded runs found no difference in 12,000 generated texts.


def test_same_as_caddy_on_the_adapt_corpus(caddy: str) -> None:
    sources = [c.caddyfile for c in cases()]
    _assert_same_as_caddy(caddy, random.Random(239).sample(sources, 60))


def test_same_as_caddy_on_generated_text(caddy: str) -> None:
    _assert_same_as_caddy(caddy, _generated(seed=20261123, count=100))


def test_same_as_caddy_on_mutated_caddyfiles(caddy: str) -> None:
    _assert_same_as_caddy(caddy, _mutated(seed=7642, count=60))


# Idempotence. `caddy fmt` itself is not idempotent on degenerate text
# (unbalanced braces, a `{` glued to a quote, a trailing backslash: e.g.
# "{a} }}" or "ab{\\"), nor on backtick strings (it only knows double quotes: a
# line starting with "`raw`" is joined to the line before), and a
# faithful port inherits that; the differential
# tests above cover such text. On Caddyfiles as people write them it is, and it
# keeps every token and every line break between tokens.

WORDS = st.sampled_from(
    [
        "example.com", ":8080", "localhost:9000", "*.example.com", "reverse_proxy",
        "respond", "@api", "path", "/api/*", "{http.request.uri}", "{$PORT:80}",
        '"quoted value"', '"{a} b"', "-Server", "X-Y", "é", "import",
    ]
)  # fmt: skip
GAP = st.sampled_from([" ", "  ", "\t", " \t"])
INDENT = st.sampled_from(["", "  ", "\t", "    ", "\t\t"])
EOL = st.sampled_from(["\n", "\n\n", "\n\n\n", "  \n", "\n\t\n", "\r\n"])
COMMENT = st.sampled_from(["#", "# note", "#{ not a block }", '# "quoted"'])


@st.composite
def _caddyfile(draw: st.DrawFn, depth: int = 0) -> str:
    out = []
    for _ in range(draw(st.integers(0 if depth else 1, 4))):
        indent = draw(INDENT)
        kind = draw(st.sampled_from(["line", "line", "comment", "heredoc", "block"]))
        if kind == "comment":
            out.append(indent + draw(COMMENT) + draw(EOL))
            continue
        words = draw(st.lists(WORDS, min_size=1, max_size=4))
        line = indent + "".join(w + draw(GAP) for w in words[:-1]) + words[-1]
        if kind == "line":
            if draw(st.booleans()):
                line += draw(GAP) + draw(COMMENT)
            out.append(line + draw(EOL))
        elif kind == "heredoc":
            pad = draw(INDENT)
            out.append(f"{line} <<EOF\n{pad}body {{x}}\n\n{pad}  more\n{pad}EOF{draw(EOL)}")
        elif depth < 3:
            inner = draw(_caddyfile(depth + 1))
            out.append(f"{line}{draw(GAP)}{{{draw(EOL)}{inner}{draw(INDENT)}}}{draw(EOL)}")
    return "".join(out)


def _shape(text: str) -> list[tuple[str, str, bool]]:
    """Each token's kind and text, and whether it begins a new line."""
    tokens = tokenize(substitute_env(text, {}).text)
    return [
        (t.kind.value, t.text, i == 0 or tokens[i - 1].line + tokens[i - 1].line_breaks < t.line)
        for i, t in enumerate(tokens)
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_caddyfile())
def test_idempotent_and_meaning_preserving(text: str) -> None:
    once = format_caddyfile(text)
    assert format_caddyfile(once) == once
    assert _shape(once) == _shape(text)


def test_idempotent_on_real_caddyfiles() -> None:
    texts = [c.caddyfile for c in cases()] + [_expected(p) for p in INPUTS]
    unstable = [t for t in texts if format_caddyfile(format_caddyfile(t)) != format_caddyfile(t)]
    assert unstable == []


@pytest.mark.parametrize(
    ("text", "formatted"),
    [
        ("", "\n"),
        ("  \n\t\n", "\n"),
        ("a{\nb\n}", "a {\n\tb\n}\n"),
        ("a {\n  b  c\n\n\n\n  d\n}\n\n\nx {\n}", "a {\n\tb c\n\n\td\n}\n\nx {\n}\n"),
        ("a {\n}\nx {\n}", "a {\n}\nx {\n}\n"),  # no blank line added between blocks
        ("a {\r\n b\r\n}\r\n", "a {\n\tb\n}\n"),  # CRLF becomes LF
        ("import x\n{\n\tdebug\n}\n", "import x\n{\n\tdebug\n}\n"),  # caddyserver/caddy#7642
    ],
)
def test_examples(text: str, formatted: str) -> None:
    assert format_caddyfile(text) == formatted


# The command line.

UGLY = "example.com{\n  respond   hi\n}\n"
PRETTY = "example.com {\n\trespond hi\n}\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "Caddyfile"
    path.write_bytes(text.encode())
    return path


def test_cli_prints_the_formatted_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, UGLY)
    assert main(["fmt", str(path)]) == 0
    assert capsys.readouterr().out == PRETTY
    assert path.read_text() == UGLY


def test_cli_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, UGLY)
    assert main(["fmt", "--overwrite", str(path)]) == 0
    assert path.read_bytes() == PRETTY.encode()
    assert capsys.readouterr().out == ""


def test_cli_overwrite_rewrites_crlf_as_caddy_does(tmp_path: Path) -> None:
    path = _write(tmp_path, "a {\r\n\tb # c\r\n}\r\n")
    assert main(["fmt", "-w", str(path)]) == 0
    # A comment is copied verbatim, its \r included (checked against caddy 2.11.7).
    assert path.read_bytes() == b"a {\n\tb # c\r\n}\n"


def test_cli_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, UGLY)
    assert main(["fmt", "--diff", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"--- {path} (original)\n+++ {path} (formatted)\n@@")
    assert "\n-example.com{\n-  respond   hi\n+example.com {\n+\trespond hi\n }\n" in out
    assert path.read_text() == UGLY

    path.write_text(PRETTY)
    assert main(["fmt", "--diff", str(path)]) == 0
    assert capsys.readouterr().out == ""


def test_cli_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fmt", "--check", str(_write(tmp_path, UGLY))]) == 1
    assert main(["fmt", "--check", str(_write(tmp_path, PRETTY))]) == 0
    assert capsys.readouterr().out == ""


def test_cli_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io
    import sys

    fake = io.TextIOWrapper(io.BytesIO(UGLY.encode()))
    monkeypatch.setattr(sys, "stdin", fake)
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == PRETTY


def test_cli_layout_mistakes_are_formatted_not_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A `{` on its own line and an unclosed block are parse errors for
    # `rpc check` but not for the formatter, which repairs layout as caddy does.
    path = _write(tmp_path, "a\n{\nb\n")
    assert main(["fmt", str(path)]) == 0
    assert capsys.readouterr().out == "a {\n\tb\n"


def test_cli_lexical_error_is_a_diagnostic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "a {\n\trespond <<EOF\n\t\thi\n")
    assert main(["fmt", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{path}:2:10: error[RPC104]" in captured.err
    assert "\n   | \t        ^^^^^" in captured.err


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fmt", "--overwrite", "-"]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["fmt", "--diff", "--overwrite", str(_write(tmp_path, UGLY))])
    assert exc.value.code == 2
    assert main(["fmt", str(tmp_path / "missing")]) == 1
    assert "RPC205" in capsys.readouterr().err
