"""Destructive drills on the lab: the downtime limit and an interruption in the middle.

Each starts from the seeded lab (``seeded``) and runs the real playbook; the lab is reset at
the end of the session.
"""

import json
import os
import time

import drilllab

wait_for = drilllab.wait_for


def instance(adm, instance_id):
    for inst in adm.call("GET", "/state")["instances"].values():
        if int(inst["id"]) == int(instance_id):
            return inst
    return None


def power_requests(adm, instance_id):
    return [(m["method"], m["path"].rsplit("/", 1)[-1]) for m in drilllab.mutations(adm)
            if "/linode/instances/%s" % instance_id in m["path"]]


def test_the_downtime_limit_stops_the_drill_and_restores_service(tmp_path, seeded):
    adm, core, dummy = seeded
    proc = drilllab.run_playbook(drilllab.extra_vars(tmp_path, drill_observe_downtime_limit=4), timeout=600)
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0, out[-3000:]
    assert "passed its downtime limit of 4.0 s and was stopped; service was restored by out-of-service taint on" in out
    # the milestones reach the play output while the drill waits (the progress callback)
    assert "progress: " in out and "drill_wait: first failed request at the edge at +" in out, out[-3000:]
    (run,) = drilllab.runs(tmp_path)
    drill = drilllab.report(tmp_path, run)["report"]["drill"]
    assert drill["aborted"] is True and drill["recovered"] is True
    assert drill["restored_by"] == ["out-of-service taint on %s" % drill["node"]]
    assert drill["advice"][0]["id"] == "aborted"
    assert drilllab.journal(tmp_path, run)["status"] == "done"  # cleaned up and reported: nothing to carry on
    assert drilllab.edge_status() == 200
    old = core.list_node().items
    assert not [n.metadata.name for n in old if any(t.key == "node.kubernetes.io/out-of-service"
                                                    for t in n.spec.taints or [])]
    ledger = [json.loads(line) for line in open(os.path.join(str(tmp_path), "downtime.jsonl"))]
    assert [r["run_id"] for r in ledger] == [run]


def test_an_interrupted_drill_is_cleaned_up_by_the_next_run(tmp_path, seeded):
    adm, core, dummy = seeded
    variables = drilllab.extra_vars(tmp_path, drill_preflight_mode="shutdown", drill_observe_shutdown_seconds=600)
    proc = drilllab.run_playbook(variables, background=True)
    try:
        def fault_recorded():
            runs = drilllab.runs(tmp_path)
            return runs and "fault_ts" in drilllab.journal(tmp_path, runs[0])["facts"] and runs[0]
        run = wait_for("the fault in the journal", fault_recorded, 240, 0.2)
        time.sleep(3)  # well into the outage
    finally:
        drilllab.kill_group(proc)
    plan = drilllab.journal(tmp_path, run)["facts"]["plan"]
    iid = plan["instance_id"]
    wait_for("instance offline", lambda: instance(adm, iid)["status"] == "offline", 60)
    assert drilllab.journal(tmp_path, run)["status"] == "running"

    # The operator runs the drill again: it carries on the same run, boots the node, reports.
    again = drilllab.run_playbook(dict(variables, drill_observe_shutdown_seconds=5), timeout=600)
    out = " ".join((again.stdout + again.stderr).split())
    assert again.returncode == 0, out[-3000:]
    assert "Carrying on drill %s" % run in out
    assert drilllab.runs(tmp_path) == [run]
    assert instance(adm, iid)["status"] == "running"
    node = core.read_node(plan["node"])
    assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)
    assert not node.spec.unschedulable
    assert power_requests(adm, iid).count(("POST", "shutdown")) == 1  # never faulted twice
    assert ("POST", "boot") in power_requests(adm, iid)
    state = drilllab.journal(tmp_path, run)
    assert state["status"] == "done"
    drill = drilllab.report(tmp_path, run)["report"]["drill"]
    assert drill["relative"]["node_replaced"] is not None and drill["order_violations"] == []
    for sub in ("probe", "watch"):
        assert os.path.exists(os.path.join(str(tmp_path), "reports", run, sub, "stopped"))
    ledger = [json.loads(line) for line in open(os.path.join(str(tmp_path), "downtime.jsonl"))]
    assert [r["run_id"] for r in ledger] == [run]
