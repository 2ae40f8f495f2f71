"""Seed cert-manager objects in the lab Kubernetes, in the states a real cluster shows.

    seed_k8s.py --kubeconfig .lab/kubeconfig --state .lab/tls [--timeout 60]

No cert-manager controller runs in the lab: the Certificates, CertificateRequests, ACME
Orders and their Secrets are written here, and every status is set through the status
subresource, as the controller would. Certificates in the Secrets and CertificateRequests are
real X.509, signed by the lab CA (gen_certs.py), dated relative to now.

Cases (namespace/name):
  certs-shop/shop-ready          Ready, renewalTime ahead, Secret matches the status
  certs-shop/shop-renewing       Issuing=True for 29 min (renewal running), CertificateRequest + Order pending
  certs-shop/shop-stuck          Issuing=True for 5 h, Order still pending (stuck renewal)
  certs-shop/shop-stale-secret   Ready per status, but the Secret holds an older certificate
  certs-blog/blog-failing        Secret gone, 3 failedIssuanceAttempts, lastFailureTime, Order invalid
                                 (rate limited: 5 issuances for its exact names in the last 7 days)
  certs-blog/blog-overdue        past renewalTime, nothing issuing

Idempotent: objects are server-side applied (spec) and their status replaced each run.
"""

import argparse
import base64
import datetime
import os
import sys
import time

from cryptography.hazmat.primitives import serialization
from kubernetes import config, dynamic
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_certs as G  # noqa: E402

FIELD_MANAGER = "fournines-lab-tls-seed"
NOW = G.NOW
LABELS = {"app.kubernetes.io/managed-by": "fournines-lab", "fournines.lab/seed": "tls"}
ISSUER = {"name": "letsencrypt-lab", "kind": "ClusterIssuer", "group": "cert-manager.io"}


def ts(days):
    return (NOW + datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


class CA(object):
    def __init__(self, state):
        # a CA of its own: the endpoints' CA keys are not kept on disk
        self.root_key, self.int_key = G._key(), G._key()
        root = G._ca("fournines lab cluster root CA", self.root_key, None, None, 1)
        self.inter = G._ca("fournines lab cluster issuer", self.int_key, root, self.root_key, 0)

    def issue(self, names, before, after):
        """(leaf+intermediate PEM, key PEM) for a certificate valid from now+before to now+after days."""
        key = G._key()
        leaf = G._leaf(names, key, self.inter, self.int_key, before, after)
        chain = G._pem(leaf) + G._pem(self.inter)
        return chain, G._key_pem(key)


def b64(data):
    return base64.b64encode(data).decode("ascii")


def cond(kind, status, reason, message, days=0):
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": ts(days), "observedGeneration": 1}


def build(ca):
    """Every object to apply: (body, status or None)."""
    objs = [({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": LABELS}}, None)
            for ns in ("certs-shop", "certs-blog")]
    objs.append(({"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
                  "metadata": {"name": ISSUER["name"], "labels": LABELS},
                  "spec": {"acme": {"server": "https://127.0.0.1:14000/dir", "email": "certs@lab.test",
                                    "privateKeySecretRef": {"name": "letsencrypt-lab-account"},
                                    "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}}}]}}},
                 {"conditions": [cond("Ready", "True", "ACMEAccountRegistered",
                                      "The ACME account was registered with the ACME server", -90)]}))

    def certificate(ns, name, names, status, secret_range, requests, orders=()):
        """secret_range: (before, after) days of the certificate really in the Secret; None = no Secret."""
        if secret_range is not None:
            chain, key = ca.issue(names, *secret_range)
            objs.append(({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                      "metadata": {"namespace": ns, "name": name + "-tls", "labels": LABELS,
                                   "annotations": {"cert-manager.io/certificate-name": name,
                                                   "cert-manager.io/issuer-name": ISSUER["name"],
                                                   "cert-manager.io/issuer-kind": ISSUER["kind"]}},
                      "data": {"tls.crt": b64(chain), "tls.key": b64(key)}}, None))
        objs.append(({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                      "metadata": {"namespace": ns, "name": name, "labels": LABELS},
                      "spec": {"secretName": name + "-tls", "dnsNames": names, "issuerRef": ISSUER,
                               "duration": "2160h", "renewBefore": "720h"}}, status))
        for rev, req_status, issued in requests:
            body = {"apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
                    "metadata": {"namespace": ns, "name": "%s-%d" % (name, rev), "labels": LABELS,
                                 "annotations": {"cert-manager.io/certificate-name": name,
                                                 "cert-manager.io/certificate-revision": str(rev)}},
                    "spec": {"issuerRef": ISSUER, "request": b64(b"lab-seeded CSR placeholder"),
                             "usages": ["digital signature", "key encipherment"]}}
            if issued is not None:  # an issued request carries the certificate it got
                req_status = dict(req_status, certificate=b64(ca.issue(names, issued, issued + 90)[0]))
            objs.append((body, req_status))
        for rev, state, reason in orders:
            objs.append(({"apiVersion": "acme.cert-manager.io/v1", "kind": "Order",
                          "metadata": {"namespace": ns, "name": "%s-%d-1" % (name, rev), "labels": LABELS,
                                       "ownerReferences": []},
                          "spec": {"request": b64(b"lab-seeded CSR placeholder"), "issuerRef": ISSUER,
                                   "dnsNames": names}},
                         dict({"state": state}, **({"reason": reason} if reason else {}))))

    issued_ok = {"conditions": [cond("Ready", "True", "Issued", "Certificate fetched from issuer successfully")]}

    certificate("certs-shop", "shop-ready", ["shop.lab.test", "www.shop.lab.test"],
                {"conditions": [cond("Ready", "True", "Ready", "Certificate is up to date and has not expired", -2)],
                 "notBefore": ts(-2), "notAfter": ts(88), "renewalTime": ts(58), "revision": 3},
                (-2, 88), [(1, issued_ok, -62), (2, issued_ok, -32), (3, issued_ok, -2)],
                [(3, "valid", None)])
    certificate("certs-shop", "shop-renewing", ["api.shop.lab.test"],
                {"conditions": [cond("Ready", "True", "Ready", "Certificate is up to date and has not expired", -60),
                                cond("Issuing", "True", "Renewing",
                                     "Renewing certificate as renewal was scheduled at %s" % ts(-0.02), -0.02)],
                 "notBefore": ts(-60.02), "notAfter": ts(29.98), "renewalTime": ts(-0.02), "revision": 1},
                (-60.02, 29.98), [(1, issued_ok, -60.02),
                            (2, {"conditions": [cond("Ready", "False", "Pending",
                                                     "Waiting on certificate issuance from order "
                                                     "certs-shop/shop-renewing-2-1: \"pending\"")]}, None)],
                [(2, "pending", None)])
    # the same, but Issuing since 5 hours: the order never completes (a stuck renewal)
    certificate("certs-shop", "shop-stuck", ["cdn.shop.lab.test"],
                {"conditions": [cond("Ready", "True", "Ready", "Certificate is up to date and has not expired", -60),
                                cond("Issuing", "True", "Renewing",
                                     "Renewing certificate as renewal was scheduled at %s" % ts(-0.21), -0.21)],
                 "notBefore": ts(-60.21), "notAfter": ts(29.79), "renewalTime": ts(-0.21), "revision": 1},
                (-60.21, 29.79), [(1, issued_ok, -60.21),
                                  (2, {"conditions": [cond("Ready", "False", "Pending",
                                                           "Waiting on certificate issuance from order "
                                                           "certs-shop/shop-stuck-2-1: \"pending\"")]}, None)],
                [(2, "pending", None)])
    certificate("certs-shop", "shop-stale-secret", ["static.shop.lab.test"],
                {"conditions": [cond("Ready", "True", "Ready", "Certificate is up to date and has not expired", -1)],
                 "notBefore": ts(-1), "notAfter": ts(89), "renewalTime": ts(59), "revision": 2},
                (-85, 5), [(1, issued_ok, -85), (2, issued_ok, -1)], [(2, "valid", None)])
    failed = {"conditions": [cond("Ready", "False", "Failed",
                                  "Failed to wait for order resource \"blog-failing-7-1\" to become ready: "
                                  "order is in \"invalid\" state: 429 urn:ietf:params:acme:error:rateLimited: "
                                  "too many certificates (5) already issued for this exact set of identifiers "
                                  "in the last 168h0m0s", -0.1)],
              "failureTime": ts(-0.1)}
    # A migration deleted the Secret again and again: five re-issues in the last week burnt the
    # exact-set limit, the sixth is refused and the site has no certificate.
    certificate("certs-blog", "blog-failing", ["blog.lab.test"],
                {"conditions": [cond("Ready", "False", "DoesNotExist",
                                     "Issuing certificate as Secret does not exist", -0.2),
                                cond("Issuing", "False", "Failed",
                                     "The certificate request has failed to complete and will be retried: "
                                     "rateLimited: too many certificates (5) already issued for this exact set "
                                     "of identifiers in the last 168h0m0s", -0.1)],
                 "notBefore": ts(-2), "notAfter": ts(88), "renewalTime": ts(58), "revision": 6,
                 "failedIssuanceAttempts": 3, "lastFailureTime": ts(-0.1)},
                None,
                [(1, issued_ok, -80)] + [(r, issued_ok, r - 8) for r in range(2, 7)] + [(7, failed, None)],
                [(7, "invalid", "rateLimited: too many certificates (5) already issued for this exact set")])
    certificate("certs-blog", "blog-overdue", ["news.blog.lab.test"],
                {"conditions": [cond("Ready", "True", "Ready", "Certificate is up to date and has not expired", -63)],
                 "notBefore": ts(-63), "notAfter": ts(27), "renewalTime": ts(-3), "revision": 1},
                (-63, 27), [(1, issued_ok, -63)])
    return objs


def _resource(client, body, deadline):
    while True:
        try:
            return client.resources.get(api_version=body["apiVersion"], kind=body["kind"])
        except ResourceNotFoundError:
            if time.time() > deadline:
                raise RuntimeError("%s/%s is not served: are the cert-manager CRDs installed (lab/k8s)?"
                                   % (body["apiVersion"], body["kind"]))
            client.resources.invalidate_cache()
            time.sleep(1)


def apply(client, objs, deadline):
    orders_by_request = {}
    for body, status in objs:
        res = _resource(client, body, deadline)
        meta = body["metadata"]
        if body["kind"] == "Order":  # owned by its CertificateRequest, as cert-manager does it
            owner = orders_by_request.get((meta["namespace"], meta["name"].rsplit("-", 1)[0]))
            if owner:
                meta["ownerReferences"] = [owner]
        obj = res.server_side_apply(body=body, name=meta["name"], namespace=meta.get("namespace"),
                                    field_manager=FIELD_MANAGER, force_conflicts=True)
        if body["kind"] == "CertificateRequest":
            orders_by_request[(meta["namespace"], meta["name"])] = {
                "apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest", "name": meta["name"],
                "uid": obj.metadata.uid, "controller": True, "blockOwnerDeletion": True}
        if status is not None:
            current = res.get(name=meta["name"], namespace=meta.get("namespace")).to_dict()
            current["status"] = status  # replace: no stale fields from an earlier seed
            res.status.replace(body=current, name=meta["name"], namespace=meta.get("namespace"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args(argv)
    deadline = time.time() + args.timeout
    client = dynamic.DynamicClient(config.new_client_from_config(config_file=args.kubeconfig))
    objs = build(CA(args.state))
    while True:
        try:
            apply(client, objs, deadline)
            break
        except NotFoundError as err:  # a namespace being created a moment ago
            if time.time() > deadline:
                raise RuntimeError("seeding cert-manager objects failed: %s" % err)
            time.sleep(1)
    print("tls: seeded %d cert-manager objects" % len(objs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
