"""Bad input and the preflight's checks: one clear error before anything changes.

Nothing may reach the simulated cloud's instances and the ledger stays as it was. Bad input stops
the drill before it has a run; a drill the checks refuse (target, health baseline, error budget)
leaves one run whose journal says refused (never carried on) and whose report.md and report.json
say why. The checks run the real playbook against the running lab.
"""

import json
import os

import pytest

import drilllab


def instance_changes(adm):
    return [m for m in drilllab.mutations(adm) if "/linode/instances" in m["path"]]


def refused(tmp_path, adm, variables, expected, reported=True):
    """Run the drill, expect it refused with ``expected`` in its one error; return (output, report.json).

    ``reported``: the refusal has a run whose report says refused (False: bad input, no run at all).
    """
    adm.call("DELETE", "/requests")
    proc = drilllab.run_playbook(drilllab.extra_vars(tmp_path, **variables), timeout=300)
    out = proc.stdout + proc.stderr
    text = " ".join(out.split())
    assert proc.returncode != 0, out[-3000:]
    assert expected in text, out[-3000:]
    # One error: the refusal. The always-run cleanup and report add none of their own.
    assert out.count("FAILED!") == 1, out[-3000:]
    assert instance_changes(adm) == []
    assert not os.path.exists(os.path.join(str(tmp_path), "downtime.jsonl"))
    runs = drilllab.runs(tmp_path)
    if not reported:
        assert runs == []
        return text, None
    assert len(runs) == 1, runs
    assert "Drill %s refused: " % runs[0] in text and "Nothing was changed: no node was touched" in text, out[-3000:]
    assert drilllab.journal(tmp_path, runs[0])["status"] == "refused"
    report = drilllab.report(tmp_path, runs[0])
    with open(os.path.join(str(tmp_path), "reports", runs[0], "report.md")) as handle:
        markdown = " ".join(handle.read().split())
    assert report["status"] == "refused" and "- status: **refused**" in markdown
    reason = report["report"]["refused"]["reason"]
    assert expected in " ".join(reason.split()) and " ".join(reason.split()).rstrip(". ") in markdown
    # the message and both reports say the same
    assert "Nothing was changed: %s." % report["report"]["refused"]["changed"] in markdown
    assert "Nothing was changed: %s." % report["report"]["refused"]["changed"] in text
    return text, report


@pytest.mark.parametrize("variables,expected,reported", [
    ({"drill_preflight_target": "node", "drill_preflight_node": "lke314159-no-such-node"},
     "node 'lke314159-no-such-node' is not a node of LKE cluster", True),
    ({"drill_preflight_mode": "reboot"}, "drill_preflight_mode must be one of: delete, shutdown, drain", False),
    ({"drill_preflight_target": "busiest"}, "drill_preflight_target must be one of: workload, node, random", False),
    ({"drill_preflight_workload": "app/no-such-app"}, "workload app/no-such-app (Deployment no-such-app in namespace app) "
                                                      "does not exist", True),
    ({"drill_preflight_production": True}, "Confirm with -e drill_preflight_confirm=", False),
    ({"drill_preflight_production": True, "drill_preflight_confirm": "42"}, "Confirm with -e drill_preflight_confirm=",
     False),
])
def test_bad_input_is_refused_and_nothing_changes(tmp_path, drill_lab, variables, expected, reported):
    refused(tmp_path, drill_lab, variables, expected, reported)


def test_an_app_already_failing_refuses_the_drill_and_says_so(tmp_path, drill_lab):
    """The edge answers 503 for the app before the drill (its Service selects no pod: the pod runs on
    its node, nothing serves it), so there is no healthy baseline: one message that says so and that
    nothing was changed, a report that says refused, and the next drill starts afresh."""
    core, _apps = drilllab.clients()
    try:
        core.patch_namespaced_service("web", "app", {"spec": {"selector": {"app.kubernetes.io/name": "nothing-serves"}}})
        drilllab.wait_for("edge 503 for the app", lambda: drilllab.edge_status() == 503, 60)
        text, report = refused(tmp_path, drill_lab, {}, "the app was already failing before the drill: "
                               "http://127.0.0.1:%s/ (Host web.lab.fournines.test) answered HTTP 503"
                               % drilllab.labenv.ports()["EDGE_HTTP_PORT"])
    finally:
        core.patch_namespaced_service("web", "app", {"spec": {"selector": {"app.kubernetes.io/name": "web"}}})
        drilllab.wait_for("edge 200 for the app", lambda: drilllab.edge_status() == 200, 60)
    assert "no ready endpoint" in text and "never 200 in 6 tries" in text  # the edge's own words
    assert "make the app answer 200 and run the drill again" in text
    assert "Status code was 503" not in text and "has no attribute" not in text
    assert report["report"]["refused"]["node"], "the target was chosen before the baseline refused"
    proc = drilllab.run_playbook(drilllab.extra_vars(tmp_path), check=True, timeout=300)
    again = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 0 and "Planned drill" in again and "Carrying on" not in again, again[-3000:]


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
    assert out.count("FAILED!") == 1 and "Nothing was changed" in out
    assert instance_changes(drill_lab) == []
    assert [drilllab.journal(tmp_path, run)["status"] for run in drilllab.runs(tmp_path)] == ["refused"]
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
