"""dns/providers/external_dns.py: the TTL annotation external-dns reads, which objects name a
host, the patches it sends and how it puts back what it annotated when a later patch fails; the
Kubernetes API (the boundary) is a fake."""

import json

import pytest

from kubernetes.client.rest import ApiException

from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.external_dns import (
    ExternalDNSProvider,
    hostnames,
    parse_ttl_annotation,
    ttl_keys,
)
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.ttl_change import DNSError

ZONE = "lab.example."
NEW, OLD = "external-dns.kubernetes.io/", "external-dns.alpha.kubernetes.io/"


@pytest.mark.parametrize("value,expected", [("60", 60), (" 300 ", 300), ("1h", 3600), ("1m30s", 90), ("2h5s", 7205),
                                            (None, None), ("soon", None), ("", None), ("-5", None), ("1.5m", None)])
def test_parse_ttl_annotation(value, expected):
    assert parse_ttl_annotation(value) == expected


def test_hostnames_from_either_prefix_and_ingress_rules():
    old = {"kind": "Service", "metadata": {"annotations": {OLD + "hostname": "api.lab.example, X.lab.example."}}}
    ing = {"kind": "Ingress", "metadata": {"annotations": {NEW + "hostname": "extra.lab.example"}},
           "spec": {"rules": [{"host": "App.lab.example"}, {"http": {}}]}}
    svc_with_rules = {"kind": "Service", "metadata": {}, "spec": {"rules": [{"host": "no.lab.example"}]}}
    assert hostnames(old) == {"api.lab.example", "x.lab.example"}
    assert hostnames(ing) == {"app.lab.example", "extra.lab.example"}
    assert hostnames(svc_with_rules) == set()  # only an Ingress has rules


def test_ttl_keys_keep_the_prefix_an_object_already_uses():
    old = {"metadata": {"annotations": {OLD + "hostname": "a.lab.example"}}}
    new = {"metadata": {"annotations": {}}}
    both = {"metadata": {"annotations": {NEW + "ttl": "60", OLD + "ttl": "60"}}}
    mixed = {"metadata": {"annotations": {OLD + "hostname": "a", NEW + "hostname": "a"}}}
    assert ttl_keys(old) == [OLD + "ttl"]
    assert ttl_keys(new) == [NEW + "ttl"]
    assert sorted(ttl_keys(both)) == [OLD + "ttl", NEW + "ttl"]
    assert ttl_keys(mixed) == [NEW + "ttl"]


def api_exception(status, message):
    err = ApiException(status=status, reason="Forbidden")
    err.body = json.dumps({"message": message})
    return err


class FakeKube(object):
    host = "https://127.0.0.1:16443"

    def __init__(self, objects):
        self.objects = objects
        self.listed = []
        self.patches = []
        self.fail = {}  # object name -> ApiException for its next patch

    def items(self, path):
        self.listed.append(path)
        kind = "Ingress" if path.endswith("ingresses") else "Service"
        namespace = path.split("/namespaces/")[1].split("/")[0] if "/namespaces/" in path else None
        return [json.loads(json.dumps(o)) for o in self.objects if o["kind"] == kind
                and (namespace is None or o["metadata"]["namespace"] == namespace)]

    def request(self, method, path, body=None, content_type=None):
        name = path.rsplit("/", 1)[1]
        err = self.fail.pop(name, None)
        if err is not None:
            raise err
        self.patches.append((method, path, content_type, body))
        for obj in self.objects:
            if obj["metadata"]["name"] == name:
                notes = obj["metadata"].setdefault("annotations", {})
                for key, value in body["metadata"]["annotations"].items():
                    if value is None:
                        notes.pop(key, None)
                    else:
                        notes[key] = value


def ingress(name, host, notes=None, namespace="web"):
    return {"kind": "Ingress", "metadata": {"name": name, "namespace": namespace, "annotations": dict(notes or {})},
            "spec": {"rules": [{"host": host}]}}


def service(name, host, notes=None, prefix=NEW, namespace="web"):
    merged = {prefix + "hostname": host}
    merged.update(notes or {})
    return {"kind": "Service", "metadata": {"name": name, "namespace": namespace, "annotations": merged}}


def test_get_takes_the_largest_ttl_of_the_objects_naming_a_host():
    kube = FakeKube([ingress("app", "app.lab.example", {NEW + "ttl": "60"}),
                     service("app-lb", "app.lab.example", {OLD + "ttl": "5m"}, prefix=OLD),
                     service("api", "api.lab.example")])
    found = ExternalDNSProvider(kube).get(ZONE, [("app.lab.example.", "A"), ("api.lab.example.", "A")])
    app = found[("app.lab.example.", "A")]
    assert app.ttl == 300 and app.values == ["Ingress/web/app", "Service/web/app-lb"]
    assert found[("api.lab.example.", "A")].ttl is None  # no annotation: external-dns' default


def test_namespaces_limit_what_is_listed():
    kube = FakeKube([ingress("app", "app.lab.example", namespace="web"), ingress("x", "x.lab.example", namespace="ops")])
    prov = ExternalDNSProvider(kube, ["web"])
    with pytest.raises(DNSError, match="external-dns \\(no Ingress/Service with that hostname\\) has no such record "
                                       "in zone lab.example.: x.lab.example. A"):
        prov.get(ZONE, [("x.lab.example.", "A")])
    assert kube.listed == ["/apis/networking.k8s.io/v1/namespaces/web/ingresses", "/api/v1/namespaces/web/services"]


def test_check_zone_needs_an_object_with_a_host_in_the_zone():
    kube = FakeKube([ingress("app", "app.other.example")])
    with pytest.raises(DNSError, match="no Ingress or Service in namespaces web, ops names a host in zone lab.example."):
        ExternalDNSProvider(kube, ["web", "ops"]).check_zone(ZONE)
    ExternalDNSProvider(FakeKube([ingress("apex", "lab.example")])).check_zone(ZONE)


def test_set_ttls_merge_patches_the_annotation_each_object_reads():
    kube = FakeKube([ingress("app", "app.lab.example"),
                     service("app-lb", "app.lab.example", prefix=OLD)])
    prov = ExternalDNSProvider(kube)
    found = prov.get(ZONE, [("app.lab.example.", "A")])
    prov.set_ttls(ZONE, [(found[("app.lab.example.", "A")], 60)])
    assert kube.patches == [
        ("PATCH", "/apis/networking.k8s.io/v1/namespaces/web/ingresses/app", "application/merge-patch+json",
         {"metadata": {"annotations": {NEW + "ttl": "60"}}}),
        ("PATCH", "/api/v1/namespaces/web/services/app-lb", "application/merge-patch+json",
         {"metadata": {"annotations": {OLD + "ttl": "60"}}})]


def test_restoring_none_removes_the_annotation_again():
    kube = FakeKube([ingress("app", "app.lab.example", {NEW + "ttl": "60"})])
    prov = ExternalDNSProvider(kube)
    found = prov.get(ZONE, [("app.lab.example.", "A")])
    prov.set_ttls(ZONE, [(found[("app.lab.example.", "A")], None)])
    assert kube.patches[-1][3] == {"metadata": {"annotations": {NEW + "ttl": None}}}
    assert NEW + "ttl" not in kube.objects[0]["metadata"]["annotations"]


def test_a_failed_patch_puts_back_the_objects_already_annotated():
    kube = FakeKube([ingress("app", "app.lab.example", {NEW + "ttl": "3600"}), ingress("b", "app.lab.example")])
    prov = ExternalDNSProvider(kube)
    found = prov.get(ZONE, [("app.lab.example.", "A")])
    kube.fail["b"] = api_exception(403, "ingresses \"b\" is forbidden")
    with pytest.raises(DNSError, match="cannot annotate Ingress web/b: HTTP 403: ingresses \"b\" is forbidden; the 1 "
                                       "object\\(s\\) already annotated were put back"):
        prov.set_ttls(ZONE, [(found[("app.lab.example.", "A")], 60)])
    assert kube.objects[0]["metadata"]["annotations"][NEW + "ttl"] == "3600"
    assert [p[3]["metadata"]["annotations"][NEW + "ttl"] for p in kube.patches] == ["60", "3600"]


def test_a_refused_listing_is_named():
    kube = FakeKube([])
    kube.items = lambda path: (_ for _ in ()).throw(api_exception(403, "services is forbidden"))
    with pytest.raises(DNSError, match="^cannot list Ingresses at https://127.0.0.1:16443: HTTP 403: services is "
                                       "forbidden$"):
        ExternalDNSProvider(kube).check_zone(ZONE)
