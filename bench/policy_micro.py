#!/usr/bin/env python3
"""Cost of one load-balancing decision, without the network.

Times `policy.select(pool, ctx)` of rpc.runtime's policies over a pool of two
upstreams (the pool of bench.py's `lb` scenarios), in the same process and
interpreter the generated app uses. Compare the result with the proxy CPU per
request that bench.py reports (`CPU µs/req`): the ratio is the share of a
proxied request spent choosing the upstream.

Usage: .venv/bin/python bench/policy_micro.py [--number 200000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import timeit
from types import SimpleNamespace

from rpc.runtime.policies import (
    First,
    IPHash,
    LeastConn,
    Random,
    RoundRobin,
)
from rpc.runtime.upstreams import Upstream

POLICIES = {
    "first": First,
    "round_robin": RoundRobin,
    "least_conn": LeastConn,
    "ip_hash": IPHash,
    "random (default)": Random,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--number", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    pool = (Upstream("127.0.0.1:9001"), Upstream("127.0.0.1:9002"))
    # The policies above read only the peer address from the request context.
    ctx = SimpleNamespace(remote_ip="127.0.0.1")
    print("| policy | ns per select (min of repeats) |")
    print("|---|---|")
    for name, cls in POLICIES.items():
        select = cls().select
        times = timeit.repeat(
            lambda select=select: select(pool, ctx), number=args.number, repeat=args.repeat
        )
        print(f"| {name} | {min(times) / args.number * 1e9:.0f} |")


if __name__ == "__main__":
    main()
