"""lab/node/up after a crash and lab/node/down: nothing of the node stays on the host.

Runs last in this folder (it restarts the node) and leaves the node up again.
"""

import os
import signal
import subprocess


from conftest import run_node_script, wait_for

NODE_PATHS = ("/run/fournines-node", "/var/lib/fournines-node/kubelet", "/var/lib/fournines-node/containerd")


def leftovers():
    """What of the node is on the host: namespaces, KUBE- rules, mounts, cgroups, links, processes."""
    found = []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    found += ["netns " + line.split()[0] for line in netns.splitlines()
              if line.startswith("fournines-node") or line.startswith("cni-")]
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    found += ["iptables " + line for line in rules.splitlines() if "KUBE-" in line]
    with open("/proc/mounts") as fh:
        found += ["mount " + line.split()[1] for line in fh
                  if line.split()[1].startswith(NODE_PATHS) or "kubelet" in line or "containerd" in line]
    found += ["cgroup " + c for c in os.listdir("/sys/fs/cgroup")
              if os.path.isdir("/sys/fs/cgroup/%s/fournines-node" % c)]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    found += ["link " + line.split(":")[1].strip() for line in links.splitlines() if "fnode-" in line]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
            with open("/proc/%s/stat" % pid) as fh:
                if fh.read().split(")")[-1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        if "fournines-node" in cmd or "lab/node/apiproxy.py" in cmd or "/.lab/node/" in cmd:
            found.append("process %s %s" % (pid, cmd[:80]))
    return found


def test_crash_then_up_cleans_then_down_leaves_nothing(real_node, k8s_core):
    state = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))), ".lab", "node")
    # A crash: every process of the node killed at once; pods, shims, mounts, namespaces,
    # cgroups and rules are left as they were.
    for name in ("kubelet", "containerd", "kube-proxy", "coredns", "apiproxy"):
        with open(os.path.join(state, name + ".pid")) as fh:
            os.kill(int(fh.read()), signal.SIGKILL)
    assert leftovers(), "a crashed node should have left something behind"

    proc = run_node_script("up")
    assert proc.returncode == 0, proc.stderr
    assert "leftovers of an earlier run" in proc.stderr
    wait_for("realapp/web Ready again", lambda: [
        p for p in k8s_core.list_namespaced_pod("realapp").items
        if p.status.phase == "Running" and all(c.ready for c in p.status.container_statuses or [])], timeout=120)

    proc = run_node_script("down")
    assert proc.returncode == 0, proc.stderr
    assert leftovers() == []
    assert k8s_core.list_node(field_selector="metadata.name=" + real_node["NODE_NAME"]).items == []

    # Back up for whoever comes next.
    proc = run_node_script("up")
    assert proc.returncode == 0, proc.stderr
