"""tls_certificate_scan as Ansible runs it (module file + JSON args), against an in-process TLS server."""

import datetime
import json
import os
import socket
import ssl
import subprocess
import sys
import threading

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
MODULE = os.path.join(REPO, "plugins", "modules", "tls_certificate_scan.py")
sys.path.insert(0, os.path.join(REPO, "lab", "tls"))
import gen_certs as G  # noqa: E402


def run_module(tmp_path, args):
    path = tmp_path / "args.json"
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, ".collections"))
    proc = subprocess.run([sys.executable, MODULE, str(path)], capture_output=True, text=True, env=env, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """A real TLS server on 127.0.0.1 serving a 10-day certificate for unit.example (lab CA style)."""
    base = tmp_path_factory.mktemp("pki")
    root_key, key = G._key(), G._key()
    root = G._ca("unit root", root_key, None, None, 1)
    leaf = G._leaf(["unit.example"], key, root, root_key, -80, 10)
    (base / "root.pem").write_bytes(G._pem(root))
    (base / "leaf.pem").write_bytes(G._pem(leaf))
    (base / "leaf.key").write_bytes(G._key_pem(key))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(base / "leaf.pem"), str(base / "leaf.key"))
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _addr = srv.accept()
            except OSError:
                return
            try:
                with ctx.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield {"port": srv.getsockname()[1], "ca": str(base / "root.pem")}
    stop.set()
    srv.close()


def test_scan_result(tmp_path, tls_server):
    result = run_module(tmp_path, {"endpoints": [{"host": "127.0.0.1", "port": tls_server["port"],
                                                  "server_name": "unit.example", "name": "unit"}],
                                   "ca_file": tls_server["ca"], "warn_days": 21, "fail_days": 7})
    ep = result["endpoints"][0]
    assert result["changed"] is False
    assert (ep["name"], ep["status"], ep["chain_valid"], ep["name_matches"]) == ("unit", "warning", True, True)
    assert 9 < ep["days_left"] < 11


def test_judged_at_a_later_time(tmp_path, tls_server):
    later = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = run_module(tmp_path, {"endpoints": [{"host": "127.0.0.1", "port": tls_server["port"],
                                                  "server_name": "unit.example"}],
                                   "ca_file": tls_server["ca"], "now": later})
    ep = result["endpoints"][0]
    assert ep["expired"] is True and ep["chain_problem"] == "expired" and ep["status"] == "critical"


@pytest.mark.parametrize("args, message", [
    ({"endpoints": [{"host": "a.example", "port": 0}]}, "port 0 is out of range"),
    ({"endpoints": [{"host": "a.example"}], "warn_days": 1, "fail_days": 2}, "warn_days (1) is smaller"),
    ({"endpoints": [{"port": 443}]}, "missing required arguments: host"),
    ({"endpoints": [{"host": "a.example"}], "timeout": 0}, "timeout"),
    ({"endpoints": [{"host": "a.example"}], "concurrency": 0}, "concurrency"),
])
def test_bad_input_fails_cleanly(tmp_path, args, message):
    result = run_module(tmp_path, args)
    assert result["failed"] is True and message in result["msg"]
