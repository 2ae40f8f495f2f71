"""Figures for the lab's Kubernetes component, on a private instance (own state dir and ports,
so the shared lab is untouched):

* lab/k8s/up from stopped processes (binaries cached), a re-run on the running lab, lab/down;
* resident memory of the six processes once idle;
* a node loss timeline with the fast profile: heartbeat stopped -> NotReady -> pod evicted ->
  replacement Running elsewhere, and the RWO pod Ready after the simulated force-detach.

    .venv/bin/python benchmarks/lab_k8s.py
"""

import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, "lab"), os.path.join(REPO, "lab", "k8s"),
                os.path.join(REPO, "tests", "integration", "k8s")]

import labenv  # noqa: E402
import kwoknodes  # noqa: E402
from k8slab import Sandbox, pod_ready  # noqa: E402

PROCS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "volumes")


def timed(env, script):
    start = time.monotonic()
    proc = subprocess.run([os.path.join(REPO, "lab", "k8s", script)], env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode:
        sys.exit("lab/k8s/%s failed:\n%s" % (script, proc.stderr))
    return time.monotonic() - start


def rss_mib(state):
    total = 0
    for name in PROCS:
        with open(os.path.join(state, "k8s", name + ".pid"), encoding="ascii") as handle:
            pid = handle.read().strip()
        with open("/proc/%s/status" % pid, encoding="ascii") as handle:
            total += sum(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))
    return total / 1024


def wait(predicate, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return time.monotonic()
        time.sleep(0.2)
    sys.exit("timed out")


def node_loss(kubeconfig):
    from kubernetes import config  # pylint: disable=import-outside-toplevel
    box = Sandbox(config.new_client_from_config(config_file=kubeconfig), "bench")
    box.create()
    try:
        lost, spare = box.nodes
        box.cordon(spare)
        box.deployment("stateless", 1)
        box.claim("data")
        box.deployment("stateful", 1, claim="data", strategy="Recreate")
        wait(lambda: box.running("stateless", 1) and box.running("stateful", 1))
        box.cordon(spare, on=False)
        old = {p.metadata.name for p in box.pods("stateless") + box.pods("stateful")}
        t0 = time.monotonic()
        kwoknodes.stop_heartbeat(box.core, lost)
        t_notready = wait(lambda: kwoknodes.ready_status(box.core, lost) not in ("True", None))
        t_evicted = wait(lambda: any(p.metadata.deletion_timestamp for p in box.pods("stateless")))
        t_moved = wait(lambda: [p for p in box.pods("stateless") if p.metadata.name not in old
                                and p.spec.node_name == spare and pod_ready(p)])
        t_rwo = wait(lambda: [p for p in box.pods("stateful") if p.metadata.name not in old and pod_ready(p)])
        return {"NotReady": t_notready - t0, "first eviction": t_evicted - t0,
                "stateless pod Ready elsewhere": t_moved - t0, "RWO pod Ready elsewhere": t_rwo - t0}
    finally:
        box.cleanup()


def main():
    ports = {k: v + 20000 for k, v in labenv.ports().items()}
    with tempfile.TemporaryDirectory(prefix="lab-k8s-bench-") as root:
        with open(os.path.join(root, "ports.env"), "w", encoding="ascii") as handle:
            handle.writelines("%s=%d\n" % kv for kv in ports.items())
        state = os.path.join(root, "state")
        env = dict(os.environ, LAB_STATE=state, LAB_PORTS_FILE=os.path.join(root, "ports.env"),
                   LAB_PROFILE="fast", LAB_PYTHON=sys.executable)
        try:
            first = timed(env, "up")
            again = timed(env, "up")
            time.sleep(10)
            memory = rss_mib(state)
            profile = labenv.profile_values("fast")
            timeline = node_loss(os.path.join(state, "kubeconfig"))
            down = timed(env, "down")
        finally:
            subprocess.run([os.path.join(REPO, "lab", "k8s", "down")], env=env, capture_output=True, check=False)
    print("lab/k8s/up (new state, cached binaries): %.1f s" % first)
    print("lab/k8s/up on the running lab:            %.2f s" % again)
    print("lab/k8s/down:                             %.1f s" % down)
    print("resident memory of the 6 processes:       %.0f MiB" % memory)
    print("node loss, fast profile (grace %ss, toleration %ss, force detach %ss):"
          % (profile["NODE_MONITOR_GRACE_PERIOD"], profile["DEFAULT_UNREACHABLE_TOLERATION_SECONDS"],
             profile["VOLUME_FORCE_DETACH_SECONDS"]))
    for what, secs in timeline.items():
        print("  %-32s %5.1f s after the heartbeat stopped" % (what, secs))


if __name__ == "__main__":
    main()
