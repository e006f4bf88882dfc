"""file_server, try_files, root: Caddy's JSON for every form, checked against the real caddy."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpc.compiler.caddyjson import to_caddy_json
from rpc.compiler.gopath import go_clean, go_match
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpctest.lowering import adapt_error, handlers
from rpctest.oracle import assert_same_as_caddy


def site(*lines: str) -> str:
    return ":80\n" + "\n".join(lines) + "\n"


CASES = [
    # file_server
    site("file_server"),
    site("file_server browse"),
    site("file_server /static/* browse"),
    site("file_server browse browse"),
    site("file_server bogus"),
    site("file_server {\n\tfs myfs\n}"),
    site("file_server {\n\tfs a\n\tfs b\n}"),
    site("file_server {\n\troot /srv\n\tindex index.htm default.htm\n}"),
    site("file_server {\n\troot {vars.base}/www\n}"),
    site("file_server {\n\thide .git *.bak\n}"),
    site("file_server {\n\thide first.txt\n\thide second.txt third.txt\n}"),
    site("file_server {\n\thide Caddyfile\n}"),
    site("file_server {\n\thide ./Caddyfile\n}"),
    site("file_server {\n\thide Caddy*\n}"),
    site("file_server {\n\thide C?ddyfile\n}"),
    site("file_server {\n\thide /tmp\n}"),
    site("file_server {\n\thide [\n}"),
    site("file_server {\n\thide {path}\n}"),
    site("file_server {\n\tindex a\n\tindex b\n}"),
    site("file_server {\n\tbrowse\n}"),
    site("file_server {\n\tbrowse /tpl.html\n}"),
    site(
        "file_server {\n\tbrowse /tpl.html {\n\t\treveal_symlinks\n\t\tsort size desc\n\t\tfile_limit 10\n\t}\n}"
    ),
    site("file_server {\n\tbrowse {\n\t\tsort namedirfirst\n\t\tsort time asc\n\t}\n}"),
    site("file_server {\n\tbrowse {\n\t\tsort bogus\n\t}\n}"),
    site("file_server {\n\tbrowse {\n\t\tfile_limit x\n\t}\n}"),
    site("file_server {\n\tbrowse {\n\t\tfile_limit\n\t}\n}"),
    site("file_server {\n\tbrowse {\n\t\tfile_limit 5\n\t\tfile_limit 6\n\t}\n}"),
    site("file_server {\n\tbrowse {\n\t\treveal_symlinks\n\t\treveal_symlinks\n\t}\n}"),
    site("file_server {\n\tbrowse {\n\t\tbogus\n\t}\n}"),
    site("file_server {\n\tbrowse a b\n}"),
    site("file_server {\n\tbrowse\n\tbrowse\n}"),
    site("file_server browse {\n\tbrowse\n}"),
    site("file_server {\n\tprecompressed\n}"),
    site("file_server {\n\tprecompressed zstd br gzip\n}"),
    site("file_server {\n\tprecompressed br br\n}"),
    site("file_server {\n\tprecompressed foo\n}"),
    site("file_server {\n\tstatus 404\n}"),
    site("file_server {\n\tstatus abc\n}"),
    site("file_server {\n\tstatus {env.CUSTOM_STATUS}\n}"),
    site("file_server {\n\tstatus\n}"),
    site("file_server {\n\tdisable_canonical_uris\n}"),
    site("file_server {\n\tdisable_canonical_uris x\n}"),
    site("file_server {\n\tpass_thru\n}"),
    site("file_server {\n\tpass_thru x\n}"),
    site("file_server {\n\tetag_file_extensions .b3sum .sha256\n}"),
    site("file_server {\n\tetag_file_extensions\n}"),
    site("file_server {\n\troot\n}"),
    site("file_server {\n\troot a b\n}"),
    site("file_server {\n\thide\n}"),
    site("file_server {\n\tindex\n}"),
    site("file_server {\n\tbogus\n}"),
    # root
    site("root /srv"),
    site("root * /srv"),
    site("root /path /b"),
    site("@m method GET", "root @m /c"),
    site("root foo /bar"),
    site("root {host}"),
    site("root * /srv {\n\tx\n}"),
    site("root"),
    site("root /a /b /c"),
    site("root @x /y"),
    site("root * /srv", "root /api* /api", "file_server"),
    site("route {\n\troot * /a\n}", "route {\n\troot /d\n}"),
    # try_files
    site("try_files {path} /index.html"),
    site("try_files {path} {path}/ /index.php?{query}&p={path} /x /y?a"),
    site("try_files {path} {\n\tpolicy smallest_size\n}"),
    site("try_files {path} {\n\tpolicy first_exist_fallback\n}"),
    site("try_files {path} {\n\tpolicy most_recently_modified\n}"),
    site("try_files {path} {\n\tpolicy bogus\n}"),
    site("try_files {path} {\n\tpolicy first_exist\n\tpolicy first_exist\n}"),
    site("try_files {path} {\n\tpolicy\n}"),
    site("try_files a {\n\tbogus x\n}"),
    site("try_files"),
    site("try_files /x* a"),
    site("try_files a?b", "try_files c?d"),
    site("root * /srv", "try_files {path} /index.html", "file_server"),
    site("handle /app* {\n\ttry_files {path} /app/index.html\n\tfile_server\n}"),
]


@pytest.mark.parametrize("text", CASES)
def test_same_json_as_caddy(text: str, caddy: str) -> None:
    assert_same_as_caddy(text)


def test_imported_file_server_hides_both_config_files(tmp_path: Path, caddy: str) -> None:
    from rpctest.adapt import json_diff
    from rpctest.oracle import caddy_adapt

    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "fs.caddy").write_text("file_server\n")
    text = ":81 {\n\trespond x\n\timport sub/fs.caddy\n}\n"
    (tmp_path / "Caddyfile").write_text(text)
    want = caddy_adapt(text, str(tmp_path))
    result = compile_caddyfile(text, str(tmp_path / "Caddyfile"), stop_after=Stage.IR, environ={})
    assert not json_diff(want, to_caddy_json(result.ir))


def test_the_caddyfile_is_hidden_relative_to_its_folder() -> None:
    (h,) = handlers("\tfile_server")
    assert h["hide"] and h["hide"][-1].endswith("Caddyfile")


def test_stdin_is_hidden_as_caddy_names_it() -> None:
    result = compile_caddyfile(":80\nfile_server\n", "<stdin>", stop_after=Stage.IR, environ={})
    (h,) = to_caddy_json(result.ir)["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"]
    assert h["hide"] == ["./-"]


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("*.go", "a.go", True),
        ("*.go", "a/b.go", False),
        ("a?c", "abc", True),
        ("a?c", "a/c", False),
        ("[a-c]x", "bx", True),
        ("[^a-c]x", "bx", False),
        ("[a-", "a", False),
        ("\\*", "*", True),
        ("a*b*c", "axxbyyc", True),
        ("Caddy*", "Caddyfile", True),
        ("ab[", "ab[", False),
        ("*", "", True),
    ],
)
def test_go_match(pattern: str, name: str, matches: bool) -> None:
    assert go_match(pattern, name) is matches


@pytest.mark.parametrize(
    ("path", "cleaned"),
    [("Caddyfile", "Caddyfile"), ("./a/../b", "b"), ("//x//y/", "/x/y"), ("", "."), ("a/./", "a")],
)
def test_go_clean(path: str, cleaned: str) -> None:
    assert go_clean(path) == cleaned


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        ("file_server bogus", "RPC302", "wrong argument count"),
        ("file_server {\n\tbogus\n}", "RPC301", "unknown subdirective 'bogus'"),
        ("file_server {\n\tfs a\n\tfs b\n}", "RPC307", "file system already specified"),
        ("file_server {\n\tprecompressed foo\n}", "RPC301", "http.precompressed.foo"),
        ("root", "RPC302", "too few arguments; must have at least a root path"),
        ("root /a /b /c", "RPC302", "too many arguments; should only be a matcher and a path"),
        ("try_files {path} {\n\tpolicy bogus\n}", "RPC303", "unrecognized try policy: bogus"),
    ],
)
def test_errors_name_the_problem(body: str, code: str, fragment: str) -> None:
    diag = adapt_error(site(body))
    assert (diag.code, fragment in diag.message) == (code, True)
    assert diag.hint


def test_subdirective_typo_gets_a_suggestion() -> None:
    diag = adapt_error(site("file_server {\n\tbrowze\n}"))
    assert diag.hint is not None and "browse" in diag.hint
