#!/usr/bin/env python3
"""rpc's benchmark: the generated app vs. a hand-written aiohttp proxy vs. Caddy, one session.

Loopback only; every load run is bounded in time. Two nginx backends answer a
64-byte body (`/small`, any path) and a 1 MiB file (`/big`). Contenders run
one process each (Caddy with GOMAXPROCS=1) and are measured in alternation,
round after round, so a noisy shared machine hurts all of them alike. The
summary reports medians and ratios between contenders of the same session:

    small      keep-alive, 64 B           rpc / aiohttp-naive / caddy
    big        keep-alive, 1 MiB          rpc / aiohttp-naive / caddy
    lb         round robin over 2         rpc / aiohttp-naive / caddy
    r1, r1000  1 vs 1000 `handle` routes, the last one hit     rpc / caddy
    h1, h1000  1 vs 1000 sites, the last one hit               rpc / caddy
    first, least, iphash   lb_policy first / least_conn / ip_hash over the
               same 2 backends (with `lb`: the cost of a policy decision)  rpc
    shard, static  jwt_shard_router (RS256 token, embedded map, token and
               shard cache hits) vs a static reverse_proxy, both requests
               carrying the same Authorization header          rpc

The policy cost is also measured without the network by bench/policy_micro.py.

Usage: bench/run.sh [--duration 10] [--rounds 3] [--scenarios small,big,...]
Results: bench/results/<stamp>/{summary.md,runs.jsonl}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUN = HERE / "run"
HOST = "127.0.0.1"
# Two backend ports, chosen free at start (fixed ports collide with other labs on a shared host).
BACKENDS: list[int] = [9001, 9002]
BIG = 1 << 20
N_ROUTES = 1000
PAD = "x" * 28


def log(*a: object) -> None:
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


class Proc:
    """A process group we started and stop again."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None):
        self.name = name
        logs = RUN / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - lives with the process
        self.p = subprocess.Popen(
            argv,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=RUN,
            start_new_session=True,
        )

    def rss_mib(self) -> float:
        try:
            root = psutil.Process(self.p.pid)
            procs = [root, *root.children(recursive=True)]
            return sum(p.memory_info().rss for p in procs) / 2**20
        except psutil.Error:
            return 0.0

    def cpu_s(self) -> float:
        try:
            root = psutil.Process(self.p.pid)
            total = 0.0
            for p in (root, *root.children(recursive=True)):
                t = p.cpu_times()
                total += t.user + t.system
            return total
        except psutil.Error:
            return 0.0

    def stop(self) -> None:
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.log.close()


def wait_port(port: int, proc: Proc, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.p.poll() is not None:
            raise RuntimeError(f"{proc.name} exited early, see {RUN}/logs/{proc.name}.log")
        try:
            with socket.create_connection((HOST, port), timeout=0.3):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{proc.name} did not listen on {port}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# ----------------------------------------------------------------- backends


def start_backend(port: int) -> Proc:
    prefix = RUN / f"backend-{port}"
    for d in ("logs", "tmp", "www"):
        (prefix / d).mkdir(parents=True, exist_ok=True)
    big = prefix / "www" / "big.bin"
    if not big.exists():
        big.write_bytes(os.urandom(BIG))
    conf = (HERE / "conf" / "backend.nginx.conf.in").read_text()
    conf = conf.replace("@PORT@", str(port)).replace("@STATUS_PORT@", str(free_port()))
    # The body names the port: "backend":NNNNN. Keep it 64 bytes for 4- and 5-digit ports.
    conf = conf.replace("@PAD@", PAD[: len(PAD) + 4 - len(str(port))])
    (prefix / "nginx.conf").write_text(conf)
    argv = [
        "nginx",
        "-p",
        str(prefix),
        "-c",
        str(prefix / "nginx.conf"),
        "-e",
        str(prefix / "logs" / "error.log"),
    ]
    proc = Proc(f"backend-{port}", argv)
    wait_port(port, proc)
    # Make sure the listener is ours and not some other process's.
    body = urllib.request.urlopen(f"http://{HOST}:{port}/small", timeout=5).read()
    if f'"backend":{port},'.encode() not in body or len(body) != 64:
        raise RuntimeError(f"port {port} answers {body!r}: not our backend")
    return proc


# ----------------------------------------------------------------- configs


def caddyfile(kind: str, port: int) -> str:
    """The Caddyfile of one contender configuration (shared by rpc and caddy)."""
    head = "{\n\tadmin off\n\tauto_https off\n}\n\n"
    up = f"{HOST}:{BACKENDS[0]}"
    if kind == "small":
        return head + f"http://:{port} {{\n\treverse_proxy {up}\n}}\n"
    if kind in LB_POLICIES:
        ups = " ".join(f"{HOST}:{b}" for b in BACKENDS)
        return (
            head
            + f"http://:{port} {{\n\treverse_proxy {ups} {{\n"
            + f"\t\tlb_policy {LB_POLICIES[kind]}\n\t}}\n}}\n"
        )
    if kind == "shard":
        return (
            "{\n\tadmin off\n\tauto_https off\n\torder jwt_shard_router before method\n}\n\n"
            f"http://:{port} {{\n"
            "\tjwt_shard_router {\n"
            "\t\talg RS256\n"
            f"\t\tkey_file {RUN / 'keys' / 'jwt-public.pem'}\n"
            "\t\tclaim customer\n"
            f"\t\tmap {{\n\t\t\t{CUSTOMER} {up}\n\t\t\tother {HOST}:{BACKENDS[1]}\n\t\t}}\n"
            "\t\tallow 127.0.0.0/8\n"
            "\t}\n"
            "\treverse_proxy {\n\t\tto {http.vars.shard.upstream}\n\t}\n"
            "}\n"
        )
    if kind in ("r1", "r1000"):
        n = 1 if kind == "r1" else N_ROUTES
        body = "".join(f"\thandle /p{i:04d}/* {{\n\t\treverse_proxy {up}\n\t}}\n" for i in range(n))
        return head + f"http://:{port} {{\n{body}}}\n"
    if kind in ("h1", "h1000"):
        n = 1 if kind == "h1" else N_ROUTES
        return head + "".join(
            f"http://h{i:04d}.test:{port} {{\n\treverse_proxy {up}\n}}\n" for i in range(n)
        )
    raise ValueError(kind)


LB_POLICIES = {
    "lb": "round_robin",
    "first": "first",
    "least": "least_conn",
    "iphash": "ip_hash",
}
CUSTOMER = "walmart"
AUTH = "Authorization: Bearer @TOKEN@"

# scenario -> (config kind, path, extra request headers)
SCENARIOS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "small": ("small", "/small", ()),
    "big": ("small", "/big", ()),
    "lb": ("lb", "/small", ()),
    "first": ("first", "/small", ()),
    "least": ("least", "/small", ()),
    "iphash": ("iphash", "/small", ()),
    "r1": ("r1", "/p0000/small", ()),
    "r1000": ("r1000", f"/p{N_ROUTES - 1:04d}/small", ()),
    "h1": ("h1", "/small", ("Host: h0000.test",)),
    "h1000": ("h1000", "/small", (f"Host: h{N_ROUTES - 1:04d}.test",)),
    "shard": ("shard", "/small", (AUTH,)),
    "static": ("small", "/small", (AUTH,)),
}
# Who runs which scenario (the naive proxy has no routing; Caddy has no jwt_shard_router).
NAIVE_SCENARIOS = ("small", "big", "lb")
RPC_ONLY_SCENARIOS = ("first", "least", "iphash", "shard", "static")


def runs_in(who: str, scen: str) -> bool:
    if who == "naive":
        return scen in NAIVE_SCENARIOS
    if who == "caddy":
        return scen not in RPC_ONLY_SCENARIOS
    return True


def make_token() -> str:
    """An RS256 key pair under run/keys and a token for CUSTOMER valid for a day."""
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys = RUN / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    (keys / "jwt-public.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    now = int(time.time())
    claims = {"sub": f"bench@{CUSTOMER}", "customer": CUSTOMER, "iat": now, "exp": now + 86400}
    return str(jwt.encode(claims, key, algorithm="RS256"))


def start_rpc(kind: str, port: int) -> Proc:
    cfg = RUN / f"rpc-{kind}.caddyfile"
    cfg.write_text(caddyfile(kind, port))
    app = RUN / f"rpc-{kind}.py"
    subprocess.run(
        [sys.executable, "-m", "rpc.compiler", "compile", str(cfg), "-o", str(app)], check=True
    )
    proc = Proc(f"rpc-{kind}", [sys.executable, str(app), "--log-level", "error"])
    wait_port(port, proc)
    return proc


def start_caddy(kind: str, port: int) -> Proc:
    cfg = RUN / f"caddy-{kind}.caddyfile"
    cfg.write_text(caddyfile(kind, port))
    xdg = RUN / "caddy-home"
    env = {
        "GOMAXPROCS": "1",
        "HOME": str(xdg),
        "XDG_DATA_HOME": str(xdg / "data"),
        "XDG_CONFIG_HOME": str(xdg / "config"),
    }
    caddy = shutil.which("caddy", path=str(Path(sys.executable).parent)) or "caddy"
    proc = Proc(
        f"caddy-{kind}", [caddy, "run", "--config", str(cfg), "--adapter", "caddyfile"], env
    )
    wait_port(port, proc)
    return proc


def start_naive(kind: str, port: int) -> Proc:
    ups = BACKENDS if kind == "lb" else BACKENDS[:1]
    argv = [
        sys.executable,
        str(HERE / "proxies" / "naive_aiohttp_proxy.py"),
        "--port",
        str(port),
        "--uvloop",
    ]
    for b in ups:
        argv += ["--upstream", f"http://{HOST}:{b}"]
    proc = Proc(f"naive-{kind}", argv)
    wait_port(port, proc)
    return proc


# ----------------------------------------------------------------- load


UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}
TOKEN = [""]


def parse_wrk(out: str) -> dict[str, float]:
    r: dict[str, float] = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    r["rps"] = float(m.group(1)) if m else 0.0
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)$", out, re.MULTILINE)
        r[f"p{pct}_ms"] = float(m.group(1)) * UNIT[m.group(2)] if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non2xx"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["errors"] = float(sum(map(int, m.groups()))) if m else 0.0
    return r


def run_load(
    proc: Proc, port: int, path: str, headers: tuple[str, ...], seconds: int, conns: int
) -> dict[str, float]:
    argv = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout=10s", "--latency"]
    for h in headers:
        argv += ["-H", h.replace("@TOKEN@", TOKEN[0])]
    argv.append(f"http://{HOST}:{port}{path}")
    peak = [proc.rss_mib()]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], proc.rss_mib())

    t = threading.Thread(target=sample, daemon=True)
    cpu0 = proc.cpu_s()
    t.start()
    out = subprocess.run(
        argv, capture_output=True, text=True, timeout=seconds + 60, check=False
    ).stdout
    done.set()
    t.join()
    result = parse_wrk(out)
    result["peak_rss_mib"] = peak[0]
    requests = result["rps"] * seconds
    result["cpu_us_per_req"] = (proc.cpu_s() - cpu0) / requests * 1e6 if requests else float("nan")
    return result


# ----------------------------------------------------------------- session


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--contenders", default="rpc,naive,caddy")
    args = ap.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            print(f"missing {tool}: apt-get install {tool}", file=sys.stderr)
            return 1
    RUN.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = HERE / "results" / stamp
    out_dir.mkdir(parents=True)
    procs: list[Proc] = []
    runs: list[dict[str, object]] = []
    try:
        BACKENDS[:] = [free_port(), free_port()]
        procs += [start_backend(b) for b in BACKENDS]
        scenarios = args.scenarios.split(",")
        wanted = args.contenders.split(",")
        if any(SCENARIOS[s][0] == "shard" or AUTH in SCENARIOS[s][2] for s in scenarios):
            TOKEN[0] = make_token()
        # One process per (contender, config kind), started once and reused.
        live: dict[tuple[str, str], tuple[Proc, int]] = {}
        starters = {"rpc": start_rpc, "caddy": start_caddy, "naive": start_naive}
        for scen in scenarios:
            kind, _, _ = SCENARIOS[scen]
            for who in wanted:
                if not runs_in(who, scen):
                    continue
                if (who, kind) not in live:
                    port = free_port()
                    proc = starters[who](kind, port)
                    procs.append(proc)
                    live[(who, kind)] = (proc, port)
                    if args.warmup:
                        run_load(
                            proc,
                            port,
                            SCENARIOS[scen][1],
                            SCENARIOS[scen][2],
                            args.warmup,
                            args.conns,
                        )
        for rnd in range(args.rounds):
            for scen in scenarios:
                kind, path, headers = SCENARIOS[scen]
                for who in wanted:
                    if (who, kind) not in live or not runs_in(who, scen):
                        continue
                    proc, port = live[(who, kind)]
                    r = run_load(proc, port, path, headers, args.duration, args.conns)
                    row = {"round": rnd, "scenario": scen, "contender": who, **r}
                    runs.append(row)
                    log(
                        f"round {rnd} {scen:6} {who:6} {r['rps']:9.0f} req/s  "
                        f"p99 {r['p99_ms']:.2f} ms  rss {r['peak_rss_mib']:.1f} MiB"
                        + (f"  non-2xx {r['non2xx']:.0f}" if r["non2xx"] else "")
                        + (f"  errors {r['errors']:.0f}" if r["errors"] else "")
                    )
    finally:
        for p in reversed(procs):
            p.stop()
    with open(out_dir / "runs.jsonl", "w") as fh:
        for row in runs:
            fh.write(json.dumps(row) + "\n")
    summary = summarize(runs, args)
    (out_dir / "summary.md").write_text(summary)
    print(summary)
    return 0


def summarize(runs: list[dict[str, object]], args: argparse.Namespace) -> str:
    def med(scen: str, who: str, key: str) -> float:
        xs = [float(r[key]) for r in runs if r["scenario"] == scen and r["contender"] == who]  # type: ignore[arg-type]
        return statistics.median(xs) if xs else float("nan")

    lines = [
        f"# rpc benchmark, {dt.datetime.now().isoformat(timespec='seconds')}",
        "",
        (
            f"wrk -t1 -c{args.conns} -d{args.duration}s, {args.rounds} rounds, medians; "
            "one process per contender, Caddy with GOMAXPROCS=1; nginx backends."
        ),
        "",
        "| scenario | contender | req/s | p50 ms | p99 ms | peak RSS MiB | CPU µs/req |",
        "|---|---|---|---|---|---|---|",
    ]
    scenarios = args.scenarios.split(",")
    for scen in scenarios:
        for who in args.contenders.split(","):
            rps = med(scen, who, "rps")
            if math.isnan(rps):  # not run
                continue
            lines.append(
                f"| {scen} | {who} | {rps:,.0f} | {med(scen, who, 'p50_ms'):.2f} | "
                f"{med(scen, who, 'p99_ms'):.2f} | {med(scen, who, 'peak_rss_mib'):.1f} | "
                f"{med(scen, who, 'cpu_us_per_req'):.0f} |"
            )
    lines += [
        "",
        "Ratios (same session): req/s ratio of medians (CPU: inverse ratio of CPU µs/req):",
        "",
    ]

    def ratio(a: tuple[str, str], b: tuple[str, str]) -> str:
        """Throughput ratio a/b, then in brackets the inverse ratio of CPU µs per request
        (the same comparison measured by the proxy's own CPU time; steadier than req/s
        when other processes compete for the cores)."""
        x, y = med(*a, "rps"), med(*b, "rps")
        if math.isnan(x) or math.isnan(y) or not y:
            return "n/a"
        cx, cy = med(*a, "cpu_us_per_req"), med(*b, "cpu_us_per_req")
        return f"{x / y:.2f} (CPU {cy / cx:.2f})"

    for scen in ("small", "big", "lb"):
        if scen in scenarios:
            lines.append(
                f"- {scen}: rpc ÷ aiohttp-naive = {ratio((scen, 'rpc'), (scen, 'naive'))}, "
                f"rpc ÷ caddy = {ratio((scen, 'rpc'), (scen, 'caddy'))}"
            )
    for a, b in (("r1000", "r1"), ("h1000", "h1")):
        if a in scenarios and b in scenarios:
            lines.append(
                f"- {a} ÷ {b}: rpc {ratio((a, 'rpc'), (b, 'rpc'))}, "
                f"caddy {ratio((a, 'caddy'), (b, 'caddy'))}"
            )
    if "first" in scenarios:
        for scen in ("lb", "least", "iphash"):
            if scen in scenarios:
                lines.append(
                    f"- rpc {scen} ({LB_POLICIES[scen]}) ÷ first: "
                    f"{ratio((scen, 'rpc'), ('first', 'rpc'))}"
                )
    if "shard" in scenarios and "static" in scenarios:
        lines.append(f"- rpc shard ÷ static: {ratio(('shard', 'rpc'), ('static', 'rpc'))}")
    nonok = sum(float(r["non2xx"]) + float(r["errors"]) for r in runs)  # type: ignore[arg-type]
    lines.append(f"- non-2xx responses + socket errors over all runs: {nonok:.0f}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
