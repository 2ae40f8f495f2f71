"""Run the simulator: python -m linodesim --port N --state-dir DIR [--kubeconfig FILE].

The first start builds the lab cluster (pool layout from --pools or LINODE_SIM_POOLS,
e.g. "g6-standard-4:3,g6-standard-2:1"); later starts carry on from DIR/state.json.
"""

import argparse
import logging
import os
import signal
import sys
import threading

from . import profile
from .cloud import Cloud, run_worker
from .faults import Faults
from .nodes import KwokBackend, NullBackend
from .server import SimContext, make_server
from .store import Store


def parse_pools(text):
    pools = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        ptype, _, count = part.partition(":")
        pools.append({"type": ptype, "count": int(count or 1)})
    return pools


def _apiserver_url(kubeconfig):
    try:
        with open(kubeconfig, encoding="utf-8") as fh:
            for line in fh:
                if line.strip().startswith("server:"):
                    return line.split("server:", 1)[1].strip()
    except (OSError, TypeError):
        pass
    return "https://127.0.0.1:%s" % os.environ.get("APISERVER_PORT", "6443")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="linodesim")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--kubeconfig", help="lab kubeconfig; without it no Nodes are managed")
    parser.add_argument("--token", default=os.environ.get("LINODE_SIM_TOKEN"), required=False)
    parser.add_argument("--pools", default=os.environ.get("LINODE_SIM_POOLS", ""))
    parser.add_argument("--lab-dir", default=os.environ.get("LAB_DIR"))
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token or LINODE_SIM_TOKEN is required")

    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log = logging.getLogger("linodesim")
    os.makedirs(args.state_dir, exist_ok=True)
    times = profile.load()
    log.info("time profile: %s", times)

    lab_dir = args.lab_dir or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    backend = KwokBackend(args.kubeconfig, lab_dir) if args.kubeconfig else NullBackend()
    config = {"pools": parse_pools(args.pools)} if args.pools else {}
    store = Store(os.path.join(args.state_dir, "state.json"))
    cloud = Cloud(store, times, backend=backend, config=config)
    ctx = SimContext(cloud, Faults(), args.token, apiserver_url=_apiserver_url(args.kubeconfig),
                     kubeconfig_path=args.kubeconfig)
    server = make_server(ctx, args.host, args.port)

    stop = threading.Event()

    def worker():
        try:
            cloud.reconcile()
        except Exception as err:  # noqa: BLE001 - the cluster may still be starting
            log.warning("reconcile at start failed (%s); continuing with queued actions", err)
        run_worker(cloud, stop)

    thread = threading.Thread(target=worker, name="cloud-worker", daemon=True)
    thread.start()

    def on_term(_sig, _frame):
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    log.info("listening on http://%s:%d/v4", args.host, server.server_address[1])
    server.serve_forever(poll_interval=0.2)
    thread.join(timeout=5)
    store.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
