#!/usr/bin/env python3
"""A second LKE cluster for fleets (the autopilot's waves): `staging` beside the lab cluster.

    .venv/bin/python lab/linode_sim/fleet.py up       # add it (idempotent) and its app; wait until Ready
    .venv/bin/python lab/linode_sim/fleet.py status   # one line
    .venv/bin/python lab/linode_sim/fleet.py down     # remove it, its Nodes and its app

The simulator holds it as LKE cluster 314160 (its own pools, nodes, instances, version and patch
level); its Nodes join the lab's one API server, labelled and tainted
`lab.fournines.io/cluster=staging`, so nothing of the lab cluster's workloads lands there and the
staging app (fleet/staging.yaml) runs only there. inventories/lab_fleet drives both clusters.
Not seeded by lab/up: its Nodes would change what every other test counts. `POST /__admin/reset`
removes it; `up` brings it back.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
LAB_DIR = os.path.dirname(HERE)
sys.path[:0] = [LAB_DIR, os.path.join(LAB_DIR, "k8s")]

import labenv  # noqa: E402

STAGING_ID = 314160
LABEL = "lab.fournines.io/cluster"
STAGING = {
    "cluster_id": STAGING_ID, "label": "staging",
    "pools": [{"type": "g6-standard-2", "count": 2, "labels": {LABEL: "staging"},
               "taints": [{"key": LABEL, "value": "staging", "effect": "NoSchedule"}]}],
}
MANIFEST = os.path.join(HERE, "fleet", "staging.yaml")
TIMEOUT = 180


def _admin(method, path, body=None):
    env = labenv.component_env("linode_sim")
    if not env:
        raise SystemExit("fleet: the Linode simulator is not running (no .lab/linode_sim/env): lab/up linode_sim")
    req = urllib.request.Request(env["LINODE_SIM_ADMIN_URL"].rstrip("/") + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def _clients():
    from kubernetes import config, dynamic  # pylint: disable=import-outside-toplevel
    from kubernetes import client as k8s  # pylint: disable=import-outside-toplevel
    api = config.new_client_from_config(config_file=labenv.kubeconfig())
    return k8s.CoreV1Api(api), dynamic.DynamicClient(api)


def _ready_nodes(core):
    out = []
    for node in core.list_node(label_selector="%s=staging" % LABEL).items:
        if any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or []):
            out.append(node.metadata.name)
    return out


def _ready_pods(core):
    try:
        pods = core.list_namespaced_pod("staging", label_selector="app.kubernetes.io/name=web").items
    except Exception:  # noqa: BLE001 - no namespace yet
        return 0
    return sum(1 for p in pods if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or []))


def _wait(what, predicate):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise SystemExit("fleet: timed out after %d s waiting for %s" % (TIMEOUT, what))


def up():
    status, body = _admin("POST", "/clusters", STAGING)
    if status != 200:
        raise SystemExit("fleet: the simulator refused the staging cluster (%s): %s" % (status, body))
    core, dyn = _clients()
    count = STAGING["pools"][0]["count"]
    _wait("%d Ready staging Nodes" % count, lambda: len(_ready_nodes(core)) >= count)
    import seed  # pylint: disable=import-outside-toplevel
    seed.apply_all(dyn, _documents(), time.time() + TIMEOUT)
    _wait("2 Ready staging/web pods", lambda: _ready_pods(core) >= 2)
    print("fleet: staging cluster %d %s: %d Nodes Ready, staging/web 2 pods Ready" % (
        STAGING_ID, "added" if body.get("added") else "already there", len(_ready_nodes(core))))


def _documents():
    import yaml  # pylint: disable=import-outside-toplevel
    with open(MANIFEST, encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def down():
    core, _ = _clients()
    try:
        core.delete_namespace("staging")
    except Exception as err:  # noqa: BLE001 - already gone is fine
        if getattr(err, "status", None) != 404:
            raise
    status, body = _admin("DELETE", "/clusters/%d" % STAGING_ID)
    if status not in (200, 404):
        raise SystemExit("fleet: the simulator refused to remove the staging cluster (%s): %s" % (status, body))
    _wait("the staging Nodes to go", lambda: not core.list_node(label_selector="%s=staging" % LABEL).items)
    print("fleet: staging cluster %s" % ("removed" if status == 200 else "was not there"))


def status():
    code, body = _admin("GET", "/versions")
    if code != 200:
        print("  fleet staging            ? (the simulator has no /__admin/versions: restart linode_sim)")
        return 1
    cluster = body["clusters"].get(str(STAGING_ID))
    if cluster is None:
        print("  fleet staging            absent (lab/linode_sim/fleet.py up)")
        return 1
    core, _ = _clients()
    print("  fleet staging            cluster %d on %s: %d nodes (kubelets %s), %d Ready Nodes, %d staging/web pods Ready" % (
        STAGING_ID, cluster["k8s_version"], len(cluster["nodes"]),
        ", ".join(sorted({n["kubelet"] or "?" for n in cluster["nodes"]})), len(_ready_nodes(core)), _ready_pods(core)))
    return 0


def main(argv):
    verbs = {"up": up, "down": down, "status": status}
    if len(argv) != 2 or argv[1] not in verbs:
        raise SystemExit("usage: %s up|down|status" % argv[0])
    return verbs[argv[1]]() or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
