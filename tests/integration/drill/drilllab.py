"""Helpers for the node-failure drill tests and the Molecule scenario: run the playbook, read its run.

Builds on tests/integration/linode_sim/simlab.py (the simulator's admin endpoint and the
seeded-state restore). ``python drilllab.py reset`` puts the lab back to its seed (Molecule cleanup).
"""

import json
import os
import signal
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
PLAYBOOK = os.path.join(REPO, "playbooks", "node-failure-drill.yml")
BIN = os.path.dirname(sys.executable)
APP_HOST = "web.lab.fournines.test"


def edge_status(host=APP_HOST):
    req = urllib.request.Request(labenv.component_env("edge")["EDGE_URL"], headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return None


def admin():
    return simlab.SimAdmin(labenv.component_env("linode_sim")["LINODE_SIM_ADMIN_URL"])


def clients():
    from kubernetes import client, config
    api = config.new_client_from_config(config_file=labenv.kubeconfig())
    return client.CoreV1Api(api), client.AppsV1Api(api)


def reset(timeout=240):
    """The seeded cluster, its workloads available and the app answering at the edge."""
    core, apps = clients()
    adm = admin()
    simlab.restore_seed(adm, core, apps, timeout)
    for host in ("api.lab.fournines.test", APP_HOST):
        wait_for("edge 200 for %s" % host, lambda: edge_status(host) == 200, timeout)
    adm.call("DELETE", "/requests")
    return adm, core, apps


def extra_vars(tmp, **more):
    """Variables that keep a test's runs, reports and ledger in its own directory."""
    values = {"drill_preflight_reports_dir": os.path.join(str(tmp), "reports"),
              "drill_preflight_slo_ledger": os.path.join(str(tmp), "downtime.jsonl"),
              "drill_preflight_environment": "lab-test", "drill_inject_baseline_seconds": 2}
    values.update(more)
    return values


def run_playbook(variables, check=False, timeout=900, background=False):
    argv = [os.path.join(BIN, "ansible-playbook"), PLAYBOOK, "-e", json.dumps(variables)]
    if check:
        argv.append("--check")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    for key in ("LINODE_TOKEN", "LINODE_API_URL", "K8S_AUTH_KUBECONFIG"):
        env.pop(key, None)
    if background:
        return subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    return run_argv(argv, env, timeout, "the drill playbook")


def run_argv(argv, env, timeout, what):
    """Run ``argv`` from the repo in its own session; past ``timeout`` kill it and all it started."""
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # Stop the run and everything it started, and show where it was (the bare TimeoutExpired
        # only says that it hung).
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError("%s ran past %ss; the end of its output:\n%s\n%s"
                             % (what, timeout, out[-4000:], err[-2000:]))
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def runs(tmp, prefix="node-failure-drill-"):
    """The run ids (folders under tmp/reports) of one runbook, oldest first."""
    path = os.path.join(str(tmp), "reports")
    if not os.path.isdir(path):
        return []
    return sorted(d for d in os.listdir(path) if d.startswith(prefix))


def journal(tmp, run):
    with open(os.path.join(str(tmp), "reports", run, "state.json")) as handle:
        return json.load(handle)


def report(tmp, run):
    with open(os.path.join(str(tmp), "reports", run, "report.json")) as handle:
        return json.load(handle)


def mutations(adm):
    """Requests that could change the cloud (anything but GET) that reached the simulator."""
    return [r for r in adm.call("GET", "/requests")["data"] if r["method"] != "GET"]


def kill_group(proc):
    """SIGKILL the playbook and everything it started in its session (a power cut)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    time.sleep(0.5)


if __name__ == "__main__":
    if sys.argv[1:] == ["reset"]:
        reset()
        print("lab reset to its seeded state")
    else:
        sys.exit("usage: drilllab.py reset")
