"""The `rpc` command line: exit codes, output formats, no tracebacks for user mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rpc.compiler import cli

BAD = ":80 {\n\thandle { respond hi }\n}\n"
GOOD = ":80 {\n\trespond hi\n}\n"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_check_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "Caddyfile"
    f.write_text(GOOD)
    code, out, _ = run(capsys, "check", str(f))
    assert (code, out.strip()) == (0, f"{f}: ok")


def test_check_text_shows_location_caret_and_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "Caddyfile"
    f.write_text(BAD)
    code, out, _ = run(capsys, "check", str(f))
    assert code == 1
    assert f"{f}:2:11: error[RPC111]: unexpected token after '{{' on the same line" in out
    assert "\t         ^^^^^^^" in out
    assert "hint:" in out
    assert "Traceback" not in out


def test_check_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "Caddyfile"
    f.write_text(BAD)
    code, out, _ = run(capsys, "check", "--format", "json", str(f))
    (item,) = json.loads(out)
    assert code == 1
    assert {k: item[k] for k in ("code", "severity", "file", "line", "column")} == {
        "code": "RPC111",
        "severity": "error",
        "file": str(f),
        "line": 2,
        "column": 11,
    }
    assert set(item) >= {"message", "end_line", "end_column", "hint"}


def test_check_github_and_sarif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "Caddyfile"
    f.write_text(BAD)
    code, out, _ = run(capsys, "check", "--format", "github", str(f))
    assert code == 1
    assert out.startswith(f"::error file={f},line=2,col=11,")
    code, out, _ = run(capsys, "check", "--format", "sarif", str(f))
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    result = sarif["runs"][0]["results"][0]
    assert result["ruleId"] == "RPC111"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 2


def test_warnings_pass_unless_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "Caddyfile"
    f.write_text(":80 {\n\timport nothing/*.caddy\n\trespond hi\n}\n")
    assert run(capsys, "check", str(f))[0] == 0
    assert run(capsys, "check", "--strict", str(f))[0] == 1


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "check")[0] == 2
    assert run(capsys, "no-such-command")[0] == 2


def test_missing_file_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", str(tmp_path / "nope"))
    assert code == 1
    assert "no such file" in err


def test_internal_errors_exit_70_and_hide_the_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rpc.compiler.commands import check

    def boom(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(check, "check_text", boom)
    f = tmp_path / "Caddyfile"
    f.write_text(GOOD)
    code, _, err = run(capsys, "check", str(f))
    assert code == 70
    assert "internal error" in err and "Traceback" not in err
    code, _, err = run(capsys, "--debug", "check", str(f))
    assert code == 70 and "Traceback" in err and "ZeroDivisionError" in err


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(GOOD))
    assert run(capsys, "check", "-")[0] == 0


def test_docs_list_every_diagnostic_code() -> None:
    from pathlib import Path

    from rpc.compiler.errors import CODES

    doc = (Path(__file__).parent.parent / "docs" / "errors.md").read_text()
    for code, title in CODES.items():
        assert f"| {code} | {title} |" in doc, code


def test_run_reports_a_deployment_problem_as_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(
        "http://localhost:5599 {\n\tjwt {\n\t\talg RS256\n\t\tkey_file /nonexistent.pem\n\t}\n"
        "\trespond ok\n}\n"
    )
    assert cli.main(["run", str(caddyfile)]) == 1
    err = capsys.readouterr().err
    assert "cannot build the app" in err and "/nonexistent.pem" in err
    assert "internal error" not in err
