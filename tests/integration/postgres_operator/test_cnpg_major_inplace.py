"""The CloudNativePG major upgrade against the real operator (issue 14), on Clusters of the major
pair (pg-premajor 15 -> pg-major 18, one OS) in a namespace of this file.

One production Cluster (2 instances) serves the file, in this order:
- the preflight refuses an extension the new image lacks (adminpack, gone in PostgreSQL 17) and
  changes nothing; a canary clone upgraded anyway fails in the operator's Job, and the module stops
  with the Job's own error instead of waiting for ever; production is untouched;
- the runbook (playbooks/upgrade-postgres.yml, postgres_upgrade=major, rows of a table compared on
  the canary) with a writer committing rows, killed while the operator upgrades production, then
  run again: it carries on the same run (one canary, one pre-upgrade clone, each step once in the
  report), production ends on 18 with 0 committed rows lost and its smartShutdownTimeout put back;
  the pre-upgrade clone, promoted while production was down, holds every row committed before.
"""

import json
import os
import time
import uuid

import labenv
import psycopg
import pytest
from kubernetes import client

import node_helpers  # loaded by conftest.py
import oplab

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def major_images(real_node):
    """(old, new) references of the major pair, imported into the node (oplab.major_images)."""
    return oplab.major_images()


@pytest.fixture(scope="module")
def maj_lab(real_node, major_images, k8s_client, k8s_core, tmp_path_factory):
    # One CloudNativePG test module at a time on the real node's 12 local volumes.
    ns = "pgmaj-" + uuid.uuid4().hex[:6]
    lab = oplab.OpLab(k8s_client, real_node, ns, str(tmp_path_factory.mktemp("pgmaj")))
    with labenv.held("node", "cnpg-tests.lock"):
        lab.create_namespace()
        try:
            lab.create_cluster("pg", major_images[0])
            lab.wait_healthy("pg", major_images[0])
            with lab.connect("pg") as conn:
                conn.execute("create table accounts as select g as id, md5(g::text) as note from generate_series(1, 20000) g")
                conn.execute("alter table accounts add primary key (id)")
            yield lab
        finally:
            lab.remove()  # no waiting out PostgreSQL's shutdowns; volumes made Available again


def _connect_any(lab, cluster, secrets_of):
    """A connection to ``cluster``'s -rw Service with the first superuser Secret that works: a
    promoted clone is a physical copy of production, so production's password is its own until
    the operator resets it from the clone's Secret."""
    err = None
    for owner in secrets_of:
        try:
            return node_helpers.pg_connect(lab.core, lab.ns, "%s-rw" % cluster, "%s-superuser" % owner)
        except psycopg.OperationalError as exc:  # the next Secret
            err = exc
    raise err


def _rows(lab, cluster, table="accounts"):
    with _connect_any(lab, cluster, [cluster, "pg"]) as conn:
        return conn.execute("select count(*), md5(string_agg(id::text || note, ',' order by id)) from %s" % table).fetchone()


def test_an_extension_the_new_image_lacks_is_refused_and_the_canary_trial_fails_with_the_jobs_error(maj_lab, major_images):
    old, new = major_images
    with maj_lab.connect("pg") as conn:
        conn.execute("create extension if not exists adminpack")
    try:
        res = maj_lab.module("postgres_cnpg_major_upgrade", namespace=maj_lab.ns, name="pg", image=new, step="preflight")
        assert res.get("failed"), res
        assert "extension adminpack" in res["msg"] and "is NOT provided" in res["msg"], res["msg"]
        assert "Nothing was changed" in res["msg"]
        assert maj_lab.get("pg")["spec"]["imageName"] == old

        # The trial on a canary clone fails for the same real reason, in the operator's Job.
        made = maj_lab.module("postgres_cnpg_canary", namespace=maj_lab.ns, source="pg", name="pg-canary", image=old,
                              timeout=900)
        assert not made.get("failed"), made
        trial = maj_lab.module("postgres_cnpg_major_upgrade", namespace=maj_lab.ns, name="pg-canary", image=new,
                               step="upgrade", timeout=900)
        assert trial.get("failed"), trial
        assert "major upgrade of %s/pg-canary" % maj_lab.ns in trial["msg"], trial["msg"]
        assert "container major-upgrade of pg-canary-1-major-upgrade" in trial["msg"], trial["msg"]
        gone = maj_lab.module("postgres_cnpg_canary", namespace=maj_lab.ns, source="pg", name="pg-canary", state="absent",
                              timeout=300)
        assert not gone.get("failed") and maj_lab.get("pg-canary") is None, gone
        # Production never changed.
        prod = maj_lab.get("pg")
        assert prod["spec"]["imageName"] == old
        assert prod["status"]["pgDataImageInfo"]["majorVersion"] == 15
    finally:
        with maj_lab.connect("pg") as conn:
            conn.execute("drop extension if exists adminpack")


def _clone_state(lab):
    """What the promoted pre-upgrade clone holds, or None while it does not answer yet."""
    try:
        with _connect_any(lab, "pg-preupgrade", ["pg-preupgrade", "pg"]) as conn:
            return {"rows": conn.execute("select count(*), md5(string_agg(id::text || note, ',' order by id)) from accounts").fetchone(),
                    "major": conn.execute("select current_setting('server_version_num')::int / 10000").fetchone()[0],
                    "primary": conn.execute("select not pg_is_in_recovery()").fetchone()[0],
                    "writable": conn.execute("select txid_current() > 0").fetchone()[0],
                    "ledger": set(r[0] for r in conn.execute("select id from ledger").fetchall())}
    except psycopg.OperationalError:
        return None


def _upgrading(lab, batch, proc, new):
    """The operator is upgrading production: its image is the new major and the upgrade Job exists."""
    if proc.poll() is not None:
        return "the run ended (exit %s) before the operator's upgrade began" % proc.returncode
    if lab.get("pg")["spec"]["imageName"] != new:
        return None
    return bool(batch.list_namespaced_job(lab.ns, label_selector="cnpg.io/cluster=pg,cnpg.io/jobRole=major-upgrade").items)


def test_runbook_killed_during_the_real_upgrade_carries_on_and_loses_nothing(maj_lab, major_images, k8s_client):
    old, new = major_images
    batch = client.BatchV1Api(k8s_client)
    before = _rows(maj_lab, "pg")
    compare = "-e", '{"postgres_cnpg_upgrade_compare_tables": ["public.accounts"]}'
    args = ("-e", "postgres_upgrade=major", "-e", "postgres_major_confirm=true", "-e", "postgres_cnpg_upgrade_image=" + new) + compare
    writer = oplab.Writer(maj_lab, "pg").start()
    try:
        killed = maj_lab.start_playbook(*args)
        try:
            state = node_helpers.wait_for("the operator's upgrade of production", lambda: _upgrading(maj_lab, batch, killed, new),
                                          timeout=1500, every=0.2)
        finally:
            maj_lab.kill_tree(killed)  # the module waiting on the operator dies too
        assert state is True, state
        committed_before_stop = list(writer.committed)  # production's pods are gone: all of these were committed
        prod = maj_lab.get("pg")
        run_id = prod["metadata"]["annotations"]["fournines.io/major-upgrade-run"]
        assert prod["spec"]["smartShutdownTimeout"] == 0
        assert prod["metadata"]["annotations"]["fournines.io/smart-shutdown-timeout-before"] == "180"
        assert maj_lab.get("pg-canary") is None
        clone_uid = maj_lab.get("pg-preupgrade")["metadata"]["uid"]

        # The way back while production is down: the clone, promoted, holds every committed row.
        promoted = maj_lab.module("postgres_cnpg_rollback_clone", namespace=maj_lab.ns, source="pg", name="pg-preupgrade",
                                  state="promoted", timeout=600)
        assert not promoted.get("failed") and promoted["changed"] and promoted["serving_after_seconds"] > 0, promoted
        # The module returned after the operator's extra in-place restart of the promoted primary: a client that
        # connects at once is served (no "the database system is shutting down"), writes too.
        clone = _clone_state(maj_lab)
        assert clone is not None, "the promoted clone did not answer right after the promotion returned"
        assert clone["rows"] == before and clone["major"] == 15 and clone["primary"] and clone["writable"], clone
        assert maj_lab.status("pg-preupgrade")["phase"] == oplab.HEALTHY
        assert committed_before_stop and set(committed_before_stop) <= clone["ledger"]

        # Nothing of the killed run lives on to put the setting back: the re-run must.
        assert maj_lab.get("pg")["spec"]["smartShutdownTimeout"] == 0
        # Run again (no run id given): it carries on the killed run; no second canary or clone is made.
        rerun = maj_lab.start_playbook(*args)
        seen = {"pg-canary": set(), "pg-preupgrade": set()}
        while rerun.poll() is None:
            for name in seen:
                obj = maj_lab.get(name)
                if obj is not None:
                    seen[name].add(obj["metadata"]["uid"])
            time.sleep(1)
    finally:
        writer.stop()
    assert rerun.returncode == 0, "re-run failed: see %s" % maj_lab.workdir
    assert not seen["pg-canary"] and seen["pg-preupgrade"] <= {clone_uid}, seen

    reports = maj_lab.reports()
    assert list(reports) == [run_id], reports
    report = reports[run_id]
    steps = [s["step"] for s in report["steps"]]
    assert report["status"] == "done" and len(steps) == len(set(steps)), steps
    assert (report["image_before"], report["image_target"]) == (old, new)
    assert {"preflight", "canary", "gate", "clone", "resumed", "upgrade", "post", "writes"} <= set(steps), steps
    canary = report["steps"][steps.index("canary")]["detail"]
    assert "rows equal in public.accounts" in canary, canary
    upgrade = report["steps"][steps.index("upgrade")]["detail"]
    assert "carried on after an interruption" in upgrade and "put back to 180 s" in upgrade, upgrade
    writes = report["writes"]
    assert writes["lost"] == 0 and writes["committed"] > 20, writes

    prod = maj_lab.get("pg")
    assert prod["spec"]["imageName"] == new and prod["status"]["pgDataImageInfo"]["majorVersion"] == 18
    assert prod["spec"]["smartShutdownTimeout"] == 180
    assert not [k for k in (prod["metadata"].get("annotations") or {}) if k.startswith("fournines.io/")]
    assert maj_lab.get("pg-canary") is None and maj_lab.get("pg-preupgrade") is None
    assert writer.committed and writer.missing() == []
    assert _rows(maj_lab, "pg") == before
    with open(os.path.join(maj_lab.workdir, run_id, "state.json")) as fh:
        journal = json.load(fh)
    assert journal["status"] == "done"
    predicted = journal["facts"]["predicted"]
    print("\nmajor 15 -> 18 by the runbook, killed and carried on: write downtime %.1f s (longest outage %.1f s), "
          "canary predicted %s s; %d probe rows, 0 lost; test writer %d rows, %d failed attempts, longest gap %.1f s"
          % (writes["downtime_seconds"], writes["longest_outage_seconds"], predicted, writes["committed"],
             len(writer.committed), writer.errors, writer.longest_gap))
