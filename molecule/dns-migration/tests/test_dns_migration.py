"""testinfra checks after converge: what the lab nameservers serve and what the journal says."""

import datetime
import json
import os

import dns.flags
import dns.message
import dns.query
import pytest


def _env(host):
    values = {}
    for line in host.file(os.environ["LAB_DNS_ENV"]).content_string.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


def _when(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def journal(host):
    f = host.file(os.environ["DNS_JOURNAL"])
    assert f.exists, "the runbook wrote no journal"
    return json.loads(f.content_string)


def _ask(server, name, rtype):
    host, port = server.split(":")
    query = dns.message.make_query(name, rtype)
    query.flags &= ~dns.flags.RD
    response = dns.query.udp(query, host, port=int(port), timeout=2)
    assert response.flags & dns.flags.AA, "%s answered %s %s without authority" % (server, name, rtype)
    return response.answer[0]


def test_servers_listen(host):
    env = _env(host)
    for key in ("DNS_PRIMARY_PORT", "DNS_SECONDARY_PORT", "DNS_RESOLVER_PORT"):
        assert host.socket("udp://127.0.0.1:%s" % env[key]).is_listening


def test_every_nameserver_serves_the_new_address_with_the_original_ttl(host):
    for server in _env(host)["DNS_NAMESERVERS"].split(","):
        app = _ask(server, "app.lab.example.", "A")
        assert [r.to_text() for r in app] == ["127.0.0.20"] and app.ttl == 10
        assert _ask(server, "www.lab.example.", "CNAME").ttl == 10
        assert _ask(server, "app.lab.example.", "AAAA").ttl == 10


def test_journal_lowered_waited_migrated_restored_in_order(journal):
    steps = dict((s["name"], s) for s in journal["steps"])
    assert [s["status"] for s in journal["steps"]] == ["done"] * len(journal["steps"])
    assert journal["status"] == "done"
    lowered, waited = steps["dns_ttl_lower"], steps["dns_ttl_lower_wait"]
    verified, restored = steps["dns_migration_verified"], steps["dns_ttl_restore"]
    # the new answers were checked only after the old 10 s TTL had expired everywhere
    assert _when(waited["details"]["expires_at"]) >= _when(lowered["finished"]) + datetime.timedelta(seconds=10)
    assert _when(verified["started"]) >= _when(waited["details"]["expires_at"])
    assert _when(restored["finished"]) >= _when(verified["finished"])
    records = journal["facts"]["dns_ttl"]["records"]
    assert {k: (v["original_ttl"], v["lowered_ttl"]) for k, v in records.items()} == {
        "app.lab.example./A": (10, 2), "app.lab.example./AAAA": (10, 2), "www.lab.example./CNAME": (10, 2)}
    assert all(v["restored"] for v in records.values())


def test_report_lists_every_record_restored(host):
    report = host.file(os.path.join(os.path.dirname(os.environ["DNS_JOURNAL"]), "report.md"))
    assert report.exists
    text = report.content_string
    for name in ("app.lab.example. | A", "app.lab.example. | AAAA", "www.lab.example. | CNAME"):
        assert name in text
    assert "NOT RESTORED" not in text and "status: **done**" in text
