"""certmanager.evaluate: each state a real cluster shows, judged from API dicts and real X.509."""

import base64
import datetime
import os
import sys

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.tls import certmanager

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "lab", "tls"))
import gen_certs as G  # noqa: E402

NOW = G.NOW
DAY = datetime.timedelta(days=1)


def ts(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def make(names=("shop.example.com",), before=-60, after=30, renewal=-10, ready="True", issuing=None,
         failures=0, last_failure=None, secret_after=None):
    leaf = G._leaf(list(names), G._key(), None, None, before, after if secret_after is None else secret_after)
    status = {"notBefore": ts(NOW + before * DAY), "notAfter": ts(NOW + after * DAY),
              "renewalTime": ts(NOW + renewal * DAY), "revision": 1,
              "conditions": [{"type": "Ready", "status": ready, "reason": "Ready" if ready == "True" else "Failed"}]}
    if issuing:
        status["conditions"].append({"type": "Issuing", "status": issuing, "reason": "Renewing"})
    if failures:
        status["failedIssuanceAttempts"] = failures
        status["lastFailureTime"] = ts(last_failure)
    cert = {"metadata": {"namespace": "shop", "name": "web"},
            "spec": {"secretName": "web-tls", "dnsNames": list(names),
                     "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"}},
            "status": status}
    pem = leaf.public_bytes(G.serialization.Encoding.PEM)
    secret = {"data": {"tls.crt": base64.b64encode(pem).decode()}}
    return cert, secret


def test_ready_and_matching_secret_is_ok():
    cert, secret = make(renewal=10)
    r = certmanager.evaluate(cert, secret, NOW)
    assert (r["state"], r["status"], r["ready"], r["issuing"]) == ("ready", "ok", True, False)
    assert r["secret"]["matches_status"] is True
    assert r["issuer"] == {"name": "letsencrypt", "kind": "ClusterIssuer", "group": "cert-manager.io"}


def test_renewing_and_stuck_renewal():
    cert, secret = make(renewal=-1, issuing="True")
    cert["status"]["conditions"][1]["lastTransitionTime"] = ts(NOW - datetime.timedelta(minutes=20))
    r = certmanager.evaluate(cert, secret, NOW)
    assert (r["state"], r["status"]) == ("renewing", "ok") and "in progress" in r["findings"][0]
    cert["status"]["conditions"][1]["lastTransitionTime"] = ts(NOW - datetime.timedelta(hours=3))
    r = certmanager.evaluate(cert, secret, NOW, stuck_minutes=60)
    assert (r["state"], r["status"]) == ("renewing", "warning") and "stuck" in r["findings"][0]


def test_failing_with_backoff():
    last = NOW - 2 * DAY
    cert, secret = make(renewal=-5, after=25, failures=3, last_failure=last, issuing="False")
    r = certmanager.evaluate(cert, secret, NOW)
    assert (r["state"], r["status"], r["failed_issuance_attempts"]) == ("failing", "warning", 3)
    assert r["next_retry_at"] == ts(last + datetime.timedelta(hours=4))   # 1 h * 2^(3-1)
    assert certmanager.retry_backoff(10) == 32 * 3600


def test_overdue_past_renewal_time_without_issuance():
    cert, secret = make(renewal=-3, after=27)
    r = certmanager.evaluate(cert, secret, NOW)
    assert (r["state"], r["status"]) == ("overdue", "warning")
    assert "renewalTime" in r["findings"][0]


def test_expired_and_fail_threshold():
    cert, secret = make(before=-100, after=-1, renewal=-30, ready="False")
    assert certmanager.evaluate(cert, secret, NOW)["state"] == "expired"
    cert, secret = make(after=5, renewal=10)
    assert certmanager.evaluate(cert, secret, NOW, warn_days=21, fail_days=7)["status"] == "critical"


def test_secret_that_does_not_match_the_status():
    cert, secret = make(renewal=10, secret_after=2)
    r = certmanager.evaluate(cert, secret, NOW)
    assert r["secret"]["matches_status"] is False and r["status"] == "warning"
    assert any("Secret does not match" in f for f in r["findings"])


def test_missing_secret_is_critical():
    cert, _ = make(renewal=10)
    r = certmanager.evaluate(cert, None, NOW)
    assert r["secret"] == {"exists": False} and r["status"] == "critical"


def test_collect_pairs_requests_orders_and_issuances():
    cert, secret = make(renewal=10)
    crt_b64 = secret["data"]["tls.crt"]
    objects = {
        "/apis/cert-manager.io/v1/certificates": [cert],
        "/apis/cert-manager.io/v1/certificaterequests": [
            {"metadata": {"namespace": "shop", "name": "web-1", "annotations": {
                certmanager.CERT_NAME_ANNOTATION: "web", certmanager.REVISION_ANNOTATION: "1"}},
             "status": {"certificate": crt_b64, "conditions": [{"type": "Ready", "status": "True", "reason": "Issued"}]}},
            {"metadata": {"namespace": "shop", "name": "web-2", "annotations": {
                certmanager.CERT_NAME_ANNOTATION: "web", certmanager.REVISION_ANNOTATION: "2"}},
             "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Pending"}]}}],
        "/apis/acme.cert-manager.io/v1/orders": [
            {"metadata": {"namespace": "shop", "name": "web-2-123",
                          "ownerReferences": [{"kind": "CertificateRequest", "name": "web-2"}]},
             "status": {"state": "pending"}}],
    }
    result = certmanager.collect(lambda p: objects[p], lambda p: secret, now=certmanager.iso(NOW))
    latest = result["certificates"][0]["latest_request"]
    assert (latest["name"], latest["ready"], latest["order"]["state"]) == ("web-2", False, "pending")
    assert [i["names"] for i in result["issuances"]] == [["shop.example.com"]]
    with pytest.raises(certmanager.CertManagerError, match="warn_days"):
        certmanager.collect(lambda p: [], lambda p: None, warn_days=3, fail_days=7)
