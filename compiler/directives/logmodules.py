"""The `log` directive and global option, with Caddy's log writers, encoders and filters.

Input: a dispenser over one `log` segment; output: a `SiteLog` (the logger it
defines, its name and the hosts it covers). A port of `builtins.go`
`parseLogHelper` and of the `UnmarshalCaddyfile` methods of the standard
logging modules (`modules/logging`: file and net writers; json, console,
filter, append and journald encoders; the field filters).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from rpc.compiler.directives.modparse import atoi, duration, kw, size, unmarshal_module
from rpc.compiler.dispenser import Dispenser
from rpc.compiler.ir.base import Duration
from rpc.compiler.ir.logs import Logger, Module, Obj, Sampling, SiteLog
from rpc.compiler.values import parse_duration

__all__ = ["DEFAULT_LOGGER", "parse_log"]

DEFAULT_LOGGER = "default"
LOG_COUNTER_STATE = "logCounter"


def parse_log(d: Dispenser, state: dict[str, Any], global_names: set[str] | None) -> SiteLog:
    """`log [<name>] { hostnames, no_hostname, output, format, core, level, sampling,
    include, exclude }` (`include`/`exclude` only as a global option, `hostnames` only
    in a site). `global_names` is the set of names global `log` options used so far,
    or None for the site directive."""
    d.next()
    as_global = global_names is not None
    name = ""
    if d.next_arg():
        name = d.val
        if d.next_arg():
            raise d.arg_err()
    if global_names is not None:
        name = name or DEFAULT_LOGGER
        if name in global_names:
            raise d.error("duplicate global log option for: " + name, code="RPC307")
        global_names.add(name)

    log = Logger(name="")
    hostnames: list[str] = []
    no_hostname = False
    while d.next_block(0):
        opt = d.val
        if opt == "hostnames":
            if as_global:
                raise d.error("hostnames is not allowed in the log global options", code="RPC312")
            args = d.remaining_args()
            if not args:
                raise d.arg_err()
            hostnames.extend(args)
        elif opt == "output":
            d.require_arg()
            log = replace(log, writer=_writer(d))
        elif opt == "sampling":
            log = replace(log, sampling=_sampling(d.new_from_next_segment()))
        elif opt == "core":
            d.require_arg()
            log = replace(
                log, core=unmarshal_module(d, "caddy.logging.cores.", {"mock": _mock_core})
            )
        elif opt == "format":
            d.require_arg()
            log = replace(log, encoder=parse_encoder(d))
        elif opt == "level":
            level = d.require_arg()
            if d.next_arg():
                raise d.arg_err()
            log = replace(log, level=level)
        elif opt in ("include", "exclude"):
            if not as_global:
                raise d.error(f"{opt} is not allowed in the log directive", code="RPC312")
            values = tuple(d.remaining_args())
            if opt == "include":
                log = replace(log, include=log.include + values)
            else:
                log = replace(log, exclude=log.exclude + values)
        elif opt == "no_hostname":
            if d.next_arg():
                raise d.arg_err()
            no_hostname = True
        else:
            raise d.error(f"unrecognized subdirective: {opt}", code="RPC301")

    empty = log.is_empty()
    if not as_global:
        if not name and not empty:
            counter = state.get(LOG_COUNTER_STATE, 0)
            name = f"log{counter}"
            state[LOG_COUNTER_STATE] = counter + 1
        if name:
            log = replace(log, include=("http.log.access." + name,))
    return SiteLog(
        name=name,
        hostnames=tuple(hostnames),
        logger=None if empty else replace(log, name=name, span=d.head_span),
        no_hostname=no_hostname,
        span=d.head_span,
    )


def _sampling(d: Dispenser) -> Sampling:
    while d.next_arg():
        pass
    out = Sampling()
    nesting = d.nesting
    while d.next_block(nesting):
        sub = d.val
        if sub == "interval":
            text = d.require_arg()
            out = replace(out, interval=duration(d, text, "failed to parse interval: {err}").ns)
        elif sub in ("first", "thereafter"):
            text = d.require_arg()
            value = atoi(d, text, f"failed to parse {sub}: {{err}}")
            out = replace(out, **kw(sub, value))
        else:
            raise d.error(f"unrecognized subdirective: {sub}", code="RPC301")
    return out


def _mock_core(d: Dispenser) -> Module:
    return Module(tag="module", module="mock")


# ---------------------------------------------------------------- writers


def _writer(d: Dispenser) -> Module:
    name = d.val
    if name in ("stdout", "stderr", "discard"):
        # Built into Caddy's core; the rest of the line is not theirs to read.
        return Module(tag="output", module=name)
    return unmarshal_module(d, "caddy.logging.writers.", {"file": _file_writer, "net": _net_writer})


def _file_writer(d: Dispenser) -> Module:
    """`file <filename> { mode, dir_mode, roll_disabled, roll_size, roll_uncompressed,
    roll_compression, roll_local_time, roll_keep, roll_keep_for, roll_interval, roll_minutes,
    roll_at, backup_time_format }`."""
    d.next()
    filename = d.require_arg()
    if d.next_arg():
        raise d.arg_err()
    s: dict[str, object] = {"filename": filename}
    while d.next_block(0):
        opt = d.val
        if opt == "mode":
            s["mode"] = f"{_file_mode(d, d.require_only_arg()):04o}"
        elif opt == "dir_mode":
            text = d.require_only_arg()
            if text != "from_file":
                _file_mode(d, text, "dir_mode")
            s["dir_mode"] = text  # kept as written
        elif opt == "roll_compression":
            text = d.require_only_arg()
            if text not in ("none", "gzip", "zstd"):
                raise d.error(
                    "parsing roll_compression: must be 'none', 'gzip' or 'zstd'", code="RPC303"
                )
            s["roll_compression"] = text
        elif opt == "roll_disabled":
            s["roll"] = False
            if d.next_arg():
                raise d.arg_err()
        elif opt == "roll_size":
            n = size(d, d.require_only_arg(), "parsing size: {err}")
            s["roll_size_mb"] = math.ceil(n / (1 << 20))
        elif opt == "roll_uncompressed":
            s["roll_gzip"] = False
            if d.next_arg():
                raise d.arg_err()
        elif opt == "roll_local_time":
            s["roll_local_time"] = True
            if d.next_arg():
                raise d.arg_err()
        elif opt == "roll_keep":
            s["roll_keep"] = atoi(d, d.require_only_arg(), "parsing roll_keep number: {err}")
        elif opt == "roll_keep_for":
            text = d.require_only_arg()
            keep = duration(d, text, "parsing roll_keep_for duration: {err}")
            if keep.ns < 0:
                raise d.error(f"negative roll_keep_for duration: {text}")
            s["roll_keep_days"] = math.ceil(keep.ns / 3_600_000_000_000 / 24)
        elif opt == "roll_interval":
            s["roll_interval"] = duration(
                d, d.require_only_arg(), "parsing roll_interval duration: {err}"
            )
        elif opt == "roll_minutes":
            s["roll_minutes"] = tuple(
                atoi(d, p, "parsing roll_minutes number: {err}")
                for p in _list_arg(d, "roll_minutes")
            )
        elif opt == "roll_at":
            s["roll_at"] = tuple(_list_arg(d, "roll_at"))
        elif opt == "backup_time_format":
            s["backup_time_format"] = d.require_only_arg()
        else:
            raise d.error(f"unrecognized subdirective '{opt}'", code="RPC301")
    return _module("output", "file", s)


def _file_mode(d: Dispenser, text: str, what: str = "mode") -> int:
    """An octal permission (Go's `ParseUint(s, 8, 32)` after padding to four digits)."""
    padded = text.rjust(4, "0")
    if not re.fullmatch(r"[0-7]+", padded):
        raise d.error(
            f'parsing {what}: strconv.ParseUint: parsing "{padded}": invalid syntax',
            code="RPC303",
        )
    if int(padded, 8) >= 1 << 32:
        raise d.error(
            f'parsing {what}: strconv.ParseUint: parsing "{padded}": value out of range',
            code="RPC303",
        )
    return int(padded, 8)


def _list_arg(d: Dispenser, what: str) -> list[str]:
    """All remaining arguments, each split at commas (`roll_at`, `roll_minutes`)."""
    args = d.remaining_args()
    if not args:
        raise d.arg_err()
    out = []
    for arg in args:
        for part in arg.split(","):
            part = part.strip()
            if not part:
                raise d.error(f"parsing {what}: empty value", code="RPC303")
            out.append(part)
    return out


def _net_writer(d: Dispenser) -> Module:
    """`net <address> { dial_timeout <duration>; soft_start }`."""
    d.next()
    address = d.require_arg()
    if d.next_arg():
        raise d.arg_err()
    s: dict[str, object] = {"address": address}
    while d.next_block(0):
        opt = d.val
        if opt == "dial_timeout":
            text = d.require_arg()
            try:
                s["dial_timeout"] = parse_duration(text)
            except ValueError:
                raise d.error(f"invalid duration: {text}") from None
            if d.next_arg():
                raise d.arg_err()
        elif opt == "soft_start":
            if d.next_arg():
                raise d.arg_err()
            s["soft_start"] = True
        else:
            raise d.error(f"unrecognized subdirective '{opt}'", code="RPC301")
    return _module("output", "net", s)


def _module(tag: str, name: str, settings: dict[str, object]) -> Module:
    # Go's omitempty drops zero numbers and durations (but `false` booleans are pointers).
    def zero(v: object) -> bool:
        return (isinstance(v, int) and not isinstance(v, bool) and v == 0) or (
            isinstance(v, Duration) and v.ns == 0
        )

    return Module(
        tag=tag, module=name, settings=tuple((k, v) for k, v in settings.items() if not zero(v))
    )


# ---------------------------------------------------------------- encoders


def parse_encoder(d: Dispenser) -> Module:
    """`<encoder> ...`: json, console, filter, append, journald."""
    return unmarshal_module(d, "caddy.logging.encoders.", _ENCODERS)


def _plain_encoder(name: str) -> Callable[[Dispenser], Module]:
    """json / console: `<name> { <common encoder options> }`."""

    def parse(d: Dispenser) -> Module:
        d.next()
        if d.next_arg():
            raise d.arg_err()
        return _module("format", name, _encoder_config(d))

    return parse


_ENCODER_KEYS = (
    "message_key",
    "level_key",
    "time_key",
    "name_key",
    "caller_key",
    "stacktrace_key",
    "line_ending",
    "time_format",
    "duration_format",
    "level_format",
)
# The JSON field order of Caddy's LogEncoderConfig.
_ENCODER_ORDER = (
    *_ENCODER_KEYS[:7],
    "time_format",
    "time_local",
    "duration_format",
    "level_format",
)


def _encoder_config(d: Dispenser) -> dict[str, object]:
    s: dict[str, object] = {}
    while d.next_block(0):
        sub = d.val
        if sub == "time_local":
            s["time_local"] = True
            if d.next_arg():
                raise d.arg_err()
            continue
        arg = d.require_only_arg()
        if sub not in _ENCODER_KEYS:
            raise d.error(f"unrecognized subdirective {sub}", code="RPC301")
        s[sub] = arg
    return {k: s[k] for k in _ENCODER_ORDER if k in s}


def _wrap(d: Dispenser) -> Module:
    d.require_arg()
    return parse_encoder(d)


def _filter_encoder(d: Dispenser) -> Module:
    """`filter { wrap <encoder>; fields { <field> <filter> ... }; <field> <filter> ... }`."""
    d.next()
    fields: dict[str, Module] = {}
    regexps: dict[str, list[Module]] = {}

    def field() -> None:
        name = d.val
        d.require_arg()
        flt = unmarshal_module(d, "caddy.logging.encoders.filter.", _FILTERS)
        if flt.module == "regexp":
            regexps.setdefault(name, []).append(flt)
            return
        if name in regexps:
            raise d.error(f"cannot mix regexp filters with other filter types for field {name}")
        if name in fields:
            raise d.error(
                f"field {name} already has a filter; multiple non-regexp filters per field "
                "are not supported",
                code="RPC307",
            )
        fields[name] = flt

    wrap = _wrap_and_fields(d, field)
    for name, found in regexps.items():
        if len(found) == 1:
            fields[name] = found[0]
            continue
        ops = []
        for one in found:
            pattern = str(one.get("regexp", ""))
            if not pattern:
                raise d.error(
                    f"adding regexp operation for field {name}: regexp pattern cannot be empty"
                )
            ops.append(Obj(items=(("regexp", pattern), ("value", one.get("value", "")))))
        fields[name] = Module(
            tag="filter", module="multi_regexp", settings=(("operations", tuple(ops)),)
        )
    return _wrapping_encoder("filter", wrap, fields)


def _append_encoder(d: Dispenser) -> Module:
    """`append { wrap <encoder>; fields { <field> <value> }; <field> <value> }`."""
    d.next()
    fields: dict[str, object] = {}

    def field() -> None:
        name = d.val
        d.require_arg()
        fields[name] = d.scalar_val()
        if d.next_arg():
            raise d.arg_err()

    wrap = _wrap_and_fields(d, field)
    return _wrapping_encoder("append", wrap, fields)


def _wrap_and_fields(d: Dispenser, field: Callable[[], None]) -> Module | None:
    """The block of `filter` and `append`: `wrap <encoder>`, and fields given one per line,
    either directly or inside `fields { }` (`field` reads the one at the cursor)."""
    wrap: Module | None = None
    while d.next_block(0):
        if d.val == "wrap":
            wrap = _wrap(d)
        elif d.val == "fields":
            nesting = d.nesting
            while d.next_block(nesting):
                field()
        else:
            field()
    return wrap


def _wrapping_encoder(name: str, wrap: Module | None, fields: Mapping[str, object]) -> Module:
    """The `filter` and `append` encoders: an inner encoder and per-field settings."""
    s: dict[str, object] = {}
    if wrap is not None:
        s["wrap"] = wrap
    if fields:
        s["fields"] = Obj(items=tuple(fields.items()))
    return _module("format", name, s)


def _journald_encoder(d: Dispenser) -> Module:
    """`journald { wrap <encoder> }`."""
    d.next()
    if d.next_arg():
        raise d.arg_err()
    wrap: Module | None = None
    while d.next_block(0):
        if d.val != "wrap":
            raise d.error(f"unrecognized subdirective {d.val}", code="RPC301")
        wrap = _wrap(d)
    return _module("format", "journald", {"wrap": wrap} if wrap is not None else {})


_ENCODERS: dict[str, Callable[[Dispenser], Module]] = {
    "json": _plain_encoder("json"),
    "console": _plain_encoder("console"),
    "filter": _filter_encoder,
    "append": _append_encoder,
    "journald": _journald_encoder,
}


# ---------------------------------------------------------------- field filters


def _filter(name: str, settings: dict[str, object] | None = None) -> Module:
    return _module("filter", name, settings or {})


def _no_config(name: str) -> Callable[[Dispenser], Module]:
    """delete / hash: no settings (and Caddy reads none of their tokens)."""
    return lambda d: _filter(name)


def _one_value(name: str, key: str) -> Callable[[Dispenser], Module]:
    """replace <value> / rename <name>."""

    def parse(d: Dispenser) -> Module:
        d.next()
        return _filter(name, {key: d.val} if d.next_arg() else {})

    return parse


def _regexp_filter(d: Dispenser) -> Module:
    d.next()
    s: dict[str, object] = {}
    if d.next_arg():
        s["regexp"] = d.val
    if d.next_arg():
        s["value"] = d.val
    return _filter("regexp", s)


def _multi_regexp_filter(d: Dispenser) -> Module:
    d.next()
    ops: list[Obj] = []
    while d.next_block(0):
        if d.val != "regexp":
            raise d.error(f"unrecognized subdirective {d.val}", code="RPC301")
        if len(ops) >= 50:
            raise d.error("too many regexp operations (maximum 50 allowed)")
        pattern = d.require_arg()
        if len(pattern) > 1000:
            raise d.error("regexp pattern too long (maximum 1000 characters)")
        if not pattern:
            raise d.error("regexp pattern cannot be empty")
        ops.append(Obj(items=(("regexp", pattern), ("value", d.require_arg()))))
    if not ops:
        raise d.error("multi_regexp filter requires at least one regexp operation")
    return _filter("multi_regexp", {"operations": tuple(ops)})


def _ip_mask_filter(d: Dispenser) -> Module:
    d.next()
    args = d.remaining_args()
    if len(args) > 2:
        raise d.error("too many arguments", code="RPC302")
    s: dict[str, object] = {}
    for key, text in zip(("ipv4_cidr", "ipv6_cidr"), args):
        s[key] = atoi(d, text, f"error parsing {text}: {{err}}")
    while d.next_block(0):
        if d.val not in ("ipv4", "ipv6"):
            raise d.error(f"unrecognized subdirective {d.val}", code="RPC301")
        key = d.val + "_cidr"
        text = d.require_arg()
        s[key] = atoi(d, text, f"error parsing {text}: {{err}}")
    return _filter("ip_mask", {k: s[k] for k in ("ipv4_cidr", "ipv6_cidr") if s.get(k)})


def _actions_filter(name: str, key: str) -> Callable[[Dispenser], Module]:
    """query (`parameter`) / cookie and set_cookie (`name`): replace, hash, delete."""

    def parse(d: Dispenser) -> Module:
        d.next()
        actions: list[Obj] = []
        while d.next_block(0):
            kind = d.val
            if kind not in ("replace", "hash", "delete"):
                raise d.error(f"unrecognized subdirective {kind}", code="RPC301")
            target = d.require_arg()
            items: tuple[tuple[str, object], ...] = ((key, target), ("type", kind))
            if kind == "replace":
                items += (("value", d.require_arg()),)
            actions.append(Obj(items=items))
        return _filter(name, {"actions": tuple(actions) if actions else None})

    return parse


_FILTERS: dict[str, Callable[[Dispenser], Module]] = {
    "delete": _no_config("delete"),
    "hash": _no_config("hash"),
    "replace": _one_value("replace", "value"),
    "rename": _one_value("rename", "name"),
    "regexp": _regexp_filter,
    "multi_regexp": _multi_regexp_filter,
    "ip_mask": _ip_mask_filter,
    "query": _actions_filter("query", "parameter"),
    "cookie": _actions_filter("cookie", "name"),
    "set_cookie": _actions_filter("set_cookie", "name"),
}
