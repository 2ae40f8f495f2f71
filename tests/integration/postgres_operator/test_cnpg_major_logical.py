"""The CloudNativePG major upgrade by logical replication (issue 14,
postgres_cnpg_upgrade_major_method=logical), against the real operator on the major pair
(pg-premajor 15 -> pg-major 18), in a namespace of this file.

Production ``pg`` (1 instance) holds a table compared on the target (``accounts``) and one whose ids
come from a sequence (``orders``); the application's Service ``pg-app`` selects its primary, and a
writer commits rows through that Service as the application's user throughout. The runbook is
killed while it builds the target, run again, and then the way back is taken (after a first run
refused at its gate, which removes the target and leaves production as it was):
- the re-run carries on the killed run (its id, one target Cluster, each step once, ``resumed``);
- it ends done: the target ``pg-18`` on 18 took the schema, the rows and the application's
  password; the Service selects it; 0 committed rows lost (runbook prober and test writer, both read
  back through the Service, i.e. on the target); the sequence continues on the target; production is
  left on 15, read-only, with every row committed before the cutover;
- ``step=switch_back`` puts the Service back on production, makes it writable again and the target read-only.
"""

import os
import sys

import labenv
import psycopg
import pytest

import node_helpers  # loaded by conftest.py
import oplab

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cnpg_major_inplace as inplace  # noqa: E402  its major pair

pytestmark = pytest.mark.slow

major_images = inplace.major_images


class AppLab(object):
    """What the application sees: the Service ``pg-app`` and the app user's password (production's app Secret)."""

    def __init__(self, lab):
        self.lab = lab

    def connect(self, cluster=None, service=None, dbname="app", retry_for=60):  # pylint: disable=unused-argument
        return node_helpers.pg_connect(self.lab.core, self.lab.ns, "pg-app", "pg-app", user="app", dbname=dbname,
                                       retry_for=retry_for)


@pytest.fixture(scope="module")
def logical_lab(real_node, major_images, k8s_client, k8s_core, tmp_path_factory):
    ns = "pglog-" + os.urandom(3).hex()
    lab = oplab.OpLab(k8s_client, real_node, ns, str(tmp_path_factory.mktemp("pglog")))
    with labenv.held("node", "cnpg-tests.lock"):
        lab.create_namespace()
        try:
            lab.create_cluster("pg", major_images[0], instances=1)
            lab.wait_healthy("pg", major_images[0])
            selector = lab.core.read_namespaced_service("pg-rw", ns).spec.selector
            lab.core.create_namespaced_service(ns, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "pg-app"},
                                                    "spec": {"selector": selector, "ports": [{"port": 5432, "targetPort": 5432}]}})
            with node_helpers.wait_for("Service pg-app answering", lambda: _answer(AppLab(lab)), timeout=120, every=1) as conn:
                conn.execute("create table accounts as select g as id, md5(g::text) as note from generate_series(1, 20000) g")
                conn.execute("alter table accounts add primary key (id)")
                conn.execute("create table orders (id bigserial primary key, note text)")
                conn.execute("insert into orders (note) select 'o' || g from generate_series(1, 500) g")
            yield lab
        finally:
            lab.remove()


def _answer(app):
    """A connection through pg-app, or None while kube-proxy has not programmed the new Service yet."""
    try:
        return app.connect(retry_for=0)
    except psycopg.OperationalError:
        return None


def _major(conn):
    return conn.execute("select current_setting('server_version_num')::int / 10000").fetchone()[0]


def _prod_state(lab):
    """What a run must leave of production when it stops before the cutover."""
    with lab.connect("pg") as conn:
        return {"read_only": conn.execute("show default_transaction_read_only").fetchone()[0],
                "publications": conn.execute("select count(*) from pg_publication").fetchone()[0],
                "slots": conn.execute("select count(*) from pg_replication_slots where slot_type = 'logical'").fetchone()[0],
                "orders": conn.execute("select count(*) from orders").fetchone()[0],
                "annotations": sorted(k for k in (lab.get("pg")["metadata"].get("annotations") or {}) if k.startswith("fournines.io/")),
                "selector": lab.core.read_namespaced_service("pg-app", lab.ns).spec.selector}


def test_without_confirmation_the_target_is_built_then_removed_and_production_is_as_before(logical_lab, major_images):
    old, new = major_images
    lab = logical_lab
    before = _prod_state(lab)
    args = ("-e", "postgres_upgrade=major", "-e", "postgres_cnpg_upgrade_image=" + new,
            "-e", '{"postgres_cnpg_upgrade_major_method": "logical", "postgres_cnpg_upgrade_app_service": "pg-app",'
                  ' "postgres_cnpg_upgrade_base_backup": false}')
    plan = lab.playbook(*args, check=True, timeout=600)  # --check: the plan, nothing made
    # (the callback folds long lines wherever the namespace's length puts the break)
    assert plan.returncode == 0 and "new Cluster pg-18 on " + new in " ".join(plan.stdout.split()), plan.stdout[-3000:]
    assert lab.get("pg-18") is None and _prod_state(lab) == before
    proc = lab.playbook(*args, timeout=1200)
    assert proc.returncode != 0
    assert "was not cut over" in proc.stdout and "postgres_major_confirm=true" in proc.stdout, proc.stdout[-3000:]
    assert "the target pg-18 is removed" in proc.stdout, proc.stdout[-3000:]
    (report,) = [r for r in lab.reports().values() if r["status"] != "check-mode-plan"]
    steps = [s["step"] for s in report["steps"]]
    # a gate that says no is not a failure of the upgrade: stopped-at-gate, as the host backend says it
    assert report["status"] == "stopped-at-gate" and "was not cut over" in report["error"], report
    assert [s["status"] for s in report["steps"] if s["step"].startswith("Gate - ")] == ["refused"], report["steps"]
    # the prediction a stopped run reports (the autopilot's approval evidence): the planned cutover, once the canary passed
    assert report["method"] == "logical" and "planned write downtime %g s" % report["predicted_downtime_seconds"] in report["error"]
    assert steps[:3] == ["preflight", "target", "canary"] and "writes" in steps, steps
    assert report["writes"]["lost"] == 0, report["writes"]
    assert lab.get("pg-18") is None
    assert lab.core.list_namespaced_secret(lab.ns, label_selector="fournines.io/app-credentials-of=pg").items == []
    assert _prod_state(lab) == before and before["read_only"] == "off" and before["publications"] == 0
    assert lab.get("pg")["spec"]["imageName"] == old


def test_logical_method_cuts_over_with_nothing_lost_and_switches_back(logical_lab, major_images):
    old, new = major_images
    lab, app = logical_lab, AppLab(logical_lab)
    with app.connect() as conn:
        accounts = conn.execute("select count(*), md5(string_agg(id::text || note, ',' order by id)) from accounts").fetchone()
        last_order = conn.execute("select max(id) from orders").fetchone()[0]
    args = ("-e", "postgres_upgrade=major", "-e", "postgres_major_confirm=true", "-e", "postgres_cnpg_upgrade_image=" + new,
            "-e", '{"postgres_cnpg_upgrade_major_method": "logical", "postgres_cnpg_upgrade_app_service": "pg-app",'
                  ' "postgres_cnpg_upgrade_compare_tables": ["public.accounts"], "postgres_cnpg_upgrade_base_backup": false}')
    writer = oplab.Writer(app, "pg").start()
    try:
        killed = lab.start_playbook(*args)
        try:  # killed while the module waits for the new Cluster (its pods exist, it is not healthy yet)
            node_helpers.wait_for("the target's first pod", lambda: killed.poll() is not None or lab.core.list_namespaced_pod(
                lab.ns, label_selector="cnpg.io/cluster=pg-18").items, timeout=600, every=0.2)
        finally:
            lab.kill_tree(killed)
        target = lab.get("pg-18")
        assert target is not None, "the run ended before it made the target"
        run_id = lab.get("pg")["metadata"]["annotations"]["fournines.io/logical-upgrade-run"]
        proc = lab.playbook(*args, timeout=2400)
    finally:
        writer.stop()
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert lab.get("pg-18")["metadata"]["uid"] == target["metadata"]["uid"], "the re-run made a second target"

    reports = lab.reports()
    assert run_id in reports and [r for r in reports.values() if r["status"] == "done"] == [reports[run_id]], reports
    report = reports[run_id]
    steps = [s["step"] for s in report["steps"]]
    assert report["status"] == "done" and report["method"] == "logical", report
    assert ["preflight", "resumed", "target", "canary", "gate", "cutover", "post", "writes"] == steps, steps
    canary = report["steps"][steps.index("canary")]["detail"]
    assert "rows equal in public.accounts" in canary, canary
    writes = report["writes"]
    assert writes["lost"] == 0 and writes["committed"] > 20, writes

    # The application's Service now selects the target's primary; the app's password works there, on 18.
    target_rw = lab.core.read_namespaced_service("pg-18-rw", lab.ns).spec.selector
    assert lab.core.read_namespaced_service("pg-app", lab.ns).spec.selector == target_rw
    assert writer.committed and writer.missing() == [], "rows committed through pg-app missing on the target"
    with app.connect() as conn:
        assert _major(conn) == 18
        assert conn.execute("select count(*), md5(string_agg(id::text || note, ',' order by id)) from accounts").fetchone() == accounts
        new_id = conn.execute("insert into orders (note) values ('after') returning id").fetchone()[0]
        assert new_id > last_order, "the sequence did not continue on the target"
    # Production: untouched but read-only, on 15, with every row committed before the cutover.
    assert lab.get("pg")["spec"]["imageName"] == old
    with lab.connect("pg") as conn:
        assert _major(conn) == 15
        assert conn.execute("select count(*) from orders").fetchone()[0] == 500
        assert conn.execute("show default_transaction_read_only").fetchone()[0] == "on"
        # No slot left behind to keep production's WAL.
        assert conn.execute("select count(*) from pg_replication_slots where slot_type = 'logical'").fetchone()[0] == 0
        on_prod = set(r[0] for r in conn.execute("select id from ledger").fetchall())
    with app.connect() as conn:  # everything production committed before the cutover reached the target
        on_target = set(r[0] for r in conn.execute("select id from ledger").fetchall())
    assert on_prod and on_prod <= on_target, sorted(on_prod - on_target)[:20]

    # The cutover again (a re-run after a kill that came after the switch): nothing is done twice.
    again = lab.module("postgres_cnpg_logical_upgrade", namespace=lab.ns, source="pg", name="pg-18", app_service="pg-app",
                       run_id=run_id, step="cutover")
    assert not again.get("failed") and again["already_switched"] and not again["changed"], again

    # The way back (until the run's owner deletes production): the Service on production, writable again.
    back = lab.module("postgres_cnpg_logical_upgrade", namespace=lab.ns, source="pg", name="pg-18", app_service="pg-app",
                      step="switch_back")
    assert not back.get("failed") and back["changed"], back
    assert lab.core.read_namespaced_service("pg-app", lab.ns).spec.selector == \
        lab.core.read_namespaced_service("pg-rw", lab.ns).spec.selector
    with node_helpers.wait_for("production answering through pg-app", lambda: _writable(app), timeout=60, every=0.5) as conn:
        assert _major(conn) == 15
    with lab.connect("pg-18") as conn:  # no new write lands on the target any more
        assert conn.execute("show default_transaction_read_only").fetchone()[0] == "on"
    print("\nmajor 15 -> 18 by logical replication: write downtime %.2f s (longest outage %.2f s), %d probe rows, 0 lost;"
          " test writer %d rows, %d failed attempts, longest gap %.2f s; %s"
          % (writes["downtime_seconds"], writes["longest_outage_seconds"], writes["committed"], len(writer.committed),
             writer.errors, writer.longest_gap, report["steps"][steps.index("cutover")]["detail"]))


def _writable(app):
    """A connection through pg-app that can write (production again), or None while it cannot."""
    try:
        conn = app.connect(retry_for=0)
    except psycopg.OperationalError:
        return None
    try:
        conn.execute("insert into orders (note) values ('back')")
        return conn
    except psycopg.Error:
        conn.close()
        return None
