#!/usr/bin/env python3
"""How fast the Linode simulator builds a large LKE cluster in the lab, and how fast it answers.

Runs a private simulator in this process (a separate LKE cluster id, an ephemeral port, state in
a temporary folder) against the running lab cluster, so the seeded lab cluster is not touched.
Its pools carry a NoExecute taint so no workload lands on the benchmark's Nodes.

    .venv/bin/python benchmarks/linode_sim_scale.py [--nodes 50] [--pools 3] [--requests 200]

Prints: seconds until all Nodes are Ready, API latency (p50/p95) of the pool listing and of a
paginated instance listing, and seconds to remove them again.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, "lab"), os.path.join(REPO, "lab", "linode_sim")]

import labenv  # noqa: E402
from linodesim import profile  # noqa: E402
from linodesim.cloud import Cloud, run_worker  # noqa: E402
from linodesim.faults import Faults  # noqa: E402
from linodesim.nodes import POOL_LABEL, KwokBackend  # noqa: E402
from linodesim.server import SimContext, make_server  # noqa: E402
from linodesim.store import Store  # noqa: E402

CLUSTER_ID = 900001
TOKEN = "benchmark-token"
TAINT = {"key": "lab.fournines.io/benchmark", "value": "yes", "effect": "NoExecute"}


def ready_nodes(core):
    count = 0
    for node in core.list_node(label_selector=POOL_LABEL).items:
        if not node.metadata.name.startswith("lke%d-" % CLUSTER_ID):
            continue
        if any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or []):
            count += 1
    return count


def bench_nodes(core):
    return [n.metadata.name for n in core.list_node(label_selector=POOL_LABEL).items
            if n.metadata.name.startswith("lke%d-" % CLUSTER_ID)]


def timed_get(url, n):
    took = []
    for _ in range(n):
        req = urllib.request.Request(url, headers={"Authorization": "Bearer " + TOKEN})
        start = time.perf_counter()
        with urllib.request.urlopen(req, timeout=10) as resp:
            json.load(resp)
        took.append((time.perf_counter() - start) * 1000)
    took.sort()
    return statistics.median(took), took[int(len(took) * 0.95) - 1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--pools", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    core = client.CoreV1Api(config.new_client_from_config(config_file=labenv.kubeconfig()))
    sizes = [args.nodes // args.pools + (1 if i < args.nodes % args.pools else 0)
             for i in range(args.pools)]
    pools = [{"type": "g6-standard-2", "count": n} for n in sizes]

    with tempfile.TemporaryDirectory() as tmp:
        backend = KwokBackend(labenv.kubeconfig(), os.path.join(REPO, "lab"))
        cloud = Cloud(Store(os.path.join(tmp, "state.json")), profile.load(), backend=backend,
                      config={"cluster_id": CLUSTER_ID, "label": "bench", "pools": [],
                              "domains": []})
        # taint the pools before their Nodes exist: nothing of the lab's gets scheduled there
        server = make_server(SimContext(cloud, Faults(), TOKEN), "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        stop = threading.Event()
        threading.Thread(target=run_worker, args=(cloud, stop), daemon=True).start()
        base = "http://127.0.0.1:%d/v4" % server.server_address[1]
        try:
            start = time.monotonic()
            with cloud.lock:
                for pool in pools:
                    created = cloud.create_pool(CLUSTER_ID, dict(pool, taints=[TAINT]),
                                                instant=True)
                    assert created["count"] == pool["count"]
            while ready_nodes(core) < args.nodes:
                if time.monotonic() - start > 600:
                    raise SystemExit("only %d of %d Nodes Ready after 600 s" % (
                        ready_nodes(core), args.nodes))
                time.sleep(0.2)
            build = time.monotonic() - start
            pools_p50, pools_p95 = timed_get(base + "/lke/clusters/%d/pools" % CLUSTER_ID,
                                             args.requests)
            inst_p50, inst_p95 = timed_get(base + "/linode/instances?page_size=25",
                                           args.requests)
            start = time.monotonic()
            with cloud.lock:
                for pool in cloud.pools_list(CLUSTER_ID):
                    cloud.delete_pool(CLUSTER_ID, pool["id"])
            while bench_nodes(core):
                time.sleep(0.2)
            remove = time.monotonic() - start
        finally:
            with cloud.lock:
                for pool in cloud.pools_list(CLUSTER_ID):
                    cloud.delete_pool(CLUSTER_ID, pool["id"])
            deadline = time.monotonic() + 120
            while bench_nodes(core) and time.monotonic() < deadline:
                time.sleep(0.5)
            stop.set()
            server.shutdown()

    print("linode_sim scale: %d nodes in %d pools (profile %s)" % (
        args.nodes, args.pools, labenv.current_profile()))
    print("  all Nodes Ready after           %6.1f s" % build)
    print("  GET pools (%d nodes)          p50 %5.1f ms  p95 %5.1f ms" % (
        args.nodes, pools_p50, pools_p95))
    print("  GET instances page of 25       p50 %5.1f ms  p95 %5.1f ms" % (inst_p50, inst_p95))
    print("  all Nodes removed after         %6.1f s" % remove)


if __name__ == "__main__":
    main()
