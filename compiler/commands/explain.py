"""`rpc explain FILE "METHOD URL" [-H "Name: value"]... [--remote-ip IP] [--format text|json]`.

Shows which listener and site a request reaches, every route tried with
each matcher's result (and what the request had when it failed), the
handlers in execution order (noting where Caddy's directive order moved
one), rewrites, and the final response or upstream pool. Nothing is sent
over the network.
"""

from __future__ import annotations

import argparse
import json
import sys

from rpc.compiler.cli import EXIT_USAGE
from rpc.compiler.commands.inputs import read_input
from rpc.compiler.explain import Explanation, RequestSpec, load
from rpc.compiler.source import SourceMap

HELP = "show which route, handlers and upstream a request gets, and why"

__all__ = ["HELP", "add_arguments", "parse_header", "render_text", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the Caddyfile (`-` for stdin)")
    parser.add_argument("request", help='the request, e.g. "GET http://localhost:8080/api/x?q=1"')
    parser.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header (repeatable)",
    )
    parser.add_argument("--remote-ip", default="127.0.0.1", help="the client's address")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise ValueError(f"a header is 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def run(args: argparse.Namespace, sources: SourceMap) -> int:
    method, _, url = args.request.strip().partition(" ")
    if not url:
        method, url = "GET", method
    try:
        headers = tuple(parse_header(h) for h in args.header)
    except ValueError as exc:
        print(f"rpc: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    name, text = read_input(args.file)
    traced = load(text, name, sources)
    spec = RequestSpec(method.upper(), url.strip(), headers, args.remote_ip)
    try:
        result = traced.explain(spec)
    except ValueError as exc:
        print(f"rpc: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "json":
        json.dump(result.as_json(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(result))
    return 0


def render_text(x: Explanation) -> str:
    lines = [
        f"{x.request.method} {x.request.url}",
        f"  listener  {x.server} ({', '.join(x.listen)})",
    ]
    for step in x.steps:
        if step.kind == "route":
            mark = "matched" if step.matched else "skipped"
            lines.append(f"  {step.origin:<16} route {mark}: {step.text}")
        else:
            status = f" → {step.status}" if step.status is not None and step.kind != "stub" else ""
            label = {"stub": "would proxy", "error": "failed"}.get(step.kind, "ran")
            lines.append(f"  {step.origin:<16} {step.text} ({label}){status}")
        lines.extend(f"  {'':<16}   {note}" for note in step.notes)
    if x.error:
        lines.append(f"  error     {x.error} (handled by the site's error routes when it has them)")
    if x.proxied is not None and x.proxied.get("handler") == "reverse_proxy":
        p = x.proxied
        lines.append(f"  upstreams {', '.join(p['upstreams']) or '(dynamic)'} ({p['policy']})")
        if "chosen" in p:
            lines.append(f"  chosen    {p['chosen']}")
        lines.append("  result    proxied (the response comes from the upstream)")
    else:
        body = x.body.decode("utf-8", "replace")
        shown = body if len(body) <= 200 else body[:200] + "…"
        lines.append(f"  result    {x.status}" + (f" {shown!r}" if body else " (empty body)"))
        for k, v in x.headers:
            lines.append(f"  {'':<9} {k}: {v}")
    return "\n".join(lines) + "\n"
