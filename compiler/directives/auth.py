"""Authentication: basic_auth (and the deprecated basicauth), forward_auth.

Ports of `caddyhttp/caddyauth/caddyfile.go` and
`reverseproxy/forwardauth/caddyfile.go` as Caddy 2.11 has them.
`forward_auth` is a preset `reverse_proxy` (spec reverse-proxy-semantics §11):
the request goes to the auth gateway as `GET <uri>` without a body; a 2xx
answer copies the chosen headers onto the original request (deleting any
client-sent value first) and handling continues; any other answer is the
response.
"""

from __future__ import annotations

from rpc.compiler import caddyjson, placeholders
from rpc.compiler.directives.helper import ConfigValue, Helper
from rpc.compiler.directives.proxy import ProxyBuilder
from rpc.compiler.directives.registry import directive, handler_directive
from rpc.compiler.httputil import canonical_header_key
from rpc.compiler.ir.handlers import Account, Authentication, HTTPBasicAuth, Vars
from rpc.compiler.ir.headers import HeaderOps, Headers, ResponseMatcher
from rpc.compiler.ir.matchers import MatchNot, MatchVars
from rpc.compiler.ir.proxy import ResponseHandler
from rpc.compiler.ir.routes import Handler, MatcherSet, Route
from rpc.compiler.source import Span

__all__ = ["HASH_ALGORITHMS"]

# The password hashes Caddy 2.11's `http_basic` provider knows.
HASH_ALGORITHMS = ("bcrypt", "argon2id")


def _parse_basic_auth(h: Helper) -> Handler:
    """
    basic_auth [<matcher>] [<hash_algorithm> [<realm>]] {
        <username> <hashed_password>
        ...
    }

    The hash algorithm is bcrypt unless given (bcrypt or argon2id).
    """
    d = h.d
    d.next()
    span = d.span
    if d.val == "basicauth":
        h.warn(
            "the 'basicauth' directive is deprecated, please use 'basic_auth' instead!",
            hint="rename the directive to basic_auth; the syntax is the same",
        )
    args = d.remaining_args()
    if len(args) > 2:
        raise d.arg_err("write `basic_auth [<hash_algorithm> [<realm>]] { <user> <hash> }`")
    algorithm = args[0] if args else "bcrypt"
    realm = args[1] if len(args) == 2 else ""
    if algorithm not in HASH_ALGORITHMS:
        raise d.error(
            f"unrecognized hash algorithm: {algorithm}",
            hint="use bcrypt or argon2id (`caddy hash-password` makes such hashes)",
        )
    accounts: list[Account] = []
    while d.next_block(0):
        username = d.val
        line = d.span
        password = d.val if d.next_arg() else ""
        if d.next_arg():
            raise d.arg_err("each line is `<username> <hashed_password>`")
        if not username or not password:
            raise d.error(
                "username and password cannot be empty or missing",
                hint="each line is `<username> <hashed_password>`",
            )
        accounts.append(Account(username=username, password=password, span=line))
    provider = HTTPBasicAuth(
        hash_algorithm=algorithm, accounts=tuple(accounts), realm=realm, span=span
    )
    return Authentication(http_basic=provider, span=span)


handler_directive("basic_auth")(_parse_basic_auth)
handler_directive("basicauth")(_parse_basic_auth)


@directive("forward_auth")
def parse_forward_auth(h: Helper) -> list[ConfigValue]:
    """
    forward_auth [<matcher>] <upstreams...> {
        uri          <to>
        copy_headers <fields...> {
            <fields...>
        }
        <any other reverse_proxy subdirective>
    }

    A field `A>B` copies the auth response's header A into request header B.
    """
    d = h.d
    d.next()
    span = d.span
    matcher_set = h.extract_matcher_set()
    d.next()
    seg = d.new_from_next_segment()  # a copy to delete forward_auth's own lines from
    uri = ""
    to_copy: dict[str, str] = {}
    # Take out forward_auth's own subdirectives (Caddy deletes their tokens),
    # so that the rest reads as a reverse_proxy block.
    while seg.next():
        while seg.next_block(0):
            if seg.nesting != 1:
                continue  # a same-named line inside a nested reverse_proxy block
            if seg.val == "uri":
                if not seg.next_arg():
                    raise seg.arg_err("write the auth endpoint's path, e.g. `uri /auth`")
                if uri:
                    raise seg.error(
                        f"cannot re-declare uri: {seg.val}",
                        code="RPC307",
                        hint="forward_auth takes one `uri`",
                    )
                uri = seg.val
                for _ in range(2):
                    seg.delete()
            elif seg.val == "copy_headers":
                fields = seg.remaining_args()
                had_block = False
                nesting = seg.nesting
                while seg.next_block(nesting):
                    had_block = True
                    fields.append(seg.val)
                for _ in range(len(fields) + 1 + (2 if had_block else 0)):
                    seg.delete()
                for name in fields:
                    if ">" in name:
                        parts = name.split(">")
                        to_copy[parts[0]] = parts[1]
                    else:
                        to_copy[name] = name
                if not to_copy:
                    raise seg.arg_err("name the headers to copy, e.g. `copy_headers Remote-User`")
    seg.reset()
    if not uri:
        raise seg.error(
            "the 'uri' subdirective is required",
            code="RPC302",
            hint="add `uri <path>`: the auth gateway's endpoint",
        )
    b = ProxyBuilder(h)
    b.up.set["X-Forwarded-Method"] = ["{http.request.method}"]
    b.up.set["X-Forwarded-Uri"] = ["{http.request.uri}"]
    b.fields["rewrite_method"] = placeholders.parse("GET", keep_unknown=False)
    b.fields["rewrite_uri"] = placeholders.parse(uri, keep_unknown=False)
    b.replace_status.append(_good_response(to_copy, span))
    seg.next()
    b.parse(seg)
    proxy = b.build(span)
    match = (matcher_set,) if matcher_set is not None else ()
    return [ConfigValue("route", Route(match=match, handle=(proxy,), span=span), span=span)]


def _good_response(to_copy: dict[str, str], span: Span | None) -> ResponseHandler:
    """The 2xx response handler: a no-op, then each copied header (sorted by source name).

    Each header is first deleted from the request, then set from the auth
    response only when that has it, so a client cannot smuggle in a value.
    """
    routes = [Route(handle=(Vars(),))]
    for source in sorted(to_copy):
        target = placeholders.parse(canonical_header_key(to_copy[source]))
        value = "{http.reverse_proxy.header." + canonical_header_key(source) + "}"
        empty = MatchVars(vars=((value, (placeholders.parse("", keep_unknown=False),)),))
        present = MatcherSet(matchers=(MatchNot(sets=(MatcherSet(matchers=(empty,)),)),))
        delete = Headers(request=HeaderOps(delete=(target,)))
        copy = Headers(request=HeaderOps(set=((target, (placeholders.parse(value),)),)))
        routes.append(Route(handle=(delete,)))
        routes.append(Route(match=(present,), handle=(copy,)))
    return ResponseHandler(match=ResponseMatcher(status_code=(2,)), routes=tuple(routes), span=span)


@caddyjson.register(Authentication)
def _authentication_json(n: Authentication) -> dict[str, object]:
    basic = caddyjson.fields(n.http_basic)
    basic["hash"] = {"algorithm": n.http_basic.hash_algorithm}
    basic["hash_cache"] = {}
    return {"handler": "authentication", "providers": {"http_basic": basic}}
