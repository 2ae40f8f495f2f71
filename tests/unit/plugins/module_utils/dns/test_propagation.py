"""Unit tests for dns/propagation.py: nameserver parsing, the convergence poll and the TTL wait.

The convergence tests ask a small authoritative nameserver served by the test itself on 127.0.0.1
(real UDP, real DNS messages built with dnspython); the lab's PowerDNS/BIND/unbound are exercised
by tests/integration/dns.
"""

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.dns import propagation
from ansible_collections.fournines.runbooks.plugins.module_utils.dns import ttl_change

ZONE = "lab.example."


class Nameserver(object):
    """Answers from ``records`` {(name, type): (ttl, [values])}; ``authoritative`` sets the AA flag."""

    def __init__(self, records, serial=1, authoritative=True, after_answer=None):
        self.records, self.serial, self.authoritative = dict(records), serial, authoritative
        self.after_answer = after_answer  # called with (server, name, type) once each answer is sent
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            query = dns.message.from_wire(wire)
            response = dns.message.make_response(query)
            if self.authoritative:
                response.flags |= dns.flags.AA
            question = query.question[0]
            name, rtype = question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype)
            if (name, rtype) == (ZONE, "SOA"):
                response.answer.append(dns.rrset.from_text(
                    ZONE, 3600, "IN", "SOA", "ns1.%s hostmaster.%s %d 60 60 600 60" % (ZONE, ZONE, self.serial)))
            elif (name, rtype) in self.records:
                ttl, values = self.records[(name, rtype)]
                response.answer.append(dns.rrset.from_text_list(name, ttl, "IN", rtype, values))
            else:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(response.to_wire(), peer)
            if self.after_answer:
                self.after_answer(self, name, rtype)

    def close(self):
        self.sock.close()

    @property
    def entry(self):
        return ("127.0.0.1:%d" % self.port, "127.0.0.1", self.port)


@pytest.fixture
def servers():
    started = []

    def start(*args, **kwargs):
        server = Nameserver(*args, **kwargs)
        started.append(server)
        return server
    yield start
    for server in started:
        server.close()


APP = ("app.lab.example.", "A")


def expect(ttl=60, values=None):
    return propagation.normalize_expectations([{"name": "app", "type": "A", "ttl": ttl, "values": values}], ZONE)


@pytest.mark.parametrize("text,expected", [
    ("127.0.0.1", ("127.0.0.1:53", "127.0.0.1", 53)),
    ("127.0.0.1:15353", ("127.0.0.1:15353", "127.0.0.1", 15353)),
    ("127.0.0.1@15354", ("127.0.0.1:15354", "127.0.0.1", 15354)),
    ("[::1]:5353", ("[::1]:5353", "::1", 5353)),
    ("::1", ("[::1]:53", "::1", 53)),
])
def test_parse_nameserver(text, expected):
    assert propagation.parse_nameserver(text) == expected


@pytest.mark.parametrize("text", ["", "a:b:c@", "127.0.0.1:0", "127.0.0.1:70000", "host with space"])
def test_parse_nameserver_rejects(text):
    with pytest.raises(ttl_change.DNSError):
        propagation.parse_nameserver(text)


def test_expiry_moment_takes_the_later_of_convergence_and_publish_lag():
    results = [{"converged_at": "2026-01-01T00:00:10Z"}, {"converged_at": "2026-01-01T00:00:12Z"}]
    base = propagation.epoch("2026-01-01T00:00:12Z")
    moment, why = propagation.expiry_moment(results, 60, 0, changed_at="2026-01-01T00:00:00Z")
    assert moment == base + 60 + 1 and "converged" in why and "whole-second" in why  # 1 s: resolvers' clocks
    moment, why = propagation.expiry_moment(results, 60, 900, changed_at="2026-01-01T00:00:00Z")
    assert moment == propagation.epoch("2026-01-01T00:15:00Z") + 60 + 1 and "publish lag" in why


def test_normalize_expectations_canonicalises_names():
    exp = propagation.normalize_expectations([{"name": "www", "type": "CNAME", "values": ["app"], "ttl": "60"}],
                                      "lab.example")
    assert exp == [{"name": "www.lab.example.", "type": "CNAME", "ttl": 60, "values": ["app.lab.example."]}]
    with pytest.raises(ttl_change.DNSError, match="negative"):
        propagation.normalize_expectations([{"name": "www", "ttl": -5}], "lab.example")


def test_wait_out_ttl_sleeps_to_the_moment_with_bounded_progress():
    now = [1000.0]
    lines = []

    def sleep(seconds):
        now[0] += seconds

    propagation.wait_out_ttl(1000.0 + 3600, lines.append, clock=lambda: now[0], sleep=sleep)
    assert now[0] == 1000.0 + 3600
    assert 25 <= len(lines) <= 32 and lines[-1] == "old TTL expired everywhere"
    lines[:] = []
    propagation.wait_out_ttl(now[0] - 5, lines.append, clock=lambda: now[0], sleep=sleep)
    assert lines == ["old TTL expired everywhere"]


def test_query_reads_ttl_values_and_the_aa_flag(servers):
    server = servers({APP: (60, ["127.0.0.11", "127.0.0.10"])}, serial=7)
    answer = propagation.query("127.0.0.1", server.port, APP[0], "A", 2.0)
    assert answer == {"rcode": "NOERROR", "aa": True, "ttl": 60, "values": ["127.0.0.10", "127.0.0.11"]}
    assert propagation.query("127.0.0.1", server.port, ZONE, "SOA", 2.0)["serial"] == 7


def test_query_of_a_silent_port_is_an_error_not_an_exception():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))  # bound, never answers
    try:
        answer = propagation.query("127.0.0.1", sock.getsockname()[1], APP[0], "A", 0.3)
    finally:
        sock.close()
    assert answer == {"error": "no answer (timed out after 0.3 s)"}


@pytest.mark.parametrize("records,authoritative,reason", [
    ({APP: (3600, ["127.0.0.10"])}, True, "ttl 3600, want 60"),
    ({}, True, "no such RRset (rcode NXDOMAIN)"),
    ({APP: (60, ["127.0.0.10"])}, False, "not authoritative for lab.example."),
])
def test_check_nameserver_names_what_is_still_wrong(servers, records, authoritative, reason):
    server = servers(records, authoritative=authoritative)
    ok, _serial, _answers, why = propagation.check_nameserver("127.0.0.1", server.port, ZONE, expect(), 2.0)
    assert not ok and reason in why


def test_check_nameserver_compares_values_when_given(servers):
    server = servers({APP: (60, ["127.0.0.10"])})
    assert propagation.check_nameserver("127.0.0.1", server.port, ZONE, expect(values=["127.0.0.10"]), 2.0)[0]
    ok, _serial, _answers, why = propagation.check_nameserver("127.0.0.1", server.port, ZONE,
                                                              expect(values=["127.0.0.99"]), 2.0)
    assert not ok and "want ['127.0.0.99']" in why


def test_wait_converged_waits_for_every_nameserver_and_the_same_serial(servers):
    first = servers({APP: (60, ["127.0.0.10"])}, serial=2)
    second = servers({APP: (3600, ["127.0.0.10"])}, serial=1)
    rounds, lines = [], []

    def sleep(_seconds):  # the secondary gets its transfer after two rounds, then its serial catches up
        rounds.append(1)
        if len(rounds) == 2:
            second.records[APP] = (60, ["127.0.0.10"])
        if len(rounds) == 3:
            second.serial = 2
    results = propagation.wait_converged([first.entry, second.entry], ZONE, expect(), timeout=30,
                                         progress=lines.append, sleep=sleep)
    assert [r["converged"] for r in results] == [True, True] and [r["serial"] for r in results] == [2, 2]
    assert any("serials differ (1, 2)" in line for line in lines)
    assert any("ttl 3600, want 60" in line for line in lines)


def test_wait_converged_names_each_late_nameserver_at_the_deadline(servers):
    late = servers({APP: (3600, ["127.0.0.10"])})
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds
    try:
        with pytest.raises(ttl_change.DNSError) as caught:
            propagation.wait_converged([late.entry, ("quiet", "127.0.0.1", silent.getsockname()[1])], ZONE, expect(),
                                       timeout=1, interval=0.5, query_timeout=0.2, progress=lambda text: None,
                                       clock=lambda: now[0], sleep=sleep)
    finally:
        silent.close()
    message = str(caught.value)
    assert "2 of 2 nameservers of lab.example. have not converged" in message
    assert "still serves something else: app.lab.example. A: ttl 3600, want 60" in message
    assert "nameserver quiet did not answer (no answer (timed out" in message
    assert len(caught.value.details["results"]) == 2


def test_resumed_expiry_keeps_the_earlier_moment_of_the_first_attempt(tmp_path):
    from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import RunJournal
    journal = RunJournal(str(tmp_path), "run1", "dns-migration")
    assert propagation.resumed_expiry(journal, "verify", 2000.0, "now") == (2000.0, "now")
    journal.step("verify", "done", expires_at="2026-01-01T00:00:00Z")
    moment, why = propagation.resumed_expiry(journal, "verify", propagation.epoch("2026-01-01T01:00:00Z"), "now")
    assert moment == propagation.epoch("2026-01-01T00:00:00Z") and "earlier attempt" in why
    assert propagation.resumed_expiry(journal, "verify", 10.0, "now") == (10.0, "now")  # saved one is later



def test_a_transfer_landing_mid_round_is_not_taken_for_convergence(servers):
    soa_questions = []

    def transfer_after_first_soa(server, name, rtype):
        if rtype == "SOA":
            soa_questions.append(name)
            if len(soa_questions) == 1:  # the new zone arrives between the SOA and the record questions
                server.records[APP], server.serial = (60, ["127.0.0.10"]), 2
    secondary = servers({APP: (3600, ["127.0.0.10"])}, serial=1, after_answer=transfer_after_first_soa)
    ok, serial, _answers, why = propagation.check_nameserver("127.0.0.1", secondary.port, ZONE, expect(), 2.0)
    assert (ok, serial, why) == (False, 2, "zone changed while asked (serial 1, then 2)")
    assert propagation.check_nameserver("127.0.0.1", secondary.port, ZONE, expect(), 2.0)[:2] == (True, 2)


def test_a_torn_round_does_not_restart_the_wait_of_a_converged_primary(servers):
    primary = servers({APP: (60, ["127.0.0.10"])}, serial=2)
    soa_questions = []

    def transfer_after_first_soa(server, _name, rtype):
        if rtype == "SOA":
            soa_questions.append(1)
            if len(soa_questions) == 2:  # the second round's transfer lands mid-round
                server.records[APP], server.serial = (60, ["127.0.0.10"]), 2
    secondary = servers({APP: (3600, ["127.0.0.10"])}, serial=1, after_answer=transfer_after_first_soa)
    lines = []
    results = propagation.wait_converged([primary.entry, secondary.entry], ZONE, expect(), timeout=30,
                                         interval=0.01, progress=lines.append)
    assert [r["serial"] for r in results] == [2, 2]
    assert not any("serials differ" in line for line in lines), lines
    assert any("zone changed while asked (serial 1, then 2)" in line for line in lines), lines
    # the primary converged in the first round and kept it
    assert results[0]["converged_after"] < results[1]["converged_after"]
