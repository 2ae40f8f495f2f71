"""Bad input and the budget gate: a clear error before anything changes.

Nothing may reach the simulated cloud's instances, no run may be created and the ledger stays
as it was. The checks run the real playbook against the running lab.
"""

import json
import os

import pytest

import drilllab


def instance_changes(adm):
    return [m for m in drilllab.mutations(adm) if "/linode/instances" in m["path"]]


def refused(tmp_path, adm, variables, expected):
    adm.call("DELETE", "/requests")
    proc = drilllab.run_playbook(drilllab.extra_vars(tmp_path, **variables), timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert expected in " ".join(out.split()), out[-3000:]
    assert instance_changes(adm) == []
    assert drilllab.runs(tmp_path) == []
    assert not os.path.exists(os.path.join(str(tmp_path), "downtime.jsonl"))
    return out


@pytest.mark.parametrize("variables,expected", [
    ({"drill_preflight_target": "node", "drill_preflight_node": "lke314159-no-such-node"},
     "node 'lke314159-no-such-node' is not a node of LKE cluster"),
    ({"drill_preflight_mode": "reboot"}, "drill_preflight_mode must be one of: delete, shutdown, drain"),
    ({"drill_preflight_target": "busiest"}, "drill_preflight_target must be one of: workload, node, random"),
    ({"drill_preflight_workload": "app/no-such-app"}, "workload app/no-such-app (Deployment no-such-app in namespace app) "
                                                      "does not exist"),
    ({"drill_preflight_production": True}, "Confirm with -e drill_preflight_confirm="),
    ({"drill_preflight_production": True, "drill_preflight_confirm": "42"}, "Confirm with -e drill_preflight_confirm="),
])
def test_bad_input_is_refused_and_nothing_changes(tmp_path, drill_lab, variables, expected):
    refused(tmp_path, drill_lab, variables, expected)


def test_a_workload_without_pods_is_refused(tmp_path, drill_lab):
    core, apps = drilllab.clients()
    ns = "drill-test-empty"
    try:
        core.create_namespace({"metadata": {"name": ns}})
        labels = {"app": "idle"}
        apps.create_namespaced_deployment(ns, {
            "metadata": {"name": "idle"},
            "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "registry.invalid/idle:1"}]}}}})
        refused(tmp_path, drill_lab, {"drill_preflight_workload": ns + "/idle"},
                "workload %s/Deployment/idle has no running pod" % ns)
    finally:
        core.delete_namespace(ns)


def test_the_budget_gate_refuses_a_drill_that_would_exhaust_it(tmp_path, drill_lab):
    # Four nines over 30 days allow 259.2 s; earlier delete drills took 200 s and 250 s ago this month.
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc)
    ledger = os.path.join(str(tmp_path), "downtime.jsonl")
    with open(ledger, "w") as handle:
        for days, seconds in ((9, 20), (2, 200)):
            start = now - datetime.timedelta(days=days)
            handle.write(json.dumps({"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                     "end": (start + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                     "tags": ["drill", "mode:delete"], "source": "node-failure-drill",
                                     "run_id": "earlier-%d" % days}) + "\n")
    before = open(ledger).read()
    drill_lab.call("DELETE", "/requests")
    proc = drilllab.run_playbook(drilllab.extra_vars(tmp_path), timeout=300)
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0
    assert "the error budget refuses this delete drill" in out, out[-3000:]
    assert "longest of the last 2 delete drill(s) in the ledger" in out
    assert instance_changes(drill_lab) == [] and drilllab.runs(tmp_path) == []
    assert open(ledger).read() == before


def test_check_mode_plans_and_changes_nothing(tmp_path, drill_lab):
    drill_lab.call("DELETE", "/requests")
    proc = drilllab.run_playbook(drilllab.extra_vars(tmp_path), check=True, timeout=300)
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 0, out[-3000:]
    assert "Planned drill node-failure-drill-" in out and "runs a pod of app/Deployment/web" in out
    assert instance_changes(drill_lab) == [] and drilllab.runs(tmp_path) == []


def test_check_mode_with_a_random_target_names_the_seed(tmp_path, drill_lab):
    drill_lab.call("DELETE", "/requests")
    proc = drilllab.run_playbook(drilllab.extra_vars(tmp_path, drill_preflight_target="random", drill_preflight_seed=3,
                                                     drill_preflight_mode="shutdown"), check=True, timeout=300)
    out = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 0, out[-3000:]
    assert "Planned drill" in out and "shutdown node lke" in out and "random choice (seed 3)" in out
    assert instance_changes(drill_lab) == [] and drilllab.runs(tmp_path) == []
