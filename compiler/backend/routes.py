"""Route lists → straight-line async functions, dispatch dicts and prefix tables.

Caddy's semantics for a route list: routes run in order; a route runs when
any of its matcher sets matches; within a `group` only the first matching
route runs; a terminal route ends the list; a handler that writes a response
ends the request. The generated code says exactly that, without a loop over
route objects:

- a route is `if <inline checks>:` followed by awaited handler calls;
- consecutive routes of one group become an `if/elif` chain;
- a long run of routes that differ only by a literal path prefix (the
  thousand-`handle` config) becomes one `PathTable` lookup, so routing cost
  does not grow with the number of routes;
- a server's sites are found with a dict keyed by host (`route_server`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rpc.compiler.backend.emit import Emitter, comment_text
from rpc.compiler.ir.handlers import Invoke, StaticError, StaticResponse
from rpc.compiler.ir.matchers import MatchHost, MatchPath
from rpc.compiler.ir.proxy import ReverseProxy
from rpc.compiler.ir.routes import Handler, Matcher, MatcherSet, Route, Subroute

__all__ = ["STUBBED", "RouteCompiler", "TraceEntry", "server_route"]

# A run of at least this many table-eligible routes is dispatched by a table.
TABLE_MIN = 6


_TAIL = "return await "


@dataclass
class Function:
    """A generated `async def name(ctx)`; `doc` is sanitized, `lines` are generated code.

    `tail` is set when the body is one `return await <call>` (comments aside): the
    function is then emitted as a plain `def` returning the call's awaitable, which
    saves a coroutine per request and a level to resume at every wait below it.
    """

    name: str
    doc: str
    lines: list[str]
    tail: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.doc = comment_text(self.doc)
        code = [line for line in self.lines if not line.startswith("#")]
        if len(code) == 1 and code[0].startswith(_TAIL):
            call = code[0][len(_TAIL) :]
            if "await" not in call and ":=" not in call:
                self.tail = call


@dataclass(frozen=True)
class TraceEntry:
    """What trace number `k` stands for in a module compiled in trace mode."""

    kind: str  # "route" (a matcher check) or "handler"
    origin: str
    route: Route | None = None
    handler: Handler | None = None
    stubbed: bool = False  # reaches the network: `rpc explain` answers for it


# Handlers that would contact other machines; in trace mode they are described, not run.
STUBBED = frozenset({"ReverseProxy", "ShardRouter"})


@dataclass
class RouteCompiler:
    """Compiles route lists into functions; handler objects come from `handler_expr`.

    With `trace`, every matcher check and handler call goes through
    `rpc.runtime.trace` (numbered by `traces`), and path tables are not used,
    so `rpc explain` sees each route tried in order.
    """

    e: Emitter
    handler_expr: Callable[[Handler], str]
    condition: Callable[[MatcherSet], str]
    matcher_condition: Callable[[Matcher], str] | None = None
    trace: bool = False
    functions: list[Function] = field(default_factory=list)
    named: dict[str, str] = field(default_factory=dict)  # named route → function name
    traces: list[TraceEntry] = field(default_factory=list)

    # ------------------------------------------------------------ entry points

    def route_list(self, routes: tuple[Route, ...], doc: str, name: str | None = None) -> str:
        """A function running `routes` (named `name` when allocated ahead); returns its name."""
        name = name or self.e.name("r")
        self.functions.append(Function(name, doc, self._body(routes)))
        return name

    def call(self, h: Handler) -> str:
        """The awaitable expression running handler `h`."""
        if isinstance(h, Subroute):
            origin = f" at {h.origin}" if h.origin else ""
            target = self.route_list(h.routes, f"Routes of the block{origin}.")
        elif isinstance(h, Invoke):
            target = self.named[h.name]
        else:
            target = self.handler_expr(h)
        if not self.trace:
            return f"{target}(ctx)"
        k = self._trace_entry(
            TraceEntry("handler", h.origin, handler=h, stubbed=type(h).__name__ in STUBBED)
        )
        return f"{self.e.rt('trace')}.handler(ctx, {k}, {target})"

    def _trace_entry(self, entry: TraceEntry) -> int:
        self.traces.append(entry)
        return len(self.traces) - 1

    # ------------------------------------------------------------ bodies

    def _body(self, routes: tuple[Route, ...]) -> list[str]:
        lines: list[str] = []
        i = 0
        ended = False
        while i < len(routes) and not ended:
            route = routes[i]
            if route.group:
                j = i
                while j < len(routes) and routes[j].group == route.group:
                    j += 1
                lines += self._chain(routes[i:j])
                i = j
                continue
            run = self._table_run(routes, i)
            if len(run) >= TABLE_MIN:
                head, stmts = self._table(run)
                lines += [f"if {head}:", *_indent(stmts)]
                i += len(run)
                continue
            block, ended = self._route(route, last=i == len(routes) - 1)
            lines += block
            i += 1
        if not ended:
            lines.append("return None")
        return lines

    def _handlers(self, route: Route, *, tail: bool) -> tuple[list[str], bool]:
        """Statements running a route's handlers; True if they always return."""
        out: list[str] = []
        handlers = route.handle
        for k, h in enumerate(handlers):
            call = self.call(h)
            if k == len(handlers) - 1 and (tail or route.terminal):
                out.append(f"return await {call}")
                return out, True
            out += [f"if (reply := await {call}) is not None:", "    return reply"]
        if route.terminal:
            out.append("return None")
            return out, True
        return out, False

    def _route(self, route: Route, *, last: bool) -> tuple[list[str], bool]:
        comment = [f"# {comment_text(route.origin)}"] if route.origin else []
        if not route.match:
            stmts, ended = self._handlers(route, tail=last)
            return comment + stmts, ended
        stmts, _ = self._handlers(route, tail=False)
        return [*comment, f"if {self._match(route)}:", *_indent(stmts or ["pass"])], False

    def _chain(self, routes: tuple[Route, ...]) -> list[str]:
        """A group: only the first matching route runs (`if/elif/else`, tables as branches)."""
        out: list[str] = []
        k = 0
        while k < len(routes):
            keyword = "if" if not out else "elif"
            run = self._table_run(routes, k)
            if len(run) >= TABLE_MIN:
                head, stmts = self._table(run)
                out += [f"{keyword} {head}:", *_indent(stmts)]
                k += len(run)
                continue
            route = routes[k]
            stmts, _ = self._handlers(route, tail=False)
            stmts = ([f"# {comment_text(route.origin)}"] if route.origin else []) + (
                stmts or ["pass"]
            )
            if not route.match:
                out += ["else:" if out else "if True:", *_indent(stmts)]
                break
            out += [f"{keyword} {self._match(route)}:", *_indent(stmts)]
            k += 1
        return out

    def _match(self, route: Route) -> str:
        if self.trace and self.matcher_condition is not None:
            k = self._trace_entry(TraceEntry("route", route.origin, route=route))
            mc = self.matcher_condition
            sets = "".join(
                "(" + "".join(f"lambda: {mc(m)}, " for m in ms.matchers) + "), "
                for ms in route.match
            )
            return f"{self.e.rt('trace')}.match(ctx, {k}, ({sets}))"
        conds = [self.condition(ms) for ms in route.match]
        return conds[0] if len(conds) == 1 else " or ".join(f"({c})" for c in conds)

    # ------------------------------------------------------------ prefix tables

    def _table_run(self, routes: tuple[Route, ...], i: int) -> list[Route]:
        """Consecutive routes where the first matching one (by literal path) alone runs."""
        run: list[Route] = []
        if self.trace:
            return run
        group = routes[i].group
        for route in routes[i:]:
            if _literal_paths(route) is None:
                break
            if group:
                if route.group != group:
                    break
            elif (
                route.group or route.terminal or not route.handle or not _responds(route.handle[-1])
            ):
                break
            run.append(route)
        return run

    def _table(self, run: list[Route]) -> tuple[str, list[str]]:
        """A lookup condition finding the first matching route of `run`, and its call."""
        entries: list[str] = []
        for idx, route in enumerate(run):
            fn = self.e.name("t")
            stmts, ended = self._handlers(route, tail=True)
            if not ended:
                stmts.append("return None")
            self.functions.append(Function(fn, f"Route at {route.origin or '?'}.", stmts))
            patterns = _literal_paths(route)
            assert patterns is not None
            for p in patterns:
                entries.append(f"({self.e.lit(p)}, {idx}, {fn})")
        table = self.e.declare(
            "tbl", f"{self.e.rt('PathTable')}(({', '.join(entries)},))", run[0].origin
        )
        lookup = self.e.rt("match_path")
        head = f"(route := {table}.lookup({lookup}(ctx))) is not None"
        stmts = [
            f"# {len(run)} routes from {comment_text(run[0].origin or '?')}, found by path",
            "if (reply := await route(ctx)) is not None:",
            "    return reply",
        ]
        return head, stmts


def server_route(rc: RouteCompiler, routes: tuple[Route, ...], doc: str) -> str:
    """The function serving a server's route list, dispatching sites by host when it can.

    Caddy's sites are terminal routes matched on host. With more than one, the
    generated function looks the request's host up in a dict that holds, in
    order, every site route that could match that host (its exact hosts, plus
    every site matched another way), so only those are tried.
    """
    sites = [r for r in routes if r.terminal and r.match]
    if len(routes) < 2 or len(sites) != len(routes):
        return rc.route_list(routes, doc)
    e = rc.e
    fns: list[str] = []
    by_host: dict[str, list[int]] = {}
    others: list[int] = []
    for idx, route in enumerate(routes):
        fn = e.name("site")
        stmts, _ = rc._handlers(route, tail=True)
        body = [f"if not ({rc._match(route)}):", f"    return {e.rt('NOMATCH')}", *stmts]
        rc.functions.append(Function(fn, f"The site at {route.origin or '?'}.", body))
        fns.append(fn)
        exact = [host_only(ms) for ms in route.match]
        if all(hosts is not None for hosts in exact):
            for hosts in exact:
                for host in hosts or ():
                    by_host.setdefault(host, []).append(idx)
        else:
            others.append(idx)
    table = {
        host: tuple(fns[i] for i in sorted(set(idxs) | set(others)))
        for host, idxs in sorted(by_host.items())
    }
    entries = ", ".join(f"{e.lit(host)}: ({', '.join(names)},)" for host, names in table.items())
    by_name = e.declare("sites", "{" + entries + "}")
    rest = e.declare("sites", "(" + "".join(f"{fns[i]}, " for i in others) + ")")
    name = e.name("r")
    rc.functions.append(
        Function(
            name,
            doc,
            [
                f"for site in {by_name}.get(ctx.host, {rest}):",
                f"    if (reply := await site(ctx)) is not {e.rt('NOMATCH')}:",
                "        return reply",
                "return None",
            ],
        )
    )
    return name


def _literal_paths(route: Route) -> list[str] | None:
    """The patterns of a route matched only by literal path patterns (`/a/*`, `/a*`, `/a`)."""
    if len(route.match) != 1 or len(route.match[0].matchers) != 1:
        return None
    m = route.match[0].matchers[0]
    if not isinstance(m, MatchPath) or not m.patterns:
        return None
    out = []
    for p in m.patterns:
        if not p.is_constant:
            return None
        raw = p.constant
        body = raw.removesuffix("*")
        if any(c in body for c in "*?[]\\%") or not raw.startswith("/"):
            return None
        out.append(raw)
    return out


def _responds(h: Handler) -> bool:
    if isinstance(h, ReverseProxy):
        return not h.handle_response
    return isinstance(h, (StaticResponse, StaticError))


def _indent(lines: list[str]) -> list[str]:
    return ["    " + ln for ln in lines]


def host_only(ms: MatcherSet) -> tuple[str, ...] | None:
    """Exact (constant, wildcard-free) hosts of a set that matches on host alone."""
    if len(ms.matchers) != 1 or not isinstance(ms.matchers[0], MatchHost):
        return None
    hosts = []
    for h in ms.matchers[0].hosts:
        if not h.is_constant or "*" in h.constant:
            return None
        hosts.append(h.constant.lower())
    return tuple(hosts)
