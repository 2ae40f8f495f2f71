"""The undrainable_problem filter: the preflight's refusal of a policy the strategy cannot honour."""

import pytest

from ansible_collections.fournines.runbooks.plugins.filter.undrainable_problem import FilterModule

F = FilterModule().filters()["undrainable_problem"]


@pytest.mark.parametrize("strategy, undrainable", [("surge", "fail"), ("surge", "quarantine"), ("blue_green", "fail")])
def test_a_pair_the_strategy_honours_gives_an_empty_string(strategy, undrainable):
    assert F(strategy, undrainable) == ""


def test_blue_green_refuses_quarantine_naming_the_variable():
    msg = F("blue_green", "quarantine")
    assert msg.startswith("upgrade_cluster_undrainable=quarantine is not supported with upgrade_cluster_strategy=blue_green")
    assert F("blue_green", "quarantine", "node_pool_rollout_undrainable").startswith("node_pool_rollout_undrainable=")
