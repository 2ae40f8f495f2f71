#!/usr/bin/env python3
"""Figures of the lab's real node (lab/node), printed, not asserted.

    .venv/bin/python benchmarks/real_node.py [--restart] [--no-cnpg]

- --restart: lab/node/down then lab/node/up, wall time (warm: binaries, image archives and
  imported images are kept across a down);
- pod start: delete the realapp pod, time until its replacement is Ready (a real container
  start, readiness probe included);
- CloudNativePG: a Cluster of 2 instances, create to healthy, then primary pod deleted to a
  new primary taking writes through the rw Service; deleted afterwards;
- resident memory of the node's processes and the high-water mark of its pods' cgroup;
- disk: image archive cache and containerd's store.
Needs the lab: lab/up k8s node.
"""

import argparse
import os
import subprocess
import sys
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "lab"))
import labenv  # noqa: E402

from kubernetes import client, config  # noqa: E402

NODE_STATE = os.path.join(REPO, ".lab", "node")
PROCS = ("apiproxy", "containerd", "kubelet", "kube-proxy", "coredns")


def wait(what, check, timeout=600, every=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    sys.exit("timed out waiting for " + what)


def rss_kb(pid, field):
    with open("/proc/%s/status" % pid) as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def du_mb(path):
    out = subprocess.run(["du", "-sm", path], capture_output=True, text=True, check=False).stdout
    return int(out.split()[0]) if out else 0


def pod_ready(pod):
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def bench_pod_start(core):
    sel = "app.kubernetes.io/name=realapp"
    old = [p for p in core.list_namespaced_pod("realapp", label_selector=sel).items if pod_ready(p)][0]
    started = time.monotonic()
    core.delete_namespaced_pod(old.metadata.name, "realapp")
    wait("a new realapp pod Ready", lambda: [p for p in core.list_namespaced_pod("realapp", label_selector=sel).items
                                             if p.metadata.name != old.metadata.name and pod_ready(p)])
    return time.monotonic() - started


def bench_cnpg(api, image):
    import psycopg
    import base64
    core = client.CoreV1Api(api)
    custom = client.CustomObjectsApi(api)
    ns = "bench-cnpg-" + uuid.uuid4().hex[:6]
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    body = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg"},
            "spec": {"instances": 2, "imageName": image, "imagePullPolicy": "Never", "enableSuperuserAccess": True,
                     "storage": {"size": "1Gi", "storageClass": "lab-node-local"},
                     "affinity": {"nodeSelector": {"lab.fournines.io/kubelet": "real"},
                                  "tolerations": [{"key": "lab.fournines.io/real-node", "operator": "Equal",
                                                   "value": "true", "effect": "NoSchedule"}]},
                     "postgresql": {"parameters": {"shared_buffers": "32MB", "max_connections": "30"}}}}

    def status():
        return custom.get_namespaced_custom_object("postgresql.cnpg.io", "v1", ns, "clusters", "pg").get("status") or {}

    try:
        started = time.monotonic()
        custom.create_namespaced_custom_object("postgresql.cnpg.io", "v1", ns, "clusters", body)
        st = wait("healthy", lambda: (lambda s: s if s.get("readyInstances") == 2 and
                                      s.get("phase") == "Cluster in healthy state" else None)(status()), every=1)
        ready = time.monotonic() - started
        primary = st["currentPrimary"]
        password = base64.b64decode(core.read_namespaced_secret("pg-superuser", ns).data["password"]).decode()
        ip = core.read_namespaced_service("pg-rw", ns).spec.cluster_ip

        def writable():
            try:
                with psycopg.connect(host=ip, user="postgres", password=password, dbname="app",
                                     connect_timeout=2, autocommit=True) as conn:
                    if conn.execute("select not pg_is_in_recovery()").fetchone()[0]:
                        conn.execute("create table if not exists t (x int)")
                        conn.execute("insert into t values (1)")
                        return True
            except psycopg.Error:
                return False
            return False
        wait("writable", writable)
        started = time.monotonic()
        core.delete_namespaced_pod(primary, ns, grace_period_seconds=0)
        wait("new primary", lambda: status().get("currentPrimary") not in (None, primary), every=0.5)
        wait("writable after failover", writable, every=0.5)
        failover = time.monotonic() - started
        return ready, failover
    finally:
        core.delete_namespace(ns)
        wait("namespace gone", lambda: not [n for n in core.list_namespace().items if n.metadata.name == ns], every=1)
        kubeconfig = labenv.kubeconfig()
        node = labenv.component_env("node")["NODE_NAME"]
        subprocess.run([sys.executable, os.path.join(REPO, "lab", "node", "seed.py"), "volumes", kubeconfig, node,
                        "6", "/var/lib/fournines-node/volumes"], check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--restart", action="store_true")
    ap.add_argument("--no-cnpg", action="store_true")
    args = ap.parse_args()
    if args.restart:
        subprocess.run([os.path.join(REPO, "lab", "node", "down")], check=True)
        started = time.monotonic()
        subprocess.run([os.path.join(REPO, "lab", "node", "up")], check=True)
        print("lab/node/up after a down (warm): %.1f s" % (time.monotonic() - started))
    api = config.new_client_from_config(config_file=labenv.kubeconfig())
    core = client.CoreV1Api(api)
    print("realapp pod replaced and Ready: %.1f s" % bench_pod_start(core))
    if not args.no_cnpg:
        ready, failover = bench_cnpg(api, labenv.component_env("node")["NODE_IMAGE_PG_OLD"])
        print("CloudNativePG 2 instances, create to healthy: %.1f s; primary pod deleted to writes again: %.1f s"
              % (ready, failover))
    total = 0
    for name in PROCS:
        with open(os.path.join(NODE_STATE, name + ".pid")) as fh:
            pid = fh.read().strip()
        rss, hwm = rss_kb(pid, "VmRSS"), rss_kb(pid, "VmHWM")
        total += hwm
        print("  %-12s RSS %4d MB (peak %4d MB)" % (name, rss // 1024, hwm // 1024))
    with open("/sys/fs/cgroup/memory/fournines-node/memory.max_usage_in_bytes") as fh:
        pods_peak = int(fh.read()) // (1 << 20)
    print("node processes peak %d MB; pods' cgroup peak %d MB (since the node started)" % (total // 1024, pods_peak))
    cache = os.path.join(os.environ.get("FOURNINES_LAB_CACHE", os.path.expanduser("~/.cache/fournines-lab")), "images")
    print("disk: image archives %d MB, containerd store %d MB" % (du_mb(cache), du_mb("/var/lib/fournines-node/containerd")))


if __name__ == "__main__":
    main()
