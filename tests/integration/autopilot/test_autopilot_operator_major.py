"""The autopilot's approval path for a PostgreSQL MAJOR under the real CloudNativePG operator (lab/node): a Cluster on
the major pair's old image (pg-premajor, PostgreSQL 15), the policy `postgres: {backend: cloudnative_pg, major:
approve}` offering the new one (pg-major, 18).

- Run 1 decides `needs approval` (kind major) and runs only the safe part: upgrade_postgres.yml's in-place major
  flow without confirmation, i.e. the canary trial on a clone (timed, smoke-tested, rows compared), which stops at the
  gate. The request it publishes carries `evidence.canary_trial` (passed, the predicted downtime as a number, the
  gate's reason, the runbook's status); production is untouched (image, health, rows, no annotation), no canary or
  pre-upgrade clone is left, and the ledger has no change.
- Run 2, with `-e autopilot_approve=<that request>`, applies: the major flow confirmed (canary, gate, pre-upgrade
  clone, the operator's pg_upgrade of production, post steps), ledger `started, applied`, the Cluster on 18 and
  healthy with its rows, the request applied, the report's outcome saying so.

Runs in the `node` xdist group with the lock of test_autopilot_operator.py (the CloudNativePG tests') for the module;
the runs use a Linode API token of their own, which must ask LKE for reads only."""

import json
import os
import uuid

import aplab
import pytest

uclab = aplab.uclab
oplab, node_helpers = aplab.operator_lab()

pytestmark = pytest.mark.xdist_group("node")


@pytest.fixture(scope="module")
def major_pilot(lab_up, k8s_client, tmp_path_factory):
    """(OpLab with Cluster pg healthy on the old major and a table of rows, simulator admin, old image, new image),
    the CloudNativePG tests' lock held."""
    lab_up("k8s", "linode_sim", "edge")
    node_helpers.node_up()
    node = uclab.labenv.component_env("node")
    with uclab.labenv.held("node", "cnpg-tests.lock"):
        old, new = oplab.major_images()
        lab = oplab.OpLab(k8s_client, node, "apmaj-" + uuid.uuid4().hex[:6], str(tmp_path_factory.mktemp("apmaj")))
        lab.create_namespace()
        try:
            # one instance: the least the in-place major runs on (every canary trial upgrades a one-instance clone)
            lab.create_cluster("pg", old, instances=1)
            lab.wait_healthy("pg", old)
            with lab.connect("pg") as conn:
                conn.execute("create table accounts as select g as id, md5(g::text) as note from generate_series(1, 2000) g")
                conn.execute("alter table accounts add primary key (id)")
            yield lab, uclab.simlab.SimAdmin(uclab.labenv.component_env("linode_sim")["LINODE_SIM_ADMIN_URL"]), old, new
        finally:
            lab.remove()


def _rows(lab):
    with lab.connect("pg") as conn:
        return conn.execute("select count(*), md5(string_agg(id::text || note, ',' order by id)) from accounts").fetchone()


def _changes(reports_dir):
    return [e for e in aplab.ledger(reports_dir) if e["event"] in ("started", "applied", "failed")]


def _autopilot_report(reports_dir, run_id):
    with open(os.path.join(str(reports_dir), run_id, "report.json")) as handle:
        return json.load(handle)


def test_a_postgres_major_waits_for_approval_with_its_canary_trial_then_the_approved_run_upgrades(major_pilot, tmp_path):
    lab, admin, old, new = major_pilot
    before = _rows(lab)
    ledger = os.path.join(str(tmp_path), "downtime-postgres.jsonl")
    pol = aplab.policy(components={"postgres": {"backend": "cloudnative_pg", "patch": "auto", "major": "approve",
                                                "images": [new]}})
    # the Cluster is the inventory's (inventories/lab_cnpg), in this test's namespace, for discovery and the runbook alike
    where = {"postgres_cnpg_upgrade_namespace": lab.ns}
    # rows compared on the canary; no base backup after the real upgrade (test_cnpg_major_inplace proves it; lean)
    given = dict(where, postgres_slo_ledger=ledger, postgres_cnpg_upgrade_compare_tables=["public.accounts"],
                 postgres_cnpg_upgrade_base_backup=False)
    caller = aplab.SimCaller(admin, "autopilot-cnpg-major")
    first = caller.run(aplab.variables(tmp_path, pol, autopilot_runbook_vars=given, **where),
                       timeout=1800, inventories=("lab", "lab_cnpg"))
    assert first.returncode == 0, first.stdout[-5000:] + first.stderr[-2000:]
    decision = list(aplab.decisions(tmp_path).values())
    assert [(d["component"], d["decision"], d["kind"], d["current"], d["candidate"], d.get("image"))
            for d in decision] == [("postgres", "needs approval", "major", "15", "18", new)], decision
    rid = decision[0]["request_id"]
    request = aplab.request(tmp_path, rid)
    # run 1's request and its evidence: the canary trial's verdict and prediction, as the runbook's report has them
    assert request["status"] == "pending" and request["kind"] == "major" and request["image"] == new, request
    evidence = request["evidence"]
    trial = evidence["canary_trial"]
    with open(os.path.join(str(tmp_path), evidence["plan_run_id"], "report.json")) as handle:
        canary_run = json.load(handle)
    assert (canary_run["flow"], canary_run["method"], canary_run["image_before"], canary_run["image_target"]) == (
        "major", "inplace", old, new), canary_run
    assert trial["canary"] == "passed", trial
    assert isinstance(trial["predicted_downtime_seconds"], (int, float)) and trial["predicted_downtime_seconds"] > 0, trial
    assert trial["predicted_downtime_seconds"] == canary_run["predicted_downtime_seconds"], (trial, canary_run)
    assert trial["runbook_status"] == canary_run["status"] == "stopped-at-gate", (trial, canary_run["status"])
    assert "confirmation: missing" in trial["gate"] and "Nothing of production was changed" in trial["gate"], trial
    assert "rows equal in public.accounts" in trial["canary_detail"], trial
    # what run 1 did to production: nothing (the canary trial ran on a clone and stopped at the gate)
    prod = lab.get("pg")
    assert prod["spec"]["imageName"] == old and prod["status"]["pgDataImageInfo"]["majorVersion"] == 15
    assert not [k for k in (prod["metadata"].get("annotations") or {}) if k.startswith("fournines.io/")], prod["metadata"]
    lab.wait_healthy("pg", old, timeout=120)
    assert _rows(lab) == before
    assert lab.get("pg-canary") is None and lab.get("pg-preupgrade") is None
    assert _changes(tmp_path) == []

    second = caller.run(aplab.variables(tmp_path, pol, autopilot_runbook_vars=given, autopilot_approve=rid, **where),
                        timeout=2400, inventories=("lab", "lab_cnpg"))
    mutations = caller.lke_mutations()

    # run 2: approved, applied by the confirmed major flow
    assert second.returncode == 0, second.stdout[-5000:] + second.stderr[-2000:]
    runs = []
    for event in aplab.ledger(tmp_path):
        if event["event"] == "decision" and event["run_id"] not in runs:
            runs.append(event["run_id"])
    assert len(runs) == 2, runs
    applied = aplab.decisions(tmp_path, runs[1])["postgres"]
    assert (applied["decision"], applied["kind"], applied["candidate"], applied["image"], applied["request_id"]) == (
        "apply", "major", "18", new, rid), applied
    changes = _changes(tmp_path)
    assert [e["event"] for e in changes] == ["started", "applied"], changes
    run_id = changes[0]["runbook_run_id"]
    assert changes[1]["runbook_run_id"] == run_id != evidence["plan_run_id"]
    assert aplab.request(tmp_path, rid)["status"] == "applied"
    with open(os.path.join(str(tmp_path), run_id, "report.json")) as handle:
        child = json.load(handle)
    steps = [s["step"] for s in child["steps"]]
    assert (child["status"], child["flow"], child["method"], child["image_before"], child["image_target"]) == (
        "done", "major", "inplace", old, new), child
    assert {"preflight", "canary", "gate", "clone", "upgrade", "post"} <= set(steps), steps
    assert child["predicted_downtime_seconds"] > 0 and child["writes"]["lost"] == 0, child
    prod = lab.wait_healthy("pg", new, timeout=300)
    assert prod["pgDataImageInfo"]["majorVersion"] == 18, prod
    assert _rows(lab) == before
    assert lab.get("pg-canary") is None and lab.get("pg-preupgrade") is None
    report = _autopilot_report(tmp_path, runs[1])
    assert report["report"]["status"] == "done", report
    assert report["outcome"]["summary"].startswith("Applied postgres -> 18 by upgrade_postgres.yml (run %s)" % run_id), report
    assert mutations == []  # this run's token asked LKE for reads only
    print("\nmajor 15 -> 18 through the autopilot: canary predicted %s s (run 1, request %s); the approved run's write "
          "downtime %s s, predicted %s s" % (trial["predicted_downtime_seconds"], rid, child["writes"].get("downtime_seconds"),
                                              child["predicted_downtime_seconds"]))
