"""Each runbook, run the way AWX runs it, against the lab.

AWX hands a job to ansible-runner with: the project as working directory, the inventory, the
survey answers as extra vars (typed as AWX types them), the credential type's injectors as
environment variables and files, and no terminal to prompt on. This test does the same from the
job templates in roles/awx_config/defaults/main.yml, then checks what AWX would keep: the exit
status, the job artifacts (set_stats data), and that no lab secret appears in any job event.

Runbooks are discovered from the job templates; one whose playbook has not landed is skipped.
"""

import json
import os
import shutil
import sys
import tempfile
import urllib.request

import jinja2
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(REPO, "tests", "unit", "awx"))

import awx_model as m  # noqa: E402  pylint: disable=wrong-import-position
import labenv  # noqa: E402  pylint: disable=wrong-import-position,import-error

BIN = os.path.join(REPO, ".venv", "bin")
LAB_INVENTORY = [inv for inv in m.awx_config()["awx_config_inventories"] if inv["name"] == "fournines lab"][0]
SECRET_MARKERS = ("TOKEN", "SECRET", "PASSWORD", "API_KEY")
# Runs are real and each takes a while; do not let a stuck one hold CI for the job's full timeout.
MAX_JOB_SECONDS = 900


def _components():
    with open(os.path.join(REPO, "lab", "components"), encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip() and not line.startswith("#")]


# Lab components behind each inventory group of inventories/lab (a group not listed needs them all).
GROUP_COMPONENTS = {
    "lke_clusters": ["k8s", "linode_sim", "edge"],
    "postgres": ["postgres"],
    "dns_zones": ["dns"],
    "tls_scanners": ["k8s", "tls"],
}


def needed_components(playbook):
    needed = []
    for group in m.PlaybookGraph(playbook).hosts or ["all"]:
        for component in GROUP_COMPONENTS.get(group, _components()):
            if component not in needed:
                needed.append(component)
    return needed


def lab_secrets():
    """Every lab secret a job could leak: the components' env values named like secrets, and the
    client key of the lab kubeconfig (injected as a file, never meant to be printed)."""
    secrets = {}
    for component in _components():
        for key, value in labenv.component_env(component).items():
            if any(marker in key for marker in SECRET_MARKERS) and len(value) >= 6:
                secrets["%s:%s" % (component, key)] = value
    kubeconfig = m.load_yaml(labenv.kubeconfig()) if os.path.exists(labenv.kubeconfig()) else {}
    for user in (kubeconfig or {}).get("users", []):
        for field in ("client-key-data", "token"):
            if (user.get("user") or {}).get(field):
                secrets["kubeconfig:%s" % field] = user["user"][field]
    return secrets


def injected_credential(private_dir):
    """What AWX injects for the fournines credential type, rendered with the lab's values."""
    ctype = m.awx_config()["awx_config_credential_type"]
    sim = labenv.component_env("linode_sim")
    with open(labenv.kubeconfig(), encoding="utf-8") as handle:
        inputs = {"linode_token": sim.get("LINODE_TOKEN", ""), "linode_api_url": sim.get("LINODE_API_URL", ""),
                  "kubeconfig": handle.read()}
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # nosec - not HTML
    cred_file = os.path.join(private_dir, "env", "kubeconfig_credential")
    os.makedirs(os.path.dirname(cred_file), exist_ok=True)
    with open(cred_file, "w", encoding="utf-8") as handle:
        handle.write(env.from_string(ctype["injectors"]["file"]["template"]).render(**inputs))
    os.chmod(cred_file, 0o600)
    context = dict(inputs, tower={"filename": cred_file})
    return {key: env.from_string(value).render(**context) for key, value in ctype["injectors"]["env"].items()}


def strings_in(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from strings_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings_in(item)


def stats_key(playbook):
    return "fournines_" + os.path.basename(playbook)[:-len(".yml")].replace("-", "_")


# ---------------------------------------------------------------- lab state around mutating runs

def _reset_cluster():
    """The seeded cluster, workloads available, the app answering (the drill tests' helper)."""
    sys.path.insert(0, os.path.join(REPO, "tests", "integration", "drill"))
    import drilllab  # pylint: disable=import-outside-toplevel,import-error
    drilllab.reset()


def _reset_postgres():
    import subprocess  # pylint: disable=import-outside-toplevel
    subprocess.run([os.path.join(REPO, "lab", "postgres", "reset")], cwd=REPO, check=True, capture_output=True,
                   timeout=600, env=dict(os.environ, LAB_PYTHON=os.path.join(BIN, "python")))


class ZoneSnapshot:
    """The lab zone's RRsets through the PowerDNS API: taken before a DNS runbook, put back after
    (a migration really moves records), then awaited on every nameserver."""

    def __init__(self):
        env = labenv.component_env("dns")
        self.url = "%s/api/v1/servers/%s/zones/%s." % (env["PDNS_API_URL"].rstrip("/"), env.get("PDNS_SERVER_ID", "localhost"),
                                                       env["DNS_ZONE"].rstrip("."))
        self.key = env["PDNS_API_KEY"]
        self.nameservers = env["DNS_NAMESERVERS"].split(",")
        self.rrsets = self._rrsets()

    def _call(self, method, body=None):
        req = urllib.request.Request(self.url, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"X-API-Key": self.key, "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:  # nosec - the lab's own PowerDNS
            return json.load(resp) if method == "GET" else None

    def _rrsets(self):
        return {(r["name"], r["type"]): r for r in self._call("GET")["rrsets"] if r["type"] != "SOA"}

    def restore(self, timeout=60):
        import time  # pylint: disable=import-outside-toplevel
        import dns.message  # pylint: disable=import-outside-toplevel
        import dns.query  # pylint: disable=import-outside-toplevel
        import dns.rdatatype  # pylint: disable=import-outside-toplevel
        now = self._rrsets()
        changed = [dict(raw, changetype="REPLACE") for key, raw in self.rrsets.items()
                   if key not in now or (now[key]["ttl"], now[key]["records"]) != (raw["ttl"], raw["records"])]
        if not changed:
            return
        self._call("PATCH", {"rrsets": [{k: r[k] for k in ("name", "type", "ttl", "records", "changetype")}
                                        for r in changed]})
        req = urllib.request.Request(self.url + "/notify", method="PUT", headers={"X-API-Key": self.key})
        urllib.request.urlopen(req, timeout=30).close()  # nosec - the lab's own PowerDNS
        deadline = time.monotonic() + timeout
        for server in self.nameservers:
            host, port = server.rsplit(":", 1)
            for rrset in changed:
                want = sorted(r["content"] for r in rrset["records"])
                while True:
                    answer = dns.query.udp(dns.message.make_query(rrset["name"], rrset["type"]), host, port=int(port),
                                           timeout=2)
                    got = [sorted(rr.to_text() for rr in a) for a in answer.answer if a.rdtype == dns.rdatatype.from_text(rrset["type"])]
                    if got and got[0] == want and answer.answer[0].ttl == rrset["ttl"]:
                        break
                    assert time.monotonic() < deadline, "%s still serves %s %s: %s" % (server, rrset["name"], got, want)
                    time.sleep(0.2)


def _held_until_reset(lock, reset):
    """Take the lab part's lock (.lab/<lock...>) now; the function returned runs ``reset`` and then releases it."""
    release = labenv.hold(*lock)

    def restore():
        try:
            reset()
        finally:
            release()
    return restore


def _after_cluster_runbook():
    """Hold the simulator's lock (the upgrade-cluster tests') while the runbook changes LKE, then reset the cluster:
    the autopilot tests on the other workers take it around their runs and check LKE got no write from them."""
    return _held_until_reset(labenv.SIMULATOR_LOCK, _reset_cluster)


def _after_postgres_runbook():
    """Hold the Postgres tests' lock (tests/integration/postgres) while the pair is changed, then reset it."""
    return _held_until_reset(("postgres", "tests.lock"), _reset_postgres)


def _after_dns_runbook():
    """Hold the DNS tests' lock (tests/integration/dns) while the zone is changed, then restore it."""
    release = labenv.hold("dns", "tests.lock")
    snapshot = ZoneSnapshot()

    def restore():
        try:
            snapshot.restore()
        finally:
            release()
    return restore


# How the lab goes back to its seeded state after a runbook that changes it: called before the
# run, the result is called after it (also when the run fails).
CLEANUP = {
    "playbooks/upgrade-cluster.yml": _after_cluster_runbook,
    "playbooks/node-failure-drill.yml": _after_cluster_runbook,
    # playbooks/autopilot.yml needs none: the lab inventory sets no autopilot_policy, so its jobs decide nothing
    # and change nothing (tests/integration/autopilot drives it with policies)
    "playbooks/upgrade-postgres.yml": _after_postgres_runbook,
    "playbooks/dns-migration.yml": _after_dns_runbook,
    "playbooks/lower-dns-ttl.yml": _after_dns_runbook,
    "playbooks/restore-dns-ttl.yml": _after_dns_runbook,
}


def _cases():
    for jt in m.job_templates():
        marks = []
        if not os.path.isfile(os.path.join(REPO, jt["playbook"])):
            marks.append(pytest.mark.skip(reason="%s is not there yet" % jt["playbook"]))
        yield pytest.param(jt, id=jt["name"].split(": ", 1)[-1].replace(" ", "-"), marks=marks)


PROJECT_SKIP = {".git", ".venv", ".lab", ".build", ".ansible", ".pytest_cache", "reports"}


def project_copy(dest, reports):
    """What an AWX job runs in: its own copy of the project (AWX syncs one per job). reports/
    (journals, ledger, reports) must outlive the job for resume and restore to work, so it links
    to `reports`, as a persistent volume would in AWX. The lab's state (.lab) is the machine's,
    linked in for the lab inventory; the committed .collections symlink resolves inside the copy."""
    def ignore(directory, names):
        skip = PROJECT_SKIP if os.path.samefile(directory, REPO) else set()
        return [n for n in names if n in skip or n.endswith(".tar.gz") or n == "__pycache__"]
    shutil.copytree(REPO, dest, symlinks=True, ignore=ignore)
    os.symlink(os.path.join(REPO, ".lab"), os.path.join(dest, ".lab"))
    os.symlink(reports, os.path.join(dest, "reports"))
    return dest


def _traversable_dir(prefix):
    """A temp dir other users can reach: the lab runs PostgreSQL as an unprivileged user that
    works in the project (cwd, log paths), and pytest's own tmp dirs are root-only."""
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)  # nosec - lab-only scratch space, no secrets in it
    return path


@pytest.fixture(scope="module")
def awx_reports():
    """The persistent storage the jobs of this module share (not the checkout's reports/)."""
    path = _traversable_dir("awx-reports-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def project_dir():
    path = _traversable_dir("awx-project-")
    yield os.path.join(path, "project")
    shutil.rmtree(path, ignore_errors=True)


def run_job(jt, tmp_path, project_dir, reports, answers, check=False):
    """One AWX-style job: survey answers as extra vars, the credential injected, no prompts.
    Returns (runner, events, stdout, project); the lab is put back after a changing run."""
    import ansible_runner  # pylint: disable=import-outside-toplevel

    project = project_copy(project_dir, reports)
    private = tmp_path / "job"
    private.mkdir()
    env = injected_credential(str(private))
    # AWX's job environment: the project is the working directory (its ansible.cfg applies)
    env.update(ANSIBLE_CONFIG=os.path.join(project, "ansible.cfg"), PATH="%s:%s" % (BIN, os.environ["PATH"]),
               LAB_PROFILE=labenv.current_profile(), ANSIBLE_FORCE_COLOR="0")
    cleanup = CLEANUP[jt["playbook"]]() if jt["playbook"] in CLEANUP and not check else None
    try:
        runner = ansible_runner.run(
            private_data_dir=str(private), project_dir=project, playbook=os.path.join(project, jt["playbook"]),
            inventory=os.path.join(project, LAB_INVENTORY["source_path"]),
            # AWX merges the job template's own extra vars under the survey answers
            extravars=dict(jt.get("extra_vars") or {}, **answers), envvars=env,
            cmdline="--check" if check else None, quiet=True,
            timeout=min(jt["timeout"], MAX_JOB_SECONDS), settings={"suppress_ansible_output": True})
        return runner, list(runner.events), runner.stdout.read(), project
    finally:
        if cleanup:
            cleanup()


@pytest.mark.parametrize("jt", list(_cases()))
def test_runbook_runs_as_awx_runs_it(jt, lab_up, tmp_path, monkeypatch, awx_reports, project_dir):
    lab_up(*needed_components(jt["playbook"]))
    # ansible-runner finds ansible-playbook on this process's PATH: the venv's
    monkeypatch.setenv("PATH", "%s:%s" % (BIN, os.environ["PATH"]))
    runner, events, stdout, project = run_job(jt, tmp_path, project_dir, awx_reports, m.survey_answers(jt),
                                              check=jt.get("job_type") == "check")

    assert runner.rc == 0 and runner.status == "successful", (
        "%s: %s rc=%s\n%s" % (jt["name"], runner.status, runner.rc, stdout[-6000:]))

    # no secret in any event (AWX stores and shows every one of them)
    secrets = lab_secrets()
    assert "linode_sim:LINODE_TOKEN" in secrets and "kubeconfig:client-key-data" in secrets, sorted(secrets)
    leaks = []
    for name, secret in secrets.items():
        for event in events:
            if any(secret in text for text in strings_in(event)):
                leaks.append("%s in event %s (%s)" % (name, event.get("counter"), event.get("event")))
                break
    assert not leaks, "%s leaked secrets:\n  %s" % (jt["name"], "\n  ".join(leaks))

    # the job artifacts AWX keeps (and hands to later workflow nodes)
    stats = [e for e in events if e.get("event") == "playbook_on_stats"]
    assert stats, "no playbook_on_stats event"
    artifacts = stats[-1]["event_data"].get("artifact_data") or {}
    key = stats_key(jt["playbook"])
    assert key in artifacts, "%s published no set_stats %r (got %s)" % (jt["playbook"], key, sorted(artifacts))
    data = artifacts[key]
    missing = [field for field in jt["artifacts"] if field not in data]
    assert not missing, "%s: set_stats %s lacks %s (has %s)" % (jt["playbook"], key, missing, sorted(data))
    assert data["status"], data
    assert data["run_id"], data
    if "report" in jt["artifacts"]:
        report = data["report"] if os.path.isabs(data["report"]) else os.path.join(project, data["report"])
        assert os.path.isfile(report), "report %s does not exist" % report
        assert os.path.realpath(report).startswith(os.path.realpath(os.path.join(project, "reports")) + os.sep), report
        with open(report, encoding="utf-8") as handle:
            assert str(data["run_id"]) in handle.read(), "the report is not the run's"


def test_dns_records_survey_answer_is_accepted(lab_up, tmp_path, monkeypatch, project_dir):
    """The survey's Records question, answered as AWX passes it, drives a real lowering plan."""
    jt = m.job_template("fournines: lower DNS TTL")
    question = [q for q in m.survey_questions(jt) if q["variable"] == "dns_migration_records"][0]
    assert question["type"] == "textarea"
    lab_up(*needed_components(jt["playbook"]))
    monkeypatch.setenv("PATH", "%s:%s" % (BIN, os.environ["PATH"]))
    os.mkdir(str(tmp_path / "reports"))
    answers = m.survey_answers(jt, {"dns_migration_records": "app A\nwww CNAME\n"})
    runner, events, stdout, dummy = run_job(jt, tmp_path, project_dir, str(tmp_path / "reports"), answers, check=True)
    assert runner.rc == 0, stdout[-4000:]
    planned = [e["event_data"]["res"] for e in events
               if e.get("event") == "runner_on_ok" and "records" in (e.get("event_data", {}).get("res") or {})]
    assert planned, "no task reported the records it would lower"
    names = sorted((r["name"], r["type"]) for r in planned[0]["records"])
    assert names == [("app.lab.example.", "A"), ("www.lab.example.", "CNAME")], names
