"""The reverse_proxy and header emitters: what a compiled module builds, and what it refuses."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from rpc.compiler.errors import RpcError
from rpc.compiler.pipeline import compile_caddyfile
from rpc.runtime import policies
from rpc.runtime.headers import Headers
from rpc.runtime.proxy import ReverseProxy

HEAD = "{\n\tadmin off\n\tauto_https off\n}\nhttp://:8080 {\n"


def load(tmp_path: Path, body: str) -> ModuleType:
    source = compile_caddyfile(HEAD + body + "\n}\n", "Caddyfile").python
    assert source is not None
    path = tmp_path / "gen.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("gen_proxy", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_proxy"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["gen_proxy"]
    return module


def objects(module: ModuleType, kind: type) -> list[object]:
    return [v for v in vars(module).values() if isinstance(v, kind)]


def test_every_supported_option_reaches_the_runtime(tmp_path: Path) -> None:
    module = load(
        tmp_path,
        """
    reverse_proxy 127.0.0.1:9001 {vars.shard}:80 {
        lb_policy cookie sticky s3cret {
            fallback first
        }
        lb_retries 2
        lb_try_duration 5s
        lb_retry_match {
            method POST
            path /idem/*
        }
        health_uri /health?x=1
        health_interval 2s
        health_status 2xx
        health_body ok
        health_headers {
            X-Probe yes
        }
        fail_duration 30s
        max_fails 3
        unhealthy_status 5xx 429
        unhealthy_latency 2s
        unhealthy_request_count 100
        flush_interval -1
        request_buffers 4KB
        trusted_proxies private_ranges
        header_up Host {upstream_hostport}
        header_up -X-Secret*
        header_down X-Path "^/old(.*)$" "/new$1"
        method PUT
        rewrite /api{uri}
        transport http {
            dial_timeout 2s
            response_header_timeout 9s
            keepalive 30s
            keepalive_idle_conns_per_host 8
            max_conns_per_host 64
            compression off
            tls_insecure_skip_verify
            tls_server_name api.internal
        }
        @bad status 5xx
        handle_response @bad {
            respond "bad" 503
        }
    }
""",
    )
    (rp,) = objects(module, ReverseProxy)
    assert isinstance(rp, ReverseProxy)
    assert [u.dial for u in rp.upstreams] == ["127.0.0.1:9001", "{http.vars.shard}:80"]
    assert rp.templates[0] is None and rp.templates[1] is not None
    policy = rp.selection_policy
    assert isinstance(policy, policies.CookieHash)
    assert (policy.name, policy.secret) == ("sticky", "s3cret")
    assert isinstance(policy.fallback, policies.First)
    assert (rp.retries, rp.try_duration, rp.try_interval) == (2, 5.0, 0.25)
    assert rp.retry_match is not None and len(rp.retry_match) == 1
    passive = rp.passive_health
    assert passive is not None
    assert (passive.fail_duration, passive.max_fails) == (30.0, 3)
    assert rp.upstreams[0].max_requests == 100
    assert rp._active is not None and rp._active.uri == "/health?x=1"
    assert rp.flush_interval < 0
    assert rp.request_buffers == 4000
    assert any(str(n) == "10.0.0.0/8" for n in rp.trusted_proxies)
    t = rp.transport
    assert (t.dial_timeout, t.response_header_timeout, t.idle_timeout) == (2.0, 9.0, 30.0)
    assert (t.max_idle_conns_per_host, t.max_conns_per_host, t.compression) == (8, 64, False)
    assert t.tls is not None and t.tls_server_name == "api.internal"
    assert rp.rewrite_method == "PUT"
    assert len(rp.handle_response) == 1 and rp.handle_response[0].routes is not None


def test_header_directives_build_headers_handlers(tmp_path: Path) -> None:
    module = load(
        tmp_path,
        """
    header X-A a
    header {
        -Server
        defer
    }
    header ?X-Default d
    request_header X-Req "{path}"
    respond ok
""",
    )
    found = objects(module, Headers)
    assert len(found) == 4
    assert sum(1 for h in found if isinstance(h, Headers) and h.deferred) == 1
    assert sum(1 for h in found if isinstance(h, Headers) and h.require is not None) == 1


@pytest.mark.parametrize(
    "body, message",
    [
        ("reverse_proxy h2c://127.0.0.1:9000", "HTTP/1.1"),
        (
            "reverse_proxy 127.0.0.1:9000 {\n transport http {\n proxy_protocol v2\n }\n}",
            "proxy_protocol",
        ),
        (
            "reverse_proxy 127.0.0.1:9000 {\n transport fastcgi {\n split .php\n }\n}",
            "transport fastcgi",
        ),
    ],
)
def test_unsupported_options_are_refused(body: str, message: str) -> None:
    with pytest.raises(RpcError) as err:
        compile_caddyfile(HEAD + body + "\n}\n", "Caddyfile")
    (diag,) = err.value.errors
    assert message in diag.message and diag.span is not None
