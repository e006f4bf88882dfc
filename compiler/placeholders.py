"""Placeholders at compile time: Caddyfile shorthands, and text → typed `Text`.

`expand_shorthands` is Caddy's `ShorthandReplacer` (`httpcaddyfile/shorthands.go`,
2.11): applied to every token of every site block before directives are
read, so `{host}` becomes `{http.request.host}` everywhere, quoted or not.

`parse` splits a string into literals and `Ph` references following Caddy's
replacer scan (`replacer.go`): `\\{`/`\\}` are literal braces, a key runs to
the first unescaped `}`. Whether a key is known is decided by the runtime's
own resolver table, so the compiler and the runtime cannot disagree. In
"keep unknown" mode (`ReplaceKnown`: header values, response bodies) an
unknown `{key}` stays literal text; otherwise (`ReplaceAll`) it becomes empty.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

from rpc.compiler.cst import Line
from rpc.compiler.ir.base import Ph, Text
from rpc.runtime.placeholders import resolver_for

__all__ = [
    "custom_keys",
    "expand_shorthands",
    "is_known",
    "map_destinations",
    "parse",
    "unknown_keys",
]

# Names the configuration itself publishes (`map` destinations), known while compiling it.
_CUSTOM: ContextVar[frozenset[str]] = ContextVar("rpc_custom_placeholders", default=frozenset())

_SIMPLE: tuple[tuple[str, str], ...] = (
    ("{dir}", "{http.request.uri.path.dir}"),
    ("{file}", "{http.request.uri.path.file}"),
    ("{host}", "{http.request.host}"),
    ("{hostport}", "{http.request.hostport}"),
    ("{port}", "{http.request.port}"),
    ("{method}", "{http.request.method}"),
    ("{path}", "{http.request.uri.path}"),
    ("{%path}", "{http.request.uri.path_escaped}"),
    ("{query}", "{http.request.uri.query}"),
    ("{%query}", "{http.request.uri.query_escaped}"),
    ("{?query}", "{http.request.uri.prefixed_query}"),
    ("{remote}", "{http.request.remote}"),
    ("{remote_host}", "{http.request.remote.host}"),
    ("{remote_port}", "{http.request.remote.port}"),
    ("{scheme}", "{http.request.scheme}"),
    ("{uri}", "{http.request.uri}"),
    ("{%uri}", "{http.request.uri_escaped}"),
    ("{uuid}", "{http.request.uuid}"),
    ("{orig_method}", "{http.request.orig_method}"),
    ("{orig_uri}", "{http.request.orig_uri}"),
    ("{orig_path}", "{http.request.orig_uri.path}"),
    ("{orig_dir}", "{http.request.orig_uri.path.dir}"),
    ("{orig_file}", "{http.request.orig_uri.path.file}"),
    ("{orig_query}", "{http.request.orig_uri.query}"),
    ("{orig_?query}", "{http.request.orig_uri.prefixed_query}"),
    ("{tls_cipher}", "{http.request.tls.cipher_suite}"),
    ("{tls_version}", "{http.request.tls.version}"),
    ("{tls_client_fingerprint}", "{http.request.tls.client.fingerprint}"),
    ("{tls_client_issuer}", "{http.request.tls.client.issuer}"),
    ("{tls_client_serial}", "{http.request.tls.client.serial}"),
    ("{tls_client_subject}", "{http.request.tls.client.subject}"),
    ("{tls_client_certificate_pem}", "{http.request.tls.client.certificate_pem}"),
    (
        "{tls_client_certificate_der_base64}",
        "{http.request.tls.client.certificate_der_base64}",
    ),
    ("{upstream_hostport}", "{http.reverse_proxy.upstream.hostport}"),
    ("{client_ip}", "{http.vars.client_ip}"),
)
_SIMPLE_MAP = dict(_SIMPLE)
_SIMPLE_RE = re.compile("|".join(re.escape(k) for k, _ in _SIMPLE))

# Go's \w is ASCII-only; spell it out so Python's Unicode \w does not widen it.
_W = "[0-9A-Za-z_-]"
_COMPLEX: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), repl)
    for pattern, repl in (
        (rf"\{{header\.({_W}*)\}}", r"{http.request.header.\1}"),
        (rf"\{{cookie\.({_W}*)\}}", r"{http.request.cookie.\1}"),
        (rf"\{{labels\.({_W}*)\}}", r"{http.request.host.labels.\1}"),
        (rf"\{{path\.({_W}*)\}}", r"{http.request.uri.path.\1}"),
        (rf"\{{file\.({_W}*)\}}", r"{http.request.uri.path.file.\1}"),
        (rf"\{{query\.({_W}*)\}}", r"{http.request.uri.query.\1}"),
        (r"\{re\.([0-9A-Za-z_.-]*)\}", r"{http.regexp.\1}"),
        (rf"\{{vars\.({_W}*)\}}", r"{http.vars.\1}"),
        (r"\{rp\.([0-9A-Za-z_.-]*)\}", r"{http.reverse_proxy.\1}"),
        (r"\{resp\.([0-9A-Za-z_.-]*)\}", r"{http.intercept.\1}"),
        (r"\{err\.([0-9A-Za-z_.-]*)\}", r"{http.error.\1}"),
        (rf"\{{file_match\.({_W}*)\}}", r"{http.matchers.file.\1}"),
    )
)


def expand_shorthands(text: str) -> str:
    """Replace Caddyfile placeholder shorthands with their full names."""
    if "{" not in text:
        return text
    text = _SIMPLE_RE.sub(lambda m: _SIMPLE_MAP[m.group(0)], text)
    for pattern, repl in _COMPLEX:
        text = pattern.sub(repl, text)
    return text


def is_known(key: str) -> bool:
    """Whether the runtime can resolve `key` (exact names, known families, `map` outputs)."""
    return resolver_for(key) is not None or key in _CUSTOM.get()


@contextlib.contextmanager
def custom_keys(keys: Iterable[str]) -> Iterator[None]:
    """Treat `keys` as known placeholders (a config's `map` destinations) inside the block."""
    token = _CUSTOM.set(frozenset(keys))
    try:
        yield
    finally:
        _CUSTOM.reset(token)


def map_destinations(lines: Iterable[Line]) -> set[str]:
    """The placeholder names every `map` directive in `lines` (and their blocks) defines.

    Caddy's map handler publishes them at run time; the compiler must know
    them before the directives that use them are parsed.
    """
    found: set[str] = set()
    for line in lines:
        args = [t.text for t in line.args]
        if line.name is not None and line.name.text == "map" and args:
            if args[0].startswith(("@", "/")) or args[0] == "*":
                args = args[1:]
            for dest in args[1:]:
                if dest.startswith("{") and dest.endswith("}") and dest.count("{") == 1:
                    found.add(dest[1:-1])
        if line.block is not None:
            found |= map_destinations(line.block.lines)
    return found


def parse(raw: str, *, keep_unknown: bool = True) -> Text:
    """Split `raw` into literal text and placeholder references."""
    if "{" not in raw and "}" not in raw:
        return Text(raw, (raw,) if raw else ())
    parts: list[str | Ph] = []
    buf: list[str] = []
    cursor = 0
    i = 0
    n = len(raw)
    while i < n:
        ch = raw[i]
        if i > 0 and raw[i - 1] == "\\" and ch in "{}":
            buf.append(raw[cursor : i - 1])  # drop the escaping backslash
            cursor = i
            i += 1
            continue
        if ch != "{":
            i += 1
            continue
        end = raw.find("}", i)
        if end < 0:
            i += 1
            continue
        # the first closing brace that is not escaped
        unclosed = False
        while 0 < end < n - 1 and raw[end - 1] == "\\":
            nxt = raw.find("}", end + 1)
            if nxt < 0:
                unclosed = True
                break
            end = nxt
        if unclosed:
            i += 1
            continue
        key = raw[i + 1 : end]
        if not is_known(key) and keep_unknown:
            i += 1  # Caddy keeps scanning inside an unknown placeholder
            continue
        buf.append(raw[cursor:i])
        if buf_text := "".join(buf):
            parts.append(buf_text)
        buf = []
        if is_known(key):
            parts.append(Ph(key))
        i = end + 1
        cursor = i
    buf.append(raw[cursor:])
    if tail := "".join(buf):
        parts.append(tail)
    return Text(raw, tuple(_merge(parts)))


def _merge(parts: list[str | Ph]) -> list[str | Ph]:
    out: list[str | Ph] = []
    for part in parts:
        if isinstance(part, str) and out and isinstance(out[-1], str):
            out[-1] += part
        else:
            out.append(part)
    return out


def unknown_keys(raw: str) -> list[str]:
    """Keys in `raw` that no resolver knows (for `rpc check` warnings)."""
    keys = []
    for match in re.finditer(r"(?<!\\)\{([^{}\\]+)\}", raw):
        key = match.group(1)
        if not key.startswith("$") and not is_known(key):
            keys.append(key)
    return keys
