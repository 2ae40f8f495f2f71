#!/usr/bin/env python3
"""playbooks/upgrade-cluster.yml against a conventional baseline, on lab clusters of 3 and 50 nodes.

For each size, in one run: a private Linode simulator (its own cluster id and ephemeral port,
state in a temporary folder) builds an LKE cluster of N nodes one minor below the newest, in the
running lab's Kubernetes; a private edge answers for a 3-replica app (PDB minAvailable 2) and a
single-replica app pinned to those nodes (a NoExecute taint keeps everything else off them, so
the seeded lab is not touched). Then:

1. this collection's playbook runs, timed, with its prober on the private edge, once per strategy:
   surge (pool cordon, PDB-aware drains, recycle, verify) and blue_green (a new pool, the old pool
   drained onto it in batches of the same size, then deleted; soaks of --soak seconds);
2. the cluster is rebuilt and the baseline (benchmarks/baseline-upgrade.yml: kubernetes.core
   k8s_drain retried on refusal, then LKE recycle, node after node, no surge) runs, timed, with the
   same prober;
3. the playbook's --check is timed.

    .venv/bin/python benchmarks/upgrade_cluster.py [--sizes 3,50] [--concurrency 3:1,50:10]
        [--strategies surge,blue_green] [--soak 0]

Prints wall time of each, the ratio, the failed edge requests of each app, and how many times the
single-replica app's pod moved (distinct web pods seen while the job ran, minus the first) with the
downtime the prober measured for it.
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, "lab"), os.path.join(REPO, "lab", "linode_sim")]

import labenv  # noqa: E402
from linodesim import profile  # noqa: E402
from linodesim.cloud import Cloud, run_worker  # noqa: E402
from linodesim.faults import Faults  # noqa: E402
from linodesim.nodes import KwokBackend  # noqa: E402
from linodesim.server import SimContext, make_server  # noqa: E402
from linodesim.store import Store  # noqa: E402

CLUSTER_ID = 900002
TOKEN = "benchmark-upgrade-token"
TAINT = {"key": "lab.fournines.io/benchmark-upgrade", "value": "yes", "effect": "NoExecute"}
LABELS = {"bench.fournines.io/upgrade": "yes"}
NAMESPACE = "bench-upgrade"
HOSTS = {"app": "app.bench-upgrade.test", "web": "web.bench-upgrade.test"}
BIN = os.path.dirname(sys.executable)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait(what, predicate, timeout=600, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise SystemExit("benchmark: timed out waiting for %s" % what)


class MoveCounter(object):
    """Distinct pods of one app seen while a job runs (polled; a pod lives far longer than a poll)."""

    def __init__(self, core, app):
        self.core, self.app, self.uids = core, app, set()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self):
        while not self.done.is_set():
            try:
                pods = self.core.list_namespaced_pod(NAMESPACE, label_selector="app.kubernetes.io/name=%s" % self.app)
                self.uids.update(p.metadata.uid for p in pods.items)
            except Exception:  # noqa: BLE001 - a transient API error: poll again
                pass
            self.done.wait(0.3)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join(timeout=10)

    @property
    def moves(self):
        return max(len(self.uids) - 1, 0)


class Bench(object):
    """Private simulator + edge + workloads for one cluster size."""

    def __init__(self, tmp, core, apps, policy):
        self.task_times = False
        self.tmp, self.core, self.apps, self.policy = tmp, core, apps, policy
        backend = KwokBackend(labenv.kubeconfig(), os.path.join(REPO, "lab"))
        self.cloud = Cloud(Store(os.path.join(tmp, "sim-state.json")), profile.load(), backend=backend,
                           config={"cluster_id": CLUSTER_ID, "label": "bench", "pools": [], "domains": []})
        apiserver = "https://127.0.0.1:%d" % labenv.port("APISERVER_PORT")
        self.server = make_server(SimContext(self.cloud, Faults(), TOKEN, apiserver_url=apiserver), "127.0.0.1", 0)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.stop = threading.Event()
        threading.Thread(target=run_worker, args=(self.cloud, self.stop), daemon=True).start()
        self.api_url = "http://127.0.0.1:%d/v4" % self.server.server_address[1]
        self.edge_port = free_port()
        routes = os.path.join(tmp, "routes.json")
        with open(routes, "w") as handle:
            json.dump({HOSTS["app"]: {"namespace": NAMESPACE, "service": "app"},
                       HOSTS["web"]: {"namespace": NAMESPACE, "service": "web"}}, handle)
        self.edge = subprocess.Popen(
            [sys.executable, os.path.join(REPO, "lab", "edge", "edgeserver.py"), "--http-port", str(self.edge_port),
             "--https-port", str(free_port()), "--state-dir", tmp, "--kubeconfig", labenv.kubeconfig(),
             "--routes", routes, "--sim-admin-url", "http://127.0.0.1:%d/__admin" % self.server.server_address[1]],
            stdout=open(os.path.join(tmp, "edge.log"), "w"), stderr=subprocess.STDOUT)

    # -- cluster ----------------------------------------------------------------------------
    def names(self):
        return [n.metadata.name for n in self.core.list_node().items
                if n.metadata.name.startswith("lke%d-" % CLUSTER_ID)]

    def ready(self):
        return [n for n in self.core.list_node().items if n.metadata.name.startswith("lke%d-" % CLUSTER_ID)
                and any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])]

    def on_target(self, size, what):
        """Both contenders must end with every node Ready on the newest version: a figure for a job
        that skipped nodes would mean nothing."""
        newest = self.cloud.data["versions"][-1]
        ready = self.ready()
        done = [n for n in ready if n.status.node_info.kubelet_version.startswith("v%s." % newest)]
        if len(done) != size or len(ready) != size:
            raise SystemExit("benchmark: after %s, %d of %d Nodes Ready, %d on %s" % (what, len(ready), size, len(done),
                                                                                    newest))
        return "%d/%d Ready on %s" % (len(done), size, newest)

    def build(self, nodes):
        self.teardown_pools()
        with self.cloud.lock:
            cluster = self.cloud.data["clusters"][str(CLUSTER_ID)]
            versions = self.cloud.data["versions"]
            cluster["k8s_version"] = versions[-2]  # one minor below the newest, as the lab
            self.cloud.create_pool(CLUSTER_ID, {"type": "g6-standard-4", "count": nodes, "taints": [TAINT],
                                                "labels": LABELS}, instant=True)
            self.cloud.save()
        wait("%d bench Nodes Ready" % nodes, lambda: len(self.ready()) == nodes)
        self.deploy()

    def teardown_pools(self):
        with self.cloud.lock:
            for pool in self.cloud.pools_list(CLUSTER_ID):
                self.cloud.delete_pool(CLUSTER_ID, pool["id"])
        wait("bench Nodes gone", lambda: not self.names(), 180)
        for pod in self.core.list_namespaced_pod(NAMESPACE).items if self._ns_exists() else []:
            if pod.spec.node_name:  # bound to a deleted Node: do what the pod GC would do later
                try:
                    self.core.delete_namespaced_pod(pod.metadata.name, NAMESPACE, grace_period_seconds=0)
                except Exception:  # noqa: BLE001 - already gone
                    pass

    def _ns_exists(self):
        return any(n.metadata.name == NAMESPACE for n in self.core.list_namespace().items)

    def deploy(self):
        from kubernetes import utils  # pylint: disable=import-outside-toplevel
        if not self._ns_exists():
            self.core.create_namespace({"metadata": {"name": NAMESPACE}})
        for name, replicas in (("app", 3), ("web", 1)):
            labels = {"app.kubernetes.io/name": name}
            spec = {"replicas": replicas, "selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels},
                "spec": {"nodeSelector": LABELS, "tolerations": [dict(TAINT, operator="Equal")],
                         "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                                        "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": labels}}],
                         "containers": [{"name": name, "image": "registry.example.com/bench/%s:1" % name,
                                         "ports": [{"containerPort": 8080}],
                                         "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}
            docs = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NAMESPACE},
                     "spec": spec},
                    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NAMESPACE},
                     "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}}]
            if replicas > 1:
                docs.append({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                             "metadata": {"name": name, "namespace": NAMESPACE},
                             "spec": {"minAvailable": replicas - 1, "selector": {"matchLabels": labels}}})
            for doc in docs:
                try:
                    utils.create_from_dict(self.core.api_client, doc)
                except utils.FailToCreateError:
                    pass  # exists from the previous round
        wait("bench apps Ready and answering", self.answering, 300)

    def answering(self):
        for name, replicas in (("app", 3), ("web", 1)):
            dep = self.apps.read_namespaced_deployment(name, NAMESPACE)
            if (dep.status.ready_replicas or 0) < replicas:
                return False
        return all(self.edge_status(h) == 200 for h in HOSTS.values())

    def edge_status(self, host):
        req = urllib.request.Request("http://127.0.0.1:%d/" % self.edge_port, headers={"Host": host})
        try:
            with urllib.request.urlopen(req, timeout=2) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code
        except OSError:
            return None

    # -- runs -------------------------------------------------------------------------------
    def common_vars(self):
        return {"lke_api_url": self.api_url, "lke_api_token": TOKEN, "lke_cluster_id": CLUSTER_ID,
                "lke_kubeconfig": labenv.kubeconfig()}

    def targets(self):
        return [{"name": name, "url": "http://127.0.0.1:%d/" % self.edge_port, "host": host}
                for name, host in sorted(HOSTS.items())]

    def run(self, playbook, variables, check=False):
        argv = [os.path.join(BIN, "ansible-playbook"), os.path.join(REPO, playbook), "-e", json.dumps(variables)]
        if check:
            argv.append("--check")
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
        if self.task_times:  # where the time goes, per task, at the end of the log
            env.update(ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks", PROFILE_TASKS_TASK_OUTPUT_LIMIT="12")
        env.pop("LINODE_TOKEN", None)
        started = time.monotonic()
        proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
        took = time.monotonic() - started
        log = os.path.join(self.tmp, "%s%s.log" % (os.path.basename(playbook), "-check" if check else ""))
        with open(log, "w") as handle:
            handle.write(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise SystemExit("benchmark: %s failed (exit %d); log: %s\n%s" % (playbook, proc.returncode, log,
                                                                              proc.stdout[-3000:]))
        return took

    def ours(self, concurrency, check=False, strategy="surge", soak=0.0):
        reports = os.path.join(self.tmp, "reports-check" if check else "reports")
        if os.path.isdir(reports):  # the same size twice (both strategies): one run per folder
            os.rename(reports, reports + "-%d" % time.time_ns())
        variables = dict(self.common_vars(), cluster_preflight_reports_dir=reports,
                         cluster_preflight_concurrency=concurrency, cluster_preflight_relax_pdbs=[],
                         cluster_preflight_probe_targets=self.targets(), cluster_preflight_resume=False,
                         cluster_preflight_slo={"ledger": os.path.join(self.tmp, "downtime.jsonl")},
                         upgrade_cluster_strategy=strategy, upgrade_cluster_batch_size=str(concurrency),
                         upgrade_cluster_soak_seconds=soak, upgrade_cluster_final_soak_seconds=soak,
                         upgrade_cluster_soak_namespaces=[NAMESPACE])
        with MoveCounter(self.core, "web") as web:
            took = self.run("playbooks/upgrade-cluster.yml", variables, check=check)
        if check:
            return took, None
        run = sorted(d for d in os.listdir(reports) if d.startswith("upgrade-cluster-"))[-1]
        with open(os.path.join(reports, run, "report.json")) as handle:
            probe = json.load(handle)["report"]["probe"]["targets"]
        out = dict((k, v["failed_requests"]) for k, v in probe.items())
        out.update(web_moves=web.moves, web_downtime=probe.get("web", {}).get("downtime_seconds", 0.0))
        return took, out

    def baseline(self):
        from ansible_collections.fournines.runbooks.plugins.module_utils.common import prober  # noqa: E402
        probe_dir = os.path.join(self.tmp, "baseline-probe")
        variables = dict(self.common_vars(), baseline_probe_dir=probe_dir, baseline_probe_targets=self.targets(),
                         baseline_target=self.cloud.data["versions"][-1])
        with MoveCounter(self.core, "web") as web:
            took = self.run("benchmarks/baseline-upgrade.yml", variables)
        summary = prober.summary(probe_dir)
        out = dict((k, v["failed_requests"]) for k, v in summary["targets"].items())
        out.update(web_moves=web.moves, web_downtime=summary["targets"].get("web", {}).get("downtime_seconds", 0.0))
        return took, out

    def close(self):
        try:
            self.teardown_pools()
            if self._ns_exists():
                self.core.delete_namespace(NAMESPACE)
        finally:
            self.stop.set()
            self.server.shutdown()
            self.edge.terminate()
            self.edge.wait(timeout=10)
            for name in self.names():  # whatever the simulator lost track of (a lab restart in between)
                try:
                    self.core.delete_node(name)
                except Exception:  # noqa: BLE001 - already gone
                    pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="3,50", help="cluster sizes, comma-separated")
    parser.add_argument("--concurrency", default="3:1,50:10",
                        help="size:nodes-per-batch for this playbook (the baseline is always serial)")
    parser.add_argument("--strategies", default="surge,blue_green", help="this playbook's strategies to time")
    parser.add_argument("--no-baseline", action="store_true", help="leave out the baseline (it takes longest)")
    parser.add_argument("--soak", type=float, default=0.0,
                        help="soak seconds after each node/batch (and blue_green's final soak); 0 = none")
    parser.add_argument("--check-only", action="store_true",
                        help="time only the --check plan (no upgrade, no baseline) and print the slowest tasks")
    args = parser.parse_args()
    sys.path.insert(0, os.path.join(REPO, ".collections"))
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    api = config.new_client_from_config(config_file=labenv.kubeconfig())
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    concurrency = dict((int(k), int(v)) for k, v in (p.split(":") for p in args.concurrency.split(",")))
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-upgrade-") as tmp:
        bench = Bench(tmp, core, apps, None)
        bench.task_times = args.check_only
        try:
            for size in [int(s) for s in args.sizes.split(",")]:
                conc = concurrency.get(size, 1)
                print("== %d nodes: building the cluster" % size, flush=True)
                bench.build(size)
                check_took, _ = bench.ours(conc, check=True)
                print("   --check (plan only)         %7.1f s" % check_took, flush=True)
                if args.check_only:
                    with open(os.path.join(tmp, "upgrade-cluster.yml-check.log")) as handle:
                        log = handle.read()
                    planned = set(re.findall(r"lke%d-\d+-[0-9a-f]+" % CLUSTER_ID, log))
                    print("   nodes named in the plan     %7d" % len(planned), flush=True)
                    print("\n".join("     " + line for line in log.rstrip().splitlines()[-14:]), flush=True)
                    continue
                base_took, base_failed = None, None
                for number, strategy in enumerate(args.strategies.split(",")):
                    if number:
                        bench.build(size)
                    ours_took, ours_failed = bench.ours(conc, strategy=strategy, soak=args.soak)
                    print("   upgrade-cluster.yml %-10s %7.1f s  failed requests %s, %s" % (
                        strategy, ours_took, ours_failed, bench.on_target(size, "upgrade-cluster.yml")), flush=True)
                    rows.append([size, conc, strategy, ours_took, None, ours_failed, None, check_took])
                if args.no_baseline:
                    continue
                bench.build(size)
                base_took, base_failed = bench.baseline()
                print("   baseline                    %7.1f s  failed requests %s, %s" % (
                    base_took, base_failed, bench.on_target(size, "the baseline")), flush=True)
                for row in rows:
                    if row[0] == size:
                        row[4], row[6] = base_took, base_failed
        finally:
            bench.close()
    if args.check_only:
        return
    print()
    print("upgrade_cluster benchmark (lab profile %s; baseline = kubernetes.core.k8s_drain + LKE recycle, serial, "
          "no surge)" % labenv.current_profile())
    print("soak %.0f s after each node/batch (blue_green: and a final one); blue_green drains batches of the same "
          "size as surge's concurrency" % args.soak)
    surge = dict((r[0], r[3]) for r in rows if r[2] == "surge")
    print("%6s %5s %11s %10s %10s %7s %9s %22s %22s %9s %18s %18s" % (
        "nodes", "batch", "strategy", "ours s", "baseline s", "ratio", "vs surge", "ours failed app/web",
        "baseline failed app/web", "check s", "web moves ours/base", "web down s ours/base"))
    for size, conc, strategy, ours, base, of, bf, chk in rows:
        base = base or float("nan")
        bf = bf or {"app": -1, "web": -1, "web_moves": -1, "web_downtime": float("nan")}  # -1: no baseline run
        print("%6d %5d %11s %10.1f %10.1f %7.2f %9s %22s %22s %9.1f %18s %18s" % (
            size, conc, strategy, ours, base, ours / base,
            "%.2f" % (ours / surge[size]) if size in surge else "-", "%d/%d" % (of.get("app", 0), of.get("web", 0)),
            "%d/%d" % (bf.get("app", 0), bf.get("web", 0)), chk, "%d/%d" % (of["web_moves"], bf["web_moves"]),
            "%.1f/%.1f" % (of["web_downtime"], bf["web_downtime"])))


if __name__ == "__main__":
    main()
