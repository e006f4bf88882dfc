"""MatchFile: try policies, split_path, directories, glob safety and escapes on a real tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rpc.runtime.errors import HandlerError
from rpc.runtime.filematch import MatchFile
from rpc.runtime.placeholders import Placeholder, Template
from rpctest.handlers import mock_ctx

PATH = Template((Placeholder("http.request.uri.path"),))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "dir").mkdir()
    for name, size, mtime in (
        ("small", 1, 100),
        ("big", 9, 200),
        ("mid", 5, 300),
        ("empty", 0, 50),
    ):
        (tmp_path / name).write_bytes(b"x" * size)
        os.utime(tmp_path / name, (mtime, mtime))
    (tmp_path / "a*b").write_text("star")
    (tmp_path / "index.php").write_text("<?php")
    os.symlink("/etc/hostname", tmp_path / "out")
    return tmp_path


def _found(ctx: object) -> tuple[str, str, str]:
    extra = ctx.extra  # type: ignore[attr-defined]
    return (
        extra["http.matchers.file.relative"],
        extra["http.matchers.file.type"],
        extra["http.matchers.file.remainder"],
    )


@pytest.mark.parametrize(
    ("policy", "want"),
    [
        ("first_exist", "/small"),
        ("largest_size", "/big"),
        ("smallest_size", "/small"),
        ("most_recently_modified", "/mid"),
    ],
)
def test_policies(root: Path, policy: str, want: str) -> None:
    m = MatchFile(root=str(root), try_files=("/nope", "/small", "/big", "/mid"), try_policy=policy)
    ctx = mock_ctx()
    assert m.match(ctx)
    assert _found(ctx)[0] == want
    assert ctx.extra["http.matchers.file.absolute"] == f"{root}{want}"


def test_zero_size_quirk_of_smallest_size(root: Path) -> None:
    # Caddy treats a zero smallest size as "none yet", so a later file replaces it.
    m = MatchFile(root=str(root), try_files=("/empty", "/mid"), try_policy="smallest_size")
    ctx = mock_ctx()
    assert m.match(ctx) and _found(ctx)[0] == "/mid"


def test_directories_need_a_trailing_slash(root: Path) -> None:
    assert not MatchFile(root=str(root), try_files=("/dir",)).match(mock_ctx())
    ctx = mock_ctx()
    assert MatchFile(root=str(root), try_files=("/dir/",)).match(ctx)
    assert _found(ctx)[:2] == ("/dir/", "directory")


def test_default_is_the_request_path_and_split_path(root: Path) -> None:
    ctx = mock_ctx("/index.php/a/b")
    m = MatchFile(root=str(root), split_path=(".php",))
    assert m.match(ctx)
    assert _found(ctx) == ("/index.php", "file", "/a/b")
    assert not MatchFile(root=str(root)).match(mock_ctx("/index.php/a/b"))


def test_placeholder_values_cannot_glob(root: Path) -> None:
    m = MatchFile(root=str(root), try_files=(PATH,))
    assert not m.match(mock_ctx("/a*"))  # `*` from the request is a literal star
    assert m.match(mock_ctx("/a*b"))
    assert MatchFile(root=str(root), try_files=("/a*",)).match(mock_ctx())  # a configured glob


def test_error_entry_and_fallback(root: Path) -> None:
    with pytest.raises(HandlerError) as info:
        MatchFile(root=str(root), try_files=("/nope", "=418")).match(mock_ctx())
    assert info.value.status == 418
    # The fallback is taken unchecked (a directory without slash, type "file"), but like
    # every candidate it must come out of the glob, so a missing file is no fallback.
    ctx = mock_ctx()
    m = MatchFile(root=str(root), try_files=("/nope", "/dir"), try_policy="first_exist_fallback")
    assert m.match(ctx) and _found(ctx)[:2] == ("/dir", "file")
    m = MatchFile(root=str(root), try_files=("/nope", "/gone"), try_policy="first_exist_fallback")
    assert not m.match(mock_ctx())


def test_symlink_out_of_root_does_not_exist(root: Path) -> None:
    assert not MatchFile(root=str(root), try_files=("/out",)).match(mock_ctx())
    assert not MatchFile(root=str(root), try_files=("/../../etc/hostname",)).match(mock_ctx())


def test_root_from_vars(root: Path) -> None:
    ctx = mock_ctx("/big")
    ctx.vars["root"] = str(root)
    assert MatchFile().match(ctx)
