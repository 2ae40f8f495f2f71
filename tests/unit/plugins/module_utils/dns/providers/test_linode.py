"""dns/providers/linode.py: TTL snapping, record matching, the requests it makes and how it puts
back what it changed when a later request fails; the Linode client (the boundary) is a fake."""

import pytest

from linode_api4.errors import ApiError

from ansible_collections.fournines.runbooks.plugins.module_utils.dns.providers.linode import (
    LINODE_TTLS,
    LinodeProvider,
    snap_linode_ttl,
)
from ansible_collections.fournines.runbooks.plugins.module_utils.dns.ttl_change import DNSError

ZONE = "lab.example."


@pytest.mark.parametrize("ttl,stored", [(30, 30), (60, 120), (120, 120), (301, 3600), (5, 30), (10 ** 8, 2419200)])
def test_snap_linode_ttl(ttl, stored):
    got, note = snap_linode_ttl(ttl)
    assert got == stored
    assert (note is None) == (ttl in LINODE_TTLS)
    if note:
        assert "%d is stored as %d" % (ttl, stored) in note and "30, 120, 300" in note


def test_the_provider_snaps_like_the_function():
    assert LinodeProvider("token", "http://127.0.0.1:1/v4").snap_ttl(60) == snap_linode_ttl(60)


@pytest.mark.parametrize("token, url, message", [
    (None, None, "no Linode API token: set api_token or the LINODE_TOKEN environment variable"),
    ("t", "ftp://api.example/v4", "api_url 'ftp://api.example/v4' is not an http\\(s\\) URL; the default is "
                                  "https://api.linode.com/v4"),
])
def test_constructor_names_the_bad_input(token, url, message):
    with pytest.raises(DNSError, match=message):
        LinodeProvider(token, url)


class FakeClient(object):
    """linode_api4's client as the provider calls it: get/put on paths, paged answers."""

    base_url = "http://127.0.0.1:1/v4"

    def __init__(self, domains, records, per_page=100):
        self.domains = domains
        self.records = records  # domain id -> list of records
        self.per_page = per_page
        self.calls = []
        self.fail_put = {}      # record id -> ApiError / Exception, raised on its first put

    def _page(self, items, path):
        page = int(path.rsplit("page=", 1)[1])
        pages = max(1, -(-len(items) // self.per_page))
        return {"data": [dict(i) for i in items[(page - 1) * self.per_page:page * self.per_page]], "page": page,
                "pages": pages}

    def get(self, path):
        self.calls.append(("get", path))
        if path.startswith("/domains?"):
            return self._page(self.domains, path)
        domain_id = int(path.split("/")[2])
        return self._page(self.records[domain_id], path)

    def put(self, path, data=None):
        self.calls.append(("put", path, data))
        record_id = int(path.rsplit("/", 1)[1])
        err = self.fail_put.pop(record_id, None)
        if err is not None:
            raise err
        for records in self.records.values():
            for record in records:
                if record["id"] == record_id:
                    record["ttl_sec"] = data["ttl_sec"]
                    return dict(record)
        raise AssertionError(path)

    def puts(self):
        return [(c[1], c[2]["ttl_sec"]) for c in self.calls if c[0] == "put"]


def provider(client):
    prov = LinodeProvider("token", client.base_url)
    prov.client = client
    return prov


def world(per_page=100):
    domains = [{"id": 1, "domain": "other.example", "ttl_sec": 300},
               {"id": 7, "domain": "lab.example", "ttl_sec": 7200}]
    records = {7: [{"id": 71, "name": "www", "type": "A", "target": "192.0.2.1", "ttl_sec": 3600},
                   {"id": 72, "name": "www", "type": "A", "target": "192.0.2.2", "ttl_sec": 300},
                   {"id": 73, "name": "api", "type": "CNAME", "target": "www.lab.example", "ttl_sec": 0},
                   {"id": 74, "name": "", "type": "MX", "target": "mail.lab.example", "ttl_sec": 120}]}
    return FakeClient(domains, records, per_page)


def test_get_joins_the_records_of_an_rrset_and_reports_the_ttl_resolvers_get():
    client = world()
    found = provider(client).get(ZONE, [("www.lab.example.", "A"), ("api.lab.example.", "CNAME"),
                                        ("lab.example.", "MX")])
    www = found[("www.lab.example.", "A")]
    assert www.ttl == 3600 and www.values == ["192.0.2.1", "192.0.2.2"]  # the larger TTL is what may be cached
    assert found[("api.lab.example.", "CNAME")].ttl == 7200  # 0 = the domain's default
    assert found[("lab.example.", "MX")].values == ["mail.lab.example"]  # the apex is name ""


def test_get_walks_every_page():
    client = world(per_page=1)
    found = provider(client).get(ZONE, [("lab.example.", "MX")])
    assert found[("lab.example.", "MX")].ttl == 120
    assert ("get", "/domains?page=2") in client.calls and ("get", "/domains/7/records?page=4") in client.calls


def test_get_names_every_missing_record_and_changes_nothing():
    client = world()
    with pytest.raises(DNSError, match="Linode domain lab.example has no such record in zone lab.example.: "
                                       "nope.lab.example. A, www.lab.example. AAAA; nothing was changed"):
        provider(client).get(ZONE, [("nope.lab.example.", "A"), ("www.lab.example.", "A"),
                                    ("www.lab.example.", "AAAA")])
    assert client.puts() == []


def test_an_unknown_domain_is_named():
    with pytest.raises(DNSError, match="has no domain missing.example; give a domain listed by GET /domains"):
        provider(world()).check_zone("missing.example.")


def test_set_ttls_puts_each_record_of_each_rrset():
    client = world()
    prov = provider(client)
    found = prov.get(ZONE, [("www.lab.example.", "A"), ("api.lab.example.", "CNAME")])
    prov.set_ttls(ZONE, [(found[("www.lab.example.", "A")], 30), (found[("api.lab.example.", "CNAME")], 120)])
    assert client.puts() == [("/domains/7/records/71", 30), ("/domains/7/records/72", 30),
                             ("/domains/7/records/73", 120)]


def test_a_failed_put_puts_back_the_records_already_changed_in_reverse():
    client = world()
    prov = provider(client)
    found = prov.get(ZONE, [("www.lab.example.", "A"), ("api.lab.example.", "CNAME")])
    client.fail_put[73] = ApiError("bad", status=400, json={"errors": [{"reason": "ttl_sec invalid"}]})
    with pytest.raises(DNSError) as info:
        prov.set_ttls(ZONE, [(found[("www.lab.example.", "A")], 30), (found[("api.lab.example.", "CNAME")], 120)])
    assert "Linode API PUT /domains/7/records/73 failed: HTTP 400" in str(info.value)
    assert str(info.value).endswith("the 2 record(s) already changed were put back")
    assert client.puts()[-2:] == [("/domains/7/records/72", 300), ("/domains/7/records/71", 3600)]
    assert [r["ttl_sec"] for r in client.records[7][:2]] == [3600, 300]


def test_a_record_stored_with_another_ttl_is_an_error_and_is_put_back():
    client = world()
    prov = provider(client)
    found = prov.get(ZONE, [("api.lab.example.", "CNAME")])
    real_put = client.put
    client.put = lambda path, data=None: dict(real_put(path, data), ttl_sec=300) if data["ttl_sec"] == 60 else \
        real_put(path, data)
    with pytest.raises(DNSError, match="Linode stored ttl_sec 300 for api.lab.example. CNAME instead of 60"):
        prov.set_ttls(ZONE, [(found[("api.lab.example.", "CNAME")], 60)])


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_says_so_and_that_nothing_changed(status):
    client = world()
    client.get = lambda path: (_ for _ in ()).throw(ApiError("no", status=status))
    with pytest.raises(DNSError, match="refused the token \\(HTTP %d\\); give a valid api_token \\(or LINODE_TOKEN\\) "
                                       "with Domains read/write; nothing was changed" % status):
        provider(client).check_zone(ZONE)


def test_a_connection_error_that_outlived_the_deadline_is_named():
    client = world()
    client.get = lambda path: (_ for _ in ()).throw(ConnectionError("refused"))
    with pytest.raises(DNSError, match="Linode API GET /domains\\?page=1 did not answer before the deadline: refused"):
        provider(client).check_zone(ZONE)
