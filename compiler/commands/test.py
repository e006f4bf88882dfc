"""`rpc test FILE CASES [--format text|github|json]`: route tests for CI, offline.

Each case is a request and what it must get (status, route line, upstream
pool, headers, ...); see `rpc.compiler.routetests` for the file format.
Exit 0 when every case passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rpc.compiler.cli import EXIT_CONFIG, EXIT_OK, EXIT_USAGE
from rpc.compiler.commands.inputs import read_input
from rpc.compiler.explain import load
from rpc.compiler.routetests import CaseError, Outcome, load_cases, run_case
from rpc.compiler.source import SourceMap

HELP = "run route tests (requests and their expected routing) against a Caddyfile"

__all__ = ["HELP", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the Caddyfile")
    parser.add_argument("cases", help="the cases file (.toml or .json)")
    parser.add_argument("--format", choices=("text", "github", "json"), default="text")


def run(args: argparse.Namespace, sources: SourceMap) -> int:
    try:
        cases = load_cases(Path(args.cases))
    except CaseError as exc:
        print(f"rpc: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    name, text = read_input(args.file)
    traced = load(text, name, sources)
    outcomes = [run_case(traced, case) for case in cases]
    if args.format == "json":
        json.dump([_as_json(o) for o in outcomes], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for o in outcomes:
            print(f"{'PASSED' if o.passed else 'FAILED'} {o.case.name}")
            for failure in o.failures:
                print(f"    {failure}")
                if args.format == "github":
                    print(f"::error file={args.cases},title=rpc test::{o.case.name}: {failure}")
        failed = sum(not o.passed for o in outcomes)
        summary = f"{len(outcomes) - failed} passed, {failed} failed"
        print(f"{'=' * 10} {summary} {'=' * 10}")
    return EXIT_OK if all(o.passed for o in outcomes) else EXIT_CONFIG


def _as_json(o: Outcome) -> dict[str, object]:
    return {
        "name": o.case.name,
        "passed": o.passed,
        "failures": o.failures,
        "explanation": o.explanation.as_json() if o.explanation is not None else None,
    }
