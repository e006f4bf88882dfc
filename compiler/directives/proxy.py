"""`reverse_proxy`: upstreams, subdirectives and response handling → `ReverseProxy`.

A port of `modules/caddyhttp/reverseproxy/caddyfile.go` (`UnmarshalCaddyfile`,
`FinalizeUnmarshalCaddyfile`) and `addresses.go` (`parseUpstreamDialAddress`).
Selection policies, dynamic sources and the HTTP transport have their own
parsers in `lb.py` and `transport.py`, as Caddy's modules do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from rpc.compiler import placeholders
from rpc.compiler.addresses import join_host_port, split_host_port
from rpc.compiler.directives import lb, transport
from rpc.compiler.directives.headers import (
    OpsBuilder,
    RespBuilder,
    apply_header_op,
    parse_response_matcher,
)
from rpc.compiler.directives.helper import Helper, build_subroute, parse_segment_as_config
from rpc.compiler.directives.matchers import PRIVATE_RANGES, MatcherContext, parse_nested_set
from rpc.compiler.directives.registry import handler_directive
from rpc.compiler.dispenser import DirectiveError, Dispenser
from rpc.compiler.ir.base import Duration, Text
from rpc.compiler.ir.headers import ResponseMatcher
from rpc.compiler.ir.proxy import (
    ActiveHealthChecks,
    DynamicSource,
    FastCGITransport,
    HealthChecks,
    HTTPTransport,
    LoadBalancing,
    PassiveHealthChecks,
    ResponseHandler,
    ReverseProxy,
    TLSConfig,
    Upstream,
)
from rpc.compiler.ir.routes import Handler, MatcherSet
from rpc.compiler.values import parse_duration, parse_duration_or_ns, parse_size

__all__ = [
    "RESPONSE_SUBDIRECTIVES",
    "ParsedAddress",
    "ProxyBuilder",
    "ResponseRouting",
    "parse_upstream_address",
]


@dataclass(frozen=True, slots=True)
class ParsedAddress:
    """An upstream address split the way Caddy's `parseUpstreamDialAddress` does."""

    network: str
    scheme: str
    host: str
    port: str

    def dial(self) -> str:
        if self.network:
            if self.network.startswith("unix"):
                return f"{self.network}/{self.host}"
            return f"{self.network}/{join_host_port(self.host, self.port)}"
        if self.port == "" and "{" in self.host:
            return self.host
        return join_host_port(self.host, self.port)

    @property
    def replaceable_port(self) -> bool:
        return "{" in self.port and "}" in self.port

    @property
    def is_unix(self) -> bool:
        return self.network.startswith("unix")


_NETWORK = re.compile(r"^([a-z0-9+]+)/(.*)$")


def _split_network_address(text: str) -> tuple[str, str, str]:
    """Caddy's `SplitNetworkAddress`: `[network/]host:port`; raises ValueError."""
    network = ""
    m = _NETWORK.match(text)
    if m and m.group(1) in (
        "tcp",
        "tcp4",
        "tcp6",
        "udp",
        "udp4",
        "udp6",
        "unix",
        "unixgram",
        "unixpacket",
        "unix+h2c",
        "fd",
        "fdgram",
        "ip",
        "ip4",
        "ip6",
    ):
        network, text = m.group(1), m.group(2)
        if network.startswith("unix") or network in ("fd", "fdgram"):
            return network, text, ""
    host, port = split_host_port(text)
    return network, host, port


def parse_upstream_address(text: str) -> ParsedAddress:
    """Parse one upstream as written (`app:8080`, `https://app`, `unix//x.sock`, ...)."""
    network = scheme = host = port = ""
    if "://" in text:
        if "{" in text:
            raise ValueError(
                "due to parsing difficulties, placeholders are not allowed when an upstream "
                "address contains a scheme"
            )
        parts = urlsplit(text)
        scheme = parts.scheme
        netloc = parts.netloc
        if parts.path or parts.query or parts.fragment:
            raise ValueError(
                "for now, URLs for proxy upstreams only support scheme, host, and port components"
            )
        try:
            host, port = split_host_port(netloc)
        except ValueError:
            host, port = netloc.strip("[]"), ""
        if port and not re.fullmatch(r"\d+(-\d+)?", port):
            raise ValueError(
                f'parsing upstream URL: parse "{text}": invalid port ":{port}" after host'
            )
        if scheme == "http" and port == "443":
            raise ValueError(
                "upstream address has conflicting scheme (http://) and port (:443, the HTTPS port)"
            )
        if scheme == "https" and port == "80":
            raise ValueError(
                "upstream address has conflicting scheme (https://) and port (:80, the HTTP port)"
            )
        if scheme == "h2c" and port == "443":
            raise ValueError(
                "upstream address has conflicting scheme (h2c://) and port (:443, the HTTPS port)"
            )
        if port == "":
            port = {"": "80", "http": "80", "h2c": "80", "https": "443"}.get(scheme, "")
    else:
        try:
            network, host, port = _split_network_address(text)
        except ValueError:
            host = text
        if (
            port == ""
            and "{" not in host
            and not network.startswith("unix")
            and network not in ("fd", "fdgram")
        ):
            port = "80"
    if network == "unix+h2c":
        network, scheme = "unix", "h2c"
    return ParsedAddress(network, scheme, host, port)


class ResponseRouting:
    """Named response matchers, `replace_status` and `handle_response` blocks.

    Shared by `reverse_proxy` and `intercept`, whose Caddyfile syntax for
    them is the same (Caddy's `UnmarshalCaddyfile` + `FinalizeUnmarshalCaddyfile`).
    """

    def __init__(self, h: Helper) -> None:
        self.h = h
        self.response_matchers: dict[str, ResponseMatcher] = {}
        self.replace_status: list[ResponseHandler] = []
        self.handle_response_segments: list[Dispenser] = []

    def response_matcher(self, d: Dispenser) -> None:
        """`@name ...` on the current token: a named response matcher."""
        parse_response_matcher(d.new_from_next_segment(), self.response_matchers)

    def finalize_responses(self) -> tuple[ResponseHandler, ...]:
        """`replace_status` entries, then `handle_response` blocks; unmatched ones last."""
        handlers = list(self.replace_status)
        for seg in self.handle_response_segments:
            seg.next()
            args = seg.remaining_args()
            # Caddy 2.11 dropped the 2-argument "status code replacement" message.
            if len(args) > 1:
                raise seg.error(
                    "too many arguments for 'handle_response': only a single response matcher "
                    f"name is allowed, but got: [{' '.join(args)}]"
                )
            matcher = None
            if args:
                matcher = self.named_response_matcher(seg, args[0])
            seg.reset()
            seg.next()
            seg.remaining_args()
            seg.prev()
            values = parse_segment_as_config(self.h.with_dispenser(seg))
            subroute = build_subroute(values, self.h.lowering, sort=True, span=seg.head_span)
            handlers.append(
                ResponseHandler(match=matcher, routes=subroute.routes, span=seg.head_span)
            )
        with_match = [x for x in handlers if x.match is not None]
        without = [x for x in handlers if x.match is None]
        return tuple(with_match + without)

    def named_response_matcher(self, d: Dispenser, name: str) -> ResponseMatcher:
        if not name.startswith("@"):
            raise d.error("must use a named response matcher, starting with '@'", code="RPC305")
        found = self.response_matchers.get(name)
        if found is None:
            raise d.error(
                f"no named response matcher defined with name '{name[1:]}'", code="RPC305"
            )
        return found


class ProxyBuilder(ResponseRouting):
    """Accumulates one `reverse_proxy` (or `forward_auth`) while its tokens are read."""

    def __init__(self, h: Helper) -> None:
        super().__init__(h)
        self.scheme: str | None = None
        self.upstreams: list[Upstream] = []
        self.dynamic: DynamicSource | None = None
        self.policy: object = None
        self.lb: dict[str, object] = {}
        self.retry_match: list[MatcherSet] = []
        self.active: dict[str, object] = {}
        self.passive: dict[str, object] = {}
        self.fields: dict[str, object] = {}
        self.up = OpsBuilder()
        self.down = RespBuilder()
        self.transport: HTTPTransport | FastCGITransport | None = None
        # A transport set before parsing (php_fastcgi's); as in Caddy, a
        # `transport` subdirective is then an error, and an https:// or
        # h2c:// upstream still replaces it with an HTTP transport.
        self.preset_transport: FastCGITransport | None = None

    # ------------------------------------------------------------ upstreams

    def add_upstream(self, d: Dispenser, text: str) -> None:
        try:
            pa = parse_upstream_address(text)
        except ValueError as exc:
            raise d.error(f"parsing upstream '{text}': {exc}", code="RPC313") from None
        if pa.scheme == "wss":
            raise d.error(
                "the scheme wss:// is only supported in browsers; use https:// instead",
                code="RPC313",
            )
        if pa.scheme == "ws":
            raise d.error(
                "the scheme ws:// is only supported in browsers; use http:// instead", code="RPC313"
            )
        if pa.scheme not in ("https", "http", "h2c", ""):
            raise d.error(f"unsupported URL scheme {pa.scheme}://", code="RPC313")
        if self.scheme is not None and pa.scheme != self.scheme:
            raise d.error(
                f"parsing upstream '{text}': for now, all proxy upstreams must use the same scheme "
                f"(transport protocol); expecting '{self.scheme}://' but got '{pa.scheme}://'",
                code="RPC313",
            )
        self.scheme = pa.scheme
        span = d.span
        if pa.replaceable_port or pa.is_unix:
            self.upstreams.append(Upstream(dial=_dial_text(pa.dial()), span=span))
            return
        start, _, end = pa.port.partition("-")
        if not start.isdigit() or (end and not end.isdigit()):
            # a port that is neither a number nor a placeholder: kept verbatim (Caddy too)
            self.upstreams.append(Upstream(dial=_dial_text(pa.dial()), span=span))
            return
        first, last = int(start), int(end or start)
        if last < first:
            raise d.error(f"parsing upstream '{text}': end port before start port", code="RPC313")
        for port in range(first, last + 1):
            dial = replace(pa, port=str(port)).dial()
            self.upstreams.append(Upstream(dial=_dial_text(dial), span=span))

    # ------------------------------------------------------------ the block

    def parse(self, d: Dispenser) -> None:
        """Arguments (upstreams) and the subdirective block."""
        for arg in d.remaining_args():
            self.add_upstream(d, arg)
        while d.next_block(0):
            name = d.val
            if name.startswith("@"):
                self.response_matcher(d)
                continue
            handler = SUBDIRECTIVES.get(name)
            if handler is None:
                raise d.error(
                    f"unrecognized subdirective {name}", code="RPC301", hint=_suggest(name)
                )
            handler(self, d)

    # ------------------------------------------------------------ result

    def build(self, span: object) -> ReverseProxy:
        transport_node = self.transport
        if self.scheme in ("https", "h2c") and transport_node is None:
            transport_node = HTTPTransport()
        if isinstance(transport_node, HTTPTransport):
            if self.scheme == "https" and transport_node.tls is None:
                transport_node = replace(transport_node, tls=TLSConfig())
            if self.scheme == "http" and transport_node.tls is not None:
                raise self.h.d.error(
                    "upstream address scheme is HTTP but transport is configured for "
                    "HTTP+TLS (HTTPS)",
                    code="RPC311",
                )
            if self.scheme == "h2c":
                transport_node = replace(transport_node, versions=("h2c", "2"))
            if transport_node == HTTPTransport():
                transport_node = None
        if transport_node is None:
            transport_node = self.preset_transport
        lb_node = None
        if self.policy is not None or self.lb or self.retry_match:
            lb_node = LoadBalancing(
                selection_policy=self.policy,  # type: ignore[arg-type]
                retry_match=tuple(self.retry_match),
                **self.lb,  # type: ignore[arg-type]
            )
        health = None
        if self.active or self.passive:
            health = HealthChecks(
                active=ActiveHealthChecks(**self.active) if self.active else None,  # type: ignore[arg-type]
                passive=PassiveHealthChecks(**self.passive) if self.passive else None,  # type: ignore[arg-type]
            )
        request_ops = None if self.up.empty() else self.up.build()
        response_ops = None if self.down.empty() else self.down.build()
        return ReverseProxy(
            transport=transport_node,
            load_balancing=lb_node,
            health_checks=health,
            upstreams=tuple(self.upstreams),
            dynamic_upstreams=self.dynamic,
            request_headers=request_ops,
            response_headers=response_ops,
            handle_response=self.finalize_responses(),
            span=span,  # type: ignore[arg-type]
            **self.fields,  # type: ignore[arg-type]
        )


def _dial_text(dial: str) -> Text:
    return placeholders.parse(dial, keep_unknown=False)


def _suggest(name: str) -> str | None:
    from rpc.compiler.errors import did_you_mean

    return did_you_mean(name, SUBDIRECTIVES)


# ---------------------------------------------------------------- subdirectives


def _one(d: Dispenser) -> str:
    if not d.next_arg():
        raise d.arg_err()
    return d.val


def _duration(d: Dispenser, what: str = "bad duration value") -> Duration:
    text = _one(d)
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise d.error(f"{what} '{text}': {exc}") from None


def _int(d: Dispenser, what: str) -> int:
    text = _one(d)
    if not re.fullmatch(r"[+-]?\d+", text):
        raise d.error(f"{what} '{text}': strconv.Atoi: parsing \"{text}\": invalid syntax")
    return int(text)


def _to(b: ProxyBuilder, d: Dispenser) -> None:
    args = d.remaining_args()
    if not args:
        raise d.arg_err()
    for arg in args:
        b.add_upstream(d, arg)


def _dynamic(b: ProxyBuilder, d: Dispenser) -> None:
    if not d.next_arg():
        raise d.arg_err()
    if b.dynamic is not None:
        raise d.error("dynamic upstreams already specified", code="RPC307")
    b.dynamic = lb.parse_dynamic(d)


def _lb_policy(b: ProxyBuilder, d: Dispenser) -> None:
    if not d.next_arg():
        raise d.arg_err()
    if b.policy is not None:
        raise d.error("load balancing selection policy already specified", code="RPC307")
    b.policy = lb.parse_policy(d)


def _lb_retries(b: ProxyBuilder, d: Dispenser) -> None:
    b.lb["retries"] = _int(d, "bad lb_retries number")


def _lb_try_duration(b: ProxyBuilder, d: Dispenser) -> None:
    b.lb["try_duration"] = _duration(d, "bad duration value")


def _lb_try_interval(b: ProxyBuilder, d: Dispenser) -> None:
    b.lb["try_interval"] = _duration(d, "bad interval value")


def _lb_retry_match(b: ProxyBuilder, d: Dispenser) -> None:
    try:
        b.retry_match.append(parse_nested_set(d, MatcherContext("", b.h.lowering)))
    except DirectiveError as exc:
        raise d.error(f"failed to parse lb_retry_match: {exc.diag.message}") from None


def _active(b: ProxyBuilder, key: str, value: object) -> None:
    b.active[key] = value


def _health_uri(b: ProxyBuilder, d: Dispenser) -> None:
    _active(b, "uri", _one(d))


def _health_path(b: ProxyBuilder, d: Dispenser) -> None:
    _active(b, "path", _one(d))
    b.h.lowering.warn(
        "RPC410",
        "the 'health_path' subdirective is deprecated, please use 'health_uri' instead!",
        d.span,
    )


def _health_upstream(b: ProxyBuilder, d: Dispenser) -> None:
    text = _one(d)
    try:
        _, port = split_host_port(text)
    except ValueError as exc:
        raise d.error(f"health_upstream is malformed '{text}': {exc}") from None
    if not port.isdigit():
        raise d.error(f"bad port number '{text}'")
    _active(b, "upstream", text)


def _health_port(b: ProxyBuilder, d: Dispenser) -> None:
    if b.active.get("upstream"):
        _one(d)
        raise d.error(
            "the 'health_port' subdirective is ignored if 'health_upstream' is used!", code="RPC311"
        )
    _active(b, "port", _int(d, "bad port number"))


def _health_headers(b: ProxyBuilder, d: Dispenser) -> None:
    from rpc.compiler.httputil import canonical_header_key

    found: dict[str, list[str]] = {}
    nesting = d.nesting
    while d.next_block(nesting):
        key = d.val
        values = d.remaining_args() or [""]
        found.setdefault(canonical_header_key(key), []).extend(values)
    _active(
        b,
        "headers",
        tuple((k, tuple(placeholders.parse(v) for v in vs)) for k, vs in sorted(found.items())),
    )


def _health_simple(key: str) -> Subdirective:
    def parse(b: ProxyBuilder, d: Dispenser) -> None:
        _active(b, key, _one(d))

    return parse


def _health_interval(b: ProxyBuilder, d: Dispenser) -> None:
    _active(b, "interval", _duration(d, "bad interval value"))


def _health_timeout(b: ProxyBuilder, d: Dispenser) -> None:
    _active(b, "timeout", _duration(d, "bad timeout value"))


def _status_number(d: Dispenser, text: str) -> int:
    value = text[:1] if len(text) == 3 and text.endswith("xx") else text
    if not value.lstrip("+-").isdigit():
        raise d.error(f"bad status value '{text}'")
    return int(value)


def _health_status(b: ProxyBuilder, d: Dispenser) -> None:
    _active(b, "expect_status", _status_number(d, _one(d)))


def _health_follow_redirects(b: ProxyBuilder, d: Dispenser) -> None:
    if d.next_arg():
        raise d.arg_err()
    _active(b, "follow_redirects", True)


def _health_passes(b: ProxyBuilder, d: Dispenser) -> None:
    _active(b, "passes", _int(d, "invalid passes count"))


def _health_fails(b: ProxyBuilder, d: Dispenser) -> None:
    _active(b, "fails", _int(d, "invalid fails count"))


def _max_fails(b: ProxyBuilder, d: Dispenser) -> None:
    b.passive["max_fails"] = _int(d, "invalid maximum fail count")


def _fail_duration(b: ProxyBuilder, d: Dispenser) -> None:
    b.passive["fail_duration"] = _duration(d)


def _unhealthy_request_count(b: ProxyBuilder, d: Dispenser) -> None:
    b.passive["unhealthy_request_count"] = _int(d, "invalid maximum connection count")


def _unhealthy_status(b: ProxyBuilder, d: Dispenser) -> None:
    args = d.remaining_args()
    if not args:
        raise d.arg_err()
    codes = list(b.passive.get("unhealthy_status", ()))  # type: ignore[call-overload]
    codes.extend(_status_number(d, a) for a in args)
    b.passive["unhealthy_status"] = tuple(codes)


def _unhealthy_latency(b: ProxyBuilder, d: Dispenser) -> None:
    b.passive["unhealthy_latency"] = _duration(d)


def _ns_duration(key: str) -> Subdirective:
    def parse(b: ProxyBuilder, d: Dispenser) -> None:
        text = _one(d)
        try:
            b.fields[key] = parse_duration_or_ns(text)
        except ValueError as exc:
            raise d.error(f"bad duration value '{text}': {exc}") from None

    return parse


def _buffers(key: str) -> Subdirective:
    def parse(b: ProxyBuilder, d: Dispenser) -> None:
        text = _one(d)
        if text == "unlimited":
            size = -1
        else:
            try:
                size = parse_size(text)
            except ValueError as exc:
                raise d.error(f"invalid byte size '{text}': {exc}") from None
        if d.next_arg():
            raise d.arg_err()
        b.fields[key] = size

    return parse


def _stream_buffer_size(b: ProxyBuilder, d: Dispenser) -> None:
    text = _one(d)
    try:
        b.fields["stream_buffer_size"] = parse_size(text)
    except ValueError as exc:
        raise d.error(f"invalid byte size '{text}': {exc}") from None


def _trusted_proxies(b: ProxyBuilder, d: Dispenser) -> None:
    ranges = list(b.fields.get("trusted_proxies", ()))  # type: ignore[call-overload]
    while d.next_arg():
        if d.val == "private_ranges":
            ranges.extend(PRIVATE_RANGES)
        else:
            ranges.append(d.val)
    b.fields["trusted_proxies"] = tuple(ranges)


_NOISY_HEADER_UP = {
    "host": ("{hostport}", "{http.request.hostport}"),
    "x-forwarded-for": (
        "{remote}",
        "{http.request.remote}",
        "{remote_host}",
        "{http.request.remote.host}",
    ),
    "x-forwarded-proto": ("{scheme}", "{http.request.scheme}"),
    "x-forwarded-host": ("{host}", "{http.request.host}", "{hostport}", "{http.request.hostport}"),
}


def _header_up(b: ProxyBuilder, d: Dispenser) -> None:
    args = d.remaining_args()
    if not 1 <= len(args) <= 3:
        raise d.arg_err()
    if len(args) == 2 and args[1] in _NOISY_HEADER_UP.get(args[0].lower(), ()):
        b.h.lowering.warn(
            "RPC410",
            f"Unnecessary header_up {args[0]}: the reverse proxy's default behavior is to pass "
            "headers to the upstream",
            d.span,
        )
    err = apply_header_op(
        b.up, None, args[0], args[1] if len(args) > 1 else "", args[2] if len(args) > 2 else None
    )
    if err is not None:
        raise d.error(err)


def _header_down(b: ProxyBuilder, d: Dispenser) -> None:
    args = d.remaining_args()
    if not 1 <= len(args) <= 3:
        raise d.arg_err()
    err = apply_header_op(
        b.down.ops,
        None,
        args[0],
        args[1] if len(args) > 1 else "",
        args[2] if len(args) > 2 else None,
    )
    if err is not None:
        raise d.error(err)


def _method(b: ProxyBuilder, d: Dispenser) -> None:
    b.fields["rewrite_method"] = placeholders.parse(_one(d), keep_unknown=False)
    if d.next_arg():
        raise d.arg_err()


def _rewrite(b: ProxyBuilder, d: Dispenser) -> None:
    b.fields["rewrite_uri"] = placeholders.parse(_one(d), keep_unknown=False)
    if d.next_arg():
        raise d.arg_err()


def _transport(b: ProxyBuilder, d: Dispenser) -> None:
    if not d.next_arg():
        raise d.arg_err()
    if b.transport is not None or b.preset_transport is not None:
        raise d.error("transport already specified", code="RPC307")
    b.transport = transport.parse_transport(d)


def _handle_response(b: ResponseRouting, d: Dispenser) -> None:
    b.handle_response_segments.append(d.new_from_next_segment())


def _replace_status(b: ResponseRouting, d: Dispenser) -> None:
    args = d.remaining_args()
    if len(args) not in (1, 2):
        raise d.error(
            "must have one or two arguments: an optional response matcher, and a status code",
            code="RPC302",
        )
    matcher = b.named_response_matcher(d, args[0]) if len(args) == 2 else None
    status = placeholders.parse(args[-1], keep_unknown=False)
    if d.next_block(d.nesting):
        raise d.error("cannot define routes for 'replace_status', use 'handle_response' instead.")
    b.replace_status.append(ResponseHandler(match=matcher, status_code=status, span=d.span))


def _verbose_logs(b: ProxyBuilder, d: Dispenser) -> None:
    if b.fields.get("verbose_logs"):
        raise d.error("verbose_logs already specified", code="RPC307")
    b.fields["verbose_logs"] = True


Subdirective = Callable[[ProxyBuilder, Dispenser], None]

# The subdirectives `intercept` shares with `reverse_proxy`.
RESPONSE_SUBDIRECTIVES: dict[str, Callable[[ResponseRouting, Dispenser], None]] = {
    "handle_response": _handle_response,
    "replace_status": _replace_status,
}

SUBDIRECTIVES: dict[str, Subdirective] = {
    "to": _to,
    "dynamic": _dynamic,
    "lb_policy": _lb_policy,
    "lb_retries": _lb_retries,
    "lb_try_duration": _lb_try_duration,
    "lb_try_interval": _lb_try_interval,
    "lb_retry_match": _lb_retry_match,
    "health_uri": _health_uri,
    "health_path": _health_path,
    "health_upstream": _health_upstream,
    "health_port": _health_port,
    "health_headers": _health_headers,
    "health_method": _health_simple("method"),
    "health_request_body": _health_simple("body"),
    "health_interval": _health_interval,
    "health_timeout": _health_timeout,
    "health_status": _health_status,
    "health_body": _health_simple("expect_body"),
    "health_follow_redirects": _health_follow_redirects,
    "health_passes": _health_passes,
    "health_fails": _health_fails,
    "max_fails": _max_fails,
    "fail_duration": _fail_duration,
    "unhealthy_request_count": _unhealthy_request_count,
    "unhealthy_status": _unhealthy_status,
    "unhealthy_latency": _unhealthy_latency,
    "flush_interval": _ns_duration("flush_interval"),
    "request_buffers": _buffers("request_buffers"),
    "response_buffers": _buffers("response_buffers"),
    "stream_timeout": _ns_duration("stream_timeout"),
    "stream_close_delay": _ns_duration("stream_close_delay"),
    "stream_buffer_size": _stream_buffer_size,
    "trusted_proxies": _trusted_proxies,
    "header_up": _header_up,
    "header_down": _header_down,
    "method": _method,
    "rewrite": _rewrite,
    "transport": _transport,
    "handle_response": _handle_response,
    "replace_status": _replace_status,
    "verbose_logs": _verbose_logs,
}


@handler_directive("reverse_proxy")
def parse_reverse_proxy(h: Helper) -> Handler:
    """
    reverse_proxy [<matcher>] [<upstreams...>] {
        to <upstreams...>
        dynamic <module> ...
        lb_policy <name> [<options...>]
        lb_retries <retries>
        lb_try_duration <duration>
        lb_try_interval <interval>
        lb_retry_match <request-matcher>
        health_uri|health_upstream|health_port|health_interval|health_timeout ...
        health_method|health_request_body|health_status|health_body|health_headers ...
        health_passes|health_fails|health_follow_redirects ...
        fail_duration|max_fails|unhealthy_status|unhealthy_latency|unhealthy_request_count ...
        flush_interval|request_buffers|response_buffers|stream_timeout|stream_close_delay ...
        trusted_proxies [private_ranges] <ranges...>
        header_up [+|-]<field> [<value|regexp> [<replacement>]]
        header_down [+|-]<field> [<value|regexp> [<replacement>]]
        method <method>
        rewrite <to>
        transport <name> { ... }
        @name { status <codes...>; header <field> [<value>] }
        replace_status [<matcher>] <status_code>
        handle_response [<matcher>] { <directives...> }
        verbose_logs
    }
    """
    d = h.d
    d.next()
    span = d.span
    builder = ProxyBuilder(h)
    builder.parse(d)
    return builder.build(span)


# ---------------------------------------------------------------- JSON shapes


def _register_json() -> None:
    from rpc.compiler import caddyjson
    from rpc.compiler.ir.proxy import AUpstreams, SRVUpstreams

    @caddyjson.register(ReverseProxy)
    def _rp(n: ReverseProxy) -> dict[str, object]:
        out = caddyjson.fields(n)
        headers: dict[str, object] = {}
        if n.request_headers is not None:
            headers["request"] = caddyjson.value(n.request_headers)
        if n.response_headers is not None:
            headers["response"] = caddyjson.value(n.response_headers)
        if headers:
            out["headers"] = headers
        rewrite: dict[str, object] = {}
        if n.rewrite_method is not None:
            rewrite["method"] = n.rewrite_method.raw
        if n.rewrite_uri is not None:
            rewrite["uri"] = n.rewrite_uri.raw
        if rewrite:
            out["rewrite"] = rewrite
        return out

    @caddyjson.register(HTTPTransport)
    def _http(n: HTTPTransport) -> dict[str, object]:
        out = caddyjson.fields(n)
        if n.resolvers:
            out["resolver"] = {"addresses": list(n.resolvers)}
        if n.network_proxy:
            out["network_proxy"] = caddyjson.pairs(n.network_proxy)
        return out

    @caddyjson.register(ActiveHealthChecks)
    def _active_json(n: ActiveHealthChecks) -> dict[str, object]:
        out = caddyjson.fields(n)
        if n.headers:
            out["headers"] = {k: [v.raw for v in vs] for k, vs in n.headers}
        return out

    @caddyjson.register(TLSConfig)
    def _tls(n: TLSConfig) -> dict[str, object]:
        out = caddyjson.fields(n)
        if n.ca:
            out["ca"] = caddyjson.pairs(n.ca)
        return out

    @caddyjson.register(ResponseHandler)
    def _rh(n: ResponseHandler) -> dict[str, object]:
        from rpc.compiler.directives.static import weak_string

        out = caddyjson.fields(n)
        if n.status_code is not None:
            out["status_code"] = weak_string(n.status_code)
        return out

    def _source(n: AUpstreams | SRVUpstreams) -> dict[str, object]:
        out = caddyjson.fields(n)
        if n.resolvers:
            out["resolver"] = {"addresses": list(n.resolvers)}
        if isinstance(n, AUpstreams) and (n.ipv4 or n.ipv6):
            versions: dict[str, object] = {}
            if n.ipv4:
                versions["ipv4"] = True
            if n.ipv6:
                versions["ipv6"] = True
            out["versions"] = versions
        return out

    caddyjson.register(AUpstreams)(_source)
    caddyjson.register(SRVUpstreams)(_source)

    @caddyjson.register(FastCGITransport)
    def _fcgi(n: FastCGITransport) -> dict[str, object]:
        out = caddyjson.pairs(tuple((k, v) for k, v in n.settings if k != "env"))
        env = dict(n.settings).get("env")
        if env:
            out["env"] = dict(env)  # type: ignore[call-overload]
        return {"protocol": "fastcgi", **out}


_register_json()
