"""module_utils/linode/lke_module.py: the argument spec every lke_* module shares, and the library
checks that fail the module, with Ansible's standard message, before it reads or changes anything."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.fournines.runbooks.plugins.module_utils.linode import lke_module as lm

AUTH = "kubeconfig"


def test_the_spec_adds_the_linode_connection_the_cluster_and_kubernetes_and_keeps_the_module_options():
    spec = lm.lke_argument_spec(pool_id=dict(type="int", required=True))
    assert spec["pool_id"] == dict(type="int", required=True)
    assert spec["cluster_id"] == dict(type="int", required=True)
    assert spec["api_token"]["no_log"] is True and spec["api_token"]["aliases"] == ["token"]
    assert AUTH in spec and "journal_dir" not in spec


def test_journal_adds_journal_dir_and_kube_false_leaves_the_kubernetes_connection_out():
    spec = lm.lke_argument_spec(journal=True, kube=False, k8s_version=dict(type="str"))
    assert spec["journal_dir"] == dict(type="path")
    assert AUTH not in spec and "k8s_version" in spec and "cluster_id" in spec


def test_each_spec_is_a_fresh_copy_a_module_cannot_change_another_modules_spec():
    one = lm.lke_argument_spec()
    one["kubeconfig"]["type"] = "str"
    assert lm.lke_argument_spec()["kubeconfig"]["type"] == "raw"


def run(monkeypatch, capsys, args, has_linode=True, has_k8s=True, **kwargs):
    monkeypatch.setattr(lm, "HAS_LINODE", has_linode)
    monkeypatch.setattr(lm, "HAS_K8S", has_k8s)
    with patch_module_args(args):
        try:
            module = lm.lke_module(lm.lke_argument_spec(wait=dict(type="bool", default=False)), **kwargs)
        except SystemExit:
            return json.loads(capsys.readouterr().out)
    return module


@pytest.mark.parametrize("has_linode, has_k8s, missing", [(False, True, "linode_api4"), (True, False, "kubernetes")])
def test_a_missing_library_fails_the_module_naming_it(monkeypatch, capsys, has_linode, has_k8s, missing):
    out = run(monkeypatch, capsys, {"cluster_id": 1}, has_linode=has_linode, has_k8s=has_k8s)
    assert out["failed"] is True and "Failed to import the required Python library (%s)" % missing in out["msg"]


def test_kubernetes_is_required_only_when_the_module_says_so(monkeypatch, capsys):
    needs_it = lambda p: p["wait"]  # noqa: E731
    module = run(monkeypatch, capsys, {"cluster_id": 1}, has_k8s=False, kubernetes=needs_it)
    assert module.params["cluster_id"] == 1 and module.check_mode is False
    out = run(monkeypatch, capsys, {"cluster_id": 1, "wait": True}, has_k8s=False, kubernetes=needs_it)
    assert out["failed"] is True and "(kubernetes)" in out["msg"]


def test_the_module_supports_check_mode_and_passes_the_other_keywords(monkeypatch, capsys):
    module = run(monkeypatch, capsys, {"cluster_id": 1, "_ansible_check_mode": True},
                 required_one_of=[("cluster_id", "wait")])
    assert module.check_mode is True
