"""Request matchers (Caddy's `http.matchers.*` modules), one class each.

A `MatcherSet` (in `ir.routes`) ANDs matchers; each class here knows its key
in the JSON matcher set (`KEY`) and its JSON value (`caddy_json`). Strings
that may hold placeholders are `Text` parsed in "unknown → empty" mode, as
Caddy's matchers use `ReplaceAll`. Values are kept as written (validation of
CIDRs and regexes happens in `rpc.compiler.validate`, like Caddy's provision).
"""

from __future__ import annotations

from dataclasses import dataclass

from rpc.compiler.ir.base import Text
from rpc.compiler.ir.cel import CelExpr
from rpc.compiler.ir.routes import Matcher, MatcherSet

__all__ = [
    "MatchClientIP",
    "MatchExpression",
    "MatchFile",
    "MatchHeader",
    "MatchHeaderRE",
    "MatchHost",
    "MatchMethod",
    "MatchNot",
    "MatchPath",
    "MatchPathRE",
    "MatchProtocol",
    "MatchQuery",
    "MatchRemoteIP",
    "MatchTLS",
    "MatchURLPattern",
    "MatchVars",
    "MatchVarsRE",
    "Regexp",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Regexp:
    """A named regular expression (captures become `{http.regexp.<name>.<N>}`)."""

    pattern: str
    name: str = ""

    def caddy_json(self) -> object:
        return (
            {"name": self.name, "pattern": self.pattern} if self.name else {"pattern": self.pattern}
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchPath(Matcher):
    """`path <patterns...>` (also a `/path` matcher token)."""

    KEY = "path"

    patterns: tuple[Text, ...]

    def caddy_json(self) -> object:
        return [p.raw for p in self.patterns]


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchPathRE(Matcher):
    """`path_regexp [<name>] <regexp>`."""

    KEY = "path_regexp"

    regexp: Regexp

    def caddy_json(self) -> object:
        return self.regexp.caddy_json()


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchHost(Matcher):
    """`host <names...>` (also the implicit matcher of a site's addresses)."""

    KEY = "host"

    hosts: tuple[Text, ...]

    def caddy_json(self) -> object:
        return [h.raw for h in self.hosts]


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchMethod(Matcher):
    """`method <verbs...>`."""

    KEY = "method"

    methods: tuple[str, ...]

    def caddy_json(self) -> object:
        return list(self.methods)


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchHeader(Matcher):
    """`header <field> [<value>]` lines; values None = the field must be absent."""

    KEY = "header"

    fields: tuple[tuple[str, tuple[Text, ...] | None], ...]

    def caddy_json(self) -> object:
        return {k: (None if v is None else [x.raw for x in v]) for k, v in self.fields}


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchHeaderRE(Matcher):
    """`header_regexp [<name>] <field> <regexp>` lines."""

    KEY = "header_regexp"

    fields: tuple[tuple[str, Regexp], ...]

    def caddy_json(self) -> object:
        return {k: v.caddy_json() for k, v in self.fields}


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchQuery(Matcher):
    """`query <key>=<value>...`."""

    KEY = "query"

    params: tuple[tuple[str, tuple[Text, ...]], ...]

    def caddy_json(self) -> object:
        return {k: [x.raw for x in v] for k, v in self.params}


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchRemoteIP(Matcher):
    """`remote_ip <ranges...>`: the TCP peer's address."""

    KEY = "remote_ip"

    ranges: tuple[str, ...]

    def caddy_json(self) -> object:
        return {"ranges": list(self.ranges)} if self.ranges else {}


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchClientIP(Matcher):
    """`client_ip <ranges...>`: the client's address (forwarded by trusted proxies)."""

    KEY = "client_ip"

    ranges: tuple[str, ...]

    def caddy_json(self) -> object:
        return {"ranges": list(self.ranges)} if self.ranges else {}


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchProtocol(Matcher):
    """`protocol http|https|grpc|http/1.1|http/2+|...`."""

    KEY = "protocol"

    protocol: str

    def caddy_json(self) -> object:
        return self.protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchNot(Matcher):
    """`not <matcher>` / `not { ... }`: true when none of its sets match."""

    KEY = "not"

    sets: tuple[MatcherSet, ...]

    def caddy_json(self) -> object:
        return [{m.KEY: m.caddy_json() for m in s.matchers} for s in self.sets]  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchVars(Matcher):
    """`vars <name|{placeholder}> <values...>` (keys ORed, values ORed)."""

    KEY = "vars"

    vars: tuple[tuple[str, tuple[Text, ...]], ...]

    def caddy_json(self) -> object:
        return {k: [x.raw for x in v] for k, v in self.vars}


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchVarsRE(Matcher):
    """`vars_regexp [<name>] <var> <regexp>`."""

    KEY = "vars_regexp"

    vars: tuple[tuple[str, Regexp], ...]

    def caddy_json(self) -> object:
        return {k: v.caddy_json() for k, v in self.vars}


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchExpression(Matcher):
    """`expression <cel>` (also `@name "cel"` and `handle_errors 404 5xx`).

    `tree` is the parsed expression when it is in the subset rpc can run, else
    None with the reason in `unsupported` (reported when compiling).
    """

    KEY = "expression"

    expr: str
    name: str = ""
    tree: CelExpr | None = None
    unsupported: str = ""

    def caddy_json(self) -> object:
        return {"expr": self.expr, "name": self.name} if self.name else self.expr


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchFile(Matcher):
    """`file [<files...>] { root; try_files; try_policy; split_path }`."""

    KEY = "file"

    root: Text | None = None
    try_files: tuple[Text, ...] = ()
    try_policy: str = ""
    split_path: tuple[str, ...] = ()

    def caddy_json(self) -> object:
        out: dict[str, object] = {}
        if self.root is not None:
            out["root"] = self.root.raw
        if self.try_files:
            out["try_files"] = [t.raw for t in self.try_files]
        if self.try_policy:
            out["try_policy"] = self.try_policy
        if self.split_path:
            out["split_path"] = list(self.split_path)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchTLS(Matcher):
    """`tls [early_data]`."""

    KEY = "tls"

    handshake_complete: bool | None = None

    def caddy_json(self) -> object:
        return (
            {}
            if self.handshake_complete is None
            else {"handshake_complete": self.handshake_complete}
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchURLPattern(Matcher):
    """`url_pattern <pattern> { base_url; ignore_case }` (the URL Pattern standard)."""

    KEY = "url_pattern"

    pattern: str
    base_url: str = ""
    ignore_case: bool = False

    def caddy_json(self) -> object:
        out: dict[str, object] = {"pattern": self.pattern}
        if self.base_url:
            out["base_url"] = self.base_url
        if self.ignore_case:
            out["ignore_case"] = True
        return out
