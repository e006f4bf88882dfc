"""The wheel installs everything under `rpc.` and the runtime stays import-light.

Run by CI against a regular (non-editable) install too, so a module or data
file missing from the wheel fails here rather than in production.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {
    "compiler": "rpc/compiler",
    "runtime": "rpc/runtime",
    "grammars": "rpc/grammars",
    "templates": "rpc/templates",
}


def test_runtime_does_not_import_the_compiler() -> None:
    code = (
        "import sys, rpc.runtime\n"
        "heavy = [m for m in ('lark', 'jinja2', 'black', 'rpc.compiler') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    assert out.stdout.strip() == ""


def test_no_bare_top_level_packages() -> None:
    code = (
        "import importlib.util as u\n"
        "print([n for n in ('compiler','runtime','grammars','templates') if u.find_spec(n)])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    assert out.stdout.strip() == "[]"


def test_resources_load_from_the_installed_package() -> None:
    from importlib.resources import files

    assert "start:" in files("rpc.grammars").joinpath("caddyfile.lark").read_text()


@pytest.mark.slow
def test_wheel_contains_every_module_and_data_file(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("rpc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert all(n.startswith(("rpc/", "rpc-")) for n in names), sorted(names)
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".lark", ".jinja", ".typed"):
                rel = path.relative_to(ROOT / folder).as_posix()
                assert f"{package}/{rel}" in names, f"{folder}/{rel} missing from the wheel"
