"""rpc graph: the diagram holds every listener, route, handler and pool, safely escaped."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from rpc.compiler.graph import build_graph, to_dot, to_mermaid
from rpc.compiler.pipeline import Stage, compile_caddyfile

CADDYFILE = """
:8080 {
	@api path /api/*
	reverse_proxy @api 127.0.0.1:9001 127.0.0.1:9002 {
		lb_policy least_conn
		health_uri /h
	}
	respond "a \\"quoted\\" {host} <b> | body"
	handle_errors 5xx {
		respond "oops"
	}
}
"""


def graph() -> object:
    return build_graph(compile_caddyfile(CADDYFILE, "Caddyfile", stop_after=Stage.IR).ir)


def test_graph_content() -> None:
    g = graph()
    labels = [n.label for n in g.nodes]  # type: ignore[attr-defined]
    assert labels[0] == "srv0\n:8080"
    assert any(lab.startswith("path /api/*\nCaddyfile:4") for lab in labels)
    assert any(
        "pool (least_conn)\n127.0.0.1:9001\n127.0.0.1:9002\nactive health" in lab for lab in labels
    )
    assert any(lab.startswith("srv0 errors") for lab in labels)
    assert any(lab.startswith("expression {http.error.status_code} >= 500") for lab in labels)


def test_mermaid_escapes_labels() -> None:
    text = to_mermaid(graph())  # type: ignore[arg-type]
    assert text.startswith("flowchart LR\n")
    for line in text.splitlines()[1:]:
        # every label is one quoted string with no raw quote, brace or pipe inside
        if "[" in line or "(" in line or "{" in line:
            inner = line.split('"', 1)[1].rsplit('"', 1)[0]
            assert '"' not in inner and "{" not in inner and "|" not in inner, line


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed")
def test_dot_renders_with_graphviz() -> None:
    dot = to_dot(graph())  # type: ignore[arg-type]
    out = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, check=True)
    assert "<svg" in out.stdout
