"""URI and method rewriting: rewrite, uri, method → the `rewrite` handler.

Ports of `caddyhttp/rewrite/caddyfile.go` (`parseCaddyfileRewrite`,
`parseCaddyfileMethod`, `parseCaddyfileURI`, `applyQueryOps`) as Caddy 2.11
has them. The rewrite handler expands placeholders with ReplaceAll, so
unknown placeholders become empty.
"""

from __future__ import annotations

from rpc.compiler import placeholders
from rpc.compiler.directives.helper import ConfigValue, Helper
from rpc.compiler.directives.registry import directive, handler_directive
from rpc.compiler.dispenser import Dispenser
from rpc.compiler.ir.base import Text
from rpc.compiler.ir.handlers import (
    QueryArg,
    QueryOps,
    QueryReplace,
    RegexReplace,
    Rewrite,
    SubstringReplace,
)
from rpc.compiler.ir.routes import Handler

__all__ = ["rewrite_text"]


def rewrite_text(raw: str) -> Text | None:
    """A rewrite string (ReplaceAll); None for "" (Go's omitempty)."""
    return placeholders.parse(raw, keep_unknown=False) if raw else None


@directive("rewrite")
def parse_rewrite(h: Helper) -> list[ConfigValue]:
    """
    rewrite [<matcher>] <to>

    Only the URI components given in <to> are replaced. Caddy 2.11 ignores a
    block after the arguments. With one argument it is the URI (even `/x`),
    never a matcher.
    """
    d = h.d
    d.next()
    span = d.span
    count = d.count_remaining_args()
    if count == 0:
        raise d.error(
            "too few arguments; must have at least a rewrite URI",
            code="RPC302",
            hint="write `rewrite [<matcher>] <to>`, e.g. `rewrite * /index.html`",
        )
    if count > 2:
        raise d.error(
            "too many arguments; should only be a matcher and a URI",
            code="RPC302",
            hint="quote a URI that contains spaces",
        )
    if count == 1:
        d.next_arg()
        return h.new_route(None, Rewrite(uri=rewrite_text(d.val), span=span))
    matcher_set = h.extract_matcher_set()
    d.next()  # the directive name again: extracting the matcher reset the cursor
    d.next()
    return h.new_route(matcher_set, Rewrite(uri=rewrite_text(d.val), span=span))


@handler_directive("method")
def parse_method(h: Helper) -> Handler:
    """
    method [<matcher>] <method>

    Changes the request's method (upper-cased at run time).
    """
    d = h.d
    d.next()
    span = d.span
    if not d.next_arg():
        raise d.arg_err("write the new method, e.g. `method GET`")
    if d.next_arg():
        raise d.arg_err("`method` takes exactly one method")
    return Rewrite(method=rewrite_text(d.val), span=span)


@handler_directive("uri")
def parse_uri(h: Helper) -> Handler:
    """
    uri [<matcher>] strip_prefix <prefix>
    uri [<matcher>] strip_suffix <suffix>
    uri [<matcher>] replace <find> <replace> [<limit>]
    uri [<matcher>] path_regexp <find> <replace>
    uri [<matcher>] query [-|+]<key> [<value>]
    uri [<matcher>] query <key> <search_regexp> <replace>
    uri [<matcher>] query <old>><new>
    uri [<matcher>] query {
        <one query operation per line>
    }
    """
    d = h.d
    d.next()
    span = d.span
    args = d.remaining_args()
    if not args:
        raise d.arg_err(
            "write an operation: strip_prefix, strip_suffix, replace, path_regexp, query"
        )
    op = args[0]
    if op == "strip_prefix":
        if len(args) != 2:
            raise d.arg_err("write `uri strip_prefix <prefix>`")
        return Rewrite(strip_path_prefix=args[1], span=span)
    if op == "strip_suffix":
        if len(args) != 2:
            raise d.arg_err("write `uri strip_suffix <suffix>`")
        return Rewrite(strip_path_suffix=args[1], span=span)
    if op == "replace":
        if len(args) not in (3, 4):
            raise d.arg_err("write `uri replace <find> <replace> [<limit>]`")
        limit = 0
        if len(args) == 4:
            limit = _atoi(d, args[3])
        sub = SubstringReplace(
            find=rewrite_text(args[1]), replace=rewrite_text(args[2]), limit=limit
        )
        return Rewrite(uri_substring=(sub,), span=span)
    if op == "path_regexp":
        if len(args) != 3:
            raise d.arg_err("write `uri path_regexp <regexp> <replace>`")
        rep = RegexReplace(find=args[1], replace=rewrite_text(args[2]))
        return Rewrite(path_regexp=(rep,), span=span)
    if op == "query":
        return Rewrite(query=_parse_query(d, args[1:]), span=span)
    raise d.error(
        f"unrecognized URI manipulation '{op}'",
        code="RPC301",
        hint="use strip_prefix, strip_suffix, replace, path_regexp or query",
    )


def _atoi(d: Dispenser, text: str) -> int:
    stripped = text[1:] if text[:1] in "+-" else text
    if not stripped.isascii() or not stripped.isdigit():
        raise d.error(
            f'limit must be an integer; invalid: strconv.Atoi: parsing "{text}": invalid syntax',
            hint="the limit is how many replacements to make; leave it out for all",
        )
    return int(text)


class _Query:
    """A `QueryOps` under construction."""

    def __init__(self) -> None:
        self.rename: list[QueryArg] = []
        self.set: list[QueryArg] = []
        self.add: list[QueryArg] = []
        self.replace: list[QueryReplace] = []
        self.delete: list[Text] = []

    def apply(self, d: Dispenser, args: list[str]) -> None:
        """Caddy's `applyQueryOps`: one operation from its arguments."""
        key = args[0]
        if key.startswith("-"):
            if len(args) != 1:
                raise d.arg_err("`-<key>` deletes a parameter and takes no value")
            self.delete.append(_text(key.lstrip("-")))
        elif key.startswith("+"):
            if len(args) != 2:
                raise d.arg_err("write `+<key> <value>` to add a parameter")
            self.add.append(QueryArg(key=rewrite_text(key.lstrip("+")), val=rewrite_text(args[1])))
        elif ">" in key:
            if len(args) != 1:
                raise d.arg_err("write `<old>><new>` to rename a parameter")
            old, new = key.split(">")[:2]
            self.rename.append(QueryArg(key=rewrite_text(old), val=rewrite_text(new)))
        elif len(args) == 3:
            self.replace.append(
                QueryReplace(
                    key=rewrite_text(key), search_regexp=args[1], replace=rewrite_text(args[2])
                )
            )
        else:
            if len(args) != 2:
                raise d.arg_err("write `<key> <value>` to set a parameter")
            self.set.append(QueryArg(key=rewrite_text(key), val=rewrite_text(args[1])))

    def build(self) -> QueryOps:
        return QueryOps(
            rename=tuple(self.rename),
            set=tuple(self.set),
            add=tuple(self.add),
            replace=tuple(self.replace),
            delete=tuple(self.delete),
        )


def _text(raw: str) -> Text:
    return placeholders.parse(raw, keep_unknown=False)


def _parse_query(d: Dispenser, args: list[str]) -> QueryOps:
    if len(args) > 3:
        raise d.arg_err("one query operation per line; use a block for several")
    query = _Query()
    if args:
        query.apply(d, args)
    while d.next_block(0):
        if args:
            raise d.error(
                "Cannot specify uri query rewrites in both argument and block",
                hint="move the operation on the `uri query` line into the block",
            )
        query.apply(d, [d.val, *d.remaining_args()])
    return query.build()
