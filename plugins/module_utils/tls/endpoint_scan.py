# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What TLS clients actually see: many endpoints scanned concurrently, each judged.

The handshake never verifies (``CERT_NONE``), so an expired, self-signed or misnamed
certificate is still read in full; verification is done afterwards, separately, with
``cryptography``'s X.509 verifier, which says why a chain fails. Name matching is done
independently of the chain (RFC 6125 rules on the SANs), so a wrong name and a broken chain
are two findings, not one.

An endpoint is a dict: ``host`` (required), ``port`` (443), ``server_name`` (SNI and the
name checked; defaults to ``host`` unless it is an IP address), ``ca_file`` (trust anchors;
default: the system bundle), ``name`` (label for reports; default ``server_name:port``).
Per-endpoint problems (no DNS answer, refused, timeout, handshake failure) are findings in
that endpoint's result; input errors (port out of range, unreadable CA file, warn < fail)
raise :class:`TLSError` before anything is scanned.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import ipaddress
import os
import socket
import ssl
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID
    from cryptography.x509 import verification as x509_verification
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as _err:  # pragma: no cover - the venv pins cryptography
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = _err

UTC = datetime.timezone.utc
DAY = 86400.0
STATUSES = ("ok", "warning", "critical", "error")

#: The expiry thresholds of every module that judges certificates (doc fragment fournines.runbooks.tls_thresholds).
EXPIRY_ARG_SPEC = dict(warn_days=dict(type="int", default=21), fail_days=dict(type="int", default=7), now=dict(type="str"))


class TLSError(RunbookError):
    """Bad endpoint list, CA file or thresholds."""


def iso(dt):
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


def parse_now(value):
    """``None`` -> current UTC time; else an ISO 8601 string (no offset = UTC)."""
    if value is None or value == "":
        return datetime.datetime.now(UTC)
    text = str(value).strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise TLSError("now %r is not an ISO 8601 timestamp (for example 2026-11-27T00:00:00Z)" % (value,))
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def check_thresholds(warn_days, fail_days):
    if fail_days is None or warn_days is None:
        raise TLSError("warn_days and fail_days are both required")
    if fail_days < 0 or warn_days < 0:
        raise TLSError("warn_days (%s) and fail_days (%s) must be 0 or more" % (warn_days, fail_days))
    if warn_days < fail_days:
        raise TLSError("warn_days (%s) is smaller than fail_days (%s); the warning must come first: "
                       "use warn_days >= fail_days, for example warn_days=21 fail_days=7" % (warn_days, fail_days))


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _ascii_name(name):
    """Lower-case A-label form of a DNS name; IDNA errors leave the name as given."""
    name = name.strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


# ---------------------------------------------------------------- endpoints


def normalize_endpoints(endpoints, default_port=443, default_ca_file=None, timeout=5.0):
    """Validate and complete the endpoint dicts; returns ``(endpoints, duplicates)``.

    Duplicates (same host, port, SNI name and CA file) are scanned once and reported.
    """
    if not isinstance(endpoints, list) or not endpoints:
        raise TLSError("endpoints must be a non-empty list of {host, port, server_name, ca_file} dicts")
    if not timeout or timeout <= 0:
        raise TLSError("timeout %r must be a positive number of seconds" % (timeout,))
    result, seen, duplicates = [], {}, []
    for index, raw in enumerate(endpoints):
        where = "endpoints[%d]" % index
        if isinstance(raw, str):
            raw = {"host": raw}
        if not isinstance(raw, dict):
            raise TLSError("%s must be a dict with at least 'host', got %r" % (where, raw))
        unknown = set(raw) - {"host", "port", "server_name", "ca_file", "name"}
        if unknown:
            raise TLSError("%s has unknown keys %s; valid keys are host, port, server_name, ca_file, name"
                           % (where, ", ".join(sorted(unknown))))
        host = raw.get("host")
        if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host.strip()):
            raise TLSError("%s: host %r must be a host name or IP address without spaces" % (where, host))
        host = host.strip()
        port = raw.get("port")
        port = default_port if port is None else port
        try:
            port = int(port)
            if isinstance(raw.get("port"), float) and raw["port"] != port:
                raise ValueError
        except (TypeError, ValueError):
            raise TLSError("%s (%s): port %r is not a number; use 1-65535" % (where, host, raw.get("port")))
        if not 1 <= port <= 65535:
            raise TLSError("%s (%s): port %d is out of range; use 1-65535" % (where, host, port))
        server_name = raw.get("server_name") or (None if _is_ip(host) else host)
        if server_name is not None and (not isinstance(server_name, str) or not server_name.strip()):
            raise TLSError("%s (%s): server_name %r must be a DNS name" % (where, host, server_name))
        ca_file = raw.get("ca_file") or default_ca_file
        if ca_file:
            ca_file = os.path.expanduser(ca_file)
        ep = {"host": host, "port": port, "server_name": server_name.strip() if server_name else None,
              "ca_file": ca_file, "timeout": float(timeout)}
        ep["name"] = raw.get("name") or "%s:%d" % (ep["server_name"] or host, port)
        key = (host.lower(), port, (ep["server_name"] or "").lower(), ca_file)
        if key in seen:
            duplicates.append({"index": index, "same_as": seen[key], "name": ep["name"]})
            continue
        seen[key] = index
        result.append(ep)
    return result, duplicates


_TRUST_CACHE = {}


def default_ca_file():
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and os.path.isfile(candidate):
            return candidate
    try:
        import certifi
        return certifi.where()
    except ImportError:  # pragma: no cover
        return None


def load_trust(ca_file):
    """The certificates in a PEM file, cached; a bad file is a :class:`TLSError`."""
    if ca_file in _TRUST_CACHE:
        return _TRUST_CACHE[ca_file]
    if ca_file is None:
        certs = []
    else:
        if not os.path.isfile(ca_file):
            raise TLSError("ca_file %s does not exist or is not a file; give a PEM file of CA certificates" % ca_file)
        try:
            with open(ca_file, "rb") as handle:
                data = handle.read()
        except (IOError, OSError) as err:
            raise TLSError("ca_file %s cannot be read: %s" % (ca_file, err))
        try:
            with warnings.catch_warnings():  # system bundles hold a few legacy roots
                warnings.simplefilter("ignore")
                certs = x509.load_pem_x509_certificates(data)
        except ValueError:
            certs = []
        if not certs:
            raise TLSError("ca_file %s holds no PEM certificate; give a file with one or more "
                           "'-----BEGIN CERTIFICATE-----' blocks" % ca_file)
    _TRUST_CACHE[ca_file] = certs
    return certs


# ---------------------------------------------------------------- certificates


def _name_text(name):
    try:
        return name.rfc4514_string()
    except Exception:  # pragma: no cover - undecodable attributes
        return repr(name)


def _common_name(name):
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return attrs[0].value if attrs else None


def cert_sans(cert):
    """DNS and IP subjectAltNames, as strings."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    except ValueError:  # malformed extension: report no names rather than fail
        return []
    names = list(ext.get_values_for_type(x509.DNSName))
    names += [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    return names


def name_matches(requested, sans):
    """RFC 6125 matching of ``requested`` against SANs: exact, or a left-most ``*`` label.

    The wildcard covers exactly one label and never an IP address or a public-suffix-like
    two-label name (``*.com``).
    """
    if not requested:
        return False
    if _is_ip(requested):
        want = ipaddress.ip_address(requested)
        return any(_is_ip(s) and ipaddress.ip_address(s) == want for s in sans)
    want = _ascii_name(requested)
    for san in sans:
        if _is_ip(san):
            continue
        pattern = _ascii_name(san)
        if pattern == want:
            return True
        if pattern.startswith("*.") and pattern.count(".") >= 2:
            parts = want.split(".", 1)
            if len(parts) == 2 and parts[0] and parts[1] == pattern[2:]:
                return True
    return False


def cert_summary(cert, now):
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    der = cert.public_bytes(serialization.Encoding.DER)
    return {
        "subject": _name_text(cert.subject),
        "common_name": _common_name(cert.subject),
        "issuer": _name_text(cert.issuer),
        "serial": "%x" % cert.serial_number,
        "not_before": iso(not_before),
        "not_after": iso(not_after),
        "days_left": round((not_after - now).total_seconds() / DAY, 2),
        "fingerprint_sha256": hashlib.sha256(der).hexdigest(),
        "self_issued": cert.subject == cert.issuer,
    }


def _is_ca(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except (x509.ExtensionNotFound, ValueError):
        return False


def _verify(leaf, intermediates, trust, at, name):
    """None when the chain verifies at ``at`` for ``name``, else cryptography's reason."""
    if not trust:
        return "no trust anchors (empty CA bundle)"
    try:
        subject = (x509_verification.IPAddress(ipaddress.ip_address(name)) if _is_ip(name)
                   else x509_verification.DNSName(_ascii_name(name)))
        verifier = (x509_verification.PolicyBuilder().store(x509_verification.Store(trust))
                    .time(at.replace(tzinfo=None)).build_server_verifier(subject))
        verifier.verify(leaf, intermediates)
        return None
    except x509_verification.VerificationError as err:
        return str(err).split(" (encountered processing", 1)[0]
    except ValueError as err:
        return "cannot verify: %s" % err


def judge_chain(chain, trust, now):
    """``(chain_valid, problem, reason)`` for the served chain (leaf first).

    The name check is left to :func:`name_matches`: the chain is verified for one of the
    leaf's own SANs, so a wrong name never masks (or is masked by) a chain problem.
    """
    leaf, intermediates = chain[0], chain[1:]
    sans = cert_sans(leaf)
    own_name = next((s for s in sans if not s.startswith("*.")), None) or (
        ("x" + sans[0][1:]) if sans else (_common_name(leaf.subject) or "invalid.invalid"))
    reason = _verify(leaf, intermediates, trust, now, own_name)
    if reason is None:
        return True, None, None
    # Would it verify while the leaf was valid? Then time is the only problem.
    middle = leaf.not_valid_before_utc + (leaf.not_valid_after_utc - leaf.not_valid_before_utc) / 2
    if now > leaf.not_valid_after_utc and _verify(leaf, intermediates, trust, middle, own_name) is None:
        return False, "expired", "certificate expired on %s" % iso(leaf.not_valid_after_utc)
    if now < leaf.not_valid_before_utc and _verify(leaf, intermediates, trust, middle, own_name) is None:
        return False, "not_yet_valid", "certificate is valid only from %s" % iso(leaf.not_valid_before_utc)
    if not sans:
        return False, "no_san", "leaf has no subjectAltName (clients ignore the CN): %s" % reason
    served = {c.subject for c in chain}
    trusted = {c.subject for c in trust}
    if len(chain) == 1 and leaf.subject == leaf.issuer:
        return False, "self_signed", "self-signed certificate that is not in the trust store"
    top = chain[-1]
    if top.issuer not in served and top.issuer not in trusted and len(chain) > 1 and _is_ca(top):
        return False, "untrusted_root", ("chain ends at CA '%s', whose issuer '%s' is not trusted"
                                         % (_name_text(top.subject), _name_text(top.issuer)))
    if top.issuer not in served and top.issuer not in trusted:
        return False, "incomplete_chain", ("issuer '%s' is neither served nor trusted: the server does not send "
                                           "the intermediate certificate(s)" % _name_text(top.issuer))
    if top.subject == top.issuer and top.subject not in trusted:
        return False, "untrusted_root", "chain ends at '%s', which is not trusted" % _name_text(top.subject)
    return False, "invalid", reason


# ---------------------------------------------------------------- scanning


class _ResolveTimeout(Exception):
    """getaddrinfo did not answer before the endpoint's deadline."""


def _resolve(host, port, deadline):
    """getaddrinfo bounded by the deadline (the C resolver has no timeout of its own)."""
    box = {}

    def work():
        try:
            box["addrs"] = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except Exception as err:  # handed to the caller below
            box["error"] = err
    worker = threading.Thread(target=work)
    worker.daemon = True
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        raise _ResolveTimeout("no DNS answer for %s within the timeout" % host)
    if "error" in box:
        raise box["error"]
    return box["addrs"]


def _connect(host, port, deadline):
    """TCP connection to the first address that answers, all under one deadline."""
    last = None
    for family, kind, proto, _canon, addr in _resolve(host, port, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock = socket.socket(family, kind, proto)
        sock.settimeout(remaining)
        try:
            sock.connect(addr)
            return sock
        except OSError as err:
            last = err
            sock.close()
    raise last or socket.timeout("no answer within the timeout")


def _fetch_chain(ep):
    """Handshake without verification; returns (DER chain, TLS version, cipher, address)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # read everything, judge afterwards
    try:
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    except (AttributeError, ValueError):  # pragma: no cover
        pass
    deadline = time.monotonic() + ep["timeout"]
    sock = _connect(ep["host"], ep["port"], deadline)
    try:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        sni = ep["server_name"] if ep["server_name"] and not _is_ip(ep["server_name"]) else None
        with ctx.wrap_socket(sock, server_hostname=sni) as tls:
            ders = []
            if hasattr(tls, "get_unverified_chain"):  # Python >= 3.13: public, DER bytes
                ders = [bytes(c) for c in (tls.get_unverified_chain() or [])]
            else:  # 3.10-3.12: the same call on the private SSL object
                obj = getattr(tls, "_sslobj", None)
                if obj is not None and hasattr(obj, "get_unverified_chain"):
                    ders = [c.public_bytes(ssl._ssl.ENCODING_DER) for c in (obj.get_unverified_chain() or [])]
            if not ders:  # older Pythons: the leaf only
                leaf = tls.getpeercert(binary_form=True)
                ders = [leaf] if leaf else []
            cipher = tls.cipher()
            return ders, tls.version(), cipher[0] if cipher else None, tls.getpeername()[0]
    finally:
        sock.close()


def _classify(err):
    if isinstance(err, _ResolveTimeout):
        return "resolve", str(err)
    if isinstance(err, socket.gaierror):
        return "resolve", "host name does not resolve: %s" % (err.strerror or err)
    if isinstance(err, (socket.timeout, TimeoutError)):
        return "timeout", "no answer within the timeout"
    if isinstance(err, ConnectionRefusedError):
        return "refused", "connection refused"
    if isinstance(err, ssl.SSLError):
        return "handshake", "TLS handshake failed: %s" % (err.reason or err)
    if isinstance(err, (ConnectionResetError, BrokenPipeError)):
        return "handshake", "connection closed during the TLS handshake"
    if isinstance(err, OSError):
        return "network", "%s" % (err.strerror or err)
    return "error", "%s: %s" % (type(err).__name__, err)


def judge(result, warn_days, fail_days):
    """Set ``status`` (ok | warning | critical | error) and ``findings`` on a scan result."""
    findings = []
    if result.get("error"):
        result.update(status="error", findings=["%s: %s" % (result["error"], result["error_detail"])])
        return result
    leaf = result["certificate"]
    days = leaf["days_left"]
    status = "ok"
    if days < 0:
        findings.append("expired %.1f days ago (%s)" % (-days, leaf["not_after"]))
        status = "critical"
    elif days < fail_days:
        findings.append("expires in %.1f days, under the %d-day failure threshold" % (days, fail_days))
        status = "critical"
    elif days < warn_days:
        findings.append("expires in %.1f days, under the %d-day warning threshold" % (days, warn_days))
        status = "warning"
    if not result["name_matches"]:
        findings.append("name %s is not in the certificate's names %s"
                        % (result["requested_name"], ", ".join(result["sans"]) or "(none)"))
        status = "critical"
    if not result["chain_valid"] and result["chain_problem"] != "expired":
        findings.append("chain does not verify (%s): %s" % (result["chain_problem"], result["chain_error"]))
        status = "critical"
    result.update(status=status, findings=findings)
    return result


def scan_endpoint(ep, now, warn_days, fail_days):
    """Scan one endpoint; never raises for network or certificate problems."""
    result = {"name": ep["name"], "host": ep["host"], "port": ep["port"], "server_name": ep["server_name"],
              "ca_file": ep["ca_file"], "error": None, "error_detail": None}
    started = time.monotonic()
    try:
        ders, version, cipher, address = _fetch_chain(ep)
    except Exception as err:  # every network failure becomes a finding for this endpoint
        result["error"], result["error_detail"] = _classify(err)
        result["elapsed_ms"] = int((time.monotonic() - started) * 1000)
        return judge(result, warn_days, fail_days)
    result.update(tls_version=version, cipher=cipher, address=address,
                  elapsed_ms=int((time.monotonic() - started) * 1000))
    try:
        chain = [x509.load_der_x509_certificate(d) for d in ders]
    except ValueError as err:
        result["error"], result["error_detail"] = "certificate", "served certificate cannot be parsed: %s" % err
        return judge(result, warn_days, fail_days)
    if not chain:
        result["error"], result["error_detail"] = "certificate", "server sent no certificate"
        return judge(result, warn_days, fail_days)
    leaf = chain[0]
    requested = ep["server_name"] or ep["host"]
    sans = cert_sans(leaf)
    valid, problem, reason = judge_chain(chain, load_trust(ep["ca_file"]), now)
    result.update(
        certificate=cert_summary(leaf, now),
        chain=[cert_summary(c, now) for c in chain],
        chain_length=len(chain),
        sans=sans,
        requested_name=requested,
        name_matches=name_matches(requested, sans),
        chain_valid=valid,
        chain_problem=problem,
        chain_error=reason,
        self_signed=len(chain) == 1 and leaf.subject == leaf.issuer,
        expired=now > leaf.not_valid_after_utc,
        issuer=_name_text(leaf.issuer),
        not_before=iso(leaf.not_valid_before_utc),
        not_after=iso(leaf.not_valid_after_utc),
        days_left=cert_summary(leaf, now)["days_left"],
    )
    return judge(result, warn_days, fail_days)


def scan(endpoints, warn_days=21, fail_days=7, timeout=5.0, concurrency=32, ca_file=None, default_port=443,
         now=None):
    """Scan every endpoint concurrently; returns ``{"endpoints", "summary", "duplicates"}``."""
    if not HAS_CRYPTOGRAPHY:  # pragma: no cover
        raise TLSError("the python 'cryptography' package is required: %s" % CRYPTOGRAPHY_IMPORT_ERROR)
    check_thresholds(warn_days, fail_days)
    if not isinstance(concurrency, int) or concurrency < 1:
        raise TLSError("concurrency %r must be a whole number of 1 or more" % (concurrency,))
    now = parse_now(now)
    eps, duplicates = normalize_endpoints(endpoints, default_port, ca_file or default_ca_file(), timeout)
    for ep in eps:  # bad CA files fail the input check, before any connection is made
        load_trust(ep["ca_file"])
    with ThreadPoolExecutor(max_workers=min(concurrency, len(eps))) as pool:
        results = list(pool.map(lambda ep: scan_endpoint(ep, now, warn_days, fail_days), eps))
    summary = dict((s, 0) for s in STATUSES)
    for r in results:
        summary[r["status"]] += 1
    summary["total"] = len(results)
    return {"endpoints": results, "summary": summary, "duplicates": duplicates, "scanned_at": iso(now)}
