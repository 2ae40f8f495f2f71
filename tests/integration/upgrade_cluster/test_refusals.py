"""Bad input is refused before anything changes: no mutating Linode call, no cordon."""

import json
import os
import re

import pytest

import uclab


def _assert_nothing_changed(admin, core, before):
    assert uclab.mutations(admin) == [], "the refused run sent changes to the Linode API"
    after = uclab.lke_state(core)
    assert after == before, "the refused run changed Nodes"


@pytest.mark.parametrize("override,message", [
    ({"cluster_preflight_target_version": "1.36"}, "target version 1.36 is not offered by LKE; available: 1.33, 1.34, 1.35"),
    ({"cluster_preflight_target_version": "1.33"}, "LKE cannot downgrade"),
    ({"cluster_preflight_target_version": "one-point-thirty-five"}, "is not a Kubernetes version"),
    ({"lke_cluster_id": 999}, "LKE cluster id 999 does not exist"),
    ({"lke_api_token": ""}, "no Linode API token: set api_token or the LINODE_TOKEN environment variable"),
    ({"lke_api_token": "not-the-token"}, "refused the token (HTTP 401)"),
])
def test_bad_input_refused_before_any_change(lab_as_is, tmp_path, override, message):
    admin, core, _ = lab_as_is
    before = uclab.lke_state(core)
    proc = uclab.run_playbook(uclab.extra_vars(tmp_path, **override))
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-3000:]
    assert "Traceback" not in proc.stdout
    _assert_nothing_changed(admin, core, before)


def test_kubeconfig_of_another_cluster_refused(lab_as_is, tmp_path):
    """Same API server reached under another name: not one of the cluster's API endpoints."""
    admin, core, _ = lab_as_is
    with open(uclab.labenv.kubeconfig()) as handle:
        text = handle.read()
    other = tmp_path / "other-kubeconfig"
    other.write_text(text.replace("https://127.0.0.1:", "https://localhost:"))
    before = uclab.lke_state(core)
    proc = uclab.run_playbook(uclab.extra_vars(tmp_path, lke_kubeconfig=str(other)))
    assert proc.returncode != 0
    assert "the kubeconfig talks to https://localhost:" in proc.stdout, proc.stdout[-3000:]
    assert "serves its API at https://127.0.0.1:" in proc.stdout
    _assert_nothing_changed(admin, core, before)


def test_two_minor_jump_refused(seeded_lab, tmp_path):
    admin, core, apps = seeded_lab
    admin.call("POST", "/reset", {"k8s_version": "1.33"})
    admin.wait_idle()
    uclab.wait_for("Nodes on 1.33", lambda: uclab.lke_state(core) and all(
        n["kubelet"].startswith("v1.33") for n in uclab.lke_state(core).values()), 120)
    admin.call("DELETE", "/requests")
    before = uclab.lke_state(core)
    proc = uclab.run_playbook(uclab.extra_vars(tmp_path, cluster_preflight_target_version="1.35"))
    assert proc.returncode != 0
    assert "target version 1.35 is more than one minor above the cluster's 1.33" in proc.stdout
    assert "Valid target now: 1.34" in proc.stdout
    _assert_nothing_changed(admin, core, before)


def test_check_mode_prints_plan_and_changes_nothing(lab_as_is, tmp_path):
    admin, core, _ = lab_as_is
    before = uclab.lke_state(core)
    proc = uclab.run_playbook(uclab.extra_vars(tmp_path), check=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert re.search(r"Plan: Kubernetes 1\.\d+ -> 1\.\d+", proc.stdout), proc.stdout[-3000:]
    for name in before:
        assert name in proc.stdout, "node %s missing from the plan" % name
    assert "Predicted downtime" in proc.stdout and "Dry-run evictions" in proc.stdout
    _assert_nothing_changed(admin, core, before)
    assert not os.listdir(str(tmp_path)) or not any(
        os.path.exists(os.path.join(str(tmp_path), d, "state.json")) for d in os.listdir(str(tmp_path)))


def test_a_refused_run_leaves_another_runs_cordon(lab_as_is, tmp_path):
    """The rescue puts back only this run's cordons: a node another run drained stays cordoned."""
    admin, core, _ = lab_as_is
    node = sorted(uclab.lke_state(core))[0]
    conn = uclab.connection()
    cordon = uclab.run_module("fournines.runbooks.k8s_node_drain", {
        "nodes": [node], "kubeconfig": conn["kubeconfig"], "owner": "another-run", "state": "cordoned"})
    assert cordon["cordoned"] == [node], cordon
    try:
        before = uclab.lke_state(core)
        assert before[node]["unschedulable"]
        proc = uclab.run_playbook(uclab.extra_vars(tmp_path, cluster_preflight_target_version="1.36"))
        assert proc.returncode != 0
        assert "target version 1.36 is not offered by LKE" in proc.stdout, proc.stdout[-3000:]
        _assert_nothing_changed(admin, core, before)
    finally:
        uclab.run_module("fournines.runbooks.k8s_node_drain", {
            "nodes": [node], "kubeconfig": conn["kubeconfig"], "state": "uncordoned"})
    assert not uclab.lke_state(core)[node]["unschedulable"]


def _unfinished_run(reports_dir, run_id, key):
    os.makedirs(os.path.join(str(reports_dir), run_id))
    state = {"run_id": run_id, "runbook": "upgrade-cluster", "created": "2026-01-01T00:00:00Z",
             "updated": "2026-01-01T00:00:00Z", "status": "running", "facts": {"key": key}, "steps": []}
    with open(os.path.join(str(reports_dir), run_id, "state.json"), "w") as handle:
        json.dump(state, handle)


def test_an_unfinished_run_is_carried_on_only_against_its_own_pools(lab_as_is, tmp_path):
    """A run left unfinished before the cluster's pools were rebuilt (new pool ids) is not resumed against the new
    pools; one for the same pools is."""
    admin, core, _ = lab_as_is
    cluster = uclab.connection()["cluster_id"]
    pools = sorted(set(name.split("-")[1] for name in uclab.lke_state(core)))  # lke<cluster>-<pool>-<hash>
    _unfinished_run(tmp_path, "upgrade-cluster-20260101T000000Z-gone", "%s/pools-1,2" % cluster)
    proc = uclab.run_playbook(uclab.extra_vars(tmp_path), check=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "upgrade-cluster-20260101T000000Z-gone" not in proc.stdout
    assert re.search(r"Run upgrade-cluster-\S+ \(new\)", proc.stdout), proc.stdout[-3000:]

    _unfinished_run(tmp_path, "upgrade-cluster-20260101T000001Z-same", "%s/pools-%s" % (cluster, ",".join(pools)))
    proc = uclab.run_playbook(uclab.extra_vars(tmp_path), check=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "Run upgrade-cluster-20260101T000001Z-same (resumed" in proc.stdout, proc.stdout[-3000:]
