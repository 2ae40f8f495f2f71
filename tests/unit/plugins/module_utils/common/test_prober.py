"""The prober against a real local HTTP server (started by the test, on an ephemeral port)."""
import json
import os
import threading
import time

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.common import prober

try:
    from http.server import BaseHTTPRequestHandler, HTTPServer
except ImportError:  # pragma: no cover
    pass


class Switch(object):
    status = 200


@pytest.fixture
def server():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            code = Switch.status if self.headers.get("Host") == "app.test" else 404
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"x")

        def log_message(self, *args):
            pass
    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/" % httpd.server_address[1]
    httpd.shutdown()


def test_normalize_targets_errors():
    with pytest.raises(prober.ProberError, match="needs a 'url'"):
        prober.normalize_targets([{"host": "x"}])
    with pytest.raises(prober.ProberError, match="no probe targets"):
        prober.normalize_targets([])
    with pytest.raises(prober.ProberError, match="unique"):
        prober.normalize_targets(["http://a/", "http://a/"])


def test_downtime_intervals_merge_failed_rounds():
    samples = [{"ts": t, "ok": {"a": ok}} for t, ok in [(0, True), (1, False), (2, False), (3, True), (4, False)]]
    assert prober.downtime_intervals(samples, "a", 1.0) == [
        {"start": 1, "end": 3, "seconds": 2}, {"start": 4, "end": 5.0, "seconds": 1.0}]


def test_gap_in_samples_is_not_downtime():
    samples = [{"ts": t, "ok": {"a": ok}} for t, ok in [(0, True), (1, False), (100, False), (101, True)]]
    assert prober.downtime_intervals(samples, "a", 1.0) == [
        {"start": 1, "end": 2, "seconds": 1}, {"start": 100, "end": 101, "seconds": 1}]


def test_start_records_failures_and_stop_summarises(server, tmp_path):
    directory = str(tmp_path / "probe")
    Switch.status = 200
    handle = prober.start(directory, [{"name": "app", "url": server, "host": "app.test"}], interval=0.2)
    try:
        assert handle["pid"] > 0 and not handle["already_running"]
        again = prober.start(directory, [{"name": "app", "url": server, "host": "app.test"}], interval=0.2)
        assert again["already_running"] and again["pid"] == handle["pid"]
        time.sleep(0.7)
        Switch.status = 503
        time.sleep(0.7)
        Switch.status = 200
        time.sleep(0.7)
    finally:
        out = prober.stop(directory)
    assert out["was_running"] and not out["running"]
    app = out["targets"]["app"]
    assert app["requests"] >= 8
    assert 2 <= app["failed_requests"] <= 5
    assert len(app["downtime_intervals"]) == 1
    with open(os.path.join(directory, prober.FAILURES)) as handle_file:
        lines = [json.loads(line) for line in handle_file]
    assert len(lines) == app["failed_requests"] and all(line["status"] == 503 for line in lines)
    assert out["last_ok"]


def test_wrong_host_header_fails(server, tmp_path):
    directory = str(tmp_path / "p2")
    prober.start(directory, [{"name": "x", "url": server, "host": "other.test"}], interval=0.2)
    time.sleep(0.5)
    out = prober.stop(directory)
    assert out["failed_requests"] == out["requests"] > 0


def test_stop_without_handle(tmp_path):
    with pytest.raises(prober.ProberError, match="no prober handle"):
        prober.stop(str(tmp_path))


def test_a_prober_nobody_stops_ends_at_its_deadline(server, tmp_path):
    """A run killed and never carried on must not leave its prober running for ever."""
    directory = str(tmp_path / "probe")
    handle = prober.start(directory, [{"name": "app", "url": server, "host": "app.test"}], interval=0.2,
                          max_seconds=1)
    assert prober.is_running(handle)
    deadline = time.time() + 10
    while time.time() < deadline and prober.is_running(handle):
        time.sleep(0.1)
    assert not prober.is_running(handle)
    assert os.path.exists(os.path.join(directory, prober.STOPPED))
    assert 2 <= prober.summary(directory)["requests"] <= 8  # it did probe, for about a second


def test_max_seconds_must_be_positive(tmp_path):
    with pytest.raises(prober.ProberError, match="max_seconds 0 is not valid"):
        prober.start(str(tmp_path), [{"name": "app", "url": "http://127.0.0.1:9/"}], max_seconds=0)
