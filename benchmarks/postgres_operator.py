#!/usr/bin/env python3
"""Write downtime of a CloudNativePG minor update or major upgrade, printed, not asserted.

    .venv/bin/python benchmarks/postgres_operator.py [--size-mb 1024] [--skip-baseline] [--major [--method logical]]

--major: the same for the major upgrade of a Cluster on the major pair (pg-premajor 15 ->
pg-major 18, lab/node/images.env): the runbook (``-e postgres_upgrade=major -e
postgres_major_confirm=true``: canary clone upgraded in place, gate, pre-upgrade clone, the
operator's in-place pg_upgrade, post steps, base backup) beside the image raised by hand, and the
canary's predicted downtime (its primary's unavailable time) against production's measured one.

--major --method logical: the runbook's logical method instead (``-e postgres_cnpg_upgrade_major_method=logical``:
a new Cluster on 18 fed by logical replication, then a cutover that re-selects the application's Service
``pg-app``, created here with the selector of ``pg-rw``); the writer commits through ``pg-app`` as the
application's user, the way an application would, and the table gets a primary key (logical replication
needs one). Printed beside it: the cutover's own figure (production read-only until the Service moved).

For each way of updating a 2-instance Cluster on the real node from the old to the new patch
release, with a writer committing one row at a time through the ``-rw`` Service:
- runbook: ``ansible-playbook -i inventories/lab_cnpg playbooks/upgrade-postgres.yml
  -e postgres_upgrade=minor`` (canary clone, replicas first, then a switchover);
- baseline: the image changed by hand (``spec.imageName`` patched, the operator's defaults:
  ``primaryUpdateMethod: restart``).
Prints the data size, the longest write gap, failed write attempts, committed rows lost and the
wall time; for the runbook also what its own write prober measured (longest outage, total write
downtime, rows lost), beside this script's writer (whose reconnects wait up to libpq's 3 s connect
timeout where the prober first tries the TCP handshake for 4 times the one it timed at start, 0.2 to 2 s). Needs the lab: lab/up k8s node. Each Cluster is deleted afterwards.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(REPO, "tests", "integration", "postgres_operator")
sys.path.insert(0, os.path.join(REPO, "lab"))
sys.path.insert(0, HERE)
import labenv  # noqa: E402

import importlib.util  # noqa: E402
_SPEC = importlib.util.spec_from_file_location("node_helpers", os.path.join(REPO, "tests", "integration", "node", "conftest.py"))
node_helpers = importlib.util.module_from_spec(_SPEC)
sys.modules["node_helpers"] = node_helpers
_SPEC.loader.exec_module(node_helpers)

from kubernetes import client, config  # noqa: E402

import oplab  # noqa: E402
from test_cnpg_major_logical import AppLab, _answer  # noqa: E402  the application's view: Service pg-app, the app user


def fill(lab, size_mb):
    with lab.connect("pg") as conn:
        conn.execute("create table if not exists bulk (id bigint, pad text)")
        batch = 100000  # about 110 MB per batch of 1 kB rows
        total = size_mb * 1024 * 1024 // 1100
        done = 0
        while done < total:
            n = min(batch, total - done)
            conn.execute("insert into bulk select g, repeat(md5(g::text), 32) from generate_series(%s, %s) g",
                         (done + 1, done + n))
            done += n
        return conn.execute("select pg_database_size(current_database())").fetchone()[0]


def _major_images(node_env):
    """(old, new) of the major pair: the node's env, else lab/node/images list (a node started
    before pg-premajor existed)."""
    if node_env.get("NODE_IMAGE_PG_PREMAJOR"):
        return node_env["NODE_IMAGE_PG_PREMAJOR"], node_env["NODE_IMAGE_PG_MAJOR"]
    out = subprocess.run([os.path.join(REPO, "lab", "node", "images"), "list", "pg-premajor", "pg-major"], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    refs = dict(line.split("=", 1) for line in out.split())
    return refs["pg-premajor"], refs["pg-major"]


def _data_major(lab):
    return ((lab.status("pg").get("pgDataImageInfo")) or {}).get("majorVersion")


def _seconds_after(detail, words):
    """The number after ``words`` in a report step's detail ('primary back after 41.2 s')."""
    if words not in (detail or ""):
        return None
    return float(detail.split(words, 1)[1].split()[0])


def _app_service(lab):
    """The application's Service pg-app, selecting what pg-rw selects (production's primary)."""
    selector = lab.core.read_namespaced_service("pg-rw", lab.ns).spec.selector
    lab.core.create_namespaced_service(lab.ns, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "pg-app"},
                                                "spec": {"selector": selector, "ports": [{"port": 5432, "targetPort": 5432}]}})


def one(api, node_env, way, size_mb, workdir):
    ns = "pgbench-" + uuid.uuid4().hex[:6]
    lab = oplab.OpLab(api, node_env, ns, workdir)
    lab.create_namespace()
    try:
        major = "-major" in way
        old, new = _major_images(node_env) if major else (node_env["NODE_IMAGE_PG_OLD"], node_env["NODE_IMAGE_PG_MINOR"])
        body = lab.cluster_body("pg", old)
        body["spec"]["storage"]["size"] = "2Gi"
        lab.custom.create_namespaced_custom_object(oplab.GROUP, oplab.VERSION, ns, oplab.PLURAL, body)
        lab.wait_healthy("pg", old, timeout=900)
        size = fill(lab, size_mb)
        logical = way == "runbook-major-logical"
        if logical:
            with lab.connect("pg") as conn:
                conn.execute("alter table bulk add primary key (id)")
            _app_service(lab)
            node_helpers.wait_for("Service pg-app answering", lambda: _answer(AppLab(lab)), timeout=120, every=1).close()
        lab.wait_healthy("pg", old, timeout=900)
        writer = oplab.Writer(AppLab(lab) if logical else lab, "pg").start()
        started = time.monotonic()
        try:
            if way == "runbook":
                proc = lab.playbook("-e", "postgres_upgrade=minor", timeout=3600)
                if proc.returncode != 0:
                    raise SystemExit("runbook failed:\n" + proc.stdout[-3000:])
            elif way == "runbook-major":
                # The base backup's claim must fit the node's local volumes (2Gi each, lab/node/seed.py): a
                # larger one never binds and the run waits for it (seen with 3Gi on a 1.15 GB database).
                proc = lab.playbook("-e", "postgres_upgrade=major", "-e", "postgres_major_confirm=true",
                                    "-e", "postgres_cnpg_upgrade_image=" + new,
                                    "-e", "postgres_cnpg_upgrade_base_backup_size=2Gi", timeout=5400)
                if proc.returncode != 0:
                    raise SystemExit("runbook failed:\n" + proc.stdout[-3000:])
            elif way == "runbook-major-logical":
                proc = lab.playbook("-e", "postgres_upgrade=major", "-e", "postgres_major_confirm=true",
                                    "-e", "postgres_cnpg_upgrade_image=" + new, "-e", "postgres_cnpg_upgrade_major_method=logical",
                                    "-e", "postgres_cnpg_upgrade_app_service=pg-app",
                                    "-e", "postgres_cnpg_upgrade_base_backup_size=2Gi", timeout=5400)
                if proc.returncode != 0:
                    raise SystemExit("runbook failed:\n" + proc.stdout[-3000:])
            elif way == "baseline-major":
                lab.custom.patch_namespaced_custom_object(oplab.GROUP, oplab.VERSION, ns, oplab.PLURAL, "pg",
                                                          {"spec": {"imageName": new}})
                node_helpers.wait_for("data directory on the new major", lambda: _data_major(lab) == 18,
                                      timeout=3600, every=2)
                lab.wait_healthy("pg", new, timeout=1800)
            else:
                lab.custom.patch_namespaced_custom_object(oplab.GROUP, oplab.VERSION, ns, oplab.PLURAL, "pg",
                                                          {"spec": {"imageName": node_env["NODE_IMAGE_PG_MINOR"]}})
                time.sleep(5)
                lab.wait_healthy("pg", node_env["NODE_IMAGE_PG_MINOR"], timeout=1800)
                node_helpers.wait_for("every pod on the new image", lambda: all(
                    p.spec.containers[0].image == node_env["NODE_IMAGE_PG_MINOR"]
                    for p in lab.core.list_namespaced_pod(ns, label_selector="cnpg.io/podRole=instance").items),
                    timeout=900, every=2)
                lab.wait_healthy("pg", node_env["NODE_IMAGE_PG_MINOR"], timeout=900)
            wall = time.monotonic() - started
            time.sleep(3)
        finally:
            writer.stop()
        result = {"way": way, "db_bytes": size, "wall_s": round(wall, 1), "longest_write_gap_s": round(writer.longest_gap, 1),
                  "failed_attempts": writer.errors, "committed": len(writer.committed), "lost": len(writer.missing())}
        if way == "runbook-major":  # the canary's prediction against production's measured unavailability
            for step in [s for r in lab.reports().values() for s in r.get("steps") or []]:
                if step["step"] == "canary":
                    result["canary_predicted_s"] = _seconds_after(step["detail"], "primary back after")
                if step["step"] == "upgrade":
                    result["primary_unavailable_s"] = _seconds_after(step["detail"], "primary back after")
        if logical:
            for step in [s for r in lab.reports().values() for s in r.get("steps") or []]:
                if step["step"] == "cutover":
                    result["cutover_write_stop_s"] = _seconds_after(step["detail"], "writes stopped on production for")
                if step["step"] == "target":
                    result["target_detail"] = step["detail"]
        if way.startswith("runbook"):  # the runbook's own write prober (its reconnects wait at most 0.2-2 s for the TCP handshake)
            writes = [r.get("writes") for r in lab.reports().values() if r.get("writes")][-1]
            result.update(prober_longest_outage_s=writes["longest_outage_seconds"],
                          prober_downtime_s=writes["downtime_seconds"], prober_lost=writes["lost"],
                          prober_committed=writes["committed"])
        return result
    finally:
        lab.core.delete_namespace(ns)
        node_helpers.wait_for("namespace gone", lambda: not [n for n in lab.core.list_namespace().items
                                                             if n.metadata.name == ns], timeout=600, every=2)
        subprocess.run([sys.executable, os.path.join(REPO, "lab", "node", "seed.py"), "volumes",
                        labenv.kubeconfig(), node_env["NODE_NAME"], "12", "/var/lib/fournines-node/volumes"],
                       check=True, timeout=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--major", action="store_true", help="the major upgrade (pg-premajor -> pg-major) instead")
    parser.add_argument("--method", choices=["inplace", "logical"], default="inplace",
                        help="the major method the runbook uses (with --major)")
    args = parser.parse_args()
    api = config.new_client_from_config(config_file=labenv.kubeconfig())
    node_env = labenv.component_env("node")
    results = []
    # The real node's PostgreSQL is shared with the CloudNativePG tests: one session at a time, as
    # the Postgres tests do (their lock file).
    release = labenv.hold("postgres", "tests.lock")
    try:
        with tempfile.TemporaryDirectory() as workdir:
            suffix = ("-major" + ("-logical" if args.method == "logical" else "")) if args.major else ""
            for way in ("runbook" + suffix,) + (() if args.skip_baseline else ("baseline" + suffix.replace("-logical", ""),)):
                results.append(one(api, node_env, way, args.size_mb, workdir))
                print(json.dumps(results[-1]), flush=True)
    finally:
        release()
    print("| way | DB size | longest write gap | failed writes | committed | lost | wall |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print("| %s | %.0f MB | %.1f s | %d | %d | %d | %.0f s |" % (
            r["way"], r["db_bytes"] / 1e6, r["longest_write_gap_s"], r["failed_attempts"], r["committed"], r["lost"],
            r["wall_s"]))
        if r.get("canary_predicted_s") is not None and r.get("primary_unavailable_s") is not None:
            print("| %s: canary-predicted vs measured primary unavailability | | %.1f s vs %.1f s (%+.0f %%) | | | | |" % (
                r["way"], r["canary_predicted_s"], r["primary_unavailable_s"],
                100.0 * (r["primary_unavailable_s"] - r["canary_predicted_s"]) / max(r["canary_predicted_s"], 0.1)))
        if r.get("cutover_write_stop_s") is not None:
            print("| %s: the cutover (production read-only until the Service moved) | | %.2f s | | | | |" % (
                r["way"], r["cutover_write_stop_s"]))
        if "prober_longest_outage_s" in r:
            print("| %s (its write prober) | | %.1f s (total %.1f s) | | %d | %d | |" % (
                r["way"], r["prober_longest_outage_s"], r["prober_downtime_s"], r["prober_committed"], r["prober_lost"]))


if __name__ == "__main__":
    main()
