"""The simulator's HTTP behaviour: auth, envelopes, pagination, filters, faults, DNS TTLs."""

import json
import time
import urllib.error
import urllib.request

import pytest
from linode_api4 import ApiError

from linodesim.domains import round_ttl


def call(sim, method, path, body=None, token=True, headers=None, admin=False):
    base = sim.url[:-len("/v4")] + "/__admin" if admin else sim.url
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    if token:
        req.add_header("Authorization", "Bearer " + sim.token)
    for key, val in (headers or {}).items():
        req.add_header(key, val)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}"), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}"), dict(err.headers)


@pytest.mark.parametrize("token", [False, "Bearer wrong"])
def test_requests_without_the_token_get_401(sim, token):
    status, body, _ = call(sim, "GET", "/lke/clusters", token=False,
                           headers={"Authorization": token} if token else None)
    assert status == 401
    assert body == {"errors": [{"reason": "Invalid Token"}]}


def test_a_minted_token_is_accepted_and_its_requests_are_kept_apart(sim):
    status, minted, _ = call(sim, "POST", "/tokens", {"label": "autopilot-node"}, admin=True)
    assert status == 200 and minted["label"] == "autopilot-node" and minted["token"] != sim.token
    own = {"Authorization": "Bearer " + minted["token"]}
    assert call(sim, "GET", "/lke/clusters", token=False, headers=own)[0] == 200
    assert call(sim, "PUT", "/lke/clusters/314159", {"label": "x" * 100}, token=False, headers=own)[0] == 400
    assert call(sim, "GET", "/lke/clusters")[0] == 200  # the lab's own token, not this caller's
    call(sim, "DELETE", "/requests", admin=True)
    call(sim, "POST", "/reset", {}, admin=True)
    _, log, _ = call(sim, "GET", "/tokens/autopilot-node/requests", admin=True)
    assert [(r["method"], r["path"], r["caller"], r["status"]) for r in log["data"]] == [
        ("GET", "/lke/clusters", "autopilot-node", 200), ("PUT", "/lke/clusters/314159", "autopilot-node", 400)]
    assert "token" not in json.dumps(log["data"])  # the log names the caller, never the token
    assert call(sim, "GET", "/tokens/nobody/requests", admin=True)[0] == 404


@pytest.mark.parametrize("body", [{}, {"label": "lab"}, {"label": "has space"}, {"label": "x" * 65}])
def test_a_token_needs_a_label_of_its_own(sim, body):
    status, answer, _ = call(sim, "POST", "/tokens", body, admin=True)
    assert status == 400 and answer["errors"][0]["field"] == "label"


def test_profile_answers_with_the_token(sim):
    status, body, _ = call(sim, "GET", "/profile")
    assert status == 200 and body["username"] == "lab"


def test_error_envelopes_404_405_400(sim):
    assert call(sim, "GET", "/lke/clusters/999")[:2] == (404, {"errors": [{"reason": "Not found"}]})
    assert call(sim, "GET", "/nothing/here")[0] == 404
    assert call(sim, "DELETE", "/lke/versions")[0] == 405
    status, body, _ = call(sim, "PUT", "/lke/clusters/314159", {"k8s_version": 1.35})
    assert status == 400 and body["errors"][0]["field"] == "k8s_version"


def test_unknown_body_fields_are_refused_and_logged(sim):
    status, body, _ = call(sim, "PUT", "/lke/clusters/314159", {"k8s_verison": "1.35"})
    assert status == 400 and body["errors"][0]["field"] == "k8s_verison"
    _, log, _ = call(sim, "GET", "/requests", admin=True)
    assert log["data"][-1]["unknown_fields"] == ["k8s_verison"]
    call(sim, "PUT", "/settings", {"strict_fields": False}, admin=True)
    status, _, _ = call(sim, "PUT", "/lke/clusters/314159", {"k8s_verison": "1.35"})
    assert status == 200


def test_pagination_envelope_and_page_size(sim):
    call(sim, "POST", "/reset", {"pools": [{"type": "g6-standard-2", "count": 20},
                                           {"type": "g6-standard-4", "count": 20}]}, admin=True)
    sim.advance(0)
    status, body, _ = call(sim, "GET", "/linode/instances?page=2&page_size=25")
    assert status == 200
    assert (body["page"], body["pages"], body["results"], len(body["data"])) == (2, 2, 40, 15)
    assert call(sim, "GET", "/linode/instances?page_size=10")[0] == 400


def test_x_filter(sim):
    status, body, _ = call(sim, "GET", "/lke/clusters",
                           headers={"X-Filter": json.dumps({"label": "lab"})})
    assert status == 200 and body["results"] == 1
    _, body, _ = call(sim, "GET", "/lke/clusters",
                      headers={"X-Filter": json.dumps({"label": "prod"})})
    assert body["results"] == 0 and body["data"] == []


def test_reset_to_fifty_nodes_in_three_pools(sim):
    pools = [{"type": "g6-standard-4", "count": 20}, {"type": "g6-standard-4", "count": 20},
             {"type": "g6-standard-2", "count": 10}]
    status, _, _ = call(sim, "POST", "/reset", {"pools": pools, "k8s_version": "1.33"},
                        admin=True)
    assert status == 200
    sim.advance(0)
    _, body, _ = call(sim, "GET", "/lke/clusters/314159/pools")
    assert [p["count"] for p in body["data"]] == [20, 20, 10]
    assert all(n["status"] == "ready" for p in body["data"] for n in p["nodes"])
    assert len(sim.backend.nodes) == 50
    assert {s["kubelet_version"] for s in sim.backend.nodes.values()} == {"v1.33.9"}


def test_burst_of_429_carries_retry_after_and_linode_api4_retries(sim, client):
    call(sim, "POST", "/faults/burst429", {"count": 2, "retry_after": 1, "path": "^/lke/versions"},
         admin=True)
    status, body, headers = call(sim, "GET", "/lke/versions")
    assert status == 429 and headers["Retry-After"] == "1"
    assert body["errors"][0]["reason"] == "Too many requests"
    assert [v.id for v in client.lke.versions()] == ["1.33", "1.34", "1.35"]
    _, faults, _ = call(sim, "GET", "/faults", admin=True)
    assert faults["data"][0]["hits"] == 2 and faults["data"][0]["count"] == 0


def test_fail_next_n_then_recover(sim, client):
    call(sim, "POST", "/faults", {"method": "GET", "path": "^/lke/clusters$", "status": 500,
                                  "count": 1}, admin=True)
    with pytest.raises(ApiError) as err:
        list(client.lke.clusters())
    assert err.value.status == 500
    assert len(list(client.lke.clusters())) == 1


def test_error_rate_and_latency(sim):
    call(sim, "POST", "/faults", {"path": "^/profile$", "status": 503, "rate": 0.5},
         admin=True)
    statuses = [call(sim, "GET", "/profile")[0] for _ in range(40)]
    assert 0 < statuses.count(503) < 40 and set(statuses) == {200, 503}
    call(sim, "DELETE", "/faults", admin=True)
    call(sim, "POST", "/faults", {"path": "^/profile$", "latency_ms": 300}, admin=True)
    start = time.monotonic()
    assert call(sim, "GET", "/profile")[0] == 200
    assert time.monotonic() - start >= 0.3


@pytest.mark.parametrize("given,expected", [
    (0, 0), (1, 30), (30, 30), (31, 120), (299, 300), (301, 3600), (3600, 3600),
    (3601, 7200), (100000, 172800), (9999999, 2419200)])
def test_ttl_rounding(given, expected):
    assert round_ttl(given) == expected


def test_domains_and_records_through_linode_api4(client):
    domain = client.domain_create("example.test", master=True, soa_email="hm@example.test",
                                  ttl_sec=1000)
    assert domain.ttl_sec == 3600
    record = domain.record_create("A", name="www", target="192.0.2.1", ttl_sec=45)
    assert record.ttl_sec == 120
    record.ttl_sec = 300
    record.save()
    fresh = [r for r in domain.records if r.id == record.id][0]
    assert fresh.ttl_sec == 300
    record.delete()
    assert not list(domain.records)
    seeded = [d for d in client.domains() if d.domain == "fournines.test"][0]
    assert {r.name for r in seeded.records} == {"web.lab", "api.lab"}
    domain.delete()
    assert "example.test" not in {d.domain for d in client.domains()}
