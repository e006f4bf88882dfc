"""The `log` site directive and global option (outputs, formats, filters, levels,
include/exclude, hostnames) and the logger associations: checked against the real caddy."""

from __future__ import annotations

import pytest

from rpctest.lowering import adapt_error
from rpctest.oracle import assert_same_as_caddy


def site(*lines: str, addr: str = ":80") -> str:
    return addr + " {\n" + "\n".join("\t" + ln.replace("\n", "\n\t") for ln in lines) + "\n}\n"


def log(*lines: str, head: str = "log", addr: str = ":80") -> str:
    body = "\n".join("\t" + ln.replace("\n", "\n\t") for ln in lines)
    return site(f"{head} {{\n{body}\n}}", addr=addr)


def glog(*lines: str, head: str = "log", sites: str = ":80 {\n}\n") -> str:
    body = "\n".join("\t\t" + ln.replace("\n", "\n\t\t") for ln in lines)
    return "{\n\t" + head + " {\n" + body + "\n\t}\n}\n" + sites


def fwrite(*lines: str) -> str:
    body = "\n".join("\t" + ln for ln in lines)
    return log(f"output file /var/log/a.log {{\n{body}\n}}")


SITE = [
    site("log"),
    site("log access"),
    site("log a b"),
    log("output stdout"),
    log("output stderr"),
    log("output discard"),
    log("output file /var/log/access.log"),
    log("output file"),
    log("output net localhost:9999 {\n\tdial_timeout 5s\n\tsoft_start\n}"),
    log("output bogus"),
    log("output"),
    log("format json"),
    log("format console"),
    log("format json {\n\ttime_format iso8601\n\ttime_local\n\tmessage_key msg\n}"),
    log("format json {\n\tbogus x\n}"),
    log("format console x"),
    log("format bogus"),
    log(
        "format filter {\n\twrap console\n\tfields {\n\t\trequest>headers>Authorization delete\n\t}\n}"
    ),
    log("format filter {\n\trequest>remote_ip ip_mask 16 32\n}"),
    log("format filter {\n\trequest>uri query {\n\t\tdelete token\n\t\treplace id X\n\t}\n}"),
    log("format filter {\n\tx regexp a b\n\tx regexp c d\n}"),
    log("format filter {\n\tx hash\n\tx delete\n}"),
    log("format filter {\n\tx replace REDACTED\n}"),
    log("format filter {\n\tx cookie {\n\t\thash session\n\t}\n}"),
    log("format append {\n\tfields {\n\t\tenv prod\n\t\tn 5\n\t}\n}"),
    log("level debug"),
    log("level INFO"),
    log("level"),
    log("level a b"),
    log("hostnames a.example.com b.example.com"),
    log("hostnames"),
    log("no_hostname"),
    log("include http.log.access"),
    log("sampling {\n\tinterval 1s\n\tfirst 10\n\tthereafter 100\n}"),
    log("sampling {\n\tfirst x\n}"),
    log("bogus"),
    log("output stdout", head="log named"),
    site("log", addr="example.com") + site("respond hi", addr="other.example.com"),
    site("log") + site("log", addr=":81"),
    site("log one", "log two"),
    site("log", addr="example.com:8080"),
    site("log", addr="example.com, :443"),
    "{\n\tdebug\n}\n" + site("log"),
    "{\n\tdebug\n}\n" + log("level warn"),
]

FILE_WRITER = [
    fwrite("mode 0644", "dir_mode 0755"),
    fwrite("mode 644"),
    fwrite("mode 7777"),
    fwrite("mode 999"),
    fwrite("mode 40000000000"),
    fwrite("dir_mode from_file"),
    fwrite("dir_mode 755"),
    fwrite("dir_mode abc"),
    fwrite("roll_disabled"),
    fwrite("roll_size 100MiB"),
    fwrite("roll_size 1.5mb"),
    fwrite("roll_size 0"),
    fwrite("roll_size huge"),
    fwrite("roll_uncompressed"),
    fwrite("roll_compression zstd"),
    fwrite("roll_compression foo"),
    fwrite("roll_local_time"),
    fwrite("roll_keep 5"),
    fwrite("roll_keep 0"),
    fwrite("roll_keep x"),
    fwrite("roll_keep_for 90d"),
    fwrite("roll_keep_for 1h"),
    fwrite("roll_keep_for 0"),
    fwrite("roll_keep_for -1h"),
    fwrite("roll_interval 12h"),
    fwrite("roll_interval 0"),
    fwrite("roll_at 00:00 06:00,12:00"),
    fwrite("roll_at 00:00,,06:00"),
    fwrite("roll_minutes 10 40,45"),
    fwrite("roll_minutes a"),
    fwrite("backup_time_format 2006-01-02"),
    fwrite("bogus"),
]

GLOBAL = [
    "{\n\tlog access {\n\t\tinclude http.log.access\n\t\toutput stdout\n\t}\n}\na.com {\n}\nb.com {\n}\n",
    "{\n\tlog default {\n\t\texclude http.log.access\n\t}\n}\na.com {\n\tlog\n}\n",
    "a.com {\n\tlog\n}\nb.com {\n}\n:443 {\n}\n",
    "a.com, b.com {\n\tlog x {\n\t\thostnames b.com\n\t}\n}\n",
    ":80 {\n\tlog\n}\nhttp://a.com {\n\tlog {\n\t\toutput stdout\n\t}\n}\n",
    "a.com {\n\tlog {\n\t\tformat filter {\n\t\t\trequest>headers>Cookie cookie {\n\t\t\t\treplace session REDACTED\n\t\t\t\tdelete x\n\t\t\t}\n\t\t}\n\t}\n}\n",
    ":80 {\n\tlog {\n\t\tformat json {\n\t\t\tlevel_format color\n\t\t\ttime_format unix_seconds_float\n\t\t\tduration_format ms\n\t\t}\n\t}\n}\n",
    ":80 {\n\tlog {\n\t\tlevel debug\n\t\toutput file /tmp/x.log\n\t}\n\tlog {\n\t\tlevel error\n\t}\n}\n",
    "{\n\tlog {\n\t\tlevel WARN\n\t\tinclude http.log.access.foo\n\t}\n}\n" + site("log foo"),
    "{\n\tdebug\n\tlog {\n\t\tlevel INFO\n\t}\n}\n" + site("log"),
    log("output stdout extra"),
    log("hostnames x.com", addr="a.com, b.com:8080"),
    site("log", "log {\n\tno_hostname\n}", addr="a.com"),
    glog("output stdout"),
    glog("level DEBUG"),
    glog("include http.log.access", "output file /var/log/access.log"),
    glog("exclude http.log.access admin"),
    glog("hostnames a.com"),
    glog("format console", head="log custom"),
    glog("output stderr", head="log default"),
    "{\n\tlog {\n\t\tlevel INFO\n\t}\n\tlog {\n\t\tlevel DEBUG\n\t}\n}\n:80 {\n}\n",
    "{\n\tlog a {\n\t}\n\tlog b {\n\t\tinclude x\n\t}\n}\n:80 {\n}\n",
    "{\n\tdebug\n\tlog {\n\t\toutput stdout\n\t}\n}\n:80 {\n}\n",
    "{\n\tlog access {\n\t\tinclude http.log.access\n\t}\n}\n" + site("log"),
    glog("core mock"),
]


# Argument counts, bad values and less common forms.
EDGES = [
    "{\n\tlog {\n\t\tformat json x\n\t}\n}\nexample.com {\n}\n",
    "{\n\tlog a b {\n\t}\n}\nexample.com {\n}\n",
    "{\n\tlog {\n\t\tsampling {\n\t\t\tinterval x\n\t\t}\n\t}\n}\nexample.com {\n}\n",
    "{\n\tlog {\n\t\toutput net\n\t}\n}\nexample.com {\n}\n",
    "{\n\tlog {\n\t\toutput net a {\n\t\t\tdial_timeout x\n\t\t}\n\t}\n}\nexample.com {\n}\n",
    "{\n\tlog {\n\t\tinclude\n\t}\n}\nexample.com {\n}\n",
    "{\n\tlog {\n\t\tlevel\n\t}\n}\nexample.com {\n}\n",
    "example.com {\n\tlog {\n\t\tformat filter {\n\t\t\tx ip_mask {\n\t\t\t\tipv4 24\n\t\t\t\tipv6 64\n\t\t\t}\n\t\t}\n\t}\n}\n",
    "example.com {\n\tlog {\n\t\tformat filter {\n\t\t\tx multi_regexp {\n\t\t\t\tregexp a b\n\t\t\t\tregexp c d\n\t\t\t}\n\t\t}\n\t}\n}\n",
    "example.com {\n\tlog {\n\t\tformat filter {\n\t\t\tx rename y\n\t\t\tz query {\n\t\t\t\thash p\n\t\t\t}\n\t\t}\n\t}\n}\n",
    "example.com {\n\tlog {\n\t\tformat filter {\n\t\t\tx bogus\n\t\t}\n\t}\n}\n",
    "example.com {\n\tlog {\n\t\tformat journald\n\t}\n}\n",
    "example.com {\n\tlog {\n\t\tformat journald {\n\t\t\twrap console\n\t\t}\n\t}\n}\n",
    "example.com {\n\tlog {\n\t\tformat append {\n\t\t\twrap console\n\t\t\tk v\n\t\t}\n\t}\n}\n",
    "example.com {\n\tlog {\n\t\tcore mock\n\t}\n}\n",
    "example.com {\n\tlog {\n\t\tcore bogus\n\t}\n}\n",
]


@pytest.mark.parametrize("text", SITE + FILE_WRITER + GLOBAL + EDGES)
def test_same_json_as_caddy(text: str, caddy: str) -> None:
    assert_same_as_caddy(text)


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        (log("bogus"), "RPC301", "unrecognized subdirective: bogus"),
        (log("output bogus"), "RPC303", "caddy.logging.writers.bogus"),
        (glog("hostnames a.com"), "RPC312", "hostnames is not allowed"),
        (log("include x"), "RPC312", "include is not allowed"),
        (fwrite("roll_compression foo"), "RPC303", "must be 'none', 'gzip' or 'zstd'"),
    ],
)
def test_errors_name_the_problem(text: str, code: str, fragment: str) -> None:
    diag = adapt_error(text)
    assert (diag.code, fragment in diag.message) == (code, True), diag.message
    assert diag.span is not None and diag.span.line > 0
    assert diag.hint
