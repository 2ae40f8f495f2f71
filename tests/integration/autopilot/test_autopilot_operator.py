"""The autopilot and PostgreSQL under the real CloudNativePG operator (lab/node): a Cluster on the old minor image
(15.18). First with `patch: approve`: the request's evidence is a canary-only run of the minor flow (production not
changed). Then the policy `postgres: {backend: cloudnative_pg, patch: auto}` listing the lab's new patch image (15.20). The
autopilot discovers the Cluster's image through the Kubernetes API, decides `apply` for the patch release, runs
upgrade_postgres.yml as its child with the operator backend's minor flow (canary clone, rolling update, switchover)
and the candidate's image, reads the Cluster again, and records `started, applied`; the write outages are charged
to the ledger it gave, once.

Runs in the `node` xdist group (the real node's 12 local volumes). It holds the CloudNativePG tests' lock for the whole
module, and no simulator lock: each autopilot run uses a Linode API token of its own (aplab.SimCaller) and the test
checks that token asked LKE for reads only, while the cluster tests on the other worker go on. The Cluster lives in its own
namespace, deleted afterwards with its volumes made Available again."""

import json
import os
import uuid

import aplab
import pytest

uclab = aplab.uclab
oplab, node_helpers = aplab.operator_lab()

pytestmark = pytest.mark.xdist_group("node")


@pytest.fixture(scope="module")
def cnpg_pilot(lab_up, k8s_client, tmp_path_factory):
    """(OpLab with Cluster pg healthy on the old minor image, simulator admin), the CloudNativePG tests' lock held."""
    lab_up("k8s", "linode_sim", "edge")
    node_helpers.node_up()
    node = uclab.labenv.component_env("node")
    with uclab.labenv.held("node", "cnpg-tests.lock"):
        lab = oplab.OpLab(k8s_client, node, "appg-" + uuid.uuid4().hex[:6], str(tmp_path_factory.mktemp("appg")))
        lab.create_namespace()
        try:
            lab.create_cluster("pg", node["NODE_IMAGE_PG_OLD"])
            lab.wait_healthy("pg", node["NODE_IMAGE_PG_OLD"])
            yield lab, uclab.simlab.SimAdmin(uclab.labenv.component_env("linode_sim")["LINODE_SIM_ADMIN_URL"])
        finally:
            lab.remove()


def test_a_patch_image_needing_approval_runs_only_its_canary_and_the_request_shows_the_verdict(cnpg_pilot, tmp_path):
    """patch: approve -> needs approval; the safe part is the minor flow with postgres_cnpg_upgrade_canary_only: the
    canary clone on the new image passes its smoke queries and row comparison, is removed, and production stays on
    its image; the request carries that verdict. Leaves the Cluster as it found it (the next test applies the patch)."""
    lab, admin = cnpg_pilot
    old, new = lab.node["NODE_IMAGE_PG_OLD"], lab.node["NODE_IMAGE_PG_MINOR"]
    with lab.connect("pg") as conn:
        conn.execute("create table if not exists accounts (id int primary key, note text not null)")
        conn.execute("insert into accounts select i, 'row ' || i from generate_series(1, 500) i on conflict do nothing")
    pol = aplab.policy(components={"postgres": {"backend": "cloudnative_pg", "patch": "approve", "major": "never",
                                                "images": [new]}})
    where = {"postgres_cnpg_upgrade_namespace": lab.ns}
    runbook_vars = dict(where, postgres_cnpg_upgrade_compare_tables=["public.accounts"],
                        postgres_slo_ledger=os.path.join(str(tmp_path), "downtime-postgres.jsonl"))
    caller = aplab.SimCaller(admin, "autopilot-cnpg-canary")
    proc = caller.run(aplab.variables(tmp_path, pol, autopilot_runbook_vars=runbook_vars, **where),
                      timeout=1500, inventories=("lab", "lab_cnpg"))
    mutations = caller.lke_mutations()
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    decision = aplab.decisions(tmp_path)["postgres"]
    assert (decision["decision"], decision["kind"], decision["candidate"], decision["image"]) == (
        "needs approval", "patch", "15.20", new), decision
    evidence = aplab.request(tmp_path, decision["request_id"])["evidence"]
    assert evidence["safe_part"] == "canary trial (production not changed)", evidence
    trial = evidence["canary_trial"]
    assert (trial["canary"], trial["runbook_status"]) == ("passed", "stopped-after-canary"), trial
    assert "smoke queries passed" in trial["canary_detail"] and "rows equal in public.accounts" in trial["canary_detail"]
    # the child ran for real (not --check): canary and its checks, then it stopped; no update step
    with open(os.path.join(str(tmp_path), evidence["plan_run_id"], "report.json")) as handle:
        child = json.load(handle)
    steps = [s["step"] for s in child["steps"]]
    assert (child["status"], child["flow"], child["image_before"]) == ("stopped-after-canary", "minor", old), child
    assert steps[-2:] == ["smoke", "canary-only"] and "canary" in steps and "update" not in steps, steps
    # production untouched and healthy, the canary gone, nothing started, nothing charged
    assert lab.get("pg")["spec"]["imageName"] == old
    lab.wait_healthy("pg", old, timeout=60)
    assert lab.get("pg-canary") is None
    assert [e["event"] for e in aplab.ledger(tmp_path) if e["event"] in ("started", "applied", "failed")] == []
    assert not os.path.exists(runbook_vars["postgres_slo_ledger"])
    assert mutations == []


def test_a_cloudnative_pg_patch_image_goes_through_the_operator_automatically(cnpg_pilot, tmp_path):
    lab, admin = cnpg_pilot
    old, new = lab.node["NODE_IMAGE_PG_OLD"], lab.node["NODE_IMAGE_PG_MINOR"]
    ledger = os.path.join(str(tmp_path), "downtime-postgres.jsonl")
    pol = aplab.policy(components={"postgres": {"backend": "cloudnative_pg", "patch": "auto", "major": "never",
                                                "images": [new]}})
    # the Cluster is the inventory's (inventories/lab_cnpg), in this test's namespace, for discovery and the runbook alike
    where = {"postgres_cnpg_upgrade_namespace": lab.ns}
    caller = aplab.SimCaller(admin, "autopilot-cnpg-patch")
    proc = caller.run(aplab.variables(tmp_path, pol, autopilot_runbook_vars=dict(where, postgres_slo_ledger=ledger), **where),
                      timeout=1800, inventories=("lab", "lab_cnpg"))
    mutations = caller.lke_mutations()
    # the next run finds the Cluster on the image: up to date, nothing started
    again = caller.run(aplab.variables(tmp_path, pol, **where), timeout=600, inventories=("lab", "lab_cnpg")) \
        if proc.returncode == 0 else None
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    runs = []  # the autopilot runs, in order
    for event in aplab.ledger(tmp_path):
        if event["event"] == "decision" and event["run_id"] not in runs:
            runs.append(event["run_id"])
    first, second = runs
    decisions = aplab.decisions(tmp_path, first)
    assert list(decisions) == ["postgres"], decisions
    decision = decisions["postgres"]
    assert (decision["decision"], decision["kind"], decision["backend"], decision["current"], decision["candidate"],
            decision["image"]) == ("apply", "patch", "cloudnative_pg", "15.18", "15.20", new), decision
    changes = [e for e in aplab.ledger(tmp_path) if e["event"] in ("started", "applied", "failed")]
    assert [e["event"] for e in changes] == ["started", "applied"], changes
    run_id = changes[0]["runbook_run_id"]
    assert changes[1]["runbook_run_id"] == run_id and changes[0]["image"] == changes[1]["image"] == new
    # the child: the operator backend's minor flow on this very image, canary before the rolling update
    with open(os.path.join(str(tmp_path), run_id, "report.json")) as handle:
        child = json.load(handle)
    assert (child["status"], child["backend"], child["flow"], child["image_before"], child["image_target"]) == (
        "done", "cloudnative_pg", "minor", old, new), child
    steps = [s["step"] for s in child["steps"]]
    assert steps.index("canary") < steps.index("update"), steps
    assert lab.get("pg")["spec"]["imageName"] == new
    lab.wait_healthy("pg", new, timeout=120)
    assert lab.get("pg-canary") is None  # the canary clone is gone
    # the write outages of the switchover went to the ledger the autopilot gave, each once, under the child's run
    with open(ledger) as handle:
        charged = [json.loads(line)["run_id"] for line in handle if line.strip()]
    assert charged and len(set(charged)) == len(charged), charged
    assert all(c.startswith(run_id + "/write-") for c in charged), charged
    with open(os.path.join(str(tmp_path), first, "report.json")) as handle:
        report = json.load(handle)
    assert report["report"]["status"] == "done", report
    assert report["outcome"]["summary"].startswith("Applied postgres -> 15.20 by upgrade_postgres.yml (run %s)" % run_id)
    assert mutations == []  # LKE got only reads (a drill on the other worker may shut an instance down)
    assert again.returncode == 0, again.stdout[-3000:]
    assert aplab.decisions(tmp_path, second)["postgres"]["decision"] == "up to date"
    assert [e["event"] for e in aplab.ledger(tmp_path) if e["event"] in ("started", "applied", "failed")] == ["started", "applied"]
