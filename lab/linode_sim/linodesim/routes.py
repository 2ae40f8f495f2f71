"""Every route the simulator serves under /v4, with the catalogue operation it implements.

`ROUTES` is the one list the server dispatches from and the contract tests check against
linode-cli's operation catalogue (`linodecli/data-3`): same path template, same method,
request fields a subset of the catalogued ones, response fields within the response model.
"""

import re
from collections import namedtuple

Route = namedtuple("Route", "method template op handler paginated body_fields")

_CP = ("control_plane.high_availability", "control_plane.audit_logs_enabled",
       "control_plane.acl.enabled", "control_plane.acl.addresses.ipv4",
       "control_plane.acl.addresses.ipv6")
_POOL_COMMON = ("count", "labels", "taints.key", "taints.value", "taints.effect", "tags",
                "autoscaler.enabled", "autoscaler.min", "autoscaler.max")
_DOMAIN = ("domain", "type", "status", "soa_email", "description", "group", "tags", "ttl_sec",
           "refresh_sec", "retry_sec", "expire_sec", "master_ips", "axfr_ips")
_RECORD = ("name", "target", "ttl_sec", "priority", "weight", "port", "service", "protocol",
           "tag")


def _ok(value=None):
    return {} if value is None else value


def _profile(cloud, p, b, ctx):
    return {"username": "lab", "email": "lab@fournines.test", "uid": 1, "restricted": False,
            "timezone": "UTC", "two_factor_auth": False, "authorized_keys": [],
            "email_notifications": False, "ip_whitelist_enabled": False,
            "lish_auth_method": "keys_only", "authentication_type": "password",
            "verified_phone_number": None,
            "referrals": {"code": "", "url": "", "total": 0, "completed": 0, "pending": 0,
                          "credit": 0}}


def _version(cloud, p, b, ctx):
    if p["version"] not in cloud.data["versions"]:
        from .store import not_found  # pylint: disable=import-outside-toplevel
        raise not_found()
    return {"id": p["version"]}


def _api_endpoints(cloud, p, b, ctx):
    cloud._cluster(p["clusterId"])  # pylint: disable=protected-access
    return [{"endpoint": ctx["apiserver_url"]}]


def _kubeconfig(cloud, p, b, ctx):
    return cloud.kubeconfig_b64(p["clusterId"], ctx["read_kubeconfig"])


def _pool_update(cloud, p, b, ctx):
    return cloud.update_pool(p["clusterId"], p["poolId"], b)


ROUTES = [
    Route("GET", "/profile", ("profile", "view"), _profile, False, None),
    Route("GET", "/lke/versions", ("lke", "versions-list"),
          lambda c, p, b, x: c.versions(), True, None),
    Route("GET", "/lke/versions/{version}", ("lke", "version-view"), _version, False, None),
    Route("GET", "/lke/clusters", ("lke", "clusters-list"),
          lambda c, p, b, x: c.clusters_list(), True, None),
    Route("GET", "/lke/clusters/{clusterId}", ("lke", "cluster-view"),
          lambda c, p, b, x: c.cluster_view(p["clusterId"]), False, None),
    Route("PUT", "/lke/clusters/{clusterId}", ("lke", "cluster-update"),
          lambda c, p, b, x: c.update_cluster(p["clusterId"], b), False,
          ("k8s_version", "label", "tags") + _CP),
    Route("POST", "/lke/clusters/{clusterId}/recycle", ("lke", "cluster-nodes-recycle"),
          lambda c, p, b, x: _ok(c.recycle_cluster(p["clusterId"])), False, ()),
    Route("GET", "/lke/clusters/{clusterId}/kubeconfig", ("lke", "kubeconfig-view"),
          _kubeconfig, False, None),
    Route("GET", "/lke/clusters/{clusterId}/api-endpoints", ("lke", "api-endpoints-list"),
          _api_endpoints, True, None),
    Route("GET", "/lke/clusters/{clusterId}/pools", ("lke", "pools-list"),
          lambda c, p, b, x: c.pools_list(p["clusterId"]), True, None),
    Route("POST", "/lke/clusters/{clusterId}/pools", ("lke", "pool-create"),
          lambda c, p, b, x: c.create_pool(p["clusterId"], b), False,
          _POOL_COMMON + ("type", "label", "disk_encryption")),
    Route("GET", "/lke/clusters/{clusterId}/pools/{poolId}", ("lke", "pool-view"),
          lambda c, p, b, x: c.pool_get(p["clusterId"], p["poolId"]), False, None),
    Route("PUT", "/lke/clusters/{clusterId}/pools/{poolId}", ("lke", "pool-update"),
          _pool_update, False, _POOL_COMMON),
    Route("DELETE", "/lke/clusters/{clusterId}/pools/{poolId}", ("lke", "pool-delete"),
          lambda c, p, b, x: _ok(c.delete_pool(p["clusterId"], p["poolId"])), False, None),
    Route("POST", "/lke/clusters/{clusterId}/pools/{poolId}/recycle", ("lke", "pool-recycle"),
          lambda c, p, b, x: _ok(c.recycle_pool(p["clusterId"], p["poolId"])), False, ()),
    Route("GET", "/lke/clusters/{clusterId}/nodes/{nodeId}", ("lke", "node-view"),
          lambda c, p, b, x: c.node_get(p["clusterId"], p["nodeId"]), False, None),
    Route("DELETE", "/lke/clusters/{clusterId}/nodes/{nodeId}", ("lke", "node-delete"),
          lambda c, p, b, x: _ok(c.delete_node(p["clusterId"], p["nodeId"])), False, None),
    Route("POST", "/lke/clusters/{clusterId}/nodes/{nodeId}/recycle", ("lke", "node-recycle"),
          lambda c, p, b, x: _ok(c.recycle_node(p["clusterId"], p["nodeId"])), False, ()),
    Route("GET", "/linode/instances", ("linodes", "list"),
          lambda c, p, b, x: c.instances_list(), True, None),
    Route("GET", "/linode/instances/{linodeId}", ("linodes", "view"),
          lambda c, p, b, x: c.instance_get(p["linodeId"]), False, None),
    Route("DELETE", "/linode/instances/{linodeId}", ("linodes", "delete"),
          lambda c, p, b, x: _ok(c.delete_instance(p["linodeId"])), False, None),
    Route("POST", "/linode/instances/{linodeId}/boot", ("linodes", "boot"),
          lambda c, p, b, x: _ok(c.power(p["linodeId"], "boot")), False, ("config_id",)),
    Route("POST", "/linode/instances/{linodeId}/reboot", ("linodes", "reboot"),
          lambda c, p, b, x: _ok(c.power(p["linodeId"], "reboot")), False, ("config_id",)),
    Route("POST", "/linode/instances/{linodeId}/shutdown", ("linodes", "shutdown"),
          lambda c, p, b, x: _ok(c.power(p["linodeId"], "shutdown")), False, ()),
    Route("GET", "/domains", ("domains", "list"),
          lambda c, p, b, x: c.domains_list(), True, None),
    Route("POST", "/domains", ("domains", "create"),
          lambda c, p, b, x: c.create_domain(b), False, _DOMAIN),
    Route("GET", "/domains/{domainId}", ("domains", "view"),
          lambda c, p, b, x: c.domain_get(p["domainId"]), False, None),
    Route("PUT", "/domains/{domainId}", ("domains", "update"),
          lambda c, p, b, x: c.update_domain(p["domainId"], b), False, _DOMAIN),
    Route("DELETE", "/domains/{domainId}", ("domains", "delete"),
          lambda c, p, b, x: _ok(c.delete_domain(p["domainId"])), False, None),
    Route("GET", "/domains/{domainId}/records", ("domains", "records-list"),
          lambda c, p, b, x: c.records_list(p["domainId"]), True, None),
    Route("POST", "/domains/{domainId}/records", ("domains", "records-create"),
          lambda c, p, b, x: c.create_record(p["domainId"], b), False, _RECORD + ("type",)),
    Route("GET", "/domains/{domainId}/records/{recordId}", ("domains", "records-view"),
          lambda c, p, b, x: c.record_get(p["domainId"], p["recordId"]), False, None),
    Route("PUT", "/domains/{domainId}/records/{recordId}", ("domains", "records-update"),
          lambda c, p, b, x: c.update_record(p["domainId"], p["recordId"], b), False, _RECORD),
    Route("DELETE", "/domains/{domainId}/records/{recordId}", ("domains", "records-delete"),
          lambda c, p, b, x: _ok(c.delete_record(p["domainId"], p["recordId"])), False, None),
]

# Path parameters that are integers in the API: anything else is a 404, as on Linode.
_INT_PARAMS = ("clusterId", "poolId", "linodeId", "domainId", "recordId")


def _compile(template):
    def repl(match):
        name = match.group(1)
        return "(?P<%s>%s)" % (name, r"\d+" if name in _INT_PARAMS else r"[^/]+")
    return re.compile("^" + re.sub(r"\{(\w+)\}", repl, template) + "$")


_COMPILED = [(_compile(r.template), r) for r in ROUTES]


def match(method, path):
    """(route, params) for a request; (None, None) if no route, ("405", None) if the path
    exists with another method."""
    other = False
    for regex, route in _COMPILED:
        found = regex.match(path)
        if found:
            if route.method == method:
                return route, found.groupdict()
            other = True
    return ("405" if other else None), None


def unknown_fields(body, allowed):
    """Dot paths in `body` that are not in `allowed` (which names leaves or free-form
    objects such as `labels`). Lists of objects are walked with the list's own prefix."""
    allowed = set(allowed or ())
    found = []

    def walk(value, prefix):
        if isinstance(value, list):
            for item in value:
                walk(item, prefix)
            return
        if not isinstance(value, dict):
            return
        for key, item in value.items():
            path = prefix + key
            if path in allowed:
                continue
            if any(a.startswith(path + ".") for a in allowed):
                walk(item, path + ".")
            else:
                found.append(path)

    walk(body, "")
    return sorted(set(found))
