"""certreport.build: verdict and summary from the parts' results."""

from ansible_collections.fournines.runbooks.plugins.module_utils.report import certificates


def scan(*statuses):
    eps = [{"name": "e%d" % i, "status": s, "findings": [] if s == "ok" else ["why %d" % i]}
           for i, s in enumerate(statuses)]
    summary = dict((k, statuses.count(k)) for k in ("ok", "warning", "critical", "error"))
    summary["total"] = len(statuses)
    return {"endpoints": eps, "summary": summary}


def test_worst_status_wins_and_errors_count_as_critical():
    assert certificates.build(scan("ok", "ok"))[0] == "ok"
    assert certificates.build(scan("ok", "warning"))[0] == "warning"
    assert certificates.build(scan("warning", "error"))[0] == "critical"


def test_summary_lists_only_what_is_not_ok():
    status, sections, summary, data = certificates.build(scan("ok", "warning"))
    assert summary == ["endpoints: 2 scanned, 1 ok, 1 warning, 0 critical, 0 error", "  e1: why 1"]
    assert sections[0][0] == "TLS endpoints" and "| e1 | **warning** |" in sections[0][1]
    assert data["endpoints"]["summary"]["total"] == 2


def test_headroom_that_does_not_fit_is_critical():
    headroom = {"fits": False, "problems": ["names [a.example.com]: 5 issued"], "window_start": "s",
                "window_end": "e", "issuances_counted": 5, "duplicates_dropped": 0, "registered_domains": [],
                "name_sets": []}
    status, sections, summary, _ = certificates.build(scan("ok"), headroom=headroom)
    assert status == "critical" and summary[-1] == "ACME headroom: names [a.example.com]: 5 issued"
    assert "**names [a.example.com]: 5 issued**" in sections[-1][1]
