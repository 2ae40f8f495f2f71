"""Helpers for the upgrade-cluster integration tests: run the playbook, read what it did.

Builds on tests/integration/linode_sim/simlab.py (the simulator's admin endpoint and the
seeded-state restore)."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "linode_sim"))
import simlab  # noqa: E402

REPO = simlab.REPO
labenv = simlab.labenv
wait_for = simlab.wait_for
PLAYBOOK = os.path.join(REPO, "playbooks", "upgrade-cluster.yml")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")


def edge_status(host):
    env = labenv.component_env("edge")
    req = urllib.request.Request(env["EDGE_URL"], headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return None


def seeded(admin, core, apps, timeout=240):
    """The seeded cluster (3 nodes on the second-newest minor), workloads Ready, the app answering."""
    simlab.restore_seed(admin, core, apps, timeout)
    wait_for("postgres-0 Ready", lambda: _pod_ready(core, "db", "postgres-0"), timeout)
    for host in ("api.lab.fournines.test", "web.lab.fournines.test"):
        wait_for("edge 200 for %s" % host, lambda: edge_status(host) == 200, timeout)
    admin.call("DELETE", "/requests")


def _pod_ready(core, namespace, name):
    try:
        pod = core.read_namespaced_pod(name, namespace)
    except Exception:  # noqa: BLE001 - not created yet
        return False
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def extra_vars(reports_dir, **more):
    values = {"cluster_preflight_reports_dir": str(reports_dir),
              "cluster_preflight_slo": {"ledger": os.path.join(str(reports_dir), "downtime.jsonl"),
                                        "objective": 99.99, "window": "30d"}}
    values.update(more)
    return values


def run_playbook(variables, check=False, timeout=900, env=None, background=False):
    """ansible-playbook playbooks/upgrade-cluster.yml from the repo with ``variables`` as -e JSON."""
    argv = [ANSIBLE_PLAYBOOK, PLAYBOOK, "-e", json.dumps(variables)]
    if check:
        argv.append("--check")
    full_env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    for key in ("LINODE_TOKEN", "LINODE_API_URL", "K8S_AUTH_KUBECONFIG"):
        full_env.pop(key, None)
    full_env.update(env or {})
    if background:
        return subprocess.Popen(argv, cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
    return subprocess.run(argv, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout, check=False)


def run_module(module, args, timeout=300):
    """One module through `ansible -m` on the lab host (JSON args)."""
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible"), "lab-lke", "-m", module, "-a", json.dumps(args)]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    try:
        out = json.loads(proc.stdout)
        return out["plays"][0]["tasks"][0]["hosts"]["lab-lke"]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible -m %s gave no JSON result:\n%s\n%s" % (module, proc.stdout, proc.stderr))


def connection():
    sim = labenv.component_env("linode_sim")
    return {"api_url": sim["LINODE_API_URL"], "api_token": sim["LINODE_TOKEN"],
            "cluster_id": int(sim["LKE_CLUSTER_ID"]), "kubeconfig": labenv.kubeconfig()}


def requests(admin):
    return admin.call("GET", "/requests")["data"]


def mutations(admin):
    """Requests that could change the cloud (anything but GET) the simulator accepted or refused."""
    return [r for r in requests(admin) if r["method"] != "GET"]


def stop_probers(reports_dir):
    """A failed test must not leave a killed run's prober (it outlives the kill by design) running in the lab."""
    for run in os.listdir(str(reports_dir)):
        probe = os.path.join(str(reports_dir), run, "probe")
        if os.path.isdir(probe):
            run_module("fournines.runbooks.http_prober", {"dir": probe, "state": "stopped"})


def lke_writes(logged):
    """Of simulator request-log entries, those that could change LKE (clusters, pools, nodes), accepted or refused."""
    return [r for r in logged if r["method"] != "GET" and r["path"].startswith("/lke/")]


def recycles(admin):
    """LKE node ids with how many recycle requests the simulator executed for each."""
    counts = {}
    for req in requests(admin):
        if req["method"] == "POST" and req["path"].endswith("/recycle") and req.get("status") == 200:
            node = req["path"].split("/")[-2]
            counts[node] = counts.get(node, 0) + 1
    return counts


def lke_state(core):
    nodes = simlab.lke_nodes(core)
    return {name: {"kubelet": n.status.node_info.kubelet_version, "unschedulable": bool(n.spec.unschedulable),
                   "annotations": dict(n.metadata.annotations or {})} for name, n in nodes.items()}


def latest_run(reports_dir):
    runs = sorted(d for d in os.listdir(str(reports_dir)) if d.startswith("upgrade-cluster-"))
    assert runs, "no run directory under %s" % reports_dir
    path = os.path.join(str(reports_dir), runs[-1])
    with open(os.path.join(path, "state.json")) as handle:
        return path, json.load(handle)


def wait_step(reports_dir, prefix, status="running", timeout=300):
    """Wait until the newest run's journal has a step named ``prefix...`` in ``status``."""
    def found():
        try:
            _, state = latest_run(reports_dir)
        except (AssertionError, OSError, ValueError):
            return None
        return [s for s in state["steps"] if s["name"].startswith(prefix) and s["status"] == status]
    return wait_for("journal step %s %s" % (prefix, status), found, timeout, 0.2)


def kill_tree(proc):
    """SIGKILL the playbook and every process under it, also the module processes Ansible's workers run in a
    session of their own (killing the process group misses them: a killed run's drain or DELETE would go on): a
    power cut."""
    import signal  # pylint: disable=import-outside-toplevel

    def children(pid):
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/stat" % entry) as handle:
                        fields = handle.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == pid:
                    found.append(int(entry))
        return found

    for _round in range(3):  # a worker forking meanwhile is caught by the next round
        tree, todo = [], [proc.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children(pid))
        for pid in tree:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    proc.wait(timeout=30)
    time.sleep(0.5)

