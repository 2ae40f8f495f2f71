"""Fixtures for the DNS integration tests: the running lab DNS (lab/dns) and providers on it.

Every test starts from the seeded zone: the ``seeded`` fixture (autouse) snapshots the
primary's RRsets before a test and puts back whatever the test changed afterwards, then
waits until the secondary serves the seeded data again.
"""

import os
import subprocess
import sys
import uuid

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnslab import APP_RECORDS, REPO, ZONE, labenv  # noqa: E402

from ansible_collections.fournines.runbooks.plugins.module_utils.dns import propagation, ttl_change  # noqa: E402
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.powerdns import PowerDNSProvider  # noqa: E402
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.rfc2136 import RFC2136Provider  # noqa: E402



@pytest.fixture(scope="session")
def dns_env():
    env = labenv.component_env("dns")
    if not env:
        pytest.fail("the lab DNS is not running (no .lab/dns/env): run lab/up dns")
    # One DNS test session at a time on the shared lab (another make test may be running).
    with labenv.held("dns", "tests.lock"):
        _reseed_if_changed(env)
        yield env


def _reseed_if_changed(env):
    """Start from the seeded zone even if an earlier run (of anyone) left records changed."""
    api = PowerDNSProvider(env["PDNS_API_URL"], env["PDNS_API_KEY"], deadline=10)
    current = api.get(ZONE, APP_RECORDS)
    app_a = current[APP_RECORDS[0]]
    if set(r.ttl for r in current.values()) != {3600} or app_a.values != ["127.0.0.10"]:
        subprocess.run([os.path.join(REPO, "lab", "dns", "reset")], check=True, capture_output=True)
        nameservers = [propagation.parse_nameserver(ns) for ns in env["DNS_NAMESERVERS"].split(",")]
        seeded = [{"name": n, "type": t, "ttl": 3600} for n, t in APP_RECORDS]
        propagation.wait_converged(nameservers, ZONE, propagation.normalize_expectations(seeded, ZONE), timeout=30, interval=0.1)


@pytest.fixture(scope="session")
def nameservers(dns_env):
    return [propagation.parse_nameserver(ns) for ns in dns_env["DNS_NAMESERVERS"].split(",")]


@pytest.fixture(scope="session")
def make_provider(dns_env):
    def make(name, **override):
        if name == "powerdns":
            opts = dict(api_url=dns_env["PDNS_API_URL"], api_key=dns_env["PDNS_API_KEY"])
            opts.update(override)
            return PowerDNSProvider(opts["api_url"], opts["api_key"], deadline=10)
        if name == "rfc2136":
            opts = dict(server=dns_env["DNS_PRIMARY_HOST"], port=int(dns_env["DNS_PRIMARY_PORT"]),
                        key_name=dns_env["DNS_TSIG_KEY_NAME"], key_secret=dns_env["DNS_TSIG_SECRET"],
                        key_algorithm=dns_env["DNS_TSIG_ALGORITHM"])
            opts.update(override)
            return RFC2136Provider(opts["server"], opts["port"], opts["key_name"], opts["key_secret"],
                                   opts["key_algorithm"], timeout=2, deadline=5)
        raise ValueError(name)
    return make


@pytest.fixture(scope="session")
def lag(dns_env):
    """lag('hold') / lag('release') / lag(seconds): make the Knot secondary fall behind."""
    def run(arg):
        subprocess.run([dns_env["DNS_SECONDARY_LAG_CMD"], str(arg)], check=True, timeout=30)
    return run


@pytest.fixture(scope="session")
def primary_ttls(make_provider):
    """{(name, type): ttl} as the primary's API shows it now."""
    def read(keys=APP_RECORDS):
        provider = make_provider("powerdns")
        return dict((k, v.ttl) for k, v in provider.get(ZONE, keys).items())
    return read


@pytest.fixture(autouse=True)
def seeded(dns_env, make_provider, nameservers, lag):
    api = make_provider("powerdns")
    before = dict(((r["name"], r["type"]), r) for r in api._zone(ZONE, refresh=True)["rrsets"] if r["type"] != "SOA")
    yield
    lag("release")
    after = dict(((r["name"], r["type"]), r) for r in api._zone(ZONE, refresh=True)["rrsets"] if r["type"] != "SOA")
    changed = []
    for key, raw in before.items():
        now = after.get(key)
        if now is None or now["ttl"] != raw["ttl"] or now["records"] != raw["records"]:
            changed.append((ttl_change.RRset(key[0], key[1], raw["ttl"], [], handle=raw), raw["ttl"]))
    if changed:
        api.set_ttls(ZONE, changed)
        expect = [{"name": r.name, "type": r.rtype, "ttl": ttl,
                   "values": [x["content"] for x in r.handle["records"]]} for r, ttl in changed]
        propagation.wait_converged(nameservers, ZONE, propagation.normalize_expectations(expect, ZONE), timeout=30, interval=0.1)


@pytest.fixture
def linode_provider():
    """A Linode DNS provider on the simulator, its lock held for the test: the dns group runs beside the cluster
    group, whose tests reset the simulator (and with it its Domains)."""
    from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.linode import (
        LinodeProvider,
    )
    env = labenv.component_env("linode_sim")
    if not env:
        pytest.fail("the Linode simulator is not running (no .lab/linode_sim/env): run lab/up")
    with labenv.held(*labenv.SIMULATOR_LOCK):
        yield lambda token=env["LINODE_TOKEN"]: LinodeProvider(token, env["LINODE_API_URL"], 20)


@pytest.fixture
def k8s_objects():
    """Ingresses/Services in a namespace of our own, deleted afterwards."""
    from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import kube_from_params
    if not os.path.exists(labenv.kubeconfig()):
        pytest.fail("the lab Kubernetes is not running (no %s): run lab/up" % labenv.kubeconfig())
    kube = kube_from_params({"kubeconfig": labenv.kubeconfig()})
    ns = "dns-ttl-test-%s" % uuid.uuid4().hex[:6]
    kube.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    def ingress(name, host, notes):
        kube.request("POST", "/apis/networking.k8s.io/v1/namespaces/%s/ingresses" % ns, body={
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": ns, "annotations": notes},
            "spec": {"rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
                "service": {"name": name, "port": {"number": 80}}}}]}}]}})

    def service(name, notes):
        kube.request("POST", "/api/v1/namespaces/%s/services" % ns, body={
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns, "annotations": notes},
            "spec": {"ports": [{"port": 80}], "selector": {"app": name}}})

    ingress("app", "app.lab.example", {"external-dns.kubernetes.io/ttl": "3600"})
    ingress("www", "www.lab.example", {})
    service("api", {"external-dns.alpha.kubernetes.io/hostname": "api.lab.example",
                    "external-dns.alpha.kubernetes.io/ttl": "1h"})
    yield kube, ns
    kube.request("DELETE", "/api/v1/namespaces/%s" % ns)


@pytest.fixture
def external_dns_controller(dns_env, make_provider):
    """start(namespace): the real external-dns (lab/dns/external-dns) syncing every second, scoped to
    one namespace; stopped afterwards, and the records it made deleted from the primary."""
    procs = []

    def start(namespace):
        cmd = [os.path.join(REPO, "lab", "dns", "external-dns"), "--namespace=%s" % namespace, "--interval=1s"]
        log = open(os.path.join(labenv.state_dir(), "dns", "logs", "external-dns-test.log"), "a")
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        return procs[-1]

    yield start
    for proc in procs:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
    api = make_provider("powerdns")
    made = [r for r in api._zone(ZONE, refresh=True)["rrsets"] if r["name"].startswith(("ext.", "a-ext.", "cname-ext."))
            or (r["type"] == "TXT" and "ext" in r["name"])]
    if made:
        api._request("PATCH", "/zones/%s" % ZONE, {"rrsets": [{"name": r["name"], "type": r["type"],
                                                               "changetype": "DELETE"} for r in made]})
        api._request("PUT", "/zones/%s/notify" % ZONE, ok=(200,))
