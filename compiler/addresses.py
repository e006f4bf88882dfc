"""Site address text → `Address` (scheme, host, port, path), as Caddy parses site keys.

A port of `caddyconfig/httpcaddyfile/addresses.go` (`ParseAddress`,
`Normalize`, `String`, `lowerExceptPlaceholders`) with Go's
`net.SplitHostPort` rules: `[scheme://][host][:port][/path]`, hosts
lower-cased except inside placeholders, IPv6 normalised, ports 0–65535.
Which listener an address needs (http_port, https_port, bind) is decided
later, with the global options at hand.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from rpc.compiler.source import Span

__all__ = ["Address", "AddressError", "parse_address", "split_host_port"]

DEFAULT_HTTP_PORT = 80
DEFAULT_HTTPS_PORT = 443


class AddressError(ValueError):
    """The text is not a valid site address; the message says why (Caddy's wording)."""


@dataclass(frozen=True, slots=True)
class Address:
    """One site address; fields are normalised (lower-case host and scheme)."""

    original: str
    scheme: str
    host: str
    port: str
    path: str
    span: Span | None = None

    def __str__(self) -> str:
        """Caddy's `Address.String()`: a cleaned-up URL form."""
        if not self.host and not self.port:
            return ""
        scheme = self.scheme or ("https" if self.port == str(DEFAULT_HTTPS_PORT) else "http")
        out = scheme + "://"
        default = DEFAULT_HTTPS_PORT if scheme == "https" else DEFAULT_HTTP_PORT
        if self.port and self.port != str(default):
            out += join_host_port(self.host, self.port)
        else:
            out += self.host
        return out + self.path

    @property
    def has_placeholder(self) -> bool:
        return "{" in self.host


def split_host_port(hostport: str) -> tuple[str, str]:
    """Go's `net.SplitHostPort`; raises ValueError when there is no port."""
    i = hostport.rfind(":")
    if i < 0:
        raise ValueError("missing port in address")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ValueError("missing ']' in address")
        if end + 1 == len(hostport):
            raise ValueError("missing port in address")
        if end + 1 != i:
            raise ValueError(
                "too many colons in address"
                if hostport[end + 1] == ":"
                else "missing port in address"
            )
        host = hostport[1:end]
        if "[" in hostport[1:end] or "]" in hostport[end + 1 :]:
            raise ValueError("unexpected bracket in address")
    else:
        host = hostport[:i]
        if ":" in host:
            raise ValueError("too many colons in address")
        if "[" in host or "]" in host:
            raise ValueError("unexpected bracket in address")
    return host, hostport[i + 1 :]


def join_host_port(host: str, port: str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _lower_except_placeholders(text: str) -> str:
    out = []
    escaped = in_placeholder = False
    for ch in text:
        if ch == "\\" and not escaped:
            escaped = True
            out.append(ch)
            continue
        if ch == "{" and not escaped:
            in_placeholder = True
        if ch == "}" and in_placeholder and not escaped:
            in_placeholder = False
        out.append(ch if in_placeholder else ch.lower())
        escaped = False
    return "".join(out)


def parse_address(text: str, span: Span | None = None) -> Address:
    """Parse and normalise one site key; raises `AddressError` (scheme, port)."""
    remaining = text[:4096].strip()
    scheme = ""
    if "://" in remaining:
        scheme, remaining = remaining.split("://", 1)
    head, slash, rest = remaining.partition("/")
    try:
        host, port = split_host_port(head)
    except ValueError:
        try:
            host, port = split_host_port(head + ":")
        except ValueError:
            host, port = head, ""
    path = "/" + rest if slash else ""
    if port:
        try:
            number = int(port, 10)
        except ValueError:
            raise AddressError(
                f"invalid port '{port}': strconv.Atoi: parsing \"{port}\": invalid syntax"
            ) from None
        if not 0 <= number <= 65535:
            raise AddressError(f"port {number} is out of range")
    host = host.strip()
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
            host = str(ip)
    scheme = _lower_except_placeholders(scheme)
    if scheme in ("wss", "ws"):
        plain = "https" if scheme == "wss" else "http"
        raise AddressError(
            f"the scheme {scheme}:// is only supported in browsers; use {plain}:// instead"
        )
    if scheme not in ("", "http", "https"):
        raise AddressError(f"unsupported URL scheme {scheme}://")
    return Address(text, scheme, _lower_except_placeholders(host), port, path, span)
