"""Helpers for the autopilot's integration tests: run playbooks/autopilot.yml with a policy and its own
reports folder, read its decisions, ledger and requests. Builds on tests/integration/upgrade_cluster/uclab.py."""

import json
import os
import subprocess
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "upgrade_cluster"))
import uclab  # noqa: E402

REPO = uclab.REPO
PLAYBOOK = os.path.join(REPO, "playbooks", "autopilot.yml")
ANSIBLE_PLAYBOOK = uclab.ANSIBLE_PLAYBOOK
# Every day, all day long (00:00-23:59) / a window that is never now (one minute, 12 hours away is enough
# for a test that runs for minutes: it is opened relative to the clock by the test itself).
ALWAYS = [{"start": "00:00", "end": "23:59"}]


def operator_lab():
    """(oplab, node_helpers): the CloudNativePG tests' helpers (tests/integration/postgres_operator/oplab.py and the
    node helpers it imports), for the autopilot's operator tests; pytest loads those folders' conftest.py only for
    their own tests, so the node helpers are loaded here under the name oplab imports."""
    import importlib.util  # pylint: disable=import-outside-toplevel
    if "node_helpers" not in sys.modules:
        spec = importlib.util.spec_from_file_location("node_helpers", os.path.join(os.path.dirname(HERE), "node", "conftest.py"))
        sys.modules["node_helpers"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["node_helpers"])
    opdir = os.path.join(os.path.dirname(HERE), "postgres_operator")
    if opdir not in sys.path:
        sys.path.insert(0, opdir)
    import oplab  # pylint: disable=import-outside-toplevel
    return oplab, sys.modules["node_helpers"]


def policy(**over):
    doc = {"timezone": "UTC", "windows": ALWAYS, "min_release_age_days": 0, "min_error_budget_percent": 25,
           "min_hours_between_changes": 0,
           "components": {"lke_kubernetes": {"minor": "approve", "major": "never"}, "lke_node_patch": {"patch": "auto"}}}
    doc.update(over)
    return doc


def variables(reports_dir, pol, **more):
    values = {"autopilot_reports_dir": str(reports_dir), "autopilot_policy": pol,
              "lke_slo_ledger": os.path.join(str(reports_dir), "downtime.jsonl"),
              "autopilot_runbook_vars": uclab.extra_vars(reports_dir)}
    values.update(more)
    return values


def run(variables_, check=False, background=False, timeout=1800, inventories=(), linode_token=None):
    """ansible-playbook playbooks/autopilot.yml; ``inventories`` (names under inventories/) replace ansible.cfg's lab one.
    ``linode_token``: the Linode API token the run (and every runbook it starts) uses instead of the lab's (SimCaller)."""
    argv = [ANSIBLE_PLAYBOOK, PLAYBOOK, "-e", json.dumps(variables_)]
    for name in inventories:
        argv += ["-i", os.path.join(REPO, "inventories", name)]
    if check:
        argv.append("--check")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    for key in ("LINODE_TOKEN", "LINODE_API_URL", "K8S_AUTH_KUBECONFIG"):
        env.pop(key, None)
    if linode_token:
        # the lab inventory's lke_api_token reads LINODE_TOKEN first; the environment reaches the runbooks the
        # autopilot starts too, where an extra var on their command line would show in the process list
        env["LINODE_TOKEN"] = linode_token
    if background:
        return subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def ledger(reports_dir):
    path = os.path.join(str(reports_dir), "autopilot", "ledger.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def decisions(reports_dir, run_id=None):
    """{component: decision} of the newest (or the given) run's decision lines."""
    lines = [e for e in ledger(reports_dir) if e["event"] == "decision"]
    if not lines:
        return {}
    run_id = run_id or lines[-1]["run_id"]
    return {e["component"]: e for e in lines if e["run_id"] == run_id}


def report(reports_dir):
    runs = sorted(d for d in os.listdir(str(reports_dir)) if d.startswith("autopilot-"))
    assert runs, "no autopilot report under %s" % reports_dir
    with open(os.path.join(str(reports_dir), runs[-1], "report.json")) as handle:
        return json.load(handle)


def request(reports_dir, rid):
    with open(os.path.join(str(reports_dir), "autopilot", "requests", rid + ".json")) as handle:
        return json.load(handle)


# SIGKILL the autopilot and every process it started, also those Ansible moved to their own session (the
# runbook it runs is one): a power cut of the whole controller job. One implementation, the upgrade tests'.
kill_tree = uclab.kill_tree


def running_probers(folder):
    """Directories under ``folder`` whose background prober (module_utils/common/prober.py) still runs."""
    import glob  # pylint: disable=import-outside-toplevel
    from ansible_collections.fournines.runbooks.plugins.module_utils.common import prober  # pylint: disable=import-outside-toplevel
    found = []
    for handle in glob.glob(os.path.join(str(folder), "**", prober.HANDLE), recursive=True):
        directory = os.path.dirname(handle)
        if prober.is_running(prober.read_handle(directory)):
            found.append(directory)
    return found


class SimCaller(object):
    """An autopilot run's own Linode API token, so a test can tell what that run asked the simulator for.

    The tests of the Postgres autopilot run on other xdist workers than the cluster's: they must not wait for
    the simulator's lock while an upgrade runs there, yet must show their run wrote nothing to LKE. The
    simulator keeps this token's requests apart, and /reset or DELETE /requests elsewhere do not clear them.
    """

    def __init__(self, admin, label):
        self.admin, self.label = admin, "%s-%s" % (label, uuid.uuid4().hex[:8])
        self.token = admin.call("POST", "/tokens", {"label": self.label})["token"]

    def run(self, variables_, **kwargs):
        return run(variables_, linode_token=self.token, **kwargs)

    def requests(self):
        """What this caller asked the simulator for (its own log)."""
        return self.admin.call("GET", "/tokens/%s/requests" % self.label)["data"]

    def lke_mutations(self):
        """This caller's requests that could change LKE, accepted or refused."""
        return uclab.lke_writes(self.requests())
