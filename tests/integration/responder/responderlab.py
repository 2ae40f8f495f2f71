"""Helpers for the node-loss responder tests and benchmark: run the playbook or the rulebook, fault nodes.

Builds on tests/integration/drill/drilllab.py (lab reset, edge, simulator admin). Every run keeps its
journals and ledger in the caller's folder (FOURNINES_REPORTS_DIR / FOURNINES_SLO_LEDGER for the rulebook,
role variables for the playbook).
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "drill"))
import drilllab  # noqa: E402

REPO = drilllab.REPO
labenv = drilllab.labenv
simlab = drilllab.simlab
wait_for = drilllab.wait_for
BIN = os.path.dirname(sys.executable)
PLAYBOOK = os.path.join(REPO, "playbooks", "respond_node_loss.yml")
RULEBOOK = "fournines.runbooks.node_loss_responder"
TAINT = "node.kubernetes.io/out-of-service"
INCIDENT = "runbooks.fournines.io/node-loss-incident"


def env(tmp):
    values = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                  PATH=BIN + os.pathsep + os.environ.get("PATH", ""), KUBECONFIG=labenv.kubeconfig(),
                  FOURNINES_LAB_REPO=REPO, FOURNINES_REPORTS_DIR=os.path.join(str(tmp), "reports"),
                  FOURNINES_SLO_LEDGER=os.path.join(str(tmp), "downtime.jsonl"))
    for key in ("LINODE_TOKEN", "LINODE_API_URL", "K8S_AUTH_KUBECONFIG"):
        values.pop(key, None)
    return values


def run_playbook(tmp, variables=None, check=False, timeout=900):
    argv = [os.path.join(BIN, "ansible-playbook"), PLAYBOOK, "-e", json.dumps(variables or {})]
    if check:
        argv.append("--check")
    return drilllab.run_argv(argv, env(tmp), timeout, "the responder playbook")


def start_rulebook(tmp):
    """ansible-rulebook with the collection's rulebook against the lab, in its own session; its log in tmp."""
    log = open(os.path.join(str(tmp), "rulebook.log"), "w")
    argv = [os.path.join(BIN, "ansible-rulebook"), "--rulebook", RULEBOOK, "-i", os.path.join(REPO, "inventories", "lab"),
            "-v"]
    proc = subprocess.Popen(argv, cwd=REPO, env=env(tmp), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    proc.log_path = log.name
    wait_for("ansible-rulebook waiting for events", lambda: proc.poll() is not None or "Waiting for events" in
             open(log.name).read(), 180, 1.0)
    assert proc.poll() is None, "ansible-rulebook stopped:\n%s" % open(log.name).read()[-3000:]
    return proc


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def runs(tmp):
    return drilllab.runs(tmp, prefix="respond-node-loss-")


journal = drilllab.journal  # tmp/reports/<run>/state.json
report = drilllab.report  # tmp/reports/<run>/report.json


def incidents(tmp):
    """Every incident of every responder run in tmp, as (run id, record)."""
    out = []
    for run in runs(tmp):
        try:
            state = journal(tmp, run)
        except (OSError, ValueError):
            continue
        for record in ((state.get("facts") or {}).get("incidents") or {}).values():
            out.append((run, record))
    return out


def reported_incidents(tmp):
    """The incidents of the runs that have written their report (the run is over)."""
    out = []
    for run in runs(tmp):
        try:
            out.extend(report(tmp, run)["report"]["incidents"])
        except (OSError, ValueError, KeyError):
            continue
    return out


def linode(method, path):
    """A Linode API call to the simulator (as a failure or an operator would make it)."""
    sim = labenv.component_env("linode_sim")
    req = urllib.request.Request(sim["LINODE_API_URL"] + path, method=method, data=b"{}" if method == "POST" else None,
                                 headers={"Authorization": "Bearer " + sim["LINODE_TOKEN"],
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"{}")


def instance_of(node):
    return int(node.spec.provider_id[len("linode://"):])


def node_ready(core, name):
    try:
        return simlab.node_ready(core.read_node(name))
    except Exception:  # noqa: BLE001 - gone
        return None


def tainted(core):
    """Names of the Nodes that carry the out-of-service taint."""
    return sorted(n.metadata.name for n in core.list_node().items if any(t.key == TAINT for t in n.spec.taints or []))


def web_node(core):
    pods = [p for p in core.list_namespaced_pod("app", label_selector="app.kubernetes.io/name=web").items
            if p.metadata.deletion_timestamp is None and p.spec.node_name]
    return pods[0].spec.node_name if pods else None


def web_pod_ready_elsewhere(core, lost):
    for pod in core.list_namespaced_pod("app", label_selector="app.kubernetes.io/name=web").items:
        if pod.spec.node_name and pod.spec.node_name != lost and pod.metadata.deletion_timestamp is None and any(
                c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
            return pod
    return None


def untaint_all(core):
    """Test cleanup: no node keeps the out-of-service taint, whoever set it."""
    for node in core.list_node().items:
        if any(t.key == TAINT for t in node.spec.taints or []):
            keep = [t for t in node.spec.taints if t.key != TAINT]
            core.patch_node(node.metadata.name, {"spec": {"taints": [
                {"key": t.key, "value": t.value, "effect": t.effect} for t in keep] or None},
                "metadata": {"annotations": {INCIDENT: None}}})


NAMESPACE = "responder-test"
#: The production default tolerations (300 s), so that in the fast profile, too, nothing but the out-of-service
#: taint moves the pod before LKE replaces the node: what the test observes is the responder's doing.
TOLERATIONS = [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                "tolerationSeconds": 300},
               {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                "tolerationSeconds": 300}]


def create_rwo_app(core, apps):
    """A single-replica app on a ReadWriteOnce volume in its own namespace; returns its node once it is Ready."""
    from kubernetes import client
    try:
        core.create_namespace({"metadata": {"name": NAMESPACE}})
    except client.ApiException as err:
        if err.status != 409:
            raise
    core.create_namespaced_persistent_volume_claim(NAMESPACE, {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "linode-block-storage",
                 "resources": {"requests": {"storage": "1Gi"}}}})
    labels = {"app.kubernetes.io/name": "rwo"}
    apps.create_namespaced_deployment(NAMESPACE, {
        "metadata": {"name": "rwo", "labels": labels},
        "spec": {"replicas": 1, "strategy": {"type": "Recreate"}, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {
                     "tolerations": TOLERATIONS,
                     "containers": [{"name": "rwo", "image": "registry.example.com/app/rwo:1.0.0",
                                     "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                                     "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                     "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}}}})
    pod = wait_for("the rwo pod Ready", lambda: rwo_pod_ready(core), 240, 0.5)
    return pod.spec.node_name


def rwo_pod_ready(core, not_on=None):
    for pod in core.list_namespaced_pod(NAMESPACE, label_selector="app.kubernetes.io/name=rwo").items:
        if pod.spec.node_name and pod.spec.node_name != not_on and pod.metadata.deletion_timestamp is None and any(
                c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
            return pod
    return None


def delete_rwo_app(core):
    from kubernetes import client
    try:
        core.delete_namespace(NAMESPACE)
    except client.ApiException as err:
        if err.status != 404:
            raise
    # pods left on a deleted node are never confirmed gone by a kubelet: force them
    for pod in core.list_namespaced_pod(NAMESPACE).items:
        try:
            core.delete_namespaced_pod(pod.metadata.name, NAMESPACE, grace_period_seconds=0)
        except client.ApiException:
            pass
    wait_for("namespace %s gone" % NAMESPACE, lambda: NAMESPACE not in [
        n.metadata.name for n in core.list_namespace().items], 180, 1.0)
