"""The autopilot in the lab: what it offers is changed through the simulator's admin endpoint; each gate
holds a change back with its reason and nothing is changed (--check runs, which also prove --check writes
nothing); then a minor stops at approval, an approved run is killed mid-apply and the next run resumes it."""

import datetime
import os

import aplab

uclab = aplab.uclab


def _cluster(admin):
    state = admin.call("GET", "/versions")
    cid, cluster = next(iter(state["clusters"].items()))
    return state, cid, cluster


def test_gates_hold_a_node_patch_back_and_check_writes_nothing(ap_lab, tmp_path):
    admin = ap_lab[0]
    state, cid, cluster = _cluster(admin)
    minor = cluster["k8s_version"]
    newer = "%s.%d" % (minor, int(cluster["patch"].split(".")[2]) + 1)
    admin.call("POST", "/patches", {"version": minor, "patch": newer})
    now = datetime.datetime.now(datetime.timezone.utc)
    later = (now + datetime.timedelta(hours=6)).strftime("%H:%M")
    soon = (now + datetime.timedelta(hours=7)).strftime("%H:%M")
    cases = {
        "wait: outside window": aplab.policy(windows=[{"start": later, "end": soon}]),
        "wait: frozen": aplab.policy(freezes=[{"start": (now - datetime.timedelta(days=1)).date().isoformat(),
                                               "end": (now + datetime.timedelta(days=2)).date().isoformat(),
                                               "reason": "launch"}]),
        "wait: too new": aplab.policy(min_release_age_days=3),
        "wait: budget": aplab.policy(),
        "apply": aplab.policy(),
    }
    with open(os.path.join(str(tmp_path), "downtime.jsonl"), "w") as handle:
        handle.write("")
    for want, pol in cases.items():
        folder = tmp_path / want.replace(":", "").replace(" ", "_")
        folder.mkdir()
        if want == "wait: budget":  # 4 of the 4.3 minutes four nines allow in 30 days are spent
            start = now - datetime.timedelta(hours=1)
            (folder / "downtime.jsonl").write_text('{"start": "%s", "end": "%s"}\n' % (
                start.strftime("%Y-%m-%dT%H:%M:%SZ"), (start + datetime.timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%SZ")))
        admin.call("DELETE", "/requests")
        proc = aplab.run(aplab.variables(folder, pol, autopilot_control_plane_version=newer), check=True)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert "lke_node_patch: %s" % want in proc.stdout, proc.stdout[-3000:]
        assert uclab.mutations(admin) == []
        assert not (folder / "autopilot").exists()  # --check writes no ledger, request or first-seen record


def test_minor_stops_at_approval_then_an_approved_run_killed_midway_is_resumed(ap_lab, tmp_path):
    admin, core = ap_lab[0], ap_lab[1]
    state, cid, cluster = _cluster(admin)
    current = cluster["k8s_version"]
    target = next(v for v in state["versions"] if tuple(map(int, v.split("."))) > tuple(map(int, current.split("."))))
    pol = aplab.policy(components={"lke_kubernetes": {"minor": "approve", "major": "never"}})
    asked = aplab.run(aplab.variables(tmp_path, pol))
    assert asked.returncode == 0, asked.stdout[-3000:] + asked.stderr[-2000:]
    decision = aplab.decisions(tmp_path)["lke_kubernetes"]
    assert (decision["decision"], decision["candidate"]) == ("needs approval", target)
    rid = decision["request_id"]
    request = aplab.request(tmp_path, rid)
    assert request["status"] == "pending" and int(request["evidence"]["plan_rc"]) == 0  # the plan ran (--check)
    assert uclab.recycles(admin) == {} and aplab.report(tmp_path)["report"]["requests"][0]["id"] == rid
    # an unknown id is refused and nothing is attempted
    wrong = aplab.run(aplab.variables(tmp_path, pol, autopilot_approve="ap-nothing"))
    assert wrong.returncode != 0 and "matches no approval request" in wrong.stdout
    refused = aplab.report(tmp_path)
    assert refused["report"]["status"] == "refused", refused
    assert refused["outcome"]["summary"].startswith("The autopilot stopped before deciding: autopilot_approve=ap-nothing")
    assert "Nothing was changed." in refused["outcome"]["summary"]
    assert uclab.recycles(admin) == {}
    # approved: the runbook starts; killed in its first drain
    proc = aplab.run(aplab.variables(tmp_path, pol, autopilot_approve=rid), background=True)
    try:
        uclab.wait_step(tmp_path, "drain ", "running", timeout=600)
    finally:
        aplab.kill_tree(proc)
    assert aplab.request(tmp_path, rid)["status"] == "approved"
    again = aplab.run(aplab.variables(tmp_path, pol))
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-2000:]
    decision = aplab.decisions(tmp_path)["lke_kubernetes"]
    assert decision["decision"] == "resume" and decision["candidate"] == target
    events = [e["event"] for e in aplab.ledger(tmp_path) if e["event"] in ("started", "applied", "failed")]
    assert events == ["started", "started", "applied"]
    assert _cluster(admin)[2]["k8s_version"] == target
    kubelets = {n.status.node_info.kubelet_version for n in uclab.simlab.lke_nodes(core).values()}
    assert all(k.lstrip("v").startswith(target + ".") for k in kubelets), kubelets
    # the killed run's prober was adopted by the resumed run and stopped with it: none of this test's runs probes on
    assert aplab.running_probers(tmp_path) == []
    assert aplab.request(tmp_path, rid)["status"] == "applied"  # the approved request, carried on, ends applied
