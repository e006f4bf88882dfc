"""Caddy's adapt conformance corpus, laid out as its upstream harness expects.

Each case is a Caddyfile, a line of ten dashes, then the expected JSON or a
fragment of the expected error. Cases import `testdata/...` relative to
`caddytest/integration/` and read `../caddy.ca.cer`, so they are compiled from
a scratch copy of that layout.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CORPUS", "Case", "cases", "layout"]

CORPUS = Path(__file__).resolve().parent.parent / "conformance" / "caddy-adapt"


@dataclass(frozen=True)
class Case:
    name: str
    caddyfile: str
    expected: str

    @property
    def expects_error(self) -> bool:
        return not self.expected.startswith("{")

    def expected_json(self) -> object:
        return json.loads(self.expected)


def cases() -> list[Case]:
    out = []
    for path in sorted(CORPUS.iterdir()):
        if not path.is_file() or path.name in ("NOTICE", "README.md", "TIER1.txt"):
            continue
        head, _, tail = path.read_text(encoding="utf-8").partition("----------")
        out.append(Case(path.name, head.strip() + "\n", tail.strip()))
    return out


def tier1() -> set[str]:
    return set((CORPUS / "TIER1.txt").read_text().split())


def layout(root: Path) -> Path:
    """Create the upstream directory layout under `root`; return the working directory."""
    work = root / "caddytest" / "integration"
    work.mkdir(parents=True, exist_ok=True)
    shutil.copytree(CORPUS / "testdata", work / "testdata", dirs_exist_ok=True)
    shutil.copy(CORPUS / "support" / "caddy.ca.cer", root / "caddytest" / "caddy.ca.cer")
    return work
