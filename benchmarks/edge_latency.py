#!/usr/bin/env python3
"""What a prober sees from the lab's app edge: answer latency and how many answers per second.

Needs the running lab (make lab). The edge decides from watches, so its cost per request should
be the configured latency (EDGE_LATENCY_MS, 5 ms by default) plus a little.

    .venv/bin/python benchmarks/edge_latency.py [--requests 500] [--host web.lab.fournines.test]
"""

import argparse
import collections
import os
import statistics
import sys
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "lab"))

import labenv  # noqa: E402


def probe(url, host):
    req = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--host", default="web.lab.fournines.test")
    args = parser.parse_args()
    env = labenv.component_env("edge")
    if not env:
        raise SystemExit("the edge is not running: make lab")
    url = env["EDGE_URL"]
    took, statuses = [], collections.Counter()
    start = time.perf_counter()
    for _ in range(args.requests):
        t0 = time.perf_counter()
        statuses[probe(url, args.host)] += 1
        took.append((time.perf_counter() - t0) * 1000)
    total = time.perf_counter() - start
    took.sort()
    print("edge %s for %s: %d sequential requests" % (url, args.host, args.requests))
    print("  latency p50 %.1f ms  p95 %.1f ms  max %.1f ms" % (
        statistics.median(took), took[int(len(took) * 0.95) - 1], took[-1]))
    print("  %.0f answers/s; statuses %s" % (args.requests / total, dict(statuses)))


if __name__ == "__main__":
    main()
