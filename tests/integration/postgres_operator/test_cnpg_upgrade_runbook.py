"""The CloudNativePG backend against the real operator and real PostgreSQL pods on the lab's real
node: its modules (health as the operator reports it, refusals before any change, a canary cloned
with pg_basebackup from production) and the playbook's minor flow (refusals, --check, and the real
update: replicas first, then a switchover) with a writer committing rows throughout: no committed
row lost, the write downtime printed. One production Cluster for the whole module."""

import os
import signal

import node_helpers
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


def test_playbook_minor_flow_with_a_writer_loses_no_committed_row(op_lab):
    first_primary = op_lab.status("pg")["currentPrimary"]
    seen = op_lab.reports()
    writer = Writer(op_lab, "pg").start()
    try:
        # Killed once the image is changed (the operator is rolling), then run again: it carries on.
        killed = op_lab.start_playbook("-e", "postgres_upgrade=minor", "-e", "postgres_run_id=killed")
        try:
            node_helpers.wait_for("the runbook to change production's image", lambda: op_lab.get("pg")["spec"][
                "imageName"] == op_lab.node["NODE_IMAGE_PG_MINOR"] or killed.poll() is not None, timeout=1200, every=0.5)
        finally:
            os.killpg(killed.pid, signal.SIGKILL)
            killed.wait()
        assert op_lab.get("pg")["spec"]["imageName"] == op_lab.node["NODE_IMAGE_PG_MINOR"]
        seen = op_lab.reports()
        run = op_lab.playbook("-e", "postgres_upgrade=minor")
    finally:
        writer.stop()
    assert run.returncode == 0, run.stdout[-4000:]
    report = _last_report(op_lab, seen)
    assert report["status"] == "done" and report["steps"][0]["step"] == "preflight", report
    assert report["image_target"] == op_lab.node["NODE_IMAGE_PG_MINOR"]
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
    # A re-run (as after a run killed once the image was set): nothing to do, nothing changed.
    again = op_lab.module("postgres_cnpg_image_update", namespace=op_lab.ns, name="pg",
                          image=op_lab.node["NODE_IMAGE_PG_MINOR"], upgrade="minor")
    assert not again["changed"] and not again["patched"]
