"""dns/providers/rfc2136.py: the queries and the one UPDATE it builds (prerequisites, TTLs, TSIG),
how it reads answers, and what it says for each refusal; the nameserver (``dns.query.tcp``, the
boundary) is a fake that records each message and answers from a script."""

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.update
import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers import rfc2136
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.rfc2136 import tsig_error_text
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.ttl_change import DNSError

ZONE = "lab.example."
SECRET = "bGFiLW9ubHktdHNpZy1zZWNyZXQtMzItYnl0ZXMhIQ=="


class FakeNameserver(object):
    """Answers like an authoritative primary for lab.example. over TCP."""

    def __init__(self):
        self.sent = []
        self.rcode = {}        # message kind ("query" | "update") -> rcode to answer
        self.raise_ = []       # exceptions to raise, one per call, before answering
        self.records = {("www.lab.example.", "A"): (3600, ["192.0.2.1", "192.0.2.2"]),
                        ("lab.example.", "SOA"): (3600, ["ns1.lab.example. admin.lab.example. 7 3600 600 86400 60"])}
        self.authoritative = True
        self.tsig_on_answers = True

    def __call__(self, message, where, port=53, timeout=None):
        self.sent.append((message, where, port, timeout))
        if self.raise_:
            raise self.raise_.pop(0)
        response = dns.message.make_response(message)
        kind = "update" if isinstance(message, dns.update.UpdateMessage) else "query"
        response.set_rcode(self.rcode.get(kind, dns.rcode.NOERROR))
        if kind == "query" and response.rcode() == dns.rcode.NOERROR:
            question = message.question[0]
            key = (question.name.to_text(), dns.rdatatype.to_text(question.rdtype))
            if key in self.records:
                ttl, values = self.records[key]
                response.answer.append(dns.rrset.from_text_list(question.name, ttl, "IN", key[1], values))
            if self.authoritative:
                response.flags |= dns.flags.AA
        if not self.tsig_on_answers:  # an unsigned answer to a signed query (PowerDNS's bare NOTAUTH)
            response.tsig = None
            response.keyring = None
        return response


@pytest.fixture
def server(monkeypatch):
    fake = FakeNameserver()
    monkeypatch.setattr(rfc2136.dns.query, "tcp", fake)
    return fake


def provider(**kwargs):
    args = dict(server="127.0.0.1", port=15353, key_name="lab-key.", key_secret=SECRET)
    args.update(kwargs)
    return rfc2136.RFC2136Provider(**args)


# ---- options ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(server=None), "rfc2136 needs rfc2136.server: the primary nameserver that accepts updates"),
    (dict(key_algorithm="hmac-sha3"), "TSIG algorithm 'hmac-sha3' is not supported; use one of hmac-sha256, "
                                      "hmac-sha512"),
    (dict(key_secret=None), "give both rfc2136.tsig_key_name and rfc2136.tsig_key_secret, or neither"),
    (dict(key_name=None), "give both rfc2136.tsig_key_name and rfc2136.tsig_key_secret, or neither"),
    (dict(key_secret="not base64!"), "TSIG secret of key lab-key. is not valid base64"),
])
def test_bad_options_are_named(kwargs, message):
    with pytest.raises(DNSError, match=message):
        provider(**kwargs)


def test_an_address_is_kept_and_the_port_defaults_to_53():
    prov = rfc2136.RFC2136Provider("::1", port=None)
    assert (prov.server, prov.port, prov.keyring) == ("::1", 53, None)
    assert prov.where == "::1 port 53"


def test_a_name_is_resolved_to_an_address():
    assert rfc2136._address("localhost") in ("127.0.0.1", "::1")


# ---- queries ------------------------------------------------------------------------------------------

def test_check_zone_asks_for_the_soa_without_recursion_and_signed(server):
    provider().check_zone(ZONE)
    message, where, port, timeout = server.sent[0]
    assert (where, port) == ("127.0.0.1", 15353) and 0 < timeout <= 10.0
    assert message.question[0].rdtype == dns.rdatatype.SOA and not message.flags & dns.flags.RD
    assert message.keyname == dns.name.from_text("lab-key.")


def test_check_zone_refuses_a_server_that_is_not_authoritative(server):
    server.authoritative = False
    with pytest.raises(DNSError, match="127.0.0.1 port 15353 does not host zone lab.example. \\(no authoritative SOA "
                                       "for it\\); give a zone that server is primary for"):
        provider().check_zone(ZONE)


def test_get_reads_ttl_and_values(server):
    found = provider().get(ZONE, [("www.lab.example.", "A")])
    rrset = found[("www.lab.example.", "A")]
    assert rrset.ttl == 3600 and rrset.values == ["192.0.2.1", "192.0.2.2"]


def test_get_names_the_missing_records(server):
    with pytest.raises(DNSError, match="127.0.0.1 port 15353 \\(rfc2136\\) has no such record in zone lab.example.: "
                                       "app.lab.example. A; nothing was changed"):
        provider().get(ZONE, [("www.lab.example.", "A"), ("app.lab.example.", "A")])


def test_notauth_without_tsig_on_the_answer_blames_the_key(server):
    server.rcode["query"] = dns.rcode.NOTAUTH
    server.tsig_on_answers = False
    with pytest.raises(DNSError, match="refused the query for www.lab.example. A with NOTAUTH and no TSIG: it rejects "
                                       "TSIG key lab-key. \\(hmac-sha256\\)"):
        provider().get(ZONE, [("www.lab.example.", "A")])


def test_notauth_unsigned_is_not_authoritative(server):
    server.rcode["query"] = dns.rcode.NOTAUTH
    with pytest.raises(DNSError, match="is not authoritative for zone lab.example. \\(NOTAUTH\\); check the zone name"):
        provider(key_name=None, key_secret=None).get(ZONE, [("www.lab.example.", "A")])


# ---- the UPDATE ---------------------------------------------------------------------------------------

def read(prov, *keys):
    found = prov.get(ZONE, list(keys))
    return [found[k] for k in keys]


def test_set_ttls_is_one_signed_update_with_a_value_prerequisite_per_rrset(server):
    prov = provider()
    server.records[("api.lab.example.", "CNAME")] = (300, ["www.lab.example."])
    www, api = read(prov, ("www.lab.example.", "A"), ("api.lab.example.", "CNAME"))
    prov.set_ttls(ZONE, [(www, 60), (api, 30)])
    updates = [m for m, dummy, dummy2, dummy3 in server.sent if isinstance(m, dns.update.UpdateMessage)]
    assert len(updates) == 1
    update = updates[0]
    assert update.keyname == dns.name.from_text("lab-key.")
    assert update.zone[0].name == dns.name.from_text(ZONE)
    prereq = {}
    for rrset in update.prerequisite:
        assert rrset.ttl == 0  # RFC 2136: a value prerequisite carries TTL 0
        prereq.setdefault(rrset.name.to_text(), []).extend(r.to_text() for r in rrset)
    assert dict((k, sorted(v)) for k, v in prereq.items()) == {
        "www.lab.example.": ["192.0.2.1", "192.0.2.2"], "api.lab.example.": ["www.lab.example."]}
    deleted = sorted(r.name.to_text() for r in update.update if r.deleting is not None)
    added = {}
    for rrset in update.update:
        if rrset.deleting is None:
            added.setdefault((rrset.name.to_text(), rrset.ttl), []).extend(r.to_text() for r in rrset)
    assert deleted == ["api.lab.example.", "www.lab.example."]  # replace = delete the RRset, add it back
    assert dict((k, sorted(v)) for k, v in added.items()) == {
        ("www.lab.example.", 60): ["192.0.2.1", "192.0.2.2"], ("api.lab.example.", 30): ["www.lab.example."]}


def test_a_failed_prerequisite_says_a_record_changed_and_nothing_was_changed(server):
    prov = provider()
    www, = read(prov, ("www.lab.example.", "A"))
    server.rcode["update"] = dns.rcode.NXRRSET
    with pytest.raises(DNSError, match="rejected the UPDATE of 1 RRset\\(s\\): a record changed since it was read "
                                       "\\(prerequisite failed\\); nothing was changed, run again"):
        prov.set_ttls(ZONE, [(www, 60)])


@pytest.mark.parametrize("kwargs, key_text", [({}, "signed with TSIG key lab-key."),
                                              (dict(key_name=None, key_secret=None), "signed with no TSIG key")])
def test_a_refused_update_names_the_key_it_was_signed_with(server, kwargs, key_text):
    prov = provider(**kwargs)
    www, = read(prov, ("www.lab.example.", "A"))
    server.rcode["update"] = dns.rcode.REFUSED
    with pytest.raises(DNSError, match="REFUSED the UPDATE of 1 RRset\\(s\\) for zone lab.example. %s" % key_text):
        prov.set_ttls(ZONE, [(www, 60)])


def test_other_rcodes_are_named(server):
    prov = provider()
    www, = read(prov, ("www.lab.example.", "A"))
    server.rcode["update"] = dns.rcode.SERVFAIL
    with pytest.raises(DNSError, match="127.0.0.1 port 15353 answered SERVFAIL to the UPDATE of 1 RRset\\(s\\) "
                                       "for zone lab.example."):
        prov.set_ttls(ZONE, [(www, 60)])


# ---- failures on the wire -------------------------------------------------------------------------------

def test_a_timeout_is_retried(server):
    server.raise_ = [dns.exception.Timeout(), ConnectionRefusedError()]
    provider().check_zone(ZONE)
    assert len(server.sent) == 3


def test_a_server_that_never_answers_is_named(server):
    server.raise_ = [dns.exception.Timeout()] * 1000
    with pytest.raises(DNSError, match="nameserver 127.0.0.1 port 15353 did not answer the SOA query within 0 s "
                                       "\\(Timeout\\)"):
        provider(deadline=0.3).check_zone(ZONE)


@pytest.mark.parametrize("error, text", [
    (dns.tsig.PeerBadSignature, "BADSIG: the secret of TSIG key lab-key. is wrong"),
    (dns.tsig.PeerBadKey, "BADKEY: it does not know TSIG key lab-key. with algorithm hmac-sha256"),
    (dns.tsig.PeerBadTime, "BADTIME: the clocks of this host and the server differ too much"),
])
def test_tsig_errors_from_the_server_are_named_and_not_retried(server, error, text):
    server.raise_ = [error()]
    with pytest.raises(DNSError) as info:
        provider().check_zone(ZONE)
    assert text in str(info.value)
    assert str(info.value).endswith("for the SOA query at 127.0.0.1 port 15353; nothing was changed")
    assert len(server.sent) == 1


def test_tsig_error_text():
    assert "BADSIG" in tsig_error_text(dns.tsig.PeerBadSignature(), "k.", "hmac-sha256")
    assert "BADKEY" in tsig_error_text(dns.tsig.PeerBadKey(), "k.", "hmac-sha256")
    assert tsig_error_text(dns.tsig.BadSignature(), "k.", "hmac-sha256") == \
        "the server's TSIG signature on its answer does not verify with key k."
    assert tsig_error_text(ValueError(), "k.", "hmac-sha256") is None
