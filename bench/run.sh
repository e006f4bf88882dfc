#!/usr/bin/env bash
# Run rpc's benchmark (see bench.py). Installs wrk and nginx from Debian when
# missing and running as root; uses the repository's .venv (rpc, caddy, psutil).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
missing=()
for b in wrk nginx; do command -v "$b" >/dev/null 2>&1 || missing+=("$b"); done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        echo "missing: ${missing[*]} (apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi
[ -x "$ROOT/.venv/bin/python" ] || { python3 -m venv "$ROOT/.venv"; "$ROOT/.venv/bin/pip" install -q -e "$ROOT[test]"; }
"$ROOT/.venv/bin/python" -c 'import psutil, uvloop' 2>/dev/null || "$ROOT/.venv/bin/pip" install -q psutil uvloop
exec "$ROOT/.venv/bin/python" "$HERE/bench.py" "$@"
