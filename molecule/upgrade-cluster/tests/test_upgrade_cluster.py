"""testinfra checks after converge: the cluster, the prober's record and the report agree."""

import json
import os

import pytest
from kubernetes import client, config

POOL_LABEL = "lke.linode.com/pool-id"


@pytest.fixture(scope="module")
def run(host):
    reports = os.environ["UPGRADE_REPORTS_DIR"]
    runs = sorted(d for d in os.listdir(reports) if d.startswith("upgrade-cluster-"))
    assert len(runs) == 1, "expected one run in %s, found %s" % (reports, runs)
    path = os.path.join(reports, runs[0])
    report = json.loads(host.file(os.path.join(path, "report.json")).content_string)
    return path, report


@pytest.fixture(scope="module")
def nodes():
    api = config.new_client_from_config(config_file=os.environ["UPGRADE_KUBECONFIG"])
    prefix = "lke%s-" % os.environ["UPGRADE_CLUSTER_ID"]  # this cluster's Nodes only
    return [n for n in client.CoreV1Api(api).list_node(label_selector=POOL_LABEL).items
            if n.metadata.name.startswith(prefix)]


def test_every_node_runs_the_target(nodes):
    target = "v" + os.environ["UPGRADE_TARGET"] + "."
    assert nodes and all(n.status.node_info.kubelet_version.startswith(target) for n in nodes)
    assert all(any(c.type == "Ready" and c.status == "True" for c in n.status.conditions) for n in nodes)


def test_pool_size_unchanged_and_nothing_cordoned(nodes, run):
    _, report = run
    assert len(nodes) == sum(report["facts"]["pool_counts"].values()) == 3
    assert not [n.metadata.name for n in nodes if n.spec.unschedulable]
    assert not [n.metadata.name for n in nodes if any(k.startswith("runbooks.fournines.io/")
                                                      for k in (n.metadata.annotations or {}))]


def test_zero_failed_requests_for_the_three_replica_app(run):
    _, report = run
    api = report["report"]["probe"]["targets"]["api"]
    assert api["requests"] > 10, "the prober did not run for the upgrade"
    assert api["failed_requests"] == 0, api


def test_report_is_complete_and_consistent(host, run):
    path, report = run
    summary = report["report"]["summary"]
    assert report["status"] == summary["status"] == "done"
    assert summary["nodes_recycled"] == 3
    names = [s["name"] for s in report["steps"]]
    assert names[0] == "preflight" and names[-1] == "postflight"
    assert sum(n.startswith("recycle ") for n in names) == 3
    assert sum(n.startswith("drain ") for n in names) == 4  # three old nodes and the node that leaves (the cheapest, not always the surge)
    assert any(n.startswith("resize pool") for n in names) and any(n.startswith("delete node") for n in names)
    assert all(s["status"] == "done" for s in report["steps"])
    failures = host.file(os.path.join(path, "probe", "failures.jsonl"))
    count = len(failures.content_string.splitlines()) if failures.exists else 0
    assert count == summary["failed_requests"]
    markdown = host.file(os.path.join(path, "report.md")).content_string
    assert report["run_id"] in markdown and "Per-node durations" in markdown
    png = host.file(os.path.join(path, "timeline.png"))
    assert png.exists and png.size > 1000


def test_budget_charged_once_with_the_measured_downtime(host, run):
    _, report = run
    ledger = host.file(os.path.join(os.environ["UPGRADE_REPORTS_DIR"], "downtime.jsonl"))
    lines = [json.loads(line) for line in ledger.content_string.splitlines()] if ledger.exists else []
    mine = [r for r in lines if r.get("run_id", "").startswith(report["run_id"])]
    charged = sum((_ts(r["end"]) - _ts(r["start"])) for r in mine)
    assert abs(charged - report["report"]["summary"]["downtime_seconds"]) <= len(mine) * 1.0 + 0.01


def _ts(text):
    import datetime
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
