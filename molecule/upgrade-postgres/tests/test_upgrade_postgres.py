"""testinfra checks after converge: the pair runs 18 and streams, the journals tell the story."""

import json
import os

import pytest


def _env(host):
    values = {}
    for line in host.file(os.environ["LAB_PG_ENV"]).content_string.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


def _journal(host, run):
    f = host.file(os.path.join(os.environ["PG_REPORTS"], run, "state.json"))
    assert f.exists, "the runbook wrote no journal for %s" % run
    return json.loads(f.content_string)


def _psql(host, env, port, sql):
    cmd = host.run("PGPASSWORD=%s %s/psql -X -At -h 127.0.0.1 -p %s -U postgres -d appdb -c %s",
                   env["PG_PASSWORD"], env["PG_CLIENT_BINDIR"], port, sql)
    assert cmd.rc == 0, cmd.stderr
    return cmd.stdout.strip()


@pytest.fixture(scope="module")
def env(host):
    return _env(host)


@pytest.fixture(scope="module")
def ports(env, host):
    """{'primary': port, 'replica': port}: the minor flow's switchover swapped the lab's nodes."""
    roles = {}
    for port in (env["PG_PRIMARY_PORT"], env["PG_REPLICA_PORT"]):
        roles["replica" if _psql(host, env, port, "SELECT pg_is_in_recovery()") == "t" else "primary"] = port
    assert sorted(roles) == ["primary", "replica"], roles
    return roles


def test_both_nodes_run_the_new_major_from_new_data_dirs(host, env, ports):
    for node in ("PRIMARY", "REPLICA"):
        assert host.file(os.path.join(env["PG_%s_DATA_NEW" % node], "PG_VERSION")).content_string.strip() == "18"
    for port in ports.values():
        assert _psql(host, env, port, "SHOW server_version_num").startswith("18")
        assert _psql(host, env, port, "SHOW data_directory").endswith("/data18")


def test_servers_run_as_the_unprivileged_user_on_loopback(host, env):
    procs = host.process.filter(comm="postgres")
    assert procs and all(p.user == env["PG_OS_USER"] for p in procs)
    for port in (env["PG_PRIMARY_PORT"], env["PG_REPLICA_PORT"]):
        assert host.socket("tcp://127.0.0.1:%s" % port).is_listening
        assert not host.socket("tcp://0.0.0.0:%s" % port).is_listening


def test_the_replica_streams_and_the_data_survived(host, env, ports):
    assert _psql(host, env, ports["primary"], "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "1"
    assert _psql(host, env, ports["primary"], "SELECT count(*) FROM pgbench_accounts") == "200000"
    assert _psql(host, env, ports["replica"], "SELECT count(*) FROM app.customers") == "2000"
    assert _psql(host, env, ports["replica"], "SELECT extversion FROM pg_extension WHERE extname = 'citext'")


def test_minor_journal_records_canary_then_switchover(host):
    journal = _journal(host, "molecule-upgrade-postgres-minor")
    assert journal["status"] == "done"
    assert [s["name"] for s in journal["steps"]] == ["preflight", "minor-canary", "switchover"]
    assert journal["facts"]["version_before"] != journal["facts"]["version_after"]


def test_major_journal_has_prediction_and_actual(host):
    journal = _journal(host, "molecule-upgrade-postgres-major")
    assert journal["status"] == "done"
    assert [s["name"] for s in journal["steps"]] == ["preflight", "major-check", "major-canary", "major-gate",
                                                     "major-upgrade", "major-post"]
    assert float(journal["facts"]["predicted_downtime_seconds"]) > 0
    assert float(journal["facts"]["actual_downtime_seconds"]) > 0
    assert journal["facts"]["version_after"].startswith("18.")
