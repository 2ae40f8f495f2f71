"""The CloudNativePG backend against the real operator and real PostgreSQL pods on the lab's real
node: its modules (health as the operator reports it, refusals before any change, a canary cloned
with pg_basebackup from production) and the playbook's minor flow (refusals, --check, and the real
update: replicas first, then a switchover) with a writer committing rows throughout: no committed
row lost, the write downtime printed. One production Cluster for the whole module."""

import datetime
import json
import os

import node_helpers
import oplab
from oplab import Writer


def test_health_and_refusals_change_nothing(op_lab):
    info = op_lab.module("postgres_cnpg_cluster_info", namespace=op_lab.ns, name="pg")["cluster"]
    assert info["healthy"], info["problems"]
    assert info["version"] == "15.18" and info["instances"] == 2 and info["ready_instances"] == 2
    assert set(info["replication_lag_bytes"]) == {p["name"] for p in info["pods"]} - {info["current_primary"]}

    missing = op_lab.module("postgres_cnpg_image_update", namespace=op_lab.ns, name="nope",
                            image=op_lab.node["NODE_IMAGE_PG_MINOR"])
    assert missing.get("failed") and "Cluster %s/nope does not exist" % op_lab.ns in missing["msg"]

    wrong = op_lab.module("postgres_cnpg_image_update", namespace=op_lab.ns, name="pg",
                          image=op_lab.node["NODE_IMAGE_PG_MAJOR"], upgrade="minor")
    assert wrong.get("failed") and "keeps the major" in wrong["msg"] and "use postgres_upgrade=major" in wrong["msg"]

    planned = op_lab.module("postgres_cnpg_image_update", check=True, namespace=op_lab.ns, name="pg",
                            image=op_lab.node["NODE_IMAGE_PG_MINOR"])
    assert planned["changed"] and not planned["patched"], planned
    assert op_lab.get("pg")["spec"]["imageName"] == op_lab.node["NODE_IMAGE_PG_OLD"]


def test_canary_clone_matches_production_and_is_removed(op_lab):
    with op_lab.connect("pg") as conn:
        conn.execute("create table if not exists facts (id int primary key, v text)")
        conn.execute("insert into facts select g, md5(g::text) from generate_series(1, 500) g on conflict do nothing")
        prod = conn.execute("select count(*), md5(string_agg(v, ',' order by id)) from facts").fetchone()
    made = op_lab.module("postgres_cnpg_canary", namespace=op_lab.ns, source="pg", name="pg-canary",
                         image=op_lab.node["NODE_IMAGE_PG_MINOR"], timeout=900)
    assert made["changed"] and made["cluster"]["healthy"], made
    try:
        with op_lab.connect("pg-canary") as canary:
            assert canary.execute("show server_version").fetchone()[0].startswith("15.20")
            assert canary.execute("select count(*), md5(string_agg(v, ',' order by id)) from facts").fetchone() == prod
        again = op_lab.module("postgres_cnpg_canary", namespace=op_lab.ns, source="pg", name="pg-canary",
                              image=op_lab.node["NODE_IMAGE_PG_MINOR"])
        assert not again["changed"]
        refused = op_lab.module("postgres_cnpg_canary", namespace=op_lab.ns, source="pg-canary", name="pg", state="absent")
        assert refused.get("failed") and "not a canary of pg-canary" in refused["msg"]
    finally:
        gone = op_lab.module("postgres_cnpg_canary", namespace=op_lab.ns, source="pg", name="pg-canary",
                             state="absent", timeout=600)
    assert gone["changed"] and op_lab.get("pg-canary") is None
    assert op_lab.get("pg")["spec"]["imageName"] == op_lab.node["NODE_IMAGE_PG_OLD"]


def _last_report(op_lab, before):
    runs = op_lab.reports()
    new = [r for r in runs if r not in before]
    assert len(new) == 1, runs
    return runs[new[0]]


def test_playbook_refuses_before_any_change_and_check_mode_only_plans(op_lab):
    image = op_lab.node["NODE_IMAGE_PG_OLD"]
    seen = op_lab.reports()
    wrong = op_lab.playbook("-e", "postgres_upgrade=minor", "-e", "postgres_cnpg_upgrade_image=" + op_lab.node["NODE_IMAGE_PG_MAJOR"])
    assert wrong.returncode != 0 and "keeps the major" in wrong.stdout, wrong.stdout[-3000:]
    report = _last_report(op_lab, seen)
    assert report["status"] == "failed" and "keeps the major" in report["error"]
    assert [s["status"] for s in report["steps"]] == ["failed"]
    seen = op_lab.reports()
    missing = op_lab.playbook("-e", "postgres_upgrade=minor", "-e", "postgres_cnpg_upgrade_cluster=nope")
    assert missing.returncode != 0 and "Cluster %s/nope cannot be upgraded now" % op_lab.ns in missing.stdout
    assert "does not exist" in _last_report(op_lab, seen)["error"]
    # A Crunchy PGO PostgresCluster of that name: detected and named, not driven.
    op_lab.custom.create_namespaced_custom_object("postgres-operator.crunchydata.com", "v1beta1", op_lab.ns,
                                                  "postgresclusters", {
                                                      "apiVersion": "postgres-operator.crunchydata.com/v1beta1",
                                                      "kind": "PostgresCluster", "metadata": {"name": "hippo"},
                                                      "spec": {"postgresVersion": 15}})
    pgo = op_lab.playbook("-e", "postgres_upgrade=minor", "-e", "postgres_cnpg_upgrade_cluster=hippo")
    assert pgo.returncode != 0 and "Crunchy PGO PostgresCluster" in pgo.stdout and "PGUpgrade" in pgo.stdout
    seen = op_lab.reports()
    plan = op_lab.playbook("-e", "postgres_upgrade=minor", check=True)
    assert plan.returncode == 0, plan.stdout[-3000:]
    assert "then the operator rolls" in plan.stdout
    assert _last_report(op_lab, seen)["status"] == "check-mode-plan"
    assert op_lab.get("pg")["spec"]["imageName"] == image and op_lab.get("pg-canary") is None


def test_playbook_gates_and_an_unhealthy_cluster_refuse_before_any_change(op_lab):
    """Cheap refusals (no canary is ever made): outside the maintenance window, an error budget
    already spent, a Cluster the operator cannot heal, a Cluster without superuser access (the
    smoke queries, row comparison and write prober connect as its superuser). Each names the
    Cluster and what to do."""
    image = op_lab.node["NODE_IMAGE_PG_OLD"]
    tomorrow = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime("%a").lower()
    seen = op_lab.reports()
    closed = op_lab.playbook("-e", "postgres_upgrade=minor",
                             "-e", json.dumps({"postgres_maintenance_window": {"days": [tomorrow]}}))
    assert closed.returncode != 0 and "Cluster %s/pg is not updated now" % op_lab.ns in closed.stdout, closed.stdout[-3000:]
    report = _last_report(op_lab, seen)
    assert report["status"] == "failed" and "outside the maintenance window" in report["error"]
    assert "Nothing was changed" in report["error"] and report["steps"][-1]["status"] == "failed"

    ledger = os.path.join(op_lab.workdir, "spent.jsonl")
    now = datetime.datetime.now(datetime.timezone.utc)
    with open(ledger, "w") as out:  # an hour down yesterday: 99.99 % over 30 days allows 259 s
        out.write(json.dumps({"start": (now - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "end": (now - datetime.timedelta(days=1) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}) + "\n")
    seen = op_lab.reports()
    spent = op_lab.playbook("-e", "postgres_upgrade=minor", "-e", "postgres_slo_ledger=" + ledger)
    assert spent.returncode != 0 and "error budget does not allow" in spent.stdout, spent.stdout[-3000:]
    assert "error budget does not allow" in _last_report(op_lab, seen)["error"]

    # A Cluster whose pod can never be scheduled: the operator reports it unhealthy. It also keeps
    # CloudNativePG's default, no superuser access.
    sick = op_lab.cluster_body("sick", image, instances=1)
    sick["spec"]["resources"] = {"requests": {"cpu": "64", "memory": "128Mi"}}
    sick["spec"]["enableSuperuserAccess"] = False
    op_lab.custom.create_namespaced_custom_object(oplab.GROUP, oplab.VERSION, op_lab.ns, oplab.PLURAL, sick)
    try:
        seen = op_lab.reports()
        unhealthy = op_lab.playbook("-e", "postgres_upgrade=minor", "-e", "postgres_cnpg_upgrade_cluster=sick")
        assert unhealthy.returncode != 0, unhealthy.stdout[-3000:]
        error = _last_report(op_lab, seen)["error"]
        assert "Cluster %s/sick cannot be upgraded now" % op_lab.ns in error and "instances ready" in error, error
        assert op_lab.get("sick")["spec"]["imageName"] == image
        # Already set to the target image, the health check lets it on (a resumed run only waits), and
        # the superuser check refuses it before anything is made, naming the setting and the variables.
        seen = op_lab.reports()
        nosu = op_lab.playbook("-e", "postgres_upgrade=minor", "-e", "postgres_cnpg_upgrade_cluster=sick",
                               "-e", "postgres_cnpg_upgrade_image=" + image)
        assert nosu.returncode != 0, nosu.stdout[-3000:]
        report = _last_report(op_lab, seen)
        assert report["status"] == "failed" and [s["status"] for s in report["steps"]] == ["failed"], report
        for part in ("Cluster %s/sick does not allow superuser access" % op_lab.ns, "spec.enableSuperuserAccess",
                     "postgres_cnpg_upgrade_smoke_queries", "postgres_cnpg_upgrade_write_probe", "Nothing was changed"):
            assert part in report["error"], report["error"]
        assert op_lab.get("sick-canary") is None and op_lab.get("sick")["spec"]["imageName"] == image
    finally:
        op_lab.custom.delete_namespaced_custom_object(oplab.GROUP, oplab.VERSION, op_lab.ns, oplab.PLURAL, "sick")
    assert op_lab.get("pg")["spec"]["imageName"] == image and op_lab.get("pg-canary") is None


def test_playbook_canary_failures_leave_production_untouched(op_lab):
    """The operator's webhook refusing the canary, a canary that does not become ready in time, a
    smoke query failing on the canary: production is not changed, the canary is removed, and
    report.md and report.json say why."""
    try:
        _canary_failures(op_lab, op_lab.node["NODE_IMAGE_PG_OLD"])
    finally:
        op_lab.recycle_volumes()


def _canary_failures(op_lab, image):
    seen = op_lab.reports()
    long_name = "pg-canary-" + "x" * 50  # CloudNativePG's webhook refuses Cluster names over 50 characters
    refused = op_lab.playbook("-e", "postgres_upgrade=minor", "-e", "postgres_cnpg_upgrade_canary_name=" + long_name)
    assert refused.returncode != 0, refused.stdout[-3000:]
    report = _last_report(op_lab, seen)
    assert "refused the creation of canary" in report["error"] and "nothing was changed" in report["error"], report
    assert op_lab.get(long_name) is None

    seen = op_lab.reports()
    slow = op_lab.playbook("-e", "postgres_upgrade=minor", "-e", "postgres_cnpg_upgrade_canary_timeout=3")
    assert slow.returncode != 0, slow.stdout[-3000:]
    report = _last_report(op_lab, seen)
    assert "did not become healthy" in report["error"] and "pg-canary" in report["error"], report
    assert op_lab.get("pg-canary") is None

    seen = op_lab.reports()
    smoke = op_lab.playbook("-e", "postgres_upgrade=minor",
                            "-e", json.dumps({"postgres_cnpg_upgrade_smoke_queries": ["SELECT 1", "SELECT * FROM no_such_table"]}))
    assert smoke.returncode != 0, smoke.stdout[-3000:]
    run = [r for r in op_lab.reports() if r not in seen]
    report = op_lab.reports()[run[0]]
    assert "failed its checks" in report["error"] and "no_such_table" in report["error"], report
    assert "production %s/pg was not changed" % op_lab.ns in report["error"]
    with open(os.path.join(op_lab.workdir, run[0], "report.md")) as md:
        assert "no_such_table" in md.read()
    assert op_lab.get("pg-canary") is None
    obj = op_lab.get("pg")
    assert obj["spec"]["imageName"] == image and obj["status"]["phase"] == oplab.HEALTHY


def test_playbook_minor_flow_with_a_writer_loses_no_committed_row(op_lab):
    first_primary = op_lab.status("pg")["currentPrimary"]
    seen = op_lab.reports()
    writer = Writer(op_lab, "pg").start()
    try:
        # Killed once the image is changed (the operator is rolling), then run again: it carries on.
        ledger = os.path.join(op_lab.workdir, "downtime.jsonl")
        with op_lab.connect("pg") as conn:
            conn.execute("create table if not exists facts (id int primary key, v text)")
            conn.execute("insert into facts select g, md5(g::text) from generate_series(1, 500) g on conflict do nothing")
        killed = op_lab.start_playbook("-e", "postgres_upgrade=minor", "-e", "postgres_run_id=killed",
                                       "-e", "postgres_slo_ledger=" + ledger,
                                       "-e", json.dumps({"postgres_cnpg_upgrade_compare_tables": ["public.facts"]}))
        try:
            node_helpers.wait_for("the runbook to change production's image", lambda: op_lab.get("pg")["spec"][
                "imageName"] == op_lab.node["NODE_IMAGE_PG_MINOR"] or killed.poll() is not None, timeout=1200, every=0.5)
        finally:
            op_lab.kill_tree(killed)  # a power cut: the module waiting on the operator dies with the run
        assert op_lab.get("pg")["spec"]["imageName"] == op_lab.node["NODE_IMAGE_PG_MINOR"]
        seen = op_lab.reports()
        run = op_lab.playbook("-e", "postgres_upgrade=minor", "-e", "postgres_slo_ledger=" + ledger)
    finally:
        writer.stop()
    assert run.returncode == 0, run.stdout[-4000:]
    report = _last_report(op_lab, seen)
    assert report["status"] == "done" and report["steps"][0]["step"] == "preflight", report
    assert report["image_target"] == op_lab.node["NODE_IMAGE_PG_MINOR"]
    # The runbook's own write prober ran from the killed run through the re-run: nothing lost, measured, charged.
    writes = report["writes"]
    assert writes["lost"] == 0 and writes["committed"] > 20 and writes["downtime_seconds"] > 0, writes
    assert os.path.exists(os.path.join(op_lab.workdir, report["run_id"], "timeline.png"))
    with open(ledger) as fh:
        charged = [json.loads(line) for line in fh if line.strip()]
    assert charged and all(c["run_id"].startswith("killed/write-") for c in charged), charged
    print("cnpg minor flow (runbook's write prober): %d rows committed, %d failed writes, write downtime %.1f s, "
          "longest outage %.1f s" % (writes["committed"], writes["failed_attempts"], writes["downtime_seconds"],
                                     writes["longest_outage_seconds"]))
    obj = op_lab.get("pg")
    assert obj["spec"]["imageName"] == op_lab.node["NODE_IMAGE_PG_MINOR"] and op_lab.get("pg-canary") is None
    # The primary was switched over to an updated replica, not restarted in place.
    assert obj["status"]["currentPrimary"] != first_primary
    assert len(writer.committed) > 20
    assert writer.missing() == []
    print("cnpg minor flow (playbook): %d rows committed, %d failed attempts, longest write gap %.1f s"
          % (len(writer.committed), writer.errors, writer.longest_gap))
    with op_lab.connect("pg") as conn:
        assert conn.execute("show server_version").fetchone()[0].startswith("15.20")
        # The prober's rows were proved, then removed with its table: production keeps nothing of it.
        assert conn.execute("select to_regclass('public.fournines_write_probe')").fetchone()[0] is None
    assert writes["rows_removed"] >= writes["committed"] and writes["table_dropped"], writes
    # Stopped again (a re-run after a kill that came after the removal): the kept proof, not a loss.
    again = op_lab.module("postgres_cnpg_write_prober", namespace=op_lab.ns, name="pg", run_id="again", state="stopped",
                          directory=os.path.join(op_lab.workdir, "writer-%s-pg" % op_lab.ns))
    assert again["prober"]["lost"] == 0 and again["prober"]["rows_removed"] == 0 and not again["changed"], again
    # A re-run (as after a run killed once the image was set): nothing to do, nothing changed.
    again = op_lab.module("postgres_cnpg_image_update", namespace=op_lab.ns, name="pg",
                          image=op_lab.node["NODE_IMAGE_PG_MINOR"], upgrade="minor")
    assert not again["changed"] and not again["patched"]
