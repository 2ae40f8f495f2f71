"""Connection validation and the retrying client against a real local HTTP server."""
import json
import threading
import time

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.linode import api

try:
    from http.server import BaseHTTPRequestHandler, HTTPServer
except ImportError:  # pragma: no cover
    pass


@pytest.mark.parametrize("value,expected", [("3", 3.0), ("0.5", 0.5), (None, None), ("soon", None)])
def test_parse_retry_after(value, expected):
    assert api.parse_retry_after(value) == expected


def test_parse_retry_after_http_date():
    assert api.parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", now=4.0) == pytest.approx(6.0)


@pytest.mark.parametrize("params,match", [
    ({"api_token": None, "cluster_id": 1}, "no Linode API token"),
    ({"api_token": "t", "cluster_id": "abc"}, "cluster_id 'abc' is not an LKE cluster id"),
    ({"api_token": "t", "cluster_id": 0}, "is not an LKE cluster id"),
    ({"api_token": "t", "cluster_id": 1, "api_url": "ftp://x"}, "not an http"),
])
def test_params_errors(params, match):
    with pytest.raises(api.LinodeError, match=match):
        api.lke_from_params(params)


def test_instance_id_of():
    assert api.instance_id_of({"spec": {"providerID": "linode://81000007"}}) == 81000007
    assert api.instance_id_of({"spec": {"providerID": "kwok://x"}}) is None
    assert api.instance_id_of({}) is None


class Script(object):
    """Responses the server gives, in order; the last one repeats."""
    responses = []
    seen = []


@pytest.fixture
def api_url():
    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            Script.seen.append((self.command, self.path, time.time()))
            status, headers, body = Script.responses.pop(0) if len(Script.responses) > 1 else Script.responses[0]
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        do_GET = do_PUT = do_POST = do_DELETE = _answer  # noqa: N815

        def log_message(self, *args):
            pass
    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    Script.seen = []
    yield "http://127.0.0.1:%d/v4" % httpd.server_address[1]
    httpd.shutdown()


CLUSTER = {"id": 5, "k8s_version": "1.34", "status": "ready"}


def test_retries_429_honouring_retry_after_then_succeeds(api_url):
    Script.responses = [(429, {"Retry-After": "1"}, {"errors": [{"reason": "slow down"}]}),
                        (503, {}, {"errors": [{"reason": "busy"}]}), (200, {}, CLUSTER)]
    lke = api.lke_from_params({"api_token": "t", "api_url": api_url, "cluster_id": 5, "api_timeout": 20})
    assert lke.cluster()["k8s_version"] == "1.34"
    assert len(Script.seen) == 3
    assert Script.seen[1][2] - Script.seen[0][2] >= 0.9  # waited the Retry-After second
    assert lke.client.retries == 2


def test_gives_up_at_deadline_with_clear_error(api_url):
    Script.responses = [(500, {}, {"errors": [{"reason": "boom"}]})]
    lke = api.lke_from_params({"api_token": "t", "api_url": api_url, "cluster_id": 5, "api_timeout": 2})
    started = time.time()
    with pytest.raises(api.LinodeError, match="HTTP 500: boom"):
        lke.cluster()
    assert time.time() - started < 4


def test_permanent_errors_are_not_retried(api_url):
    Script.responses = [(401, {}, {"errors": [{"reason": "Invalid Token"}]})]
    lke = api.lke_from_params({"api_token": "bad", "api_url": api_url, "cluster_id": 5, "api_timeout": 20})
    with pytest.raises(api.LinodeError, match="refused the token"):
        lke.cluster()
    assert len(Script.seen) == 1
    Script.responses = [(404, {}, {"errors": [{"reason": "Not found"}]})]
    with pytest.raises(api.LinodeError, match="cluster id 5 does not exist"):
        lke.cluster()


def test_connection_refused_retried_until_deadline():
    lke = api.lke_from_params({"api_token": "t", "api_url": "http://127.0.0.1:9/v4", "cluster_id": 5, "api_timeout": 1.5})
    started = time.time()
    with pytest.raises(api.LinodeError, match="did not answer before the deadline"):
        lke.cluster()
    assert 1.0 <= time.time() - started < 4
