"""An in-process simulator (no cluster: NullBackend records Node actions) on a free port,
with a clock the tests move forward instead of sleeping. Used by conftest.py and tests."""

import os
import sys
import threading
import types

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))
SIM_DIR = os.path.join(REPO, "lab", "linode_sim")
if SIM_DIR not in sys.path:
    sys.path.insert(0, SIM_DIR)

from linodesim import profile  # noqa: E402
from linodesim.cloud import Cloud  # noqa: E402
from linodesim.faults import Faults  # noqa: E402
from linodesim.nodes import NullBackend  # noqa: E402
from linodesim.server import SimContext, make_server  # noqa: E402
from linodesim.store import Store  # noqa: E402

TOKEN = "unit-test-token"


class FakeClock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


def start_sim(state_path, kubeconfig=None, config=None):
    clock = FakeClock()
    backend = NullBackend()
    cloud = Cloud(Store(str(state_path)), dict(profile.DEFAULTS), backend=backend,
                  config=config, clock=clock)
    cloud.run_due()
    ctx = SimContext(cloud, Faults(seed=7), TOKEN, kubeconfig_path=kubeconfig,
                     apiserver_url="https://127.0.0.1:16443")
    server = make_server(ctx, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    url = "http://127.0.0.1:%d/v4" % server.server_address[1]

    def advance(seconds):
        """Move the clock and let the worker do what became due."""
        clock.now += seconds
        cloud.run_due()

    return types.SimpleNamespace(url=url, cloud=cloud, ctx=ctx, clock=clock, backend=backend,
                                 server=server, advance=advance, token=TOKEN)


