"""Print rpc's results over Caddy's adapt corpus (a tool, not a test).

.venv/bin/python tests/adapt_report.py [--tier1] [--show NAME] [--status DIFF,ERR]
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from rpctest.adapt import run_case
from rpctest.corpus import cases, layout, tier1


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tier1", action="store_true")
    ap.add_argument("--show", action="append", default=[])
    ap.add_argument("--status", default="")
    args = ap.parse_args()
    selected = [c for c in cases() if not args.tier1 or c.name in tier1()]
    if args.show:
        selected = [c for c in selected if c.name in args.show]
    counts: collections.Counter[str] = collections.Counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = layout(Path(tmp))
        for case in selected:
            status, detail = run_case(case, work)
            counts[status] += 1
            if not args.status or status in args.status.split(","):
                print(f"{status:9} {case.name}")
                for line in detail[: 12 if args.show else 3]:
                    print("           ", line)
    passed = counts["PASS"] + counts["PASS-ERR"]
    print(f"TOTAL {len(selected)} passed {passed} {dict(sorted(counts.items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
