"""A surge rollout killed in each phase the other kill test (a recycle under way, test_resume_and_faults.py) does
not cover, as a power cut: uclab.kill_tree kills every process under the run, also the module processes Ansible's
workers run in sessions of their own (killing the process group left the killed module alive to finish its step).
One seeded lab, one journal, four runs:

1. killed while the surge node joins (the simulator provisions it slowly): the pool is resized, the step running;
2. resumed, killed right after the first eviction of the first old node's drain (the API server's watch tells);
3. resumed, killed after the node that leaves the pool was chosen (journalled) and before it was deleted;
4. resumed to the end.

The re-runs carry on: the end state is the one an uninterrupted run leaves (every old node recycled once, the
pool back at its size on the target version, nothing cordoned, one resize, exactly one node deleted: the one the
journal chose before the kill), no step is left running, each pod moved once, and the report counts every move
(the killed drain's evictions too: the watch of the cluster's pods is the independent witness) and says the run
was resumed three times."""

import json
import os
import threading
import time

import uclab
from ansible_collections.fournines.runbooks.plugins.module_utils.report.pod_moves import app_of
from test_blue_green_phase_kills import _provision, _start, _until

CLUSTER = 314159
# The seeded workloads (lab/k8s/seed/20-workloads.yaml); other tests may run pods elsewhere in the shared lab.
NAMESPACES = ("app", "db", "blocked")
# Seconds the surge node takes to join in phase 1, so the kill lands in that wait.
PROVISION_SECONDS = 10


class PodMoves(object):
    """Evictions of the seeded workloads' pods, as a watch of the API server reports them (not the journal):
    a pod of a controller other than a DaemonSet that gets a deletionTimestamp is one move of its app."""

    def __init__(self, core):
        self.core = core
        self.evicted = {}  # pod uid -> app (namespace/app, as report/pod_moves.app_of names it)
        self._stop = threading.Event()
        listed = core.list_pod_for_all_namespaces()
        self._known = set(p.metadata.uid for p in listed.items if p.metadata.deletion_timestamp)
        self._rv = listed.metadata.resource_version
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _note(self, pod):
        meta = pod.metadata
        owners = [o for o in meta.owner_references or [] if o.controller]
        if meta.namespace not in NAMESPACES or not owners or owners[0].kind == "DaemonSet":
            return
        if meta.uid not in self._known and meta.uid not in self.evicted:
            self.evicted[meta.uid] = app_of("%s/%s" % (meta.namespace, meta.name))

    def _run(self):
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException
        while not self._stop.is_set():
            stream = watch.Watch()
            try:
                for event in stream.stream(self.core.list_pod_for_all_namespaces, resource_version=self._rv,
                                           timeout_seconds=20):
                    pod = event["object"]
                    self._rv = pod.metadata.resource_version
                    if event["type"] == "DELETED" or pod.metadata.deletion_timestamp:
                        self._note(pod)
                    if self._stop.is_set():
                        break
            except ApiException as err:
                if err.status != 410:
                    time.sleep(0.5)
                    continue
                listed = self.core.list_pod_for_all_namespaces()  # too old: carry on from now
                self._rv = listed.metadata.resource_version
            except Exception:  # noqa: BLE001 - a dropped stream: watch again from the last version seen
                time.sleep(0.5)
            finally:
                stream.stop()

    def count(self):
        return len(self.evicted)

    def per_app(self):
        out = {}
        for app in list(self.evicted.values()):
            out[app] = out.get(app, 0) + 1
        return out

    def stop(self):
        self._stop.set()


def _deletes(admin):
    """LKE node ids the simulator deleted (DELETE .../nodes/<id> answered 2xx)."""
    return [r["path"].rsplit("/", 1)[1] for r in uclab.requests(admin)
            if r["method"] == "DELETE" and "/lke/clusters/%d/nodes/" % CLUSTER in r["path"]
            and 200 <= int(r.get("status") or 0) < 300]


def _resizes(admin):
    """Pool resizes the simulator accepted (PUT .../pools/<id>)."""
    return [r["path"] for r in uclab.requests(admin) if r["method"] == "PUT"
            and r["path"].startswith("/lke/clusters/%d/pools/" % CLUSTER) and 200 <= int(r.get("status") or 0) < 300]


def _journal(reports_dir):
    try:
        return uclab.latest_run(reports_dir)[1]
    except (AssertionError, OSError, ValueError):
        return {"steps": [], "facts": {}}


def _steps(journal, prefix, status=None):
    return [s for s in journal["steps"] if s["name"].startswith(prefix) and status in (None, s["status"])]


def _after_run(admin, runs):
    """What one run asked the simulator (the log is then cleared, so four runs never overflow it)."""
    runs.append({"resizes": _resizes(admin), "deletes": _deletes(admin), "recycles": uclab.recycles(admin)})
    admin.call("DELETE", "/requests")


def _pool(admin):
    state = admin.call("GET", "/state")
    [(pool_id, pool)] = [(int(k), v) for k, v in state["pools"].items() if int(v["cluster_id"]) == CLUSTER]
    return pool_id, pool, state


def test_surge_killed_in_each_phase_a_rerun_carries_on_and_each_pod_moves_once(seeded_lab, tmp_path):
    moves = PodMoves(seeded_lab[1])
    try:
        _phases(seeded_lab, tmp_path, moves)
    except BaseException:
        uclab.stop_probers(tmp_path)
        raise
    finally:
        moves.stop()


def _phases(seeded_lab, tmp_path, moves):
    admin, core, _ = seeded_lab
    pool_id, pool, _ = _pool(admin)
    nodes_before = sorted(str(n) for n in pool["node_ids"])
    variables = uclab.extra_vars(tmp_path)
    runs = []

    # 1. killed while the surge node joins: the pool is resized, its new node still provisioning
    provision = _provision(admin, PROVISION_SECONDS)
    try:
        proc = _start(variables)
        try:
            _until(proc, "the pool resized to 4 and its step running", lambda: _pool(admin)[1]["count"] == 4 and
                   _steps(_journal(tmp_path), "resize pool", "running"))
        finally:
            uclab.kill_tree(proc)
    finally:
        _provision(admin, provision)
    _, pool, state = _pool(admin)
    assert any(state["nodes"][str(n)]["status"] != "ready" for n in pool["node_ids"]), \
        "the kill came too late: the surge node was Ready already"
    journal = _journal(tmp_path)
    assert not _steps(journal, "drain ") and not any(n["unschedulable"] for n in uclab.lke_state(core).values())
    _after_run(admin, runs)

    # 2. resumed, killed right after the first eviction of the first drain
    evicted_before = moves.count()
    proc = _start(variables)
    try:
        _until(proc, "the first eviction of the drain", lambda: moves.count() > evicted_before, timeout=600)
    finally:
        uclab.kill_tree(proc)
    journal = _journal(tmp_path)
    assert _steps(journal, "drain ", "running") and not _steps(journal, "drain ", "done"), \
        "the kill came too late: %s" % journal["steps"]
    assert not _steps(journal, "recycle"), "the kill came too late: a recycle began"
    [resize] = _steps(journal, "resize pool")
    assert resize["status"] == "done", "the re-run found the surge node but left its step as it was: %s" % resize
    plan = " ".join("".join(proc.lines).split())
    assert "surge node already there" in plan and "surge to 5" not in plan, plan[-4000:]
    assert [n for n, v in uclab.lke_state(core).items() if v["unschedulable"]], "the killed drain left no cordon"
    killed_drain = moves.per_app()
    _after_run(admin, runs)

    # 3. resumed, killed once the node that leaves the pool is chosen (journalled) and before it is deleted
    proc = _start(variables)
    try:
        chosen = _until(proc, "the exit node chosen", lambda: _journal(tmp_path)["facts"].get("leaving_nodes"))
    finally:
        uclab.kill_tree(proc)
    journal = _journal(tmp_path)
    assert not _steps(journal, "delete node", "done"), "the kill came too late: the exit node was already deleted"
    assert _deletes(admin) == []
    [choice] = chosen.values()
    _after_run(admin, runs)

    # 4. resumed to the end
    again = uclab.run_playbook(variables)
    assert again.returncode == 0, again.stdout[-4000:]
    assert "resumed: carrying on where it stopped" in " ".join(again.stdout.split()), again.stdout[-4000:]
    _after_run(admin, runs)

    # the end an uninterrupted run leaves: one resize, each old node recycled once, the journalled node deleted once
    assert [len(r["resizes"]) for r in runs] == [1, 0, 0, 0], "surged once, by the first run: %s" % runs
    assert [r["deletes"] for r in runs] == [[], [], [], [choice["node_id"]]], "the journalled exit node: %s" % runs
    recycled = {}
    for run in runs:
        for node, n in run["recycles"].items():
            recycled[node] = recycled.get(node, 0) + n
    assert sorted(recycled) == nodes_before and set(recycled.values()) == {1}, "each old node once: %s" % recycled
    state = uclab.lke_state(core)
    assert len(state) == len(nodes_before) and choice["node_name"] not in state, state
    assert all(n["kubelet"].startswith("v1.35") and not n["unschedulable"] for n in state.values()), state
    assert not any(k.startswith("runbooks.fournines.io/") for n in state.values() for k in n["annotations"]), state

    run_dir, journal = uclab.latest_run(tmp_path)
    assert journal["status"] == "done"
    assert journal["facts"]["leaving_nodes"] == chosen, "the re-run chose again instead of carrying on"
    assert not [s["name"] for s in journal["steps"] if s["status"] not in ("done", "skipped")], journal["steps"]
    assert len(journal["facts"].get("resumed_at") or []) == 3, journal["facts"]

    # each pod moved once, and the report counts what the API server saw, the killed drain's evictions too
    uclab.wait_for("no seeded pod terminating", lambda: not [
        p for ns in NAMESPACES for p in core.list_namespaced_pod(ns).items if p.metadata.deletion_timestamp], 60)
    seen = moves.per_app()
    print("pod moves the API server saw: %s; by the killed drain: %s" % (seen, killed_drain))
    assert killed_drain and seen["app/web"] == 1 and seen["db/postgres-0"] == 1, seen
    with open(os.path.join(run_dir, "report.json")) as handle:
        report = json.load(handle)["report"]
    assert report["pod_moves"] == seen, "the report's moves %s, the cluster's %s" % (report["pod_moves"], seen)
    assert report["summary"]["nodes_recycled"] == len(nodes_before) and report["summary"]["resumed"] == 3, \
        report["summary"]
    with open(os.path.join(run_dir, "report.md")) as handle:
        assert "| resumed | 3 |" in handle.read()
