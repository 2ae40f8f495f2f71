"""The collection's own Linode calls (module_utils/linode/api.py, dns/providers/linode.py) against the
simulator in strict mode: every request must hit a catalogued route and send only catalogued
fields (the simulator refuses anything else with 400 and logs it)."""

import pytest

from linodesim.cloud import DEFAULT_CONFIG

CID = DEFAULT_CONFIG["cluster_id"]


@pytest.fixture
def lke(sim):
    from ansible_collections.fournines.runbooks.plugins.module_utils.linode import api
    return api.lke_from_params({"api_token": sim.token, "api_url": sim.url, "cluster_id": CID,
                                   "api_timeout": 30})


def _assert_clean_log(sim):
    assert sim.ctx.strict_fields
    log = list(sim.ctx.requests)
    assert log, "no requests were made"
    for entry in log:
        assert entry["op"] is not None, "%s %s is not a simulated route" % (entry["method"],
                                                                             entry["path"])
        assert entry["unknown_fields"] == [], entry
        assert entry["status"] == 200, entry


def test_lke_calls_use_only_catalogued_routes_and_fields(lke, sim):
    assert lke.versions() == ["1.33", "1.34", "1.35"]
    assert lke.cluster()["k8s_version"] == "1.34"
    assert lke.api_endpoints() == ["https://127.0.0.1:16443"]
    assert lke.kubeconfig().startswith("apiVersion: v1")
    lke.set_version("1.35")
    pool = lke.pools()[0]
    lke.resize_pool(pool["id"], 4)
    sim.advance(sim.cloud.delay("NODE_PROVISION_SECONDS"))
    nodes = lke.pool(pool["id"])["nodes"]
    assert len(nodes) == 4
    lke.recycle_node(nodes[0]["id"])
    assert lke.node(nodes[0]["id"])["status"] == "not_ready"
    lke.delete_node(nodes[-1]["id"])
    assert lke.pool(pool["id"])["count"] == 3
    _assert_clean_log(sim)


def test_lke_client_retries_a_429_burst_and_5xx(lke, sim):
    sim.ctx.faults.burst_429(2, retry_after=0)
    sim.ctx.faults.add({"path": "^/lke/versions$", "status": 503, "count": 1})
    assert lke.versions() == ["1.33", "1.34", "1.35"]
    statuses = [e["status"] for e in sim.ctx.requests]
    assert statuses.count(429) == 2 and statuses.count(503) == 1 and statuses[-1] == 200


def test_dns_provider_calls_use_only_catalogued_routes_and_fields(sim):
    from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.linode import (
        LinodeProvider,
    )
    provider = LinodeProvider(sim.token, sim.url, api_timeout=30)
    zone = "fournines.test"
    found = provider.get(zone, [("web.lab.fournines.test", "A")])
    rrset = found[("web.lab.fournines.test", "A")]
    assert rrset.ttl == 3600
    provider.set_ttls(zone, [(rrset, 300)])
    again = provider.get(zone, [("web.lab.fournines.test", "A")])
    assert again[("web.lab.fournines.test", "A")].ttl == 300
    _assert_clean_log(sim)
