# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What cert-manager believes, checked against what its Secrets really hold.

Reads Certificates (cert-manager.io/v1) across namespaces, only the Secrets they name (never
every Secret in the cluster), and their CertificateRequests and ACME Orders, then judges each
Certificate with :func:`evaluate`, a pure function of the objects and the time.

States, in order of precedence: ``expired`` (notAfter passed), ``failing``
(failedIssuanceAttempts > 0), ``overdue`` (renewalTime passed and no issuance running),
``renewing`` (Issuing=True; a warning once it has run longer than ``stuck_minutes``), ``not_ready`` (Ready is not True), ``ready``.
cert-manager retries a failed issuance after 1 h x 2^(attempts-1), at most 32 h; the
result gives that next attempt time.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline, backoff_delays, retry_call
from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import ApiException, api_error_text
from ansible_collections.fournines.runbooks.plugins.module_utils.tls.endpoint_scan import cert_sans, iso, parse_now

try:
    from cryptography import x509
    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover
    HAS_CRYPTOGRAPHY = False

UTC = datetime.timezone.utc
DAY = 86400.0
GROUP = "cert-manager.io/v1"
ACME_GROUP = "acme.cert-manager.io/v1"
CERT_NAME_ANNOTATION = "cert-manager.io/certificate-name"
REVISION_ANNOTATION = "cert-manager.io/certificate-revision"


class CertManagerError(RunbookError):
    """cert-manager objects could not be read, or the input was wrong."""


def _time(value):
    if not value:
        return None
    try:
        return parse_now(value)
    except RunbookError:
        return None


def condition(obj, kind):
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def retry_backoff(attempts):
    """Seconds cert-manager waits before the next issuance after ``attempts`` failures."""
    if not attempts or attempts < 1:
        return 0
    return min(3600 * 2 ** (attempts - 1), 32 * 3600)


def parse_pem_chain(data):
    """Certificates from PEM bytes or text (a Secret's ``tls.crt``); [] when unreadable."""
    if not data:
        return []
    if isinstance(data, str):
        data = data.encode("ascii", "replace")
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        return []


def secret_certificate(secret):
    """Facts about the leaf certificate in a kubernetes.io/tls Secret (dict from the API)."""
    if secret is None:
        return {"exists": False}
    raw = (secret.get("data") or {}).get("tls.crt")
    try:
        pem = base64.b64decode(raw) if raw else b""
    except (TypeError, ValueError):
        pem = b""
    chain = parse_pem_chain(pem)
    if not chain:
        return {"exists": True, "has_certificate": False}
    leaf = chain[0]
    return {"exists": True, "has_certificate": True, "not_before": iso(leaf.not_valid_before_utc),
            "not_after": iso(leaf.not_valid_after_utc), "serial": "%x" % leaf.serial_number,
            "names": cert_sans(leaf), "issuer": leaf.issuer.rfc4514_string(), "chain_length": len(chain)}


def evaluate(cert, secret=None, now=None, warn_days=21, fail_days=7, latest_request=None, stuck_minutes=60):
    """Judge one Certificate (API dict) and the Secret it names (API dict or None).

    An issuance running longer than ``stuck_minutes`` is a stuck renewal (a warning).
    """
    now = now or datetime.datetime.now(UTC)
    meta, spec, status = cert.get("metadata") or {}, cert.get("spec") or {}, cert.get("status") or {}
    ready_c, issuing_c = condition(cert, "Ready"), condition(cert, "Issuing")
    ready = None if ready_c is None else ready_c.get("status") == "True"
    issuing = bool(issuing_c and issuing_c.get("status") == "True")
    not_after, renewal = _time(status.get("notAfter")), _time(status.get("renewalTime"))
    failures = int(status.get("failedIssuanceAttempts") or 0)
    last_failure = _time(status.get("lastFailureTime"))
    issuer = spec.get("issuerRef") or {}
    secret_facts = secret_certificate(secret)
    days_left = round((not_after - now).total_seconds() / DAY, 2) if not_after else None

    findings = []
    if not secret_facts["exists"]:
        findings.append("Secret %s does not exist" % spec.get("secretName"))
    elif not secret_facts.get("has_certificate"):
        findings.append("Secret %s holds no readable tls.crt" % spec.get("secretName"))
    else:
        mismatch = []
        if status.get("notAfter") and _time(secret_facts["not_after"]) != not_after:
            mismatch.append("notAfter %s in the Secret vs %s in status" % (secret_facts["not_after"], iso(not_after)))
        missing = [n for n in spec.get("dnsNames") or [] if n.lower() not in [s.lower() for s in secret_facts["names"]]]
        if missing:
            mismatch.append("names %s are not in the Secret's certificate" % ", ".join(missing))
        secret_facts["matches_status"] = not mismatch
        if mismatch:
            findings.append("Secret does not match the status: " + "; ".join(mismatch))
    if secret_facts.get("has_certificate") and not status.get("notAfter"):
        secret_facts["matches_status"] = None

    if not_after and not_after <= now:
        state = "expired"
    elif failures > 0:
        state = "failing"
    elif renewal and renewal <= now and not issuing:
        state = "overdue"
    elif issuing:
        state = "renewing"
    elif ready is not True:
        state = "not_ready"
    else:
        state = "ready"

    next_retry = None
    if failures > 0:
        findings.insert(0, "%d failed issuance attempt(s), last at %s" % (failures, iso(last_failure) or "?"))
        if last_failure:
            next_retry = last_failure + datetime.timedelta(seconds=retry_backoff(failures))
    if state == "expired":
        findings.insert(0, "certificate expired %s" % iso(not_after))
    if state == "overdue":
        findings.insert(0, "renewalTime %s has passed and no issuance is running" % iso(renewal))
    stuck = False
    if state == "renewing":
        since = _time(issuing_c.get("lastTransitionTime"))
        minutes = (now - since).total_seconds() / 60 if since else None
        stuck = minutes is not None and minutes > stuck_minutes
        findings.insert(0, "issuance %s (Issuing=True: %s, for %s min)"
                        % ("stuck" if stuck else "in progress", issuing_c.get("reason") or "",
                           int(minutes) if minutes is not None else "?"))
    if ready is not True and state not in ("expired",):
        findings.append("Ready=%s%s" % (ready_c.get("status") if ready_c else "missing",
                                        (" (%s: %s)" % (ready_c.get("reason"), ready_c.get("message")))
                                        if ready_c else ""))

    if state == "expired" or (days_left is not None and days_left < fail_days):
        verdict = "critical"
    elif not secret_facts["exists"] or not secret_facts.get("has_certificate"):
        verdict = "critical"
    elif state in ("failing", "overdue", "not_ready") or stuck:
        verdict = "critical" if state == "not_ready" else "warning"
    elif days_left is not None and days_left < warn_days:
        verdict = "warning"
    elif secret_facts.get("matches_status") is False:
        verdict = "warning"
    else:
        verdict = "ok"
    if days_left is not None and days_left < warn_days and state != "expired":
        findings.append("expires in %s days" % round(float(days_left), 1))

    return {
        "namespace": meta.get("namespace"), "name": meta.get("name"), "secret_name": spec.get("secretName"),
        "dns_names": spec.get("dnsNames") or [],
        "issuer": {"name": issuer.get("name"), "kind": issuer.get("kind") or "Issuer",
                   "group": issuer.get("group") or "cert-manager.io"},
        "ready": ready, "ready_reason": ready_c.get("reason") if ready_c else None,
        "ready_message": ready_c.get("message") if ready_c else None,
        "issuing": issuing, "issuing_reason": issuing_c.get("reason") if issuing_c else None,
        "not_before": status.get("notBefore"), "not_after": status.get("notAfter"),
        "renewal_time": status.get("renewalTime"), "revision": status.get("revision"),
        "failed_issuance_attempts": failures, "last_failure_time": status.get("lastFailureTime"),
        "next_retry_at": iso(next_retry), "days_left": days_left, "secret": secret_facts,
        "latest_request": latest_request, "state": state, "status": verdict, "findings": findings,
    }


def request_summary(request, orders):
    """The facts that explain a CertificateRequest's outcome, with its ACME Order if any."""
    meta = request.get("metadata") or {}
    ready_c = condition(request, "Ready")
    order = None
    for o in orders:
        owners = (o.get("metadata") or {}).get("ownerReferences") or []
        if o["metadata"].get("namespace") == meta.get("namespace") and any(
                ref.get("kind") == "CertificateRequest" and ref.get("name") == meta.get("name") for ref in owners):
            order = {"name": o["metadata"]["name"], "state": (o.get("status") or {}).get("state"),
                     "reason": (o.get("status") or {}).get("reason")}
    return {"name": meta.get("name"), "revision": (meta.get("annotations") or {}).get(REVISION_ANNOTATION),
            "ready": None if ready_c is None else ready_c.get("status") == "True",
            "reason": ready_c.get("reason") if ready_c else None,
            "message": ready_c.get("message") if ready_c else None, "order": order}


def issuance_from_request(request):
    """An issuance record (for the ACME headroom) from an issued CertificateRequest, else None."""
    raw = (request.get("status") or {}).get("certificate")
    if not raw:
        return None
    try:
        chain = parse_pem_chain(base64.b64decode(raw))
    except (TypeError, ValueError):
        return None
    if not chain:
        return None
    leaf = chain[0]
    names = cert_sans(leaf)
    if not names:
        return None
    meta = request.get("metadata") or {}
    issuer = (request.get("spec") or {}).get("issuerRef") or {}
    return {"names": names, "issued_at": iso(leaf.not_valid_before_utc), "serial": "%x" % leaf.serial_number,
            "source": "CertificateRequest %s/%s" % (meta.get("namespace"), meta.get("name")),
            "issuer": issuer.get("name")}


def _latest(requests):
    def rev(r):
        try:
            return int(((r.get("metadata") or {}).get("annotations") or {}).get(REVISION_ANNOTATION) or 0)
        except ValueError:
            return 0
    return max(requests, key=lambda r: (rev(r), (r.get("metadata") or {}).get("creationTimestamp") or "")) \
        if requests else None


def collect(get_items, get_object, namespaces=None, now=None, warn_days=21, fail_days=7, stuck_minutes=60):
    """Read and judge every Certificate. ``get_items(path)`` lists, ``get_object(path)`` reads
    one object or returns None when it does not exist (the module passes Kube methods)."""
    if warn_days < fail_days:
        raise CertManagerError("warn_days (%s) is smaller than fail_days (%s); use warn_days >= fail_days"
                               % (warn_days, fail_days))
    now = parse_now(now)

    def _list(group, plural):
        if not namespaces:
            return get_items("/apis/%s/%s" % (group, plural))
        out = []
        for ns in namespaces:
            out += get_items("/apis/%s/namespaces/%s/%s" % (group, ns, plural))
        return out

    certs = _list(GROUP, "certificates")
    requests = _list(GROUP, "certificaterequests")
    try:
        orders = _list(ACME_GROUP, "orders")
    except CertManagerError:
        orders = []  # cluster without the ACME CRDs
    results = []
    for cert in sorted(certs, key=lambda c: (c["metadata"].get("namespace"), c["metadata"].get("name"))):
        ns, name = cert["metadata"].get("namespace"), cert["metadata"].get("name")
        secret_name = (cert.get("spec") or {}).get("secretName")
        secret = get_object("/api/v1/namespaces/%s/secrets/%s" % (ns, secret_name)) if secret_name else None
        mine = [r for r in requests if r["metadata"].get("namespace") == ns
                and ((r["metadata"].get("annotations") or {}).get(CERT_NAME_ANNOTATION) == name)]
        latest = _latest(mine)
        results.append(evaluate(cert, secret, now, warn_days, fail_days,
                                request_summary(latest, orders) if latest else None, stuck_minutes))
    issuances = [i for i in (issuance_from_request(r) for r in requests) if i]
    summary = {"total": len(results)}
    for key in ("ok", "warning", "critical"):
        summary[key] = len([r for r in results if r["status"] == key])
    return {"certificates": results, "issuances": issuances, "summary": summary, "checked_at": iso(now)}


def _transient(err):
    status = getattr(err, "status", None)
    if status is not None:
        return status == 429 or status >= 500
    return isinstance(err, (IOError, OSError)) or type(err).__module__.startswith("urllib3")


def collect_from_cluster(kube, timeout, **kwargs):
    """:func:`collect` over a :class:`~..k8s.client.Kube`, retrying 429/5xx and dropped connections.

    Every failure becomes a :class:`CertManagerError` that names what could not be read.
    """
    deadline = Deadline(timeout)

    def call(func, path):
        try:
            return retry_call(lambda: func(path), deadline, _transient, delays=backoff_delays(0.5, 2.0, 5.0))
        except ApiException as err:
            if err.status == 404 and "/apis/" in path:
                raise CertManagerError("%s is not served (HTTP 404): are the cert-manager CRDs installed?" % path,
                                       status=404)
            raise CertManagerError("reading %s failed: %s" % (path, api_error_text(err)), status=err.status)

    try:
        return collect(lambda path: call(kube.items, path), lambda path: call(lambda x: kube.get(x, ok_missing=True), path),
                       **kwargs)
    except RunbookError:
        raise
    except Exception as err:  # connection refused, TLS errors: name the cluster, no traceback
        raise CertManagerError("cannot read cert-manager objects: %s: %s" % (type(err).__name__, err))
