#!/usr/bin/env python3
"""Where the write outage of a CloudNativePG minor update goes, printed, not asserted.

    .venv/bin/python benchmarks/postgres_operator_switchover.py [--runs 1]

For each run: a 2-instance Cluster on the real node (old patch image), the runbook's write prober
(``postgres_cnpg_write_prober``) committing every 0.1 s through the ``-rw`` Service, and the
runbook's image change (``postgres_cnpg_image_update``: replicas first, then a switchover). Beside
it this script records the Cluster's status, the pods' role labels and the ``-rw`` EndpointSlice
every 0.1 s, and follows the instance managers' and the operator's logs. It prints, relative to
the last commit before the longest outage, when each step of the switchover happened:

- old primary shut down (its instance manager: "Old primary shutdown complete");
- promotion requested on the new primary ("Promoting instance": it polls every 1 s for the old
  primary's WAL stream to end), PostgreSQL ready to accept writes, its post-promotion CHECKPOINT;
- ``status.currentPrimary`` set by the new primary's instance manager;
- the operator relabelling the pods ("Setting primary label"; the ``-rw`` Service selects the label);
- the ``-rw`` EndpointSlice on the new primary; the prober's first commit (kube-proxy, reconnect).

``--label-primary off|on|alternate``: whether the runbook's image change labels the new primary for
the ``-rw`` Service itself as soon as the switchover is over (``label_primary``, on by default) or
leaves it to the operator; ``alternate`` runs off, on, off, ... side by side.

Takes the Postgres tests' lock (.lab/postgres/tests.lock) and the CloudNativePG tests' lock
(.lab/node/cnpg-tests.lock). Needs the lab: lab/up k8s node. Each Cluster is deleted afterwards.
"""

import argparse
import datetime
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "lab"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "postgres_operator"))
import labenv  # noqa: E402

_SPEC = importlib.util.spec_from_file_location("node_helpers", os.path.join(REPO, "tests", "integration", "node", "conftest.py"))
node_helpers = importlib.util.module_from_spec(_SPEC)
sys.modules["node_helpers"] = node_helpers
_SPEC.loader.exec_module(node_helpers)

from kubernetes import client, config  # noqa: E402

import oplab  # noqa: E402

#: (label, who, text in the log message): the first line after the outage began that matches.
MARKS = (
    ("old primary shut down", "old", "Old primary shutdown complete"),
    ("promotion requested (after the 1 s WAL-receiver poll)", "new", "Promoting instance"),
    ("new primary accepts connections", "new", "database system is ready to accept connections"),
    ("post-promotion CHECKPOINT done", "new", "has been promoted successfully"),
    ("currentPrimary set by the new primary", "new", "Finished setting myself as primary"),
    ("operator relabels the pods", "operator", "Setting primary label"),
)


def _ts(line):
    """(epoch seconds, message) of one JSON log line of CloudNativePG; (None, line) otherwise."""
    try:
        rec = json.loads(line)
    except ValueError:
        return None, line
    ts = rec.get("ts")
    if isinstance(ts, str):
        try:
            ts = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")[:26] + "+00:00").timestamp()
        except ValueError:
            ts = None
    msg = str(rec.get("msg", ""))
    inner = rec.get("record")
    if isinstance(inner, dict) and inner.get("message"):
        msg += " | " + str(inner["message"])
    return ts, msg


class Recorder(object):
    """Cluster status, role labels and the -rw EndpointSlice every 0.1 s; the pods' and the operator's logs."""

    def __init__(self, lab):
        self.lab, self.ns = lab, lab.ns
        self.disc = client.DiscoveryV1Api(lab.core.api_client)
        self.events, self.logs, self.followed = [], {}, set()
        self.stop = threading.Event()

    def _follow(self, ns, pod, container, key):
        if key in self.followed:
            return
        self.followed.add(key)
        lines = self.logs.setdefault((pod, key), [])

        def run():
            try:
                resp = self.lab.core.read_namespaced_pod_log(pod, ns, container=container, follow=True,
                                                             _preload_content=False, since_seconds=5)
                buf = b""
                for chunk in resp.stream(4096):
                    buf += chunk
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        lines.append(line.decode("utf-8", "replace"))
                    if self.stop.is_set():
                        return
            except Exception:  # noqa: BLE001 - a log stream ends with its container
                return
        threading.Thread(target=run, daemon=True).start()

    def _poll(self):
        last = {}
        while not self.stop.is_set():
            now = time.time()
            try:
                st = self.lab.status("pg")
                cur = (st.get("currentPrimary"), st.get("targetPrimary"))
                if last.get("cluster") != cur:
                    self.events.append((now, "status", cur))
                    last["cluster"] = cur
                for pod in self.lab.core.list_namespaced_pod(self.ns, label_selector="cnpg.io/podRole=instance").items:
                    statuses = pod.status.container_statuses or []
                    if statuses and statuses[0].state and statuses[0].state.running:
                        self._follow(self.ns, pod.metadata.name, "postgres", (pod.metadata.uid, statuses[0].restart_count))
                raw = self.disc.list_namespaced_endpoint_slice(self.ns, label_selector="kubernetes.io/service-name=pg-rw",
                                                               _preload_content=False)
                ready = tuple(sorted((e.get("targetRef") or {}).get("name") for s in json.loads(raw.data)["items"]
                                     for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready")))
                if last.get("rw") != ready:
                    self.events.append((now, "rw", ready))
                    last["rw"] = ready
            except Exception as err:  # noqa: BLE001 - keep recording
                self.events.append((now, "error", str(err)[:120]))
            time.sleep(0.1)

    def start(self):
        operator = self.lab.core.list_namespaced_pod("cnpg-system").items[0].metadata.name
        self._follow("cnpg-system", operator, "manager", "operator")
        threading.Thread(target=self._poll, daemon=True).start()

    def lines(self, who, old, new):
        for (pod, key), lines in self.logs.items():
            if (who == "operator") != (key == "operator") or (who == "old" and pod != old) or (who == "new" and pod != new):
                continue
            for line in lines:
                if who == "operator" and self.ns not in line:
                    continue
                yield _ts(line)


def one(api, node_env, workdir, label_primary=True):
    ns = "pgswitch-" + uuid.uuid4().hex[:6]
    lab = oplab.OpLab(api, node_env, ns, workdir)
    lab.create_namespace()
    try:
        lab.create_cluster("pg", node_env["NODE_IMAGE_PG_OLD"])
        lab.wait_healthy("pg", node_env["NODE_IMAGE_PG_OLD"], timeout=600)
        old = lab.status("pg")["currentPrimary"]
        rec = Recorder(lab)
        rec.start()
        wdir = os.path.join(workdir, ns, "writer")
        lab.module("postgres_cnpg_write_prober", namespace=ns, name="pg", directory=wdir, run_id=ns)
        time.sleep(2)
        update = lab.module("postgres_cnpg_image_update", namespace=ns, name="pg", image=node_env["NODE_IMAGE_PG_MINOR"],
                            upgrade="minor", timeout=900, label_primary=label_primary)
        time.sleep(2)
        writes = lab.module("postgres_cnpg_write_prober", namespace=ns, name="pg", directory=wdir, run_id=ns,
                            state="stopped")["prober"]
        rec.stop.set()
        if update.get("failed"):
            raise SystemExit("image update failed: %s" % update.get("msg"))
        new = lab.status("pg")["currentPrimary"]
        outage = max(writes["outages"], key=lambda o: o["seconds"])
        origin = outage["start"]
        rows = []
        for label, who, text in MARKS:
            hits = [ts for ts, msg in rec.lines(who, old, new) if ts and ts >= origin - 1 and text in msg]
            rows.append((label, round(min(hits) - origin, 2) if hits else None))
        mine = [c["at"] for c in update.get("labelled") or [] if c.get("role") == "primary"]
        rows.append(("the runbook labels the new primary (label_primary)", round(mine[0] - origin, 2) if mine else None))
        rw = [t for t, kind, what in rec.events if kind == "rw" and what == (new,) and t >= origin]
        rows.append(("-rw EndpointSlice on the new primary (0.1 s poll)", round(rw[0] - origin, 2) if rw else None))
        rows.append(("first commit after the outage", round(outage["end"] - origin, 2)))
        return {"namespace": ns, "label_primary": label_primary, "old_primary": old, "new_primary": new, "outage_s": outage["seconds"],
                "lost": writes["lost"], "committed": writes["committed"], "failed_writes": writes["failed_attempts"],
                "steps": rows}
    finally:
        lab.core.delete_namespace(ns)
        node_helpers.wait_for("namespace gone", lambda: not [n for n in lab.core.list_namespace().items
                                                             if n.metadata.name == ns], timeout=600, every=2)
        subprocess.run([sys.executable, os.path.join(REPO, "lab", "node", "seed.py"), "volumes", labenv.kubeconfig(),
                        node_env["NODE_NAME"], "12", "/var/lib/fournines-node/volumes"], check=True, timeout=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--label-primary", choices=["on", "off", "alternate"], default="on",
                        help="postgres_cnpg_image_update's label_primary: on (the runbook's default), off (the operator "
                             "labels the new primary), alternate (off, on, off, ... for a side-by-side)")
    args = parser.parse_args()
    api = config.new_client_from_config(config_file=labenv.kubeconfig())
    node_env = labenv.component_env("node")
    release_node = labenv.hold("node", "cnpg-tests.lock")  # the real node's local volumes, as the CloudNativePG tests
    release = labenv.hold("postgres", "tests.lock")
    try:
        for run in range(args.runs):
            labelling = args.label_primary == "on" or (args.label_primary == "alternate" and run % 2 == 1)
            with tempfile.TemporaryDirectory() as workdir:
                result = one(api, node_env, workdir, label_primary=labelling)
            print(json.dumps(result), flush=True)
            print("run %d (label_primary %s): longest write outage %.2f s (%d committed, %d failed writes, %d lost)"
                  % (run + 1, "on" if labelling else "off", result["outage_s"], result["committed"], result["failed_writes"],
                     result["lost"]))
            print("| step (%s -> %s) | seconds after the last commit |" % (result["old_primary"], result["new_primary"]))
            print("| --- | --- |")
            for label, secs in result["steps"]:
                print("| %s | %s |" % (label, "?" if secs is None else "%+.2f" % secs))
    finally:
        release()
        release_node()


if __name__ == "__main__":
    main()
