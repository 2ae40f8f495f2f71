"""Propagation: a lagging secondary keeps the wait going, dead and non-authoritative servers are
named, and unbound's cache really expires at the computed moment."""

import os
import signal
import subprocess
import time

import dns.message
import dns.query
import pytest

from dnslab import APP_RECORDS, ZONE, labenv

from ansible_collections.fournines.runbooks.plugins.module_utils.dns import ttl_change
from ansible_collections.fournines.runbooks.plugins.module_utils.dns import propagation


def _expect(keys, ttl):
    return propagation.normalize_expectations([{"name": n, "type": t, "ttl": ttl} for n, t in keys], ZONE)


def test_lagging_secondary_keeps_the_wait_going(make_provider, nameservers, lag, tmp_path):
    lag(3)  # the secondary holds its old copy for 3 s, then transfers
    ttl_change.lower(make_provider("powerdns"), ZONE, APP_RECORDS, 5, ttl_change.TTLState(str(tmp_path), "lag", ZONE, "powerdns"))
    progress = propagation.Progress()
    results = propagation.wait_converged(nameservers, ZONE, _expect(APP_RECORDS, 5), timeout=30, interval=0.1,
                                  progress=progress)
    primary, secondary = results
    assert primary["converged_after"] < 1.0
    assert secondary["converged_after"] >= 2.0  # it was held for 3 s
    assert any("%s: app.lab.example. A: ttl 3600, want 5" % secondary["nameserver"] in line for line in progress.lines)
    assert primary["serial"] == secondary["serial"]


def test_lagging_secondary_past_the_deadline_is_named(make_provider, nameservers, lag, tmp_path):
    lag("hold")
    ttl_change.lower(make_provider("powerdns"), ZONE, APP_RECORDS, 5, ttl_change.TTLState(str(tmp_path), "lag2", ZONE, "powerdns"))
    with pytest.raises(ttl_change.DNSError) as err:
        propagation.wait_converged(nameservers, ZONE, _expect(APP_RECORDS, 5), timeout=2, interval=0.2)
    text = str(err.value)
    assert "1 of 2 nameservers" in text and nameservers[1][0] in text and "ttl 3600, want 5" in text


def test_dead_nameserver_is_named(nameservers):
    pid = int(open(os.path.join(labenv.state_dir(), "dns", "knot.pid")).read())
    os.kill(pid, signal.SIGSTOP)  # a real server that stops answering
    try:
        with pytest.raises(ttl_change.DNSError) as err:
            propagation.wait_converged(nameservers, ZONE, _expect(APP_RECORDS, 3600), timeout=1.5, interval=0.2,
                                query_timeout=0.5)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert "nameserver %s did not answer (no answer (timed out" % nameservers[1][0] in str(err.value)
    assert nameservers[0][0] not in str(err.value).split("converged:")[1]


def test_a_resolver_is_not_taken_for_an_authority(dns_env):
    resolver = propagation.parse_nameserver("127.0.0.1:%s" % dns_env["DNS_RESOLVER_PORT"])
    with pytest.raises(ttl_change.DNSError, match="not authoritative"):
        propagation.wait_converged([resolver], ZONE, _expect(APP_RECORDS, 3600), timeout=0.5, interval=0.2)


def test_discovery_finds_the_ns_records(dns_env):
    found = propagation.discover_nameservers(ZONE, "127.0.0.1:%s" % dns_env["DNS_RESOLVER_PORT"], port=53)
    assert [label for label, _ip, _port in found] == ["ns1.lab.example.(127.0.0.1):53"]  # ns2 shares the address


def _resolver_answer(dns_env, name):
    query = dns.message.make_query(name, "A")
    response = dns.query.udp(query, "127.0.0.1", port=int(dns_env["DNS_RESOLVER_PORT"]), timeout=2)
    rrset = response.find_rrset(response.answer, dns.name.from_text(name), dns.rdataclass.IN, dns.rdatatype.A)
    return rrset.ttl


def test_unbound_cache_expires_at_the_computed_moment(dns_env, make_provider, nameservers, tmp_path):
    """Cache api A with TTL 20 in unbound, lower it to 5: unbound keeps serving the old entry
    (counting down) until just before the computed moment, and the new TTL right after it."""
    name, key = "api.lab.example.", [("api.lab.example.", "A")]
    provider = make_provider("powerdns")
    provider.set_ttls(ZONE, [(provider.get(ZONE, key)[key[0]], 20)])  # a short "original" TTL for the test
    propagation.wait_converged(nameservers, ZONE, _expect(key, 20), timeout=10, interval=0.1)
    subprocess.run(dns_env["DNS_UNBOUND_CONTROL"].split() + ["flush", name], check=True, capture_output=True)
    assert _resolver_answer(dns_env, name) == 20  # cached now, for 20 s
    cached_until = time.time() + 20
    rows = ttl_change.lower(provider, ZONE, key, 5, ttl_change.TTLState(str(tmp_path), "cache", ZONE, "powerdns"))
    assert rows[0]["old_ttl"] == 20
    results = propagation.wait_converged(nameservers, ZONE, _expect(key, 5), timeout=10, interval=0.1)
    moment, _why = propagation.expiry_moment(results, rows[0]["old_ttl"])
    # The computed moment is never before the cached entry expires. (It comes later by as long as the
    # lowering took to converge, a few seconds on a loaded machine, so "shortly before" is measured
    # against the cache's own expiry.)
    assert moment >= cached_until + 0.5, (moment, cached_until)
    time.sleep(max(0.0, cached_until - time.time() - 2.5))
    before = _resolver_answer(dns_env, name)
    assert 0 < before < 5, "shortly before the entry expires unbound still serves it, counting down"
    time.sleep(max(0.0, moment - time.time() + 0.3))
    after = _resolver_answer(dns_env, name)
    assert after in (4, 5), "after the moment unbound has fetched the lowered TTL"
