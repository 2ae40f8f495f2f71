"""testinfra checks after converge: the check run wrote nothing, the real run applied the node patch."""

import json
import os

import pytest
from kubernetes import client, config

POOL_LABEL = "lke.linode.com/pool-id"


@pytest.fixture(scope="module")
def reports(host):
    return os.environ["AUTOPILOT_REPORTS_DIR"]


@pytest.fixture(scope="module")
def ledger(host, reports):
    text = host.file(os.path.join(reports, "autopilot", "ledger.jsonl")).content_string
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_only_the_real_run_left_records(ledger):
    """`check` ran the same playbook first: it wrote no ledger line."""
    assert len({e["run_id"] for e in ledger}) == 1, sorted({e["run_id"] for e in ledger})


def test_the_node_patch_was_decided_and_applied(ledger):
    decision = next(e for e in ledger if e["event"] == "decision" and e["component"] == "lke_node_patch")
    assert decision["decision"] == "apply" and decision["kind"] == "patch", decision
    applied = [e for e in ledger if e["event"] == "applied"]
    assert [(e["component"], e["candidate"]) for e in applied] == [("lke_node_patch", decision["candidate"])]


def test_every_node_runs_the_patch(ledger):
    patch = next(e for e in ledger if e["event"] == "applied")["candidate"]
    api = config.new_client_from_config(config_file=os.environ["AUTOPILOT_KUBECONFIG"])
    prefix = "lke%s-" % os.environ["AUTOPILOT_CLUSTER_ID"]
    nodes = [n for n in client.CoreV1Api(api).list_node(label_selector=POOL_LABEL).items
             if n.metadata.name.startswith(prefix)]
    assert len(nodes) == 3
    assert {n.status.node_info.kubelet_version for n in nodes} == {"v" + patch}
    assert not [n.metadata.name for n in nodes if n.spec.unschedulable]


def test_the_report_says_applied(host, reports):
    runs = sorted(d for d in os.listdir(reports) if d.startswith("autopilot-"))
    assert runs, os.listdir(reports)
    report = json.loads(host.file(os.path.join(reports, runs[-1], "report.json")).content_string)
    assert report["report"]["status"] == "done", report
    assert "Applied lke_node_patch" in json.dumps(report)
