"""HTTP front of the simulator: /v4 (the Linode API) and /__admin (tests only)."""

import json
import logging
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import routes
from .store import ApiError, bad_request

LOG = logging.getLogger("linodesim.http")
PAGE_SIZE_DEFAULT, PAGE_SIZE_MIN, PAGE_SIZE_MAX = 100, 25, 500
REQUEST_LOG_MAX = 2000


class SimContext:
    """What the handler needs besides the cloud: token, faults, request log, lab info."""

    def __init__(self, cloud, faults, token, apiserver_url="https://127.0.0.1:6443",
                 kubeconfig_path=None, strict_fields=True):
        self.cloud = cloud
        self.faults = faults
        self.token = token
        self.apiserver_url = apiserver_url
        self.kubeconfig_path = kubeconfig_path
        self.strict_fields = strict_fields
        self.requests = []
        self.log_lock = threading.Lock()
        # more tokens, minted by POST /__admin/tokens: each names one caller, whose requests are also kept
        # in a log of their own that neither /reset nor DELETE /requests clears (a test on another xdist
        # worker resets the simulator while this caller runs)
        self.tokens = {}
        self.token_logs = {}

    def caller(self, authorization):
        """The label of the token in an Authorization header: "lab" for the lab's own, None if unknown."""
        if authorization == "Bearer " + self.token:
            return "lab"
        if authorization.startswith("Bearer "):
            return self.tokens.get(authorization[len("Bearer "):])
        return None

    def read_kubeconfig(self):
        try:
            with open(self.kubeconfig_path, encoding="utf-8") as fh:
                return fh.read()
        except (OSError, TypeError):
            return None

    def record(self, entry):
        with self.log_lock:
            self.requests.append(entry)
            del self.requests[:-REQUEST_LOG_MAX]
            if entry.get("caller") in self.token_logs:
                own = self.token_logs[entry["caller"]]
                own.append(entry)
                del own[:-REQUEST_LOG_MAX]


def _matches(item, flt):
    """Linode's X-Filter subset: field equality, +and, +or, +contains, +gt/+lt etc."""
    for key, cond in flt.items():
        if key in ("+order_by", "+order"):
            continue
        if key == "+and":
            if not all(_matches(item, sub) for sub in cond):
                return False
        elif key == "+or":
            if not any(_matches(item, sub) for sub in cond):
                return False
        else:
            value = item.get(key)
            if isinstance(cond, dict):
                for op, arg in cond.items():
                    ok = {"+contains": lambda: str(arg) in (value or ""),
                          "+neq": lambda: value != arg,
                          "+gt": lambda: value is not None and value > arg,
                          "+gte": lambda: value is not None and value >= arg,
                          "+lt": lambda: value is not None and value < arg,
                          "+lte": lambda: value is not None and value <= arg}.get(op)
                    if ok is None or not ok():
                        return False
            elif isinstance(value, list):
                if cond not in value:
                    return False
            elif value != cond:
                return False
    return True


def paginate(items, query, xfilter):
    if xfilter:
        items = [i for i in items if _matches(i, xfilter)]
        if "+order_by" in xfilter:
            key = xfilter["+order_by"]
            items.sort(key=lambda i: (i.get(key) is None, i.get(key)),
                       reverse=xfilter.get("+order") == "desc")
    try:
        page = int(query.get("page", ["1"])[0])
        size = int(query.get("page_size", [str(PAGE_SIZE_DEFAULT)])[0])
    except ValueError:
        raise bad_request("page and page_size must be integers", "page")
    if page < 1:
        raise bad_request("page must be 1 or more", "page")
    if not PAGE_SIZE_MIN <= size <= PAGE_SIZE_MAX:
        raise bad_request("page_size must be between %d and %d" % (PAGE_SIZE_MIN,
                                                                  PAGE_SIZE_MAX), "page_size")
    pages = max(1, -(-len(items) // size))
    return {"data": items[(page - 1) * size:page * size], "page": page, "pages": pages,
            "results": len(items)}


class Handler(BaseHTTPRequestHandler):
    server_version = "linode-sim/1"
    protocol_version = "HTTP/1.1"
    timeout = 120  # close idle kept-alive connections instead of holding a thread forever
    ctx = None  # set by make_server

    def log_message(self, fmt, *args):  # route to logging, not stderr
        LOG.info("%s %s", self.address_string(), fmt % args)

    def _send(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, val in (headers or {}).items():
            self.send_header(key, val)
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise bad_request("Request body is not valid JSON")
        if not isinstance(body, dict):
            raise bad_request("Request body must be a JSON object")
        return body

    def _dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        try:
            if url.path.startswith("/__admin/"):
                from .admin import handle  # pylint: disable=import-outside-toplevel
                status, body = handle(self.ctx, method, url.path[len("/__admin"):],
                                      self._body(), urllib.parse.parse_qs(url.query))
                self._send(status, body)
                return
            if not url.path.startswith("/v4/") and url.path != "/v4":
                raise ApiError(404, "Not found")
            self._api(method, url)
        except ApiError as err:
            self._send(err.status, err.body(), err.headers)
        except Exception:  # noqa: BLE001 - a simulator bug must still answer like Linode
            LOG.exception("internal error on %s %s", method, self.path)
            self._send(500, {"errors": [{"reason": "Internal simulator error"}]})

    def _api(self, method, url):
        path = url.path[len("/v4"):].rstrip("/") or "/"
        ctx = self.ctx
        body = self._body()  # always read it: unread bytes would poison a kept-alive socket
        if method not in ("POST", "PUT"):
            body = {}
        route, params = routes.match(method, path)
        entry = {"time": time.time(), "method": method, "path": path,
                 "op": list(route.op) if route not in (None, "405") else None,
                 "body": body, "unknown_fields": [], "status": None}
        try:
            entry["caller"] = ctx.caller(self.headers.get("Authorization", ""))
            if entry["caller"] is None:
                raise ApiError(401, "Invalid Token")
            latency, fault = ctx.faults.check(method, path)
            if latency:
                time.sleep(latency)
            if fault is not None:
                raise fault
            if route is None:
                raise ApiError(404, "Not found")
            if route == "405":
                raise ApiError(405, "Method Not Allowed")
            if route.body_fields is not None:
                entry["unknown_fields"] = routes.unknown_fields(body, route.body_fields)
                if entry["unknown_fields"] and ctx.strict_fields:
                    raise bad_request("%s is not a field of this request" %
                                      entry["unknown_fields"][0], entry["unknown_fields"][0])
            handler_ctx = {"apiserver_url": ctx.apiserver_url,
                           "read_kubeconfig": ctx.read_kubeconfig}
            with ctx.cloud.lock:
                result = route.handler(ctx.cloud, params, body, handler_ctx)
                if route.paginated:
                    xfilter = self.headers.get("X-Filter")
                    try:
                        xfilter = json.loads(xfilter) if xfilter else None
                    except ValueError:
                        raise bad_request("X-Filter is not valid JSON", "X-Filter")
                    result = paginate(result, urllib.parse.parse_qs(url.query), xfilter)
            entry["status"] = 200
            ctx.record(entry)
            self._send(200, result)
        except ApiError as err:
            entry["status"] = err.status
            ctx.record(entry)
            raise

    def do_GET(self):  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_POST(self):  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self):  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self):  # noqa: N802
        self._dispatch("DELETE")


def make_server(ctx, host="127.0.0.1", port=0):
    handler = type("SimHandler", (Handler,), {"ctx": ctx})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
