# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The certificate check's report: Markdown sections and an overall verdict.

Built from the results of tls_certificate_scan, cert_manager_certificate_info,
tls_acme_headroom and the renew action; written through report.py's RunJournal.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fournines.runbooks.plugins.module_utils.report import markdown
from ansible_collections.fournines.runbooks.plugins.module_utils.report.markdown import markdown_table

SEVERITY = {"ok": 0, "skipped": 0, "warning": 1, "critical": 2, "error": 2}


def _worst(statuses):
    worst = "ok"
    for status in statuses:
        if SEVERITY.get(status, 2) > SEVERITY[worst]:
            worst = "critical" if status == "error" else status
    return worst


def _yes(value):
    return "-" if value is None else ("yes" if value else "**no**")


def endpoints_section(scan):
    rows = []
    for ep in scan.get("endpoints", []):
        rows.append([ep.get("name"), "**%s**" % ep["status"] if ep["status"] != "ok" else "ok",
                     ep.get("days_left", "-"), ep.get("not_after", "-"), ep.get("issuer", "-"),
                     _yes(ep.get("name_matches")), _yes(ep.get("chain_valid")), ep.get("tls_version", "-"),
                     "; ".join(ep.get("findings") or [])])
    return markdown_table(["endpoint", "status", "days left", "not after", "issuer", "name ok", "chain ok",
                           "TLS", "findings"], rows)


def cert_manager_section(cm):
    rows = []
    for c in cm.get("certificates", []):
        secret = c.get("secret") or {}
        rows.append(["%s/%s" % (c["namespace"], c["name"]), c["status"], c["state"], _yes(c.get("ready")),
                     _yes(c.get("issuing")), c.get("not_after") or "-", c.get("renewal_time") or "-",
                     c.get("failed_issuance_attempts") or 0, c.get("last_failure_time") or "-",
                     _yes(secret.get("matches_status")), "%s/%s" % (c["issuer"].get("kind"), c["issuer"].get("name")),
                     "; ".join(c.get("findings") or [])])
    return markdown_table(["certificate", "status", "state", "ready", "issuing", "notAfter", "renewalTime",
                           "failures", "lastFailureTime", "secret matches", "issuer", "findings"], rows)


#: The ACME headroom section as a Jinja2 template (report/markdown.py).
HEADROOM_TEMPLATE = """\
Window {{ hr["window_start"] }} to {{ hr["window_end"] }}; {{ "%d" | format(hr["issuances_counted"]) }} issuance(s) counted, \
{{ "%d" | format(hr["duplicates_dropped"]) }} duplicate(s) dropped.

{{ ["registered domain", "issued", "renewals", "planned", "limit", "left after plan", "fits"] | md_table(domains) }}

{{ ["exact names", "issued", "planned", "limit", "left after plan", "fits", "next slot"] | md_table(name_sets) }}
{% if hr["problems"] %}

{% for problem in hr["problems"] %}
- **{{ problem }}**
{% endfor %}
{% endif %}
"""


def headroom_section(hr):
    text = markdown.render(
        HEADROOM_TEMPLATE, hr=hr,
        domains=[[d["domain"], d["used"], d["renewals"], d["planned"], d["limit"], d["after_planned"], _yes(d["fits"])]
                 for d in hr["registered_domains"]],
        name_sets=[[", ".join(s["names"]), s["used"], s["planned"], s["limit"], s["after_planned"], _yes(s["fits"]),
                    s.get("next_slot_at") or "-"] for s in hr["name_sets"]])
    return text[:-1] if text.endswith("\n") else text


def renew_section(renew):
    keys = ("endpoint", "names", "changed", "reason", "before_not_after", "after_not_after", "after_issuer",
            "after_status", "serves_new_certificate")
    return markdown_table(["field", "value"], [[k, renew.get(k)] for k in keys if k in renew])


def build(scan=None, cert_manager=None, headroom=None, renew=None):
    """Return ``(overall_status, sections, summary_lines, data)``."""
    sections, summary, statuses, data = [], [], [], {}
    if scan:
        s = scan.get("summary", {})
        statuses += [ep["status"] for ep in scan.get("endpoints", [])]
        summary.append("endpoints: %d scanned, %d ok, %d warning, %d critical, %d error"
                       % (s.get("total", 0), s.get("ok", 0), s.get("warning", 0), s.get("critical", 0),
                          s.get("error", 0)))
        summary += ["  %s: %s" % (ep["name"], "; ".join(ep["findings"])) for ep in scan.get("endpoints", [])
                    if ep["status"] != "ok"]
        sections.append(("TLS endpoints", endpoints_section(scan)))
        data["endpoints"] = scan
    if cert_manager:
        certs = cert_manager.get("certificates", [])
        statuses += [c["status"] for c in certs]
        summary.append("cert-manager: %d certificate(s), %d not ok"
                       % (len(certs), len([c for c in certs if c["status"] != "ok"])))
        summary += ["  %s/%s: %s" % (c["namespace"], c["name"], "; ".join(c["findings"])) for c in certs
                    if c["status"] != "ok"]
        sections.append(("cert-manager Certificates", cert_manager_section(cert_manager)))
        data["cert_manager"] = cert_manager
    if headroom:
        statuses.append("ok" if headroom["fits"] else "critical")
        summary.append("ACME headroom: %s" % ("fits" if headroom["fits"] else "; ".join(headroom["problems"])))
        sections.append(("ACME rate-limit headroom", headroom_section(headroom)))
        data["headroom"] = headroom
    if renew:
        summary.append("renew %s: %s" % (renew.get("endpoint"), renew.get("reason")))
        sections.append(("Renewal", renew_section(renew)))
        data["renew"] = renew
    overall = _worst(statuses)
    return overall, sections, summary, data
