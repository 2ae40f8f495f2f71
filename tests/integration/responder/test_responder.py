"""The node-loss responder against the lab: fence first, taint only a node whose instance is gone or off,
never more than the limit, and no taint left on a healthy node."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import responderlab as rl  # noqa: E402


def _lose_heartbeat(core, name):
    rl.wait_for("node %s NotReady" % name, lambda: rl.node_ready(core, name) in ("False", "Unknown"), 240, 0.5)


def test_rulebook_taints_a_deleted_node_only_after_the_fence_and_releases_it(tmp_path, seeded):
    adm, core, apps = seeded
    lost = rl.create_rwo_app(core, apps)
    instance = rl.instance_of(core.read_node(lost))
    # LKE takes minutes to replace a lost node; the fast profile's 20 s could beat a responder on a busy machine
    replace = adm.call("GET", "/settings")["profile"]["NODE_REPLACE_SECONDS"]
    adm.call("PUT", "/settings", {"profile": {"NODE_REPLACE_SECONDS": max(replace, 240)}})
    rulebook = rl.start_rulebook(tmp_path)
    try:
        rl.linode("DELETE", "/linode/instances/%d" % instance)
        rl.wait_for("the responder's taint on %s" % lost, lambda: lost in rl.tainted(core)
                    or rl.node_ready(core, lost) is None, 300, 0.5)
        # what the simulator answered the fence (read now: the lab's request log is shared)
        gets = [r for r in adm.call("GET", "/requests")["data"]
                if r["method"] == "GET" and r["path"].endswith("/linode/instances/%d" % instance)]
        pod = rl.wait_for("the rwo pod Ready on another node", lambda: rl.rwo_pod_ready(core, not_on=lost), 300, 0.5)
        rl.wait_for("the response recorded as done", lambda: [r for run, r in rl.incidents(tmp_path)
                                                              if r["node"] == lost and r.get("volumes_attached")], 120, 1.0)
        assert rl.node_ready(core, lost) is not None, "LKE replaced the node before the responder moved the app"
        # LKE's replacement comes now; the responder sees the node go and ends its response
        adm.call("PUT", "/settings", {"profile": {"NODE_REPLACE_SECONDS": replace}})
        rl.wait_for("the lost node gone (replaced)", lambda: rl.node_ready(core, lost) is None, 600, 1.0)
        rl.wait_for("the response reported, its taint gone with the node", lambda: [
            i for i in rl.reported_incidents(tmp_path) if i["node"] == lost and i.get("released")], 300, 1.0)
        done = [r for run, r in rl.incidents(tmp_path) if r["node"] == lost and r.get("tainted")]
        assert len(done) == 1, "acted on %s %d times: %r" % (lost, len(done), done)
        record = done[0]
        # fenced first: the simulator said the instance was gone, and only then was the taint written
        assert record["verdict"] in ("deleted", "replaced")
        assert record["fenced"] <= record["tainted"]
        assert gets and all(r.get("status") == 404 for r in gets), gets
        # the volume moved because of the taint, long before the force-detach delay
        from kubernetes import client
        moved = [va for va in client.StorageV1Api(core.api_client).list_volume_attachment().items
                 if va.spec.node_name == pod.spec.node_name
                 and (va.metadata.annotations or {}).get("storage.lab.fournines.io/previous-node") == lost]
        assert moved, "no VolumeAttachment on %s came from %s" % (pod.spec.node_name, lost)
        assert moved[0].metadata.annotations["storage.lab.fournines.io/force-detached"] == "false"
        assert rl.tainted(core) == []
        assert "responder" in open(os.path.join(str(tmp_path), "downtime.jsonl")).read()
    finally:
        rl.stop(rulebook)
        adm.call("PUT", "/settings", {"profile": {"NODE_REPLACE_SECONDS": replace}})
        rl.delete_rwo_app(core)


def test_a_partitioned_node_whose_instance_runs_is_not_tainted(tmp_path, seeded):
    adm, core, apps = seeded
    sys.path.insert(0, os.path.join(rl.REPO, "lab", "k8s"))
    import kwoknodes
    name = rl.web_node(core)
    kwoknodes.stop_heartbeat(core, name)
    try:
        _lose_heartbeat(core, name)
        result = rl.run_playbook(tmp_path, {"node_loss_response_nodes": [name]})
        assert result.returncode == 0, result.stdout[-3000:]
        assert name not in rl.tainted(core)
        data = rl.report(tmp_path, rl.runs(tmp_path)[-1])["report"]
        assert data["tainted"] == []
        skipped = [s for s in data["skipped"] if s["node"] == name]
        assert skipped and skipped[0]["verdict"] == "running", data["skipped"]
        assert "may still write" in skipped[0]["reason"]
    finally:
        kwoknodes.resume_heartbeat(core, name)


def test_an_api_outage_during_fencing_means_no_taint_and_a_clear_report(tmp_path, seeded):
    adm, core, apps = seeded
    name = rl.web_node(core)
    instance = rl.instance_of(core.read_node(name))
    rl.linode("POST", "/linode/instances/%d/shutdown" % instance)
    try:
        _lose_heartbeat(core, name)
        adm.call("POST", "/faults", {"path": "^/linode/instances/", "status": 503})
        result = rl.run_playbook(tmp_path, {"node_loss_response_nodes": [name], "node_loss_response_fence_timeout": 4})
        adm.call("DELETE", "/faults")
        assert result.returncode == 0, result.stdout[-3000:]
        assert name not in rl.tainted(core)
        run = rl.runs(tmp_path)[-1]
        skipped = [s for s in rl.report(tmp_path, run)["report"]["skipped"] if s["node"] == name]
        assert skipped and skipped[0]["verdict"] == "unknown"
        assert "could not confirm, did nothing" in skipped[0]["reason"]
        assert "could not confirm, did nothing" in open(os.path.join(str(tmp_path), "reports", run, "report.md")).read()
        tries = [r for r in adm.call("GET", "/requests")["data"] if r["path"].endswith("/linode/instances/%d" % instance)
                 and r["method"] == "GET"]
        assert len(tries) > 1, "the fence was not retried: %r" % tries
    finally:
        adm.call("DELETE", "/faults")
        rl.linode("POST", "/linode/instances/%d/boot" % instance)


def test_two_lost_nodes_only_the_limit_is_tainted_and_the_next_run_releases_it(tmp_path, seeded):
    adm, core, apps = seeded
    names = sorted(simlab_nodes for simlab_nodes in rl.simlab.lke_nodes(core))[:2]
    instances = [rl.instance_of(core.read_node(n)) for n in names]
    for instance in instances:
        rl.linode("POST", "/linode/instances/%d/shutdown" % instance)
    try:
        for name in names:
            _lose_heartbeat(core, name)
        result = rl.run_playbook(tmp_path, {"node_loss_response_settle_timeout": 1, "node_loss_response_wait_timeout": 30})
        assert result.returncode == 0, result.stdout[-3000:]
        outcome = rl.report(tmp_path, rl.runs(tmp_path)[-1])["report"]
        assert len(rl.tainted(core)) == 1, (rl.tainted(core), outcome)
        (handled,) = rl.tainted(core)
        other = [n for n in names if n != handled][0]
        skipped = outcome["skipped"]
        assert [s["node"] for s in skipped if "limit of 1" in s["reason"]] == [other], skipped
        # the node comes back while the taint is still on it (the response ended before it settled):
        for instance in instances:
            rl.linode("POST", "/linode/instances/%d/boot" % instance)
        rl.wait_for("both nodes Ready", lambda: all(rl.node_ready(core, n) == "True" for n in names), 240, 0.5)
        result = rl.run_playbook(tmp_path)
        assert result.returncode == 0, result.stdout[-3000:]
        assert rl.tainted(core) == []
    finally:
        for instance in instances:
            try:
                rl.linode("POST", "/linode/instances/%d/boot" % instance)
            except Exception:  # noqa: BLE001 - already running
                pass
