"""dns/providers/powerdns.py: the URLs and bodies it sends to the PowerDNS HTTP API, how it reads
the zone, and its error texts; the HTTP layer (``open_url``, the boundary) is a fake server."""

import io
import json

import pytest

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError

from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers import powerdns
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.ttl_change import DNSError

ZONE = "lab.example."
BASE = "http://127.0.0.1:8081/api/v1/servers/localhost"


class Answer(object):
    def __init__(self, code, body):
        self.code, self.body = code, body

    def getcode(self):
        return self.code

    def read(self):
        return self.body


class FakePDNS(object):
    """Answers open_url like pdns_server's webserver; ``replies`` overrides (method, path) answers."""

    def __init__(self):
        self.requests = []
        self.replies = {}
        self.zone = {"name": ZONE, "rrsets": [
            {"name": "www.lab.example.", "type": "A", "ttl": 3600,
             "records": [{"content": "192.0.2.2", "disabled": False}, {"content": "192.0.2.1", "disabled": False}]},
            {"name": "old.lab.example.", "type": "A", "ttl": 60, "records": [{"content": "192.0.2.9", "disabled": True}]},
            {"name": "API.lab.example.", "type": "CNAME", "ttl": 300,
             "records": [{"content": "www.lab.example.", "disabled": False}]},
        ]}

    def __call__(self, url, method=None, data=None, headers=None, timeout=None, validate_certs=True):
        self.requests.append({"url": url, "method": method, "body": json.loads(data) if data else None,
                              "headers": dict(headers or {}), "validate_certs": validate_certs})
        path = url[len(BASE):] if url.startswith(BASE) else url
        reply = self.replies.get((method, path))
        if isinstance(reply, list):
            reply = reply.pop(0) if len(reply) > 1 else reply[0]
        if isinstance(reply, Exception):
            raise reply
        if reply is not None:
            code, body = reply
            if code >= 400:
                raise HTTPError(url, code, "error", {}, io.BytesIO(json.dumps(body).encode()))
            return Answer(code, json.dumps(body).encode() if body is not None else b"")
        if method == "GET" and path == "/zones/lab.example.":
            return Answer(200, json.dumps(self.zone).encode())
        if method in ("PATCH", "PUT"):
            return Answer(204 if method == "PATCH" else 200, b"")
        raise HTTPError(url, 404, "Not Found", {}, io.BytesIO(b'{"error": "Not Found"}'))


@pytest.fixture
def server(monkeypatch):
    fake = FakePDNS()
    monkeypatch.setattr(powerdns, "open_url", fake)
    return fake


def provider(**kwargs):
    return powerdns.PowerDNSProvider("http://127.0.0.1:8081", "lab-key", **kwargs)


@pytest.mark.parametrize("url, server_id, base", [
    ("http://127.0.0.1:8081", None, BASE),
    ("http://127.0.0.1:8081/", "localhost", BASE),
    ("https://pdns.example/api/v1", "primary one", "https://pdns.example/api/v1/servers/primary%20one"),
])
def test_the_base_url(url, server_id, base):
    assert powerdns.PowerDNSProvider(url, "k", server_id).base == base


@pytest.mark.parametrize("url, key, message", [
    (None, "k", "powerdns.api_url None is not an http\\(s\\) URL such as http://127.0.0.1:8081"),
    ("127.0.0.1:8081", "k", "powerdns.api_url '127.0.0.1:8081' is not an http\\(s\\) URL"),
    ("http://127.0.0.1:8081", "", "powerdns.api_key is required"),
])
def test_constructor_names_the_bad_input(url, key, message):
    with pytest.raises(DNSError, match=message):
        powerdns.PowerDNSProvider(url, key)


def test_get_reads_the_zone_once_with_the_api_key(server):
    prov = provider(validate_certs=False)
    found = prov.get(ZONE, [("www.lab.example.", "A"), ("api.lab.example.", "CNAME")])
    assert found[("www.lab.example.", "A")].ttl == 3600
    assert found[("www.lab.example.", "A")].values == ["192.0.2.1", "192.0.2.2"]
    assert found[("api.lab.example.", "CNAME")].values == ["www.lab.example."]  # names compared lower-case
    prov.get(ZONE, [("www.lab.example.", "A")])
    assert [(r["method"], r["url"]) for r in server.requests] == [("GET", BASE + "/zones/lab.example.")]
    assert server.requests[0]["headers"]["X-API-Key"] == "lab-key"
    assert server.requests[0]["validate_certs"] is False


def test_get_treats_an_rrset_of_disabled_records_as_missing(server):
    with pytest.raises(DNSError, match="PowerDNS at %s has no such record in zone lab.example.: old.lab.example. A, "
                                       "new.lab.example. A; nothing was changed" % BASE):
        provider().get(ZONE, [("old.lab.example.", "A"), ("new.lab.example.", "A"), ("www.lab.example.", "A")])


def test_set_ttls_is_one_patch_of_replace_rrsets_then_a_notify(server):
    prov = provider()
    found = prov.get(ZONE, [("www.lab.example.", "A"), ("api.lab.example.", "CNAME")])
    prov.set_ttls(ZONE, [(found[("www.lab.example.", "A")], 60), (found[("api.lab.example.", "CNAME")], 30)])
    patch, notify = server.requests[1:]
    assert (patch["method"], patch["url"]) == ("PATCH", BASE + "/zones/lab.example.")
    assert patch["headers"]["Content-Type"] == "application/json"
    assert patch["body"] == {"rrsets": [
        {"name": "www.lab.example.", "type": "A", "ttl": 60, "changetype": "REPLACE",
         "records": server.zone["rrsets"][0]["records"]},
        {"name": "API.lab.example.", "type": "CNAME", "ttl": 30, "changetype": "REPLACE",  # the zone's own spelling
         "records": server.zone["rrsets"][2]["records"]}]}
    assert (notify["method"], notify["url"]) == ("PUT", BASE + "/zones/lab.example./notify")
    prov.get(ZONE, [("www.lab.example.", "A")])
    assert server.requests[-1]["method"] == "GET"  # the cached zone was dropped after the change


def test_a_rejected_patch_says_nothing_was_changed_and_sends_no_notify(server):
    prov = provider()
    found = prov.get(ZONE, [("www.lab.example.", "A")])
    server.replies[("PATCH", "/zones/lab.example.")] = (422, {"error": "RRset www.lab.example. IN A: bad TTL"})
    with pytest.raises(DNSError, match="PowerDNS rejected the TTL change of 1 RRset\\(s\\) in lab.example. "
                                       "\\(HTTP 422: RRset www.lab.example. IN A: bad TTL\\); nothing was changed"):
        prov.set_ttls(ZONE, [(found[("www.lab.example.", "A")], 60)])
    assert [r["method"] for r in server.requests] == ["GET", "PATCH"]


def test_a_refused_notify_is_fine(server):
    prov = provider()
    found = prov.get(ZONE, [("www.lab.example.", "A")])
    server.replies[("PUT", "/zones/lab.example./notify")] = (422, {"error": "Domain is not primary"})
    prov.set_ttls(ZONE, [(found[("www.lab.example.", "A")], 60)])


@pytest.mark.parametrize("code", [404, 422])
def test_a_zone_it_does_not_host_is_named(server, code):
    server.replies[("GET", "/zones/lab.example.")] = (code, {"error": "Could not find domain 'lab.example.'"})
    with pytest.raises(DNSError, match="PowerDNS at %s does not host zone lab.example. \\(HTTP %d: Could not find "
                                       "domain 'lab.example.'\\); give a zone it serves" % (BASE, code)):
        provider().check_zone(ZONE)


@pytest.mark.parametrize("code", [401, 403])
def test_a_refused_key_says_so(server, code):
    server.replies[("GET", "/zones/lab.example.")] = (code, {"error": "Unauthorized"})
    with pytest.raises(DNSError, match="refused the API key \\(HTTP %d\\); give the webserver's api-key in "
                                       "powerdns.api_key; nothing was changed" % code):
        provider().check_zone(ZONE)


def test_transient_answers_are_retried(server, monkeypatch):
    server.replies[("GET", "/zones/lab.example.")] = [(503, {"error": "busy"}), URLError("refused"), (200, server.zone)]
    prov = provider()
    prov.check_zone(ZONE)
    assert len(server.requests) == 3


def test_transient_answers_until_the_deadline_are_named(server):
    server.replies[("GET", "/zones/lab.example.")] = [(503, {"error": "backend down"})]
    with pytest.raises(DNSError, match="PowerDNS API GET %s/zones/lab.example. did not succeed within 0 s: HTTP 503: "
                                       "backend down" % BASE):
        provider(deadline=0.3).check_zone(ZONE)


@pytest.mark.parametrize("payload, text", [
    (b'{"error": "Bad TTL"}', "Bad TTL"), (b"<html>oops</html>", "<html>oops</html>"), (b"", ""),
    (b'{"other": 1}', '{"other": 1}'),
])
def test_error_text(payload, text):
    assert powerdns._error_text(payload) == text
