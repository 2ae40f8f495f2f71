"""Contract tests: the simulator against linode-cli's baked operation catalogue.

linode-cli ships `linodecli/data-3`, a pickle of `linodecli.baked` operations generated from
Linode's official OpenAPI description. Every route the simulator serves must be an operation
there (same path, same method), every request field it accepts must be a catalogued request
field, and every field it returns must be in the operation's response model.
"""

import json
import os
import pickle
import sys
import urllib.request

import pytest

from linodesim.routes import ROUTES, unknown_fields


def _load_catalogue():
    # linode-cli starts its setup wizard on import unless it sees a token and --skip-config.
    os.environ.setdefault("LINODE_CLI_TOKEN", "contract-test")
    saved = sys.argv
    sys.argv = ["linode-cli", "--skip-config"]
    try:
        import linodecli  # pylint: disable=import-outside-toplevel
        path = os.path.join(os.path.dirname(linodecli.__file__), "data-3")
        with open(path, "rb") as fh:
            return pickle.load(fh)
    finally:
        sys.argv = saved


@pytest.fixture(scope="module")
def catalogue():
    ops = _load_catalogue()
    by_path = {}
    for command, actions in ops.items():
        if not isinstance(actions, dict):
            continue
        for action, op in actions.items():
            if not hasattr(op, "url_path"):
                continue
            path = op.url_path.replace("/{apiVersion}", "", 1)
            by_path[(op.method.upper(), path)] = (command, action, op)
    return by_path


def _request_paths(op):
    return {a.path for a in (op.request.attrs if op.request is not None else [])}


def _response_attrs(op):
    return {a.name: a for a in (op.response_model.attrs if op.response_model else [])}


def _flatten(value, prefix=""):
    """(dot path, value) leaves; lists of objects keep their prefix (nodes.id)."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _flatten(item, prefix + key if not prefix else prefix + "." + key)
    elif isinstance(value, list) and value and all(isinstance(i, dict) for i in value):
        for item in value:
            yield from _flatten(item, prefix)
    else:
        yield prefix, value


def _undocumented(body, attrs):
    bad = set()
    for path, value in _flatten(body):
        parts = path.split(".")
        ancestors = [".".join(parts[:i]) for i in range(1, len(parts))]
        if path in attrs:
            continue
        if any(a in attrs and attrs[a].datatype == "object" for a in ancestors):
            continue  # inside a free-form object such as labels
        if value in (None, [], {}) and any(n.startswith(path + ".") for n in attrs):
            continue  # an empty/null object or list whose members are catalogued
        bad.add(path)
    return sorted(bad)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: "%s %s" % (r.method, r.template))
def test_route_is_a_catalogued_operation(catalogue, route):
    found = catalogue.get((route.method, route.template))
    assert found is not None, "%s %s is not in linode-cli's catalogue" % (route.method,
                                                                           route.template)
    assert found[:2] == route.op


@pytest.mark.parametrize("route", [r for r in ROUTES if r.body_fields],
                         ids=lambda r: "%s %s" % (r.method, r.template))
def test_accepted_request_fields_are_catalogued(catalogue, route):
    _, _, op = catalogue[(route.method, route.template)]
    catalogued = _request_paths(op)
    missing = [f for f in route.body_fields
               if f not in catalogued and not any(c.startswith(f + ".") for c in catalogued)]
    assert not missing, "not catalogued for %s %s: %s" % (route.method, route.template, missing)


def test_unknown_fields_walks_nested_bodies():
    allowed = ("count", "labels", "taints.key", "taints.effect", "autoscaler.enabled")
    body = {"count": 3, "labels": {"a": "b"}, "taints": [{"key": "k", "effect": "NoSchedule",
                                                         "oops": 1}],
            "autoscaler": {"enabled": True, "max": 4}, "label": "x"}
    assert unknown_fields(body, allowed) == ["autoscaler.max", "label", "taints.oops"]


def _get(sim, path, method="GET", body=None):
    req = urllib.request.Request(sim.url + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Bearer " + sim.token})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"{}")


def _exercise(sim):
    """Call every route that returns a body; yield (route template, method, body)."""
    cloud = sim.cloud
    cid = cloud.data["config"]["cluster_id"]
    pool = cloud.pools_list(cid)[0]
    node = pool["nodes"][0]
    dom = cloud.domains_list()[0]
    rec = cloud.records_list(dom["id"])[0]
    p = {"clusterId": cid, "poolId": pool["id"], "nodeId": node["id"],
         "linodeId": node["instance_id"], "domainId": dom["id"], "recordId": rec["id"],
         "version": "1.34"}
    bodies = {
        ("POST", "/lke/clusters/{clusterId}/pools"): {"type": "g6-standard-2", "count": 1,
                                                      "labels": {"a": "b"},
                                                      "taints": [{"key": "k", "value": "v",
                                                                  "effect": "NoSchedule"}]},
        ("PUT", "/lke/clusters/{clusterId}/pools/{poolId}"): {"count": 3, "tags": ["x"]},
        ("PUT", "/lke/clusters/{clusterId}"): {"tags": ["lab"]},
        ("POST", "/domains"): {"domain": "contract.test", "type": "master",
                               "soa_email": "a@contract.test"},
        ("PUT", "/domains/{domainId}"): {"ttl_sec": 300},
        ("POST", "/domains/{domainId}/records"): {"type": "TXT", "name": "t", "target": "x"},
        ("PUT", "/domains/{domainId}/records/{recordId}"): {"ttl_sec": 3600},
    }
    for route in ROUTES:
        if route.method == "DELETE" or route.template.endswith(("/recycle", "/boot", "/reboot",
                                                                "/shutdown")):
            continue
        if route.method != "GET" and (route.method, route.template) not in bodies:
            continue
        path = route.template.format(**p)
        yield route, _get(sim, path, route.method, bodies.get((route.method, route.template)))


def test_every_returned_field_is_in_the_response_model(catalogue, sim):
    seen = set()
    problems = {}
    for route, body in _exercise(sim):
        seen.add((route.method, route.template))
        _, _, op = catalogue[(route.method, route.template)]
        attrs = _response_attrs(op)
        items = body["data"] if route.paginated else [body]
        assert items, "%s %s returned nothing to check" % (route.method, route.template)
        if route.paginated:
            assert set(body) == {"data", "page", "pages", "results"}
        for item in items:
            bad = _undocumented(item, attrs)
            if bad:
                problems["%s %s" % (route.method, route.template)] = bad
    assert not problems, problems
    # clusters, pools, nodes, instances, domains and records were all checked
    for template in ("/lke/clusters/{clusterId}", "/lke/clusters/{clusterId}/pools/{poolId}",
                     "/lke/clusters/{clusterId}/nodes/{nodeId}", "/linode/instances/{linodeId}",
                     "/domains/{domainId}", "/domains/{domainId}/records/{recordId}"):
        assert ("GET", template) in seen


def test_the_checker_catches_an_undocumented_field(catalogue):
    _, _, op = catalogue[("GET", "/lke/clusters/{clusterId}/nodes/{nodeId}")]
    attrs = _response_attrs(op)
    assert _undocumented({"id": "1-a", "status": "ready", "kubelet": "v1"}, attrs) == ["kubelet"]
    _, _, op = catalogue[("GET", "/lke/clusters/{clusterId}/pools/{poolId}")]
    attrs = _response_attrs(op)
    assert _undocumented({"labels": {"any": "thing"}, "nodes": [{"id": "x", "name": "n"}]},
                         attrs) == ["nodes.name"]
