"""The generated module: deterministic, black-stable, and immune to injection from config text."""

from __future__ import annotations

import ast
from pathlib import Path

import black
import pytest

from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpc.compiler.source import SourceMap
from rpctest.apps import run_app, run_to_exit
from rpctest.differential import fetch
from rpctest.procs import free_port

# Each payload tries to end a string, a comment or a docstring and run code.
PAYLOADS = [
    "a\"b'c",
    '"""; import os; os.system("echo pwned") #',
    "'''\n__import__('os').system('x')\n'''",
    "back\\slash\\\\ and \\n not a newline",
    "hash # not a comment",
    "braces {} {{}} \\{x\\}",
    "non-ASCII: grüße, 日本, emoji 🎉",
    "nul:\x00:end",
]


def _python(text: str, name: str = "Caddyfile") -> str:
    result = compile_caddyfile(text, name, stop_after=Stage.PYTHON, sources=SourceMap())
    assert result.python is not None
    return result.python


def _caddyfile(port: int) -> str:
    lines = [f":{port} {{"]
    for i, payload in enumerate(PAYLOADS):
        quoted = "`" + payload + "`"
        lines.append(f"\trespond /p{i} {quoted}")
    # A heredoc body with real newlines and quotes.
    lines.append('\trespond /heredoc <<EOF\n\tline one "quoted"\n\t"""\n\tEOF')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
    }


def test_config_text_reaches_code_only_as_string_literals(tmp_path: Path) -> None:
    port = free_port()
    source = _python(_caddyfile(port))
    tree = ast.parse(source)
    names = _names(tree)
    assert not names & {"os", "system", "__import__", "pwned"}
    constants = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    for payload in PAYLOADS:
        if "{" not in payload:  # braces are parsed as placeholders (see the differential tests)
            assert any(isinstance(c, str) and payload in c for c in constants), payload
    app = tmp_path / "app.py"
    app.write_text(source)
    with run_app(app, port):
        for i, payload in enumerate(PAYLOADS):
            if "{" in payload:
                continue  # placeholders/escapes are interpreted, checked below
            assert fetch(port, "GET", f"/p{i}").body == payload.encode(), payload
        assert fetch(port, "GET", "/heredoc").body == b'line one "quoted"\n"""'


def test_file_names_cannot_escape_comments(tmp_path: Path) -> None:
    evil = tmp_path / 'site"""\nimport os #\'.caddy'
    evil.write_text('respond "from the import"\n')
    main = tmp_path / "Caddyfile"
    main.write_text(":8080 {\n\timport " + str(tmp_path) + "/site*\n}\n")
    source = _python(main.read_text(), str(main))
    tree = ast.parse(source)
    assert "os" not in _names(tree)
    assert not any(isinstance(n, ast.Import) and n.names[0].name == "os" for n in ast.walk(tree))


def test_output_is_deterministic_and_black_stable() -> None:
    text = _caddyfile(8080) + "http://a.example:8081, http://b.example:8081 {\n\trespond ok\n}\n"
    first = _python(text)
    assert first == _python(text)
    mode = black.Mode(target_versions={black.mode.TargetVersion.PY311}, line_length=100)
    assert black.format_str(first, mode=mode) == first
    compile(first, "app.py", "exec")


def test_imports_are_one_sorted_line_from_the_runtime() -> None:
    import rpc.runtime

    tree = ast.parse(_python(_caddyfile(8080)))
    froms = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module != "__future__"]
    assert [n.module for n in froms] == ["rpc.runtime"]
    names = [a.name for a in froms[0].names]
    assert set(names) <= set(rpc.runtime.__all__)


def test_many_path_routes_become_one_table() -> None:
    handles = "".join(f'\thandle /r{i}/* {{\n\t\trespond "r{i}"\n\t}}\n' for i in range(1000))
    source = _python(":8080 {\n" + handles + "}\n")
    assert source.count("PathTable(") == 1
    # One lookup, not a thousand comparisons, in the server's route function.
    assert source.count("match_path(ctx).startswith") == 0


@pytest.mark.parametrize("status", ["204", "599"])
def test_constant_status_codes_are_folded(status: str) -> None:
    source = _python(f":8080 {{\n\trespond {status}\n}}\n")
    assert f"status_code={int(status)}" in source


def test_a_deployment_problem_at_import_is_a_config_error_not_a_traceback(
    tmp_path: Path,
) -> None:
    text = (
        "http://localhost:5000 {\n\tjwt {\n\t\talg RS256\n\t\tkey_file keys/missing.pem\n\t}\n"
        "\trespond ok\n}\n"
    )
    result = compile_caddyfile(text, "Caddyfile", environ={})
    assert result.python is not None
    app = tmp_path / "app.py"
    app.write_text(result.python)
    done = run_to_exit(app)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "cannot build the app" in out and "keys/missing.pem" in out
    assert "Traceback" not in out
    version = run_to_exit(app, ["--version"])
    assert version.returncode == 0
    assert version.stdout.startswith("compiled by rpc ")
    # Imported, the module raises: tests and `rpc explain` see the real exception.
    with pytest.raises(ValueError, match="key_file"):
        exec(compile(result.python, "app.py", "exec"), {"__name__": "app"})  # noqa: S102 - our own generated code
