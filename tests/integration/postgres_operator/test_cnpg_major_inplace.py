"""The CloudNativePG major upgrade's building blocks against the real operator (issue 14):
the modules postgres_cnpg_major_upgrade and postgres_cnpg_rollback_clone on Clusters of the
major pair (pg-premajor 15 -> pg-major 18, one OS) in a namespace of this file.

One production Cluster (2 instances) serves the file, in this order:
- the preflight refuses an extension the new image lacks (adminpack, gone in PostgreSQL 17) and
  changes nothing; a canary clone upgraded anyway fails in the operator's Job, and the module stops
  with the Job's own error instead of waiting for ever; production is untouched;
- with a writer committing rows: a pre-upgrade replica clone, then the in-place upgrade of
  production: 0 committed rows lost, the write downtime and the primary's unavailable time are
  printed; the clone, promoted, answers with every row committed before the upgrade.

The full runbook flow (role postgres_cnpg_upgrade, postgres_upgrade=major) is not wired yet.
"""

import base64
import os
import subprocess
import sys
import uuid

import psycopg
import pytest

import node_helpers  # loaded by conftest.py
import oplab

pytestmark = pytest.mark.slow

NODE_IMAGES = os.path.join(oplab.REPO, "lab", "node", "images")


def _lab_env():
    env = dict(os.environ, REPO=oplab.REPO, LAB_DIR=os.path.join(oplab.REPO, "lab"),
               LAB_STATE=os.path.join(oplab.REPO, ".lab"), LAB_PYTHON=os.path.join(oplab.REPO, ".venv", "bin", "python"))
    with open(os.path.join(oplab.REPO, "lab", "ports.env")) as fh:
        for line in fh:
            if "=" in line and not line.startswith("#"):
                key, value = line.strip().split("=", 1)
                env.setdefault(key, value)
    return env


@pytest.fixture(scope="module")
def major_images(real_node):
    """(old, new) references of the major pair, imported into the node (idempotent; a node
    started before pg-premajor existed has no env line for it)."""
    env = _lab_env()
    subprocess.run([NODE_IMAGES, "import", "pg-premajor", "pg-major"], env=env, check=True, timeout=1800)
    out = subprocess.run([NODE_IMAGES, "list", "pg-premajor", "pg-major"], env=env, check=True, timeout=60,
                         capture_output=True, text=True).stdout
    refs = dict(line.split("=", 1) for line in out.split())
    return refs["pg-premajor"], refs["pg-major"]


@pytest.fixture(scope="module")
def maj_lab(real_node, major_images, k8s_client, k8s_core, tmp_path_factory):
    ns = "pgmaj-" + uuid.uuid4().hex[:6]
    lab = oplab.OpLab(k8s_client, real_node, ns, str(tmp_path_factory.mktemp("pgmaj")))
    lab.create_namespace()
    try:
        lab.create_cluster("pg", major_images[0])
        lab.wait_healthy("pg", major_images[0])
        with lab.connect("pg") as conn:
            conn.execute("create table accounts as select g as id, md5(g::text) as note from generate_series(1, 20000) g")
            conn.execute("alter table accounts add primary key (id)")
        yield lab
    finally:
        k8s_core.delete_namespace(ns)
        node_helpers.wait_for("namespace %s gone" % ns, lambda: not [
            n for n in k8s_core.list_namespace().items if n.metadata.name == ns], timeout=900, every=2)
        subprocess.run([sys.executable, os.path.join(oplab.REPO, "lab", "node", "seed.py"), "volumes",
                        os.path.join(oplab.REPO, ".lab", "kubeconfig"), real_node["NODE_NAME"], "12",
                        "/var/lib/fournines-node/volumes"], check=True, timeout=120)


def _connect_any(lab, cluster, secrets_of):
    """A connection to ``cluster``'s -rw Service with the first superuser Secret that works: a
    promoted clone is a physical copy of production, so production's password is its own until
    the operator resets it from the clone's Secret."""
    ip = lab.core.read_namespaced_service("%s-rw" % cluster, lab.ns).spec.cluster_ip
    err = None
    for owner in secrets_of:
        secret = lab.core.read_namespaced_secret("%s-superuser" % owner, lab.ns)
        try:
            return psycopg.connect(host=ip, port=5432, user="postgres", dbname="app", connect_timeout=3, autocommit=True,
                                   password=base64.b64decode(secret.data["password"]).decode())
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


def test_in_place_major_upgrade_with_a_writer_loses_nothing_and_the_clone_is_a_way_back(maj_lab, major_images):
    old, new = major_images
    before = _rows(maj_lab, "pg")
    clone = maj_lab.module("postgres_cnpg_rollback_clone", namespace=maj_lab.ns, source="pg", name="pg-preupgrade",
                           timeout=900)
    assert not clone.get("failed") and clone["changed"] and clone["image"] == old, clone

    ok = maj_lab.module("postgres_cnpg_major_upgrade", namespace=maj_lab.ns, name="pg", image=new, step="preflight")
    assert not ok.get("failed") and not ok["changed"], ok
    assert ok["inventory"]["version"].startswith("18"), ok["inventory"]

    writer = oplab.Writer(maj_lab, "pg").start()
    try:
        up = maj_lab.module("postgres_cnpg_major_upgrade", namespace=maj_lab.ns, name="pg", image=new, step="upgrade",
                            timeout=1500)
    finally:
        writer.stop()
    assert not up.get("failed"), up
    assert up["patched"] and up["after"]["healthy"] and up["after"]["major"] == 18, up
    assert maj_lab.get("pg")["status"]["pgDataImageInfo"]["majorVersion"] == 18
    assert writer.committed and writer.missing() == []
    assert _rows(maj_lab, "pg") == before
    print("\nmajor 15 -> 18 in place: primary unavailable %.1f s, healthy after %.1f s, longest write gap %.1f s, "
          "%d rows committed, 0 lost" % (up["primary_ready_seconds"], up["healthy_seconds"], writer.longest_gap,
                                         len(writer.committed)))

    again = maj_lab.module("postgres_cnpg_major_upgrade", namespace=maj_lab.ns, name="pg", image=new, step="upgrade")
    assert not again.get("failed") and not again["changed"], again

    # The way back: the clone, promoted, holds every row committed before production stopped.
    promoted = maj_lab.module("postgres_cnpg_rollback_clone", namespace=maj_lab.ns, source="pg", name="pg-preupgrade",
                              state="promoted", timeout=900)
    assert not promoted.get("failed") and promoted["changed"], promoted
    assert _rows(maj_lab, "pg-preupgrade") == before
    with _connect_any(maj_lab, "pg-preupgrade", ["pg-preupgrade", "pg"]) as conn:
        assert conn.execute("select current_setting('server_version_num')::int / 10000").fetchone()[0] == 15
        assert conn.execute("select not pg_is_in_recovery()").fetchone()[0]
