"""Route tests for CI: a TOML (or JSON) file of requests and what each must get.

```toml
[[case]]
name = "API calls go to the API pool"           # optional
request = "GET http://localhost:8080/api/users?id=1"
headers = { Authorization = "Bearer x" }        # optional
remote_ip = "10.1.2.3"                          # optional (default 127.0.0.1)

[case.expect]                                   # every key optional
status = 200                                    # the response status (proxied: 200)
route = 12                                      # line of the last matched route ("file:12" too)
site = 3                                        # line of the first matched route (the site)
proxied = true                                  # ends in reverse_proxy (or not)
upstreams = ["10.0.0.1:8080", "10.0.0.2:8080"]  # the pool reverse_proxy would use
upstream = "10.0.0.1:8080"                      # the one a deterministic policy picks
headers = { "X-Frame-Options" = "DENY" }        # response headers (absent: "")
body = "ok"                                     # the exact body
body_contains = "ok"
```

Cases run through `rpc explain`'s traced module: offline, same routing code.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rpc.compiler.explain import Explanation, RequestSpec, Traced

__all__ = ["Case", "CaseError", "Outcome", "load_cases", "run_case"]

_EXPECT_KEYS = frozenset(
    {
        "status",
        "route",
        "site",
        "proxied",
        "upstreams",
        "upstream",
        "headers",
        "body",
        "body_contains",
    }
)


class CaseError(ValueError):
    """The cases file is malformed (message names the case)."""


@dataclass(frozen=True)
class Case:
    name: str
    request: RequestSpec
    expect: dict[str, Any]


@dataclass
class Outcome:
    case: Case
    failures: list[str] = field(default_factory=list)
    explanation: Explanation | None = None

    @property
    def passed(self) -> bool:
        return not self.failures


def load_cases(path: Path) -> list[Case]:
    """Parse a cases file (`.toml`, or `.json` with the same shape)."""
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except OSError as exc:
        raise CaseError(f"cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise CaseError(f"{path}: {exc}") from None
    raw = data.get("case")
    if not isinstance(raw, list) or not raw:
        raise CaseError(f"{path}: no [[case]] entries")
    cases = []
    for i, item in enumerate(raw, 1):
        where = f"{path}: case {i}"
        if not isinstance(item, dict) or not isinstance(item.get("request"), str):
            raise CaseError(f'{where}: `request = "METHOD URL"` is required')
        method, _, url = item["request"].strip().partition(" ")
        if not url:
            raise CaseError(f'{where}: request must be "METHOD URL", got {item["request"]!r}')
        headers = item.get("headers", {})
        if not isinstance(headers, dict):
            raise CaseError(f"{where}: headers must be a table of name = value")
        expect = item.get("expect", {})
        unknown = set(expect) - _EXPECT_KEYS
        if unknown:
            raise CaseError(
                f"{where}: unknown expectation {min(unknown)!r} "
                f"(known: {', '.join(sorted(_EXPECT_KEYS))})"
            )
        spec = RequestSpec(
            method.upper(),
            url.strip(),
            tuple((str(k), str(v)) for k, v in headers.items()),
            str(item.get("remote_ip", "127.0.0.1")),
        )
        cases.append(Case(str(item.get("name", item["request"])), spec, dict(expect)))
    return cases


def _line(origin: str) -> str:
    return origin.rpartition(":")[2]


def _same_origin(want: Any, got: str) -> bool:
    text = str(want)
    return got == text or (":" not in text and _line(got) == text)


def run_case(traced: Traced, case: Case) -> Outcome:
    """Explain the case's request and compare with its expectations."""
    out = Outcome(case)
    try:
        x = traced.explain(case.request)
    except ValueError as exc:
        out.failures.append(str(exc))
        return out
    out.explanation = x
    exp = case.expect
    proxy = (
        x.proxied if x.proxied is not None and x.proxied.get("handler") == "reverse_proxy" else None
    )
    if "status" in exp and x.status != exp["status"]:
        out.failures.append(f"status is {x.status}, expected {exp['status']}")
    if "route" in exp and not _same_origin(exp["route"], x.route_origin):
        out.failures.append(f"route is {x.route_origin or '(none)'}, expected {exp['route']}")
    if "site" in exp and not _same_origin(exp["site"], x.site_origin):
        out.failures.append(f"site is {x.site_origin or '(none)'}, expected {exp['site']}")
    if "proxied" in exp and (proxy is not None) != bool(exp["proxied"]):
        out.failures.append("proxied" if proxy is not None else "not proxied")
    if "upstreams" in exp:
        got = proxy["upstreams"] if proxy else None
        if got != list(exp["upstreams"]):
            out.failures.append(f"upstreams are {got}, expected {exp['upstreams']}")
    if "upstream" in exp:
        got_one = proxy.get("chosen") if proxy else None
        if got_one != exp["upstream"]:
            out.failures.append(f"chosen upstream is {got_one}, expected {exp['upstream']}")
    for name, value in dict(exp.get("headers", {})).items():
        actual = next((v for k, v in x.headers if k.lower() == str(name).lower()), "")
        if actual != str(value):
            out.failures.append(f"header {name} is {actual!r}, expected {value!r}")
    body = x.body.decode("utf-8", "replace")
    if "body" in exp and body != exp["body"]:
        out.failures.append(f"body is {body[:120]!r}, expected {str(exp['body'])[:120]!r}")
    if "body_contains" in exp and str(exp["body_contains"]) not in body:
        out.failures.append(f"body {body[:120]!r} does not contain {exp['body_contains']!r}")
    return out
