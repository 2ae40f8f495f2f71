#!/usr/bin/env python3
"""The node-failure drill with and without the node-loss responder, side by side.

Runs playbooks/node_failure_drill.yml twice on the running lab, in delete mode against the seeded
single-replica app on a ReadWriteOnce volume (app/web), each from the seeded state:

1. without the responder: the outage as Kubernetes alone recovers from it (tolerations, then the
   force-detach of the volume);
2. with the responder: ansible-rulebook runs extensions/eda/rulebooks/node_loss_responder.yml, and the
   drill runs with drill_inject_responder=true, so the responder fences the lost node through the
   Linode simulator and taints it out-of-service during the drill. The outage is measured the same
   way (the drill's prober and watcher).

    .venv/bin/python benchmarks/node_loss_responder.py [--runs 1] [--json out.json]

Prints the lab's time profile, each run's outage and where it went (the drill's segments) and, for
the responder run, the responder's own timeline (detection, response, moving). The production
figures need the lab in the production profile (LAB_PROFILE=production lab/up); the fast profile
shows the same mechanism with the lab's shortened timings. Not part of `make test`.
"""

import argparse
import json
import os
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "responder"))

import responderlab as rl  # noqa: E402

drilllab = rl.drilllab


# The seed's stateful workloads (their ReadWriteOnce volumes). A reset rebuilds every Node, and a
# volume still attached to a Node that vanished is force-detached only after the profile's delay
# (6 min in production): scaling them to 0 first detaches their volumes the normal way.
STATEFUL = (("deployment", "app", "web"), ("statefulset", "db", "postgres"))


def settled_reset():
    """drilllab.reset(), with the seed's volumes detached before the Nodes are rebuilt."""
    from kubernetes import client, config
    api = config.new_client_from_config(config_file=rl.labenv.kubeconfig())
    apps, storage = client.AppsV1Api(api), client.StorageV1Api(api)
    scale = {"deployment": (apps.read_namespaced_deployment, apps.patch_namespaced_deployment_scale),
             "statefulset": (apps.read_namespaced_stateful_set, apps.patch_namespaced_stateful_set_scale)}
    saved = {}
    for kind, ns, name in STATEFUL:
        # the seed runs one of each; an interrupted earlier reset may have left 0
        saved[(kind, ns, name)] = scale[kind][0](name, ns).spec.replicas or 1
        scale[kind][1](name, ns, {"spec": {"replicas": 0}})
    drilllab.wait_for("the seed's volumes detached", lambda: not storage.list_volume_attachment().items, 900)
    core, apps_ = drilllab.clients()
    drilllab.simlab.restore_seed(drilllab.admin(), core, apps_, 600)
    for (kind, ns, name), replicas in saved.items():
        scale[kind][1](name, ns, {"spec": {"replicas": replicas}})
    drilllab.wait_for("seeded deployments available", lambda: drilllab.simlab.deployments_available(apps_), 600)
    for host in ("api.lab.fournines.test", drilllab.APP_HOST):
        drilllab.wait_for("edge 200 for %s" % host, lambda: drilllab.edge_status(host) == 200, 600)
    drilllab.admin().call("DELETE", "/requests")


def drill(tmp, responder):
    settled_reset()
    variables = drilllab.extra_vars(tmp, drill_preflight_mode="delete", drill_preflight_target="workload",
                                    drill_preflight_workload="app/web", drill_observe_out_of_service="never",
                                    drill_inject_responder=responder, drill_observe_downtime_limit=1800)
    rulebook = rl.start_rulebook(tmp) if responder else None
    try:
        result = drilllab.run_playbook(variables, timeout=3600)
    finally:
        rl.stop(rulebook)
    runs = drilllab.runs(tmp)
    if not runs or not os.path.isfile(os.path.join(tmp, "reports", runs[-1], "report.json")):
        raise SystemExit("the drill wrote no report (rc %d):\n%s\n%s" % (
            result.returncode, result.stdout[-4000:], result.stderr[-2000:]))
    data = drilllab.report(tmp, runs[-1])["report"]["drill"]
    row = {"responder": responder, "rc": result.returncode, "downtime_seconds": data["downtime_seconds"],
           "recovered": data["recovered"], "segments": [(s["name"], s["seconds"]) for s in data["segments"]],
           "node": data["node"], "incidents": []}
    for run, record in rl.incidents(tmp):
        measured = {k: record.get(k) for k in ("verdict", "last_heartbeat", "lost_since", "fenced", "tainted",
                                                "replaced", "volumes_attached", "released", "force_deleted")}
        row["incidents"].append(dict(measured, node=record["node"], run=run))
    return row


def _phases(inc):
    base = inc.get("last_heartbeat") or inc.get("lost_since")
    if not base:
        return ""
    parts = []
    for key in ("lost_since", "fenced", "tainted", "replaced", "volumes_attached"):
        if inc.get(key):
            parts.append("%s +%.1f s" % (key, inc[key] - base))
    return ", ".join(parts)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1, help="drills of each kind")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--replace-seconds", type=float, default=None,
                        help="LKE's replacement delay for these drills (the simulator's NODE_REPLACE_SECONDS; "
                        "default: the profile's). 180 is production's, and keeps a slow responder's race with "
                        "the replacement out of a fast-profile comparison")
    args = parser.parse_args()
    adm = drilllab.admin()
    saved = adm.call("GET", "/settings")["profile"]["NODE_REPLACE_SECONDS"]
    if args.replace_seconds is not None:
        adm.call("PUT", "/settings", {"profile": {"NODE_REPLACE_SECONDS": args.replace_seconds}})
    try:
        run_all(args)
    finally:
        adm.call("PUT", "/settings", {"profile": {"NODE_REPLACE_SECONDS": saved}})


def run_all(args):
    profile = labenv_profile()
    rows = []
    for i in range(args.runs):
        for responder in (False, True):
            with tempfile.TemporaryDirectory(prefix="nlr-bench-") as tmp:
                rows.append(drill(tmp, responder))
                print("run %d %s: outage %.1f s (rc %d)" % (i + 1, "with responder" if responder else "without",
                                                             rows[-1]["downtime_seconds"], rows[-1]["rc"]), flush=True)
    settled_reset()
    print()
    print("lab profile: %s (node-monitor grace %s s, tolerations %s s, force-detach %s s, LKE replacement %s s)" % (
        profile["LAB_PROFILE"], profile.get("NODE_MONITOR_GRACE_PERIOD"), profile.get("DEFAULT_NOT_READY_TOLERATION_SECONDS"),
        profile.get("VOLUME_FORCE_DETACH_SECONDS"), args.replace_seconds or profile.get("NODE_REPLACE_SECONDS")))
    print("%-16s %10s  %s" % ("drill", "outage s", "where it went (drill segments)"))
    for row in rows:
        print("%-16s %10.1f  %s" % ("with responder" if row["responder"] else "without", row["downtime_seconds"],
                                    ", ".join("%s %.1f" % s for s in row["segments"])))
        for inc in row["incidents"]:
            print("%-16s %10s  responder on %s (%s): %s" % ("", "", inc["node"], inc["verdict"], _phases(inc)))
    without = [r["downtime_seconds"] for r in rows if not r["responder"]]
    with_ = [r["downtime_seconds"] for r in rows if r["responder"]]
    if without and with_:
        print("median outage: %.1f s without, %.1f s with the responder (%.1f s saved)" % (
            sorted(without)[len(without) // 2], sorted(with_)[len(with_) // 2],
            sorted(without)[len(without) // 2] - sorted(with_)[len(with_) // 2]))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"profile": profile, "rows": rows}, handle, indent=2)


def labenv_profile():
    env = rl.labenv.component_env("k8s")
    return {k: env.get(k) for k in ("LAB_PROFILE", "NODE_MONITOR_GRACE_PERIOD", "DEFAULT_NOT_READY_TOLERATION_SECONDS",
                                     "VOLUME_FORCE_DETACH_SECONDS", "NODE_REPLACE_SECONDS")}


if __name__ == "__main__":
    main()
