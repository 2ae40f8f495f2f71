"""cloudnative_pg/params.py: the options the postgres_cnpg_* modules share and what they make of them
(the clone's spec and its refusal to be production, the lag limit, the image diff, the library check)."""

import json

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import params


def module_or_result(capsys, args, spec, action=None):
    """``action(module)`` (or the module) for ``args``, or the JSON the module exited with."""
    with patch_module_args(args):
        try:
            module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
            return action(module) if action else module
        except SystemExit:
            return json.loads(capsys.readouterr().out)


def test_the_clone_spec_needs_namespace_source_and_name_and_keeps_the_modules_own_options():
    spec = params.clone_argument_spec(state=dict(type="str", default="present"))
    assert all(spec[k] == dict(type="str", required=True) for k in ("namespace", "source", "name"))
    assert spec["state"] == dict(type="str", default="present") and "kubeconfig" in spec
    assert "state" not in params.CLONE_SPEC  # a module's options never leak into the shared spec


def test_a_clone_named_like_its_source_is_refused_before_anything_is_read(capsys):
    spec = params.clone_argument_spec()
    refuse = lambda module: params.refuse_clone_of_itself(module, "canary") or "accepted"  # noqa: E731
    out = module_or_result(capsys, {"namespace": "shop", "source": "pg", "name": "pg"}, spec, refuse)
    assert out["failed"] is True
    assert out["msg"] == "name 'pg' is the source Cluster's; give the clone another name, such as pg-canary"
    assert module_or_result(capsys, {"namespace": "shop", "source": "pg", "name": "pg-canary"}, spec, refuse) == "accepted"


@pytest.mark.parametrize("given, limit", [(None, 16 * 1024 * 1024), (0, 0), (1024, 1024), (-1, None), (-5, None)])
def test_max_lag_bytes_defaults_to_16_mib_and_a_negative_value_does_not_judge_lag(capsys, given, limit):
    args = {} if given is None else {"max_lag_bytes": given}
    module = module_or_result(capsys, args, dict(params.LAG_SPEC))
    assert params.lag_limit(module.params) == limit


def test_image_diff_is_the_image_before_and_after():
    assert params.image_diff("pg:17.5", "pg:17.6") == {"before": {"imageName": "pg:17.5"},
                                                       "after": {"imageName": "pg:17.6"}}


def test_without_the_kubernetes_library_opening_the_clusters_fails_the_module_naming_it(capsys, monkeypatch):
    monkeypatch.setattr(params.client, "HAS_K8S", False)
    out = module_or_result(capsys, {"namespace": "shop", "name": "pg"},
                           params.client.k8s_argument_spec(namespace=dict(type="str"), name=dict(type="str")),
                           lambda module: params.open_clusters(module, judge_lag=True))
    assert out["failed"] is True and "(kubernetes)" in out["msg"]
