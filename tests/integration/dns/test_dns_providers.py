"""Every provider lowers and restores for real; bad input changes nothing."""

import json
import os

import pytest

from dnslab import APP_RECORDS, ZONE, labenv

from ansible_collections.fournines.runbooks.plugins.module_utils.dns import ttl_change
from ansible_collections.fournines.runbooks.plugins.module_utils.dns import propagation


def _expect(keys, ttl):
    return propagation.normalize_expectations([{"name": n, "type": t, "ttl": ttl} for n, t in keys], ZONE)


@pytest.mark.parametrize("provider_name", ["rfc2136", "powerdns"])
def test_lower_verify_restore(provider_name, make_provider, nameservers, primary_ttls, tmp_path):
    provider = make_provider(provider_name)
    state = ttl_change.TTLState(str(tmp_path), "run", ZONE, provider_name)
    rows = ttl_change.lower(provider, ZONE, APP_RECORDS, 5, state)
    assert [(r["old_ttl"], r["new_ttl"]) for r in rows] == [(3600, 5)] * 3
    results = propagation.wait_converged(nameservers, ZONE, _expect(APP_RECORDS, 5), timeout=20, interval=0.1)
    assert all(r["converged"] for r in results) and len(set(r["serial"] for r in results)) == 1
    # a second lowering (a re-run) keeps the real originals
    ttl_change.lower(provider, ZONE, APP_RECORDS, 5, ttl_change.TTLState(str(tmp_path), "run", ZONE, provider_name))
    saved = json.load(open(state.path))["facts"]["dns_ttl"]["records"]
    assert set(v["original_ttl"] for v in saved.values()) == {3600}
    restored = ttl_change.restore(provider, ZONE, ttl_change.TTLState(str(tmp_path), "run", ZONE, provider_name))
    assert [(r["old_ttl"], r["new_ttl"]) for r in restored] == [(5, 3600)] * 3
    propagation.wait_converged(nameservers, ZONE, _expect(APP_RECORDS, 3600), timeout=20, interval=0.1)
    assert set(primary_ttls().values()) == {3600}
    assert ttl_change.TTLState(str(tmp_path), "run", ZONE, provider_name).pending() == {}


def test_linode_lowers_snapped_and_restores(linode_provider, tmp_path):
    provider, zone = linode_provider(), "fournines.test."
    keys = [("web.lab.fournines.test.", "A"), ("api.lab.fournines.test.", "A")]
    state = ttl_change.TTLState(str(tmp_path), "lin", zone, "linode")
    rows = ttl_change.lower(provider, zone, keys, 60, state)
    try:
        assert all(r["new_ttl"] == 120 and "stored as 120" in r["note"] for r in rows)
        assert set(r.ttl for r in provider.get(zone, keys).values()) == {120}
    finally:
        ttl_change.restore(provider, zone, ttl_change.TTLState(str(tmp_path), "lin", zone, "linode"))
    assert set(r.ttl for r in provider.get(zone, keys).values()) == {3600}
    with pytest.raises(ttl_change.DNSError, match="refused the token"):
        linode_provider("not-the-token").check_zone(zone)
    with pytest.raises(ttl_change.DNSError, match="no domain nope.test"):
        provider.check_zone("nope.test.")
    with pytest.raises(ttl_change.DNSError, match="no such record.*missing.lab.fournines.test"):
        ttl_change.lower(provider, zone, keys + [("missing.lab.fournines.test.", "A")], 30,
                ttl_change.TTLState(str(tmp_path), "lin-bad", zone, "linode"))
    assert set(r.ttl for r in provider.get(zone, keys).values()) == {3600}  # nothing changed


def test_external_dns_annotations_lowered_and_restored(k8s_objects, tmp_path):
    from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.external_dns import (
        ExternalDNSProvider,
    )
    kube, ns = k8s_objects
    provider = ExternalDNSProvider(kube, [ns])
    keys = [("app.lab.example.", "A"), ("www.lab.example.", "CNAME"), ("api.lab.example.", "A")]
    assert [r["ttl"] for r in ttl_change.read(provider, ZONE, keys)] == [3600, None, 3600]
    ttl_change.lower(provider, ZONE, keys, 60, ttl_change.TTLState(str(tmp_path), "ext", ZONE, "external_dns"))

    def notes(kind, name):
        path = ("/apis/networking.k8s.io/v1/namespaces/%s/ingresses/%s" if kind == "Ingress"
                else "/api/v1/namespaces/%s/services/%s") % (ns, name)
        return kube.get(path)["metadata"].get("annotations") or {}
    assert notes("Ingress", "app")["external-dns.kubernetes.io/ttl"] == "60"
    assert notes("Ingress", "www")["external-dns.kubernetes.io/ttl"] == "60"
    assert notes("Service", "api")["external-dns.alpha.kubernetes.io/ttl"] == "60"  # the old prefix stays
    assert "external-dns.kubernetes.io/ttl" not in notes("Service", "api")
    ttl_change.restore(provider, ZONE, ttl_change.TTLState(str(tmp_path), "ext", ZONE, "external_dns"))
    assert notes("Ingress", "app")["external-dns.kubernetes.io/ttl"] == "3600"
    assert "external-dns.kubernetes.io/ttl" not in notes("Ingress", "www")  # had none: removed again
    assert parse(notes("Service", "api")["external-dns.alpha.kubernetes.io/ttl"]) == 3600
    with pytest.raises(ttl_change.DNSError, match="no Ingress or Service"):
        provider.check_zone("nope.example.")
    with pytest.raises(ttl_change.DNSError, match="no such record"):
        provider.get(ZONE, [("missing.lab.example.", "A")])


def parse(value):
    from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.external_dns import (
        parse_ttl_annotation,
    )
    return parse_ttl_annotation(value)


@pytest.mark.parametrize("provider_name", ["rfc2136", "powerdns"])
@pytest.mark.parametrize("zone,keys,ttl,match", [
    ("nope.example.", [("app.nope.example.", "A")], 5, "not host|does not host|not authoritative|REFUSED"),
    (ZONE, [("app.lab.example.", "A"), ("missing.lab.example.", "A")], 5, "no such record.*missing.lab.example"),
    (ZONE, APP_RECORDS, -5, "negative"),
    (ZONE, APP_RECORDS, "soon", "not a number"),
])
def test_bad_input_changes_nothing(provider_name, zone, keys, ttl, match, make_provider, primary_ttls, tmp_path):
    state = ttl_change.TTLState(str(tmp_path), "bad", zone, provider_name)
    with pytest.raises(ttl_change.DNSError, match=match):
        ttl_change.lower(make_provider(provider_name), zone, keys, ttl, state)
    assert set(primary_ttls().values()) == {3600}
    assert state.pending() == {} and not os.path.exists(state.path)


def test_wrong_tsig_key_is_reported_and_changes_nothing(make_provider, primary_ttls, tmp_path):
    bad = make_provider("rfc2136", key_secret="d3Jvbmcgc2VjcmV0")
    with pytest.raises(ttl_change.DNSError) as err:
        ttl_change.lower(bad, ZONE, APP_RECORDS, 5, ttl_change.TTLState(str(tmp_path), "tsig", ZONE, "rfc2136"))
    assert "TSIG key lab-tsig" in str(err.value) and "nothing was changed" in str(err.value)
    unknown = make_provider("rfc2136", key_name="other-key")
    with pytest.raises(ttl_change.DNSError, match="TSIG key other-key"):
        unknown.check_zone(ZONE)
    assert set(primary_ttls().values()) == {3600}


def test_badsig_from_an_rfc8945_server_is_named(make_provider):
    """Knot (the secondary) knows the lab key and answers a wrong secret with a real BADSIG."""
    secondary = dict(server="127.0.0.1", port=labenv.port("DNS_SECONDARY_PORT"))
    with pytest.raises(ttl_change.DNSError, match="answered BADSIG: the secret of TSIG key lab-tsig. is wrong"):
        make_provider("rfc2136", key_secret="d3Jvbmcgc2VjcmV0", **secondary).check_zone(ZONE)
    with pytest.raises(ttl_change.DNSError, match="answered BADKEY: it does not know TSIG key other-key."):
        make_provider("rfc2136", key_name="other-key", **secondary).check_zone(ZONE)
    make_provider("rfc2136", **secondary).check_zone(ZONE)  # the right key is accepted


def test_unsigned_update_is_refused(make_provider, primary_ttls):
    unsigned = make_provider("rfc2136", key_name=None, key_secret=None)
    rrsets = unsigned.get(ZONE, APP_RECORDS[:1])
    with pytest.raises(ttl_change.DNSError, match="REFUSED.*no TSIG key"):
        unsigned.set_ttls(ZONE, [(rrsets[APP_RECORDS[0]], 5)])
    assert set(primary_ttls().values()) == {3600}


def test_refused_api_key(make_provider):
    with pytest.raises(ttl_change.DNSError, match="refused the API key"):
        make_provider("powerdns", api_key="wrong-key").check_zone(ZONE)


def test_dead_api_is_named(dns_env):
    from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.powerdns import (
        PowerDNSProvider,
    )
    # the resolver's port speaks DNS, not HTTP: the API call fails (retried until the deadline) and names the URL
    url = "http://127.0.0.1:%d" % labenv.port("DNS_RESOLVER_PORT")
    with pytest.raises(ttl_change.DNSError, match="127.0.0.1:%d.*did not succeed within 2 s" % labenv.port("DNS_RESOLVER_PORT")):
        PowerDNSProvider(url, dns_env["PDNS_API_KEY"], timeout=1, deadline=2).check_zone(ZONE)



def test_external_dns_half_done_change_is_put_back(k8s_objects):
    """An object deleted between read and write: the objects already annotated are put back."""
    from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.external_dns import (
        ExternalDNSProvider,
    )
    kube, ns = k8s_objects
    provider = ExternalDNSProvider(kube, [ns])
    keys = [("app.lab.example.", "A"), ("api.lab.example.", "A")]
    current = provider.get(ZONE, keys)
    kube.request("DELETE", "/api/v1/namespaces/%s/services/api" % ns)
    with pytest.raises(ttl_change.DNSError, match="cannot annotate Service %s/api.*put back" % ns):
        provider.set_ttls(ZONE, [(current[k], 60) for k in keys])
    app = kube.get("/apis/networking.k8s.io/v1/namespaces/%s/ingresses/app" % ns)["metadata"]["annotations"]
    assert app["external-dns.kubernetes.io/ttl"] == "3600"


def test_external_dns_controller_serves_the_lowered_ttl(k8s_objects, external_dns_controller, nameservers, tmp_path):
    """The annotation is what a real external-dns publishes: lowered and restored TTLs reach the nameservers."""
    from ansible_collections.fournines.runbooks.plugins.module_utils.dns import propagation
    from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.external_dns import (
        ExternalDNSProvider,
    )
    kube, ns = k8s_objects
    kube.request("POST", "/apis/networking.k8s.io/v1/namespaces/%s/ingresses" % ns, body={
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        # the lab's external-dns (v0.21) reads the old annotation prefix
        "metadata": {"name": "ext", "namespace": ns, "annotations": {
            "external-dns.alpha.kubernetes.io/ttl": "3600", "external-dns.alpha.kubernetes.io/target": "127.0.0.30"}},
        "spec": {"rules": [{"host": "ext.lab.example", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                                                                         "backend": {"service": {"name": "ext", "port": {"number": 80}}}}]}}]}})
    external_dns_controller(ns)
    key = [("ext.lab.example.", "A")]

    def served(ttl, timeout):
        expect = propagation.normalize_expectations([{"name": "ext", "type": "A", "ttl": ttl, "values": ["127.0.0.30"]}], ZONE)
        return propagation.wait_converged(nameservers, ZONE, expect, timeout=timeout, interval=0.2)

    served(3600, 90)  # published by the controller
    provider = ExternalDNSProvider(kube, [ns])
    rows = ttl_change.lower(provider, ZONE, key, 60, ttl_change.TTLState(str(tmp_path), "extc", ZONE, "external_dns"))
    assert rows[0]["old_ttl"] == 3600
    served(60, 60)
    ttl_change.restore(provider, ZONE, ttl_change.TTLState(str(tmp_path), "extc", ZONE, "external_dns"))
    served(3600, 60)
