"""The lab's app edge: answers for the app's hostnames the way ingress-nginx would.

A request for a routed Host gets 200 while the Service has a ready endpoint (EndpointSlice
condition ready) on a Ready Node whose instance is alive, and 503 otherwise. Unknown hosts get
404 (ingress-nginx's default backend). State comes from watches on EndpointSlices and Nodes
(not from a lookup per request) plus the Linode simulator's list of dead instances, so a 1 s
prober costs nothing. Dead instances matter because a real ingress fails at once when the VM
behind an endpoint dies, long before Kubernetes marks the Node NotReady.

    python edgeserver.py --http-port N --https-port M --state-dir DIR --kubeconfig FILE
        [--routes routes.json] [--latency-ms 5] [--sim-admin-url URL]
"""

import argparse
import json
import logging
import os
import signal
import ssl
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = logging.getLogger("edge")
SERVICE_LABEL = "kubernetes.io/service-name"


class Informer:
    """List-then-watch one resource kind into a dict of raw JSON objects; re-lists after any
    watch failure. Raw JSON, because the client's models reject valid objects (an
    EndpointSlice with no endpoints)."""

    def __init__(self, name, make_list_func, on_change):
        self.name = name
        self.make_list_func = make_list_func   # a new client each (re)list: the cluster
        self.list_func = None                  # may have restarted with new certificates
        self.on_change = on_change
        self.items = {}
        self.synced = threading.Event()
        self.lock = threading.Lock()

    @staticmethod
    def key(obj):
        meta = obj["metadata"]
        return (meta.get("namespace") or "", meta["name"])

    def run(self, stop):
        from kubernetes import watch  # pylint: disable=import-outside-toplevel
        while not stop.is_set():
            try:
                self.list_func = self.make_list_func()
                resp = self.list_func(timeout_seconds=30, _preload_content=False)
                listing = json.loads(resp.data)
                with self.lock:
                    self.items = {self.key(o): o for o in listing.get("items") or []}
                self.synced.set()
                self.on_change()
                rv = listing["metadata"]["resourceVersion"]
                while not stop.is_set():
                    stream = watch.Watch().stream(self.list_func, resource_version=rv,
                                                  timeout_seconds=60, deserialize=False,
                                                  allow_watch_bookmarks=True)
                    for event in stream:
                        obj = event["object"]
                        if event["type"] == "ERROR":
                            raise RuntimeError("watch error: %s" % obj.get("message", obj))
                        rv = obj["metadata"]["resourceVersion"]
                        if event["type"] == "BOOKMARK":
                            continue
                        with self.lock:
                            if event["type"] == "DELETED":
                                self.items.pop(self.key(obj), None)
                            else:
                                self.items[self.key(obj)] = obj
                        self.on_change()
                        if stop.is_set():
                            return
            except Exception as err:  # noqa: BLE001 - API server restarts, 410 Gone, ...
                LOG.warning("%s watch restarting after: %s", self.name,
                            (str(err).splitlines() or ["?"])[0])
                stop.wait(1.0)

    def values(self):
        with self.lock:
            return list(self.items.values())


class Edge:
    """The routing decision, recomputed on every change (requests only read a dict)."""

    def __init__(self, routes, latency_ms=5.0):
        self.routes = routes          # {host: {"namespace": ns, "service": name}}
        self.latency = latency_ms / 1000.0
        self.slices = None
        self.nodes = None
        self.dead = set()
        self.decisions = {}           # {host: (status, reason)}
        self.lock = threading.Lock()

    def synced(self):
        return (self.slices is not None and self.nodes is not None
                and self.slices.synced.is_set() and self.nodes.synced.is_set())

    def recompute(self):
        if not self.synced():
            return
        ready_nodes = set()
        for node in self.nodes.values():
            conds = {c.get("type"): c.get("status")
                     for c in (node.get("status") or {}).get("conditions") or []}
            if conds.get("Ready") == "True":  # cordoned nodes still serve traffic
                ready_nodes.add(node["metadata"]["name"])
        by_service = {}
        for eps in self.slices.values():
            svc = (eps["metadata"].get("labels") or {}).get(SERVICE_LABEL)
            if svc:
                by_service.setdefault((eps["metadata"].get("namespace"), svc), []).append(eps)
        decisions = {}
        for host, route in self.routes.items():
            decisions[host] = self._decide(by_service.get((route["namespace"], route["service"]),
                                                          []), ready_nodes, route)
        with self.lock:
            self.decisions = decisions

    def _decide(self, slices, ready_nodes, route):
        seen = []
        for eps in slices:
            for ep in eps.get("endpoints") or []:
                # a missing `ready` means unknown, which consumers treat as ready
                ready = (ep.get("conditions") or {}).get("ready") is not False
                node = ep.get("nodeName")
                target = ((ep.get("targetRef") or {}).get("name")
                          or ",".join(ep.get("addresses") or []))
                if not ready:
                    seen.append("%s not ready" % target)
                elif node in self.dead:
                    seen.append("%s on %s: instance down" % (target, node))
                elif node not in ready_nodes:
                    seen.append("%s on %s: node not Ready" % (target, node))
                else:
                    return 200, "%s/%s via %s on %s" % (route["namespace"], route["service"],
                                                        target, node)
        return 503, "%s/%s has no ready endpoint on a Ready node (%s)" % (
            route["namespace"], route["service"], "; ".join(seen) or "no endpoints")

    def set_dead(self, dead):
        if dead != self.dead:
            self.dead = dead
            self.recompute()

    def answer(self, host):
        host = (host or "").split(":")[0].lower().rstrip(".")
        if host not in self.routes:
            return 404, "no route for host %r" % host
        if not self.synced():
            return 503, "edge is starting (watches not synced yet)"
        with self.lock:
            return self.decisions.get(host, (503, "not computed yet"))

    def state(self):
        with self.lock:
            return {"synced": self.synced(), "latency_ms": self.latency * 1000,
                    "dead_nodes": sorted(self.dead),
                    "routes": {h: {"route": r, "status": self.decisions.get(h, (None,))[0],
                                   "reason": self.decisions.get(h, (None, None))[1]}
                               for h, r in self.routes.items()}}


def make_handler(edge):
    class Handler(BaseHTTPRequestHandler):
        server_version = "lab-edge/1"
        protocol_version = "HTTP/1.1"
        timeout = 120  # close idle kept-alive connections

        def log_message(self, fmt, *args):
            LOG.debug("%s %s", self.address_string(), fmt % args)

        def _send(self, status, text, ctype="text/plain; charset=utf-8"):
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def do_GET(self):  # noqa: N802
            if self.path.startswith("/__edge/"):
                if self.path.rstrip("/") == "/__edge/health":
                    self._send(200 if edge.synced() else 503, "synced\n" if edge.synced()
                               else "not synced\n")
                else:
                    self._send(200, json.dumps(edge.state()), "application/json")
                return
            if edge.latency:
                time.sleep(edge.latency)
            status, reason = edge.answer(self.headers.get("Host"))
            self._send(status, reason + "\n")

        do_HEAD = do_GET  # noqa: N815

        def do_PUT(self):  # noqa: N802 - runtime latency change for tests/benchmarks
            if self.path.rstrip("/") != "/__edge/config":
                self._send(404, "not found\n")
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if "latency_ms" in body:
                edge.latency = float(body["latency_ms"]) / 1000.0
            self._send(200, json.dumps(edge.state()), "application/json")

    return Handler


class TLSServer(ThreadingHTTPServer):
    """HTTPS with the handshake in the request's own thread, so a slow or plain-HTTP client
    cannot stall the accept loop."""

    def __init__(self, address, handler, context):
        super().__init__(address, handler)
        self.context = context

    def finish_request(self, request, client_address):
        request.settimeout(10)
        try:
            tls_sock = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as err:
            LOG.debug("TLS handshake with %s failed: %s", client_address, err)
            return
        try:
            super().finish_request(tls_sock, client_address)
        finally:
            tls_sock.close()


def poll_dead(edge, url, stop, every=0.5):
    """The simulator's dead instances (cheap, local); none when it is not running."""
    while not stop.is_set():
        try:
            with urllib.request.urlopen(url + "/dead-nodes", timeout=2) as resp:
                edge.set_dead(set(json.load(resp)["data"]))
        except Exception:  # noqa: BLE001 - simulator down: no instance is known dead
            edge.set_dead(set())
        stop.wait(every)


def ensure_cert(state_dir, hosts):
    """A self-signed certificate for the routed hosts (the lab's own, made once)."""
    crt, key = os.path.join(state_dir, "tls.crt"), os.path.join(state_dir, "tls.key")
    if os.path.exists(crt) and os.path.exists(key):
        return crt, key
    import datetime  # pylint: disable=import-outside-toplevel
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
    import labpki  # pylint: disable=import-outside-toplevel
    pkey = labpki.new_key()
    now = labpki.utcnow()
    cert = labpki.certificate(labpki.name("lab edge"), pkey, not_before=now - datetime.timedelta(minutes=5),
                              not_after=now + datetime.timedelta(days=365), ca=True,
                              sans=sorted(hosts) + ["localhost", "127.0.0.1"])
    labpki.write_key(key, pkey)
    labpki.write_file(crt, labpki.cert_pem(cert))
    return crt, key


def main(argv=None):
    parser = argparse.ArgumentParser(prog="edgeserver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--https-port", type=int, required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--routes", default=os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "routes.json"))
    parser.add_argument("--latency-ms", type=float,
                        default=float(os.environ.get("EDGE_LATENCY_MS", "5")))
    parser.add_argument("--sim-admin-url")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")

    with open(args.routes, encoding="utf-8") as fh:
        routes = {h.lower(): r for h, r in json.load(fh).items()}
    edge = Edge(routes, args.latency_ms)

    from kubernetes import client, config  # pylint: disable=import-outside-toplevel

    def api():
        return config.new_client_from_config(config_file=args.kubeconfig)

    edge.slices = Informer(
        "endpointslices",
        lambda: client.DiscoveryV1Api(api()).list_endpoint_slice_for_all_namespaces,
        edge.recompute)
    edge.nodes = Informer("nodes", lambda: client.CoreV1Api(api()).list_node, edge.recompute)
    stop = threading.Event()
    threads = [threading.Thread(target=i.run, args=(stop,), daemon=True, name=i.name)
               for i in (edge.slices, edge.nodes)]
    if args.sim_admin_url:
        threads.append(threading.Thread(target=poll_dead, args=(edge, args.sim_admin_url, stop),
                                        daemon=True, name="dead-nodes"))
    for thread in threads:
        thread.start()

    handler = make_handler(edge)
    http = ThreadingHTTPServer((args.host, args.http_port), handler)
    crt, key = ensure_cert(args.state_dir, routes)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(crt, key)
    https = TLSServer((args.host, args.https_port), handler, tls)
    for server in (http, https):
        server.daemon_threads = True
    threading.Thread(target=https.serve_forever, daemon=True, name="https").start()

    def on_term(_sig, _frame):
        stop.set()
        threading.Thread(target=http.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    LOG.info("edge on http://%s:%d and https://%s:%d for %s", args.host, args.http_port,
             args.host, args.https_port, ", ".join(sorted(routes)))
    http.serve_forever(poll_interval=0.2)
    https.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
