"""The lab's real app: a small HTTP server that runs as a pod on the real node.

GET /          200 "realapp <pod name> <version>" (the page the edge serves)
GET /healthz   200 while ready, 503 after POST /ready with body "0" (or while /tmp/not-ready exists)
POST /ready    body "1" or "0": makes the readiness probe pass or fail, so tests can watch the
               kubelet take the pod out of the Service's Endpoints and put it back
"""
import http.server
import os
import socket
import sys

READY_FILE = "/tmp/not-ready"
VERSION = os.environ.get("APP_VERSION", "1")
NAME = os.environ.get("POD_NAME", socket.gethostname())


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "realapp/" + VERSION

    def reply(self, code, text):
        body = (text + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/healthz":
            if os.path.exists(READY_FILE):
                self.reply(503, "not ready")
            else:
                self.reply(200, "ok")
        else:
            self.reply(200, f"realapp {NAME} {VERSION}")

    def do_POST(self):
        if self.path != "/ready":
            self.reply(404, "not found")
            return
        value = self.rfile.read(int(self.headers.get("Content-Length") or 0)).strip()
        if value == b"0":
            open(READY_FILE, "w").close()
        elif os.path.exists(READY_FILE):
            os.unlink(READY_FILE)
        self.reply(200, "ready" if value != b"0" else "not ready")

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    http.server.ThreadingHTTPServer(("", port), Handler).serve_forever()
