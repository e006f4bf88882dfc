"""Imports, snippets, arguments and import blocks, as Caddy 2.11 expands them."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpc.compiler.errors import Diagnostics, RpcError
from rpc.compiler.expand import expand
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpc.compiler.syntax import parse_text
from rpctest.caddyfiles import dedent, front_end_error


def expanded_lines(
    text: str, name: str = "Caddyfile", diags: Diagnostics | None = None
) -> list[list[str]]:
    """Flatten the expanded tree to token texts per line, blocks indented with '>'."""
    result = expand(parse_text(text, name), diags=diags)
    out: list[list[str]] = []

    def walk(lines: object, depth: int) -> None:
        for line in lines:  # type: ignore[attr-defined]
            out.append([">" * depth, *[t.text for t in line.tokens]])
            if line.block is not None:
                walk(line.block.lines, depth + 1)

    walk(result.lines, 0)
    return out


def test_snippet_with_arguments() -> None:
    text = dedent(
        """
        (common) {
        \theader X-Site {args[0]} {args[1]}
        \trespond {args[:]}
        }
        a.com {
        \timport common first second
        }
        """
    )
    assert expanded_lines(text) == [
        ["", "a.com"],
        [">", "header", "X-Site", "first", "second"],
        [">", "respond", "first", "second"],
    ]


def test_variadic_slices_and_substrings() -> None:
    text = "(s) {\n\tx /{args[0]}/y {args[1:]} pre{args[0]}post\n}\n:80 {\n\timport s a b c\n}\n"
    assert expanded_lines(text)[1] == [">", "x", "/a/y", "b", "c", "preapost"]


def test_deprecated_args_dot_form_warns() -> None:
    diags = Diagnostics()
    lines = expanded_lines("(s) {\n\tx {args.0}\n}\n:80 {\n\timport s v\n}\n", diags=diags)
    assert lines[1] == [">", "x", "v"]
    assert [d.code for d in diags] == ["RPC253"]


def test_out_of_range_argument_is_left_with_a_warning() -> None:
    diags = Diagnostics()
    lines = expanded_lines("(s) {\n\tx {args[3]}\n}\n:80 {\n\timport s v\n}\n", diags=diags)
    assert lines[1] == [">", "x", "{args[3]}"]
    assert [d.code for d in diags] == ["RPC251"]


def test_import_block_and_blocks_keys() -> None:
    text = dedent(
        """
        (snippet) {
        \theader {
        \t\t{blocks.bar}
        \t}
        \timport sub {
        \t\tbar {
        \t\t\t{blocks.foo}
        \t\t}
        \t}
        \t{block}
        }
        (sub) {
        \trequest_header {
        \t\t{blocks.bar}
        \t}
        }
        example.com {
        \timport snippet {
        \t\tfoo {
        \t\t\tfoo a
        \t\t}
        \t\tbar {
        \t\t\tbar b
        \t\t}
        \t}
        }
        """
    )
    assert expanded_lines(text) == [
        ["", "example.com"],
        [">", "header"],
        [">>", "bar", "b"],
        [">", "request_header"],
        [">>", "foo", "a"],
        [">", "foo"],
        [">>", "foo", "a"],
        [">", "bar"],
        [">>", "bar", "b"],
    ]


def test_block_placeholders_vanish_without_a_block() -> None:
    text = "(s) {\n\theader {\n\t\tX a\n\t\t{block}\n\t\t{blocks.k}\n\t}\n}\n:80 {\n\timport s\n}\n"
    assert expanded_lines(text) == [["", ":80"], [">", "header"], [">>", "X", "a"]]


def test_anonymous_import_block_is_an_error() -> None:
    diag = front_end_error("(s) {\n\t{block}\n}\n:80 {\n\timport s {\n\t\t{\n\t\t}\n\t}\n}\n")
    assert diag.code == "RPC206"
    assert "anonymous blocks are not supported" in diag.message


def test_import_cycle_reports_the_chain() -> None:
    text = "(import1) {\n\timport import2\n}\n(import2) {\n\timport import1\n}\nimport import1\n"
    diag = front_end_error(text)
    assert diag.code == "RPC202"
    assert (
        "a cycle of imports exists between Caddyfile:import2 and Caddyfile:import1" in diag.message
    )
    assert diag.span is not None and [v.line for v in diag.span.chain()] == [2, 7]


def test_snippet_defined_after_use_is_an_error_with_a_hint() -> None:
    diag = front_end_error(":80 {\n\timport later\n}\n(later) {\n\trespond hi\n}\n")
    assert diag.code == "RPC201"
    assert diag.hint is not None and "defined below" in diag.hint


def test_redeclared_snippet() -> None:
    diag = front_end_error("(s) {\n}\n(s) {\n}\n")
    assert (diag.code, diag.message) == ("RPC203", "redeclaration of previously declared snippet s")


def test_import_files_globs_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "a.caddy").write_text("b.com {\n\trespond {args[0]}\n}\n")
    (tmp_path / "conf.d" / "b.caddy").write_text("import ../more.caddy\n")
    (tmp_path / "conf.d" / ".hidden.caddy").write_text("hidden.com {\n}\n")
    (tmp_path / "more.caddy").write_text("c.com {\n}\n")
    main = tmp_path / "Caddyfile"
    main.write_text("import conf.d/*.caddy X\n")
    result = compile_caddyfile(main.read_text(), str(main), stop_after=Stage.STRUCTURE)
    doc = result.document
    assert doc is not None
    assert [s.keys[0].text for s in doc.sites] == ["b.com", "c.com"]
    respond = doc.sites[0].lines[0]
    assert [t.text for t in respond.tokens] == ["respond", "X"]
    # imported spans point at the imported file and remember the import line
    assert respond.span.file == str((tmp_path / "conf.d" / "a.caddy").resolve())
    assert respond.span.via is not None and respond.span.via.file == str(main)


def test_import_errors(tmp_path: Path) -> None:
    main = tmp_path / "Caddyfile"
    (tmp_path / "dir").mkdir()
    cases = {
        "import\n": "RPC200",
        'import ""\n': "RPC200",
        "import missing.caddy\n": "RPC201",
        "import a*b*.caddy\n": "RPC204",
        "import dir\n": "RPC205",
    }
    for text, code in cases.items():
        with pytest.raises(RpcError) as info:
            compile_caddyfile(text, str(main), stop_after=Stage.EXPAND)
        assert info.value.errors[0].code == code, text


def test_glob_without_matches_is_a_warning(tmp_path: Path) -> None:
    result = compile_caddyfile(
        "import nothing/*.caddy\n", str(tmp_path / "Caddyfile"), stop_after=Stage.EXPAND
    )
    assert [d.code for d in result.diagnostics] == ["RPC250"]


def test_error_inside_an_imported_file_names_the_import(tmp_path: Path) -> None:
    (tmp_path / "bad.caddy").write_text("a {\n\thandle { x\n}\n}\n")
    main = tmp_path / "Caddyfile"
    with pytest.raises(RpcError) as info:
        compile_caddyfile("import bad.caddy\n", str(main), stop_after=Stage.EXPAND)
    diag = info.value.errors[0]
    assert diag.code == "RPC111"
    assert diag.span is not None and diag.span.file.endswith("bad.caddy")
    assert [str(v) for v in diag.span.chain()] == [f"{main}:1:1"]


def test_env_substitution_in_imported_files(tmp_path: Path) -> None:
    (tmp_path / "site.caddy").write_text("{$HOST} {\n}\n")
    result = compile_caddyfile(
        "import site.caddy\n",
        str(tmp_path / "Caddyfile"),
        stop_after=Stage.STRUCTURE,
        environ={"HOST": "env.example"},
    )
    assert result.document is not None
    assert result.document.sites[0].addresses[0].host == "env.example"
