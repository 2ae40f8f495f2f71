"""Unit tests for postgres/write_prober.py (outage arithmetic, loss accounting),
postgres/cloudnative_pg/access.py (Service + Secret to a connection, refusals) and
report/postgres_operator.py (ledger charged once per run, timeline drawn). The writer against a
real operator-managed PostgreSQL runs in tests/integration/postgres_operator."""

import base64
import json
import os

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.common import slo
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres import write_prober
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import access
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg.cluster import CnpgError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.errors import PostgresError
from ansible_collections.fournines.runbooks.plugins.module_utils.report import postgres_operator


def ok(ts, ident=0):
    return {"id": ident, "ts": ts}


def bad(ts):
    return {"ts": ts, "id": -1, "error": "connection refused"}


def test_gaps_run_from_the_last_commit_to_the_next_one():
    committed = [ok(10.0), ok(10.1), ok(16.7), ok(16.8), ok(20.0)]
    failures = [bad(10.3), bad(12.0), bad(16.5), bad(19.0)]
    outages = write_prober.gaps(committed, failures)
    assert [(o["start"], o["end"], o["failed"]) for o in outages] == [(10.1, 16.7, 3), (16.8, 20.0, 1)]
    assert outages[0]["seconds"] == pytest.approx(6.6)


def test_gaps_an_outage_still_open_ends_at_the_last_failure():
    outages = write_prober.gaps([ok(1.0)], [bad(2.0), bad(3.5)])
    assert outages == [{"start": 1.0, "end": 3.5, "seconds": 2.5, "failed": 2, "open": True}]
    assert write_prober.gaps([ok(1.0), ok(2.0)], []) == []


def test_summary_counts_committed_rows_missing_from_the_table(tmp_path):
    d = str(tmp_path)
    with open(os.path.join(d, write_prober.COMMITTED), "w") as out:
        for i, ts in ((1, 1.0), (2, 1.1), (4, 3.0)):
            out.write(json.dumps({"id": i, "ts": ts}) + "\n")
    with open(os.path.join(d, write_prober.FAILURES), "w") as out:
        out.write(json.dumps(bad(2.0)) + "\n")
    got = write_prober.summary(d, present_ids=[1, 4, 3])
    assert got["committed"] == 3 and got["failed_attempts"] == 1
    assert got["lost"] == 1 and got["lost_ids"] == [2]
    assert got["longest_outage_seconds"] == pytest.approx(1.9)
    assert write_prober.summary(d, present_ids=[1, 2, 4])["lost"] == 0


@pytest.mark.parametrize("table", ["Public.x", "a.b.c", "x; drop table y", ""])
def test_bad_probe_table_is_refused(table):
    with pytest.raises(PostgresError, match="probe table"):
        write_prober.check_table(table)

@pytest.mark.parametrize("interval, max_seconds, named", [(0, 3600, "interval"), (-1, 3600, "interval"),
                                                          (61, 3600, "interval"), (0.1, 0, "max_seconds"),
                                                          (0.1, -5, "max_seconds")])
def test_limits_the_writer_cannot_keep_are_refused_by_name(interval, max_seconds, named):
    with pytest.raises(PostgresError, match="^%s .* is not valid" % named):
        write_prober.check_limits(interval, max_seconds)


def test_the_defaults_and_the_roles_limits_are_accepted():
    for interval, max_seconds in ((0.1, 3600), (60, 1), (0.05, 2100)):
        write_prober.check_limits(interval, max_seconds)


def test_stop_without_a_started_writer_names_the_folder_and_connects_to_nothing(tmp_path):
    conn = {"host": "127.0.0.1", "port": 1, "user": "postgres", "dbname": "postgres"}  # nothing listens on port 1
    with pytest.raises(PostgresError, match="no write prober in %s; start one first" % tmp_path):
        write_prober.stop(str(tmp_path), conn)
    assert os.listdir(str(tmp_path)) == []



class FakeKube(object):
    def __init__(self, objects):
        self.objects = objects

    def get(self, path, query=None, ok_missing=False):
        return self.objects.get(path)


def b64(text):
    return base64.b64encode(text.encode()).decode()


def kube_with(secret="superuser"):
    return FakeKube({
        "/api/v1/namespaces/db/services/pg-rw": {"spec": {"clusterIP": "10.96.3.4"}},
        "/api/v1/namespaces/db/secrets/pg-%s" % secret: {"data": {"username": b64("postgres"), "password": b64("s3cret"),
                                                                  "dbname": b64("*")}},
    })


def test_connection_from_the_rw_service_and_the_superuser_secret():
    conn = access.connection(kube_with(), "db", "pg")
    assert conn == {"host": "10.96.3.4", "port": 5432, "user": "postgres", "password": "s3cret", "dbname": "app",
                    "connect_timeout": 3}


def test_connection_refusals_name_what_is_missing():
    with pytest.raises(CnpgError, match="Service db/pg-ro of Cluster pg does not exist"):
        access.connection(kube_with(), "db", "pg", service="ro")
    with pytest.raises(CnpgError, match="Secret db/pg-superuser .*enableSuperuserAccess"):
        access.connection(kube_with("app"), "db", "pg")
    with pytest.raises(CnpgError, match="service 'primary' is not valid"):
        access.connection(kube_with(), "db", "pg", service="primary")


def test_connection_refuses_a_cluster_without_superuser_access_and_follows_its_superuser_secret():
    kube = kube_with()
    cluster_path = "/apis/postgresql.cnpg.io/v1/namespaces/db/clusters/pg"
    kube.objects[cluster_path] = {"metadata": {"name": "pg", "namespace": "db"}, "spec": {"instances": 2}}
    with pytest.raises(CnpgError, match=r"Cluster db/pg does not allow superuser access \(spec.enableSuperuserAccess"):
        access.connection(kube, "db", "pg")
    kube.objects[cluster_path]["spec"].update(enableSuperuserAccess=True, superuserSecret={"name": "team-pg"})
    with pytest.raises(CnpgError, match="Secret db/team-pg of Cluster pg does not exist"):
        access.connection(kube, "db", "pg")
    kube.objects["/api/v1/namespaces/db/secrets/team-pg"] = kube.objects.pop("/api/v1/namespaces/db/secrets/pg-superuser")
    assert access.connection(kube, "db", "pg")["password"] == "s3cret"


def test_outages_are_charged_once_per_run(tmp_path):
    ledger = str(tmp_path / "downtime.jsonl")
    outages = [{"start": 1700000000.4, "end": 1700000005.2, "seconds": 4.8}, {"start": 1700000100.0, "end": 1700000100.0, "seconds": 0.0}]
    assert postgres_operator.charge(ledger, outages, "run-1", ["postgres"]) == 1
    assert postgres_operator.charge(ledger, outages, "run-1", ["postgres"]) == 0
    records = slo.read_ledger(ledger)
    assert len(records) == 1 and records[0]["run_id"] == "run-1/write-1700000000400"
    # A later attempt of the same run (a new writer, after a failed upgrade) charges its own outages.
    later = [{"start": 1700000900.0, "end": 1700000903.0, "seconds": 3.0}]
    assert postgres_operator.charge(ledger, later + outages, "run-1", ["postgres"]) == 1
    assert len(slo.read_ledger(ledger)) == 2
    assert records[0]["start"].startswith("2023-11-14T22:13:20") and records[0]["end"].startswith("2023-11-14T22:13:26")


def test_timeline_png_is_drawn(tmp_path):
    pytest.importorskip("matplotlib")
    path = str(tmp_path / "timeline.png")
    steps = [{"step": "preflight", "at": "2026-01-01T00:00:02+00:00", "status": "ok"},
             {"step": "update", "at": "2026-01-01T00:01:00+00:00", "status": "failed"}]
    summary = {"outages": [{"start": 1767225650.0, "seconds": 3.0}], "failure_times": [1767225651.0]}
    postgres_operator.timeline(path, "t", steps, summary, "2026-01-01T00:00:00+00:00")
    with open(path, "rb") as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("handshake, expected", [(0.001, 0.2), (0.1, 0.4), (0.3, 1.2), (5.0, 2.0)])
def test_handshake_timeout_follows_the_handshake_timed_at_start(handshake, expected):
    assert write_prober.tcp_timeout(handshake) == expected
