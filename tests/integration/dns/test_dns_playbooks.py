"""The runbooks end to end against the lab: a failing migration hook still restores the TTLs on
every nameserver, and TTLs lowered days ahead are restored by another run from the journal."""

import datetime
import json
import os
import re
import signal
import subprocess
import time
import uuid

import pytest

from dnslab import APP_RECORDS, REPO, ZONE, labenv

from ansible_collections.fournines.runbooks.plugins.module_utils.dns import propagation


@pytest.fixture
def run_id():
    return "dns-test-%s" % uuid.uuid4().hex[:8]


@pytest.fixture
def reports(tmp_path):
    """The test's own folder for the runs' journals: never the checkout's reports/."""
    return str(tmp_path / "reports")


def reports_vars(reports):
    return {"dns_ttl_lower_reports_dir": reports, "dns_migration_hook_reports_dir": reports,
            "dns_ttl_restore_reports_dir": reports}


def playbook(name, reports, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    cmd = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), os.path.join(REPO, "playbooks", name),
           "-e", json.dumps(reports_vars(reports))]
    for item in extra:
        cmd += ["-e", json.dumps(item)] if isinstance(item, dict) else [item]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def served_ttls(nameservers):
    out = {}
    for label, ip, port in nameservers:
        for name, rtype in APP_RECORDS:
            out[(label, name, rtype)] = propagation.query(ip, port, name, rtype, 2)["ttl"]
    return out


def epoch(stamp):
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def journal(reports, run_id):
    return json.load(open(os.path.join(reports, run_id, "state.json")))


@pytest.mark.parametrize("provider", ["rfc2136", "powerdns"])
def test_failing_hook_still_restores_every_nameserver(provider, run_id, reports, nameservers):
    result = playbook("dns-migration.yml", reports, {
        "dns_migration_provider": provider, "dns_migration_run_id": run_id, "dns_migration_ttl": 5,
        "dns_migration_hook_tasks": "", "dns_migration_hook_command": ["false"], "dns_migration_wait_out": False})
    assert result.returncode != 0, result.stdout
    assert "Run the migration command" in result.stdout and "Restore the original TTLs" in result.stdout
    assert "-    app.lab.example./A: 3600" in result.stdout and "+    app.lab.example./A: 5" in result.stdout
    assert set(served_ttls(nameservers).values()) == {3600}
    state = journal(reports, run_id)
    assert state["status"] == "done"
    assert all(r["restored"] for r in state["facts"]["dns_ttl"]["records"].values())


def test_lowered_days_ahead_restored_by_another_run(run_id, reports, nameservers):
    lowered = playbook("lower-dns-ttl.yml", reports, {"dns_migration_run_id": run_id, "dns_migration_ttl": 5})
    assert lowered.returncode == 0, lowered.stdout
    assert set(served_ttls(nameservers).values()) == {5}
    # the wait's lines reach the play output as they are written (the progress callback)
    assert "  progress: " in lowered.stdout and "serves the expected answers" in lowered.stdout, lowered.stdout
    again = playbook("lower-dns-ttl.yml", reports, {"dns_migration_run_id": run_id, "dns_migration_ttl": 5})
    assert again.returncode == 0 and "changed=0" in again.stdout  # a re-run keeps the saved originals
    pending = journal(reports, run_id)["facts"]["dns_ttl"]["records"]
    assert set(v["original_ttl"] for v in pending.values()) == {3600}
    # the report written after lowering says when the migration may start: lowered + publish lag 0 + 3600 s (+1)
    saved = journal(reports, run_id)["facts"]["dns_ttl"]["records"]["app.lab.example./A"]
    assert epoch(saved["old_answers_gone_at"]) >= epoch(saved["lowered_at"]) + 3601
    assert "So the migration may start at " in " ".join(lowered.stdout.split())
    with open(os.path.join(reports, run_id, "report.md")) as handle:
        markdown = handle.read()
    assert "- app.lab.example. A: old answers gone from every cache at %s (lowered at " % saved["old_answers_gone_at"] \
        in markdown and "+ publish lag 0 s + old TTL 3600 s" in markdown
    assert "The migration may start at **" in markdown
    restored = playbook("restore-dns-ttl.yml", reports, {"dns_migration_run_id": run_id, "dns_migration_provider": "rfc2136"})
    assert restored.returncode == 0, restored.stdout
    assert set(served_ttls(nameservers).values()) == {3600}


def test_check_mode_says_when_the_migration_may_start(run_id, reports, nameservers, make_provider):
    """A record cached for a day: --check shows its TTL and, per record and overall, when the answers cached
    before the lowering will have left every cache (now + the provider's publish lag + the old TTL), which
    is when the migration may start; it changes nothing."""
    api = make_provider("powerdns")
    key = ("app.lab.example.", "A")
    api.set_ttls(ZONE, [(api.get(ZONE, [key])[key], 86400)])
    propagation.wait_converged(nameservers, ZONE, propagation.normalize_expectations(
        [{"name": key[0], "type": key[1], "ttl": 86400}], ZONE), timeout=30, interval=0.1)
    before = time.time()
    result = playbook("lower-dns-ttl.yml", reports, "--check", {"dns_migration_run_id": run_id,
                                                                "dns_migration_publish_lag": 900})
    after = time.time()
    out = " ".join(result.stdout.split())
    assert result.returncode == 0, result.stdout[-3000:]
    assert "ttl 86400, want 60" in out  # what the nameservers serve now
    app = re.search(r"app\.lab\.example\. A: old answers gone from every cache at (\S+), in 1 d 0 h 15 min 1 s "
                    r"\(now \+ publish lag 900 s \+ old TTL 86400 s \+ 1 s for resolvers", out)
    assert app, out[-3000:]
    assert before + 87301 <= epoch(app.group(1)) <= after + 87301
    assert re.search(r"www\.lab\.example\. CNAME: old answers gone from every cache at \S+, in 1 h 15 min 1 s "
                     r"\(now \+ publish lag 900 s \+ old TTL 3600 s", out), out[-3000:]
    assert ("So the migration may start at %s, in 1 d 0 h 15 min 1 s if the TTLs are lowered now: then the old answers "
            "of every record have left every cache (the last is app.lab.example. A)." % app.group(1)) in out
    assert served_ttls(nameservers)[(nameservers[0][0], "app.lab.example.", "A")] == 86400
    assert not os.path.exists(os.path.join(reports, run_id))


def test_bad_ttl_fails_before_anything_changes(run_id, reports, nameservers):
    result = playbook("dns-migration.yml", reports, {"dns_migration_run_id": run_id, "dns_migration_ttl": -5})
    assert result.returncode != 0
    assert "ttl -5 is negative" in result.stdout
    assert "Run the migration" not in result.stdout
    assert set(served_ttls(nameservers).values()) == {3600}


def test_check_mode_changes_nothing(run_id, reports, nameservers):
    result = playbook("dns-migration.yml", reports, "--check", {"dns_migration_run_id": run_id})
    assert result.returncode == 0, result.stdout
    assert set(served_ttls(nameservers).values()) == {3600}
    assert not os.path.exists(os.path.join(reports, run_id))


def test_linode_end_to_end(run_id, reports, linode_provider):
    env = labenv.component_env("linode_sim")
    records = [{"name": "web.lab", "type": "A"}, {"name": "api.lab", "type": "A"}]
    result = playbook("dns-migration.yml", reports, {
        "dns_migration_provider": "linode", "dns_migration_zone": "fournines.test", "dns_migration_records": records,
        "dns_migration_run_id": run_id, "dns_migration_linode_api_token": env["LINODE_TOKEN"],
        "dns_migration_linode_api_url": env["LINODE_API_URL"], "dns_migration_ttl": 60,
        # the simulator serves no DNS: nothing to query, rely on the publish lag
        "dns_migration_verify": False, "dns_migration_publish_lag": 1, "dns_migration_wait_out": False,
        "dns_migration_hook_tasks": "", "dns_migration_hook_command": ["true"]})
    assert result.returncode == 0, result.stdout
    assert "60 is stored as 120" in result.stderr  # a warning
    assert "-    web.lab.fournines.test./A: 120" in result.stdout and "+    web.lab.fournines.test./A: 3600" in result.stdout
    keys = [("web.lab.fournines.test.", "A"), ("api.lab.fournines.test.", "A")]
    assert set(r.ttl for r in linode_provider().get("fournines.test.", keys).values()) == {3600}
    assert journal(reports, run_id)["status"] == "done"


def test_external_dns_end_to_end(run_id, reports, k8s_objects, external_dns_controller):
    """The runbook against an Ingress the real external-dns publishes: the lowered and the restored
    TTLs are verified on both nameservers."""
    kube, ns = k8s_objects
    kube.request("POST", "/apis/networking.k8s.io/v1/namespaces/%s/ingresses" % ns, body={
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "ext", "namespace": ns, "annotations": {
            "external-dns.alpha.kubernetes.io/ttl": "3600", "external-dns.alpha.kubernetes.io/target": "127.0.0.30"}},
        "spec": {"rules": [{"host": "ext.lab.example", "http": {"paths": [{
            "path": "/", "pathType": "Prefix", "backend": {"service": {"name": "ext", "port": {"number": 80}}}}]}}]}})
    external_dns_controller(ns)
    expect = propagation.normalize_expectations([{"name": "ext", "ttl": 3600, "values": ["127.0.0.30"]}], "lab.example.")
    nameservers = [propagation.parse_nameserver(n) for n in labenv.component_env("dns")["DNS_NAMESERVERS"].split(",")]
    propagation.wait_converged(nameservers, "lab.example.", expect, timeout=90, interval=0.2)  # published
    result = playbook("dns-migration.yml", reports, {
        "dns_migration_provider": "external_dns", "dns_migration_run_id": run_id,
        "dns_migration_records": [{"name": "ext"}], "dns_migration_ttl": 60,
        "dns_migration_kubeconfig": labenv.kubeconfig(), "dns_migration_external_dns": {"namespaces": [ns]},
        "dns_migration_publish_lag": 2, "dns_migration_wait_out": False,
        "dns_migration_hook_tasks": "", "dns_migration_hook_command": ["true"],
        "dns_migration_hook_expect": [{"name": "ext", "type": "A", "values": ["127.0.0.30"]}]})
    assert result.returncode == 0, result.stdout
    assert "+    ext.lab.example./A: 60" in result.stdout and "+    ext.lab.example./A: 3600" in result.stdout
    assert "%s: serves the expected answers" % nameservers[1][0] in result.stdout  # verified via external-dns
    notes = kube.get("/apis/networking.k8s.io/v1/namespaces/%s/ingresses/ext" % ns)["metadata"]["annotations"]
    assert notes["external-dns.alpha.kubernetes.io/ttl"] == "3600"
    propagation.wait_converged(nameservers, "lab.example.", expect, timeout=30, interval=0.2)


def test_interrupted_run_carries_on_and_restores(run_id, reports, nameservers):
    """Interrupt the runbook while it waits out the old TTL; the re-run does not lower again,
    keeps the saved originals, runs the migration and restores them."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    cmd = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), os.path.join(REPO, "playbooks", "dns-migration.yml"),
           "-e", json.dumps(reports_vars(reports)),
           "-e", json.dumps({"dns_migration_run_id": run_id, "dns_migration_ttl": 5, "dns_migration_wait_out": True})]
    # its own process group, interrupted as a terminal's Ctrl-C would: every process of the run gets SIGINT
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    state_path = os.path.join(reports, run_id, "state.json")
    try:
        for _ in range(600):  # the wait step is journalled before the (one-hour) sleep starts
            if os.path.exists(state_path) and any(s["name"] == "dns_ttl_lower_wait" for s in journal(reports, run_id)["steps"]):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the runbook never reached the wait-out")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        output = proc.communicate(timeout=60)[0]
    assert proc.returncode != 0 and "Restore the original TTLs" not in output  # really cut short
    assert set(served_ttls(nameservers).values()) == {5}
    again = playbook("dns-migration.yml", reports, {"dns_migration_run_id": run_id, "dns_migration_ttl": 5,
                                                    "dns_migration_wait_out": False})
    assert again.returncode == 0, again.stdout
    lower_task = again.stdout.split("Lower the TTLs (originals saved in the run journal first)")[1].split("TASK [")[0]
    assert "ok: [lab-zone]" in lower_task  # not lowered again
    assert set(served_ttls(nameservers).values()) == {3600}
    assert propagation.query(nameservers[1][1], nameservers[1][2], "app.lab.example.", "A", 2)["values"] == ["127.0.0.20"]
    assert journal(reports, run_id)["status"] == "done"


def test_rfc2136_end_to_end(run_id, reports, nameservers):
    """The whole runbook with signed dynamic updates: lowered, verified, migrated, restored."""
    result = playbook("dns-migration.yml", reports, {"dns_migration_provider": "rfc2136", "dns_migration_run_id": run_id,
                                                     "dns_migration_ttl": 5, "dns_migration_wait_out": False})
    assert result.returncode == 0, result.stdout
    assert "+    app.lab.example./A: 5" in result.stdout and "+    app.lab.example./A: 3600" in result.stdout
    assert set(served_ttls(nameservers).values()) == {3600}
    for _label, ip, port in nameservers:
        assert propagation.query(ip, port, "app.lab.example.", "A", 2)["values"] == ["127.0.0.20"]
    assert journal(reports, run_id)["status"] == "done"
