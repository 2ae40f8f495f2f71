"""Unit tests for postgres/cloudnative_pg/major.py: the parts that do not need the operator
(inventory parsing, findings, Job failures, the wait's timings and refusals, the rollback
clone). The operator's real in-place upgrade runs in tests/integration/postgres_operator."""

import copy
import json

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.k8s.client import K8sError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import cluster
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg import major

OLD, NEW = "lab.local/postgresql:17-aaa", "lab.local/postgresql:18-bbb"


def cnpg(image=OLD, data_major=17, ready=2, phase=cluster.HEALTHY_PHASE):
    return {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
            "metadata": {"name": "pg", "namespace": "shop"},
            "spec": {"instances": 2, "imageName": image, "imagePullPolicy": "Never",
                     "storage": {"size": "1Gi", "storageClass": "lab-node-local"},
                     "affinity": {"nodeSelector": {"lab.fournines.io/kubelet": "real"},
                                  "tolerations": [{"key": "lab.fournines.io/real-node", "operator": "Exists"}]}},
            "status": {"phase": phase, "readyInstances": ready, "currentPrimary": "pg-1", "targetPrimary": "pg-1",
                       "pgDataImageInfo": {"image": OLD, "majorVersion": data_major}}}


def pod(name, image, ready=True):
    return {"metadata": {"name": name, "labels": {"cnpg.io/cluster": "pg", "cnpg.io/podRole": "instance"}},
            "spec": {"containers": [{"name": "postgres", "image": image}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


class Clock(object):
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        self.t += 1.0
        return self.t


class FakeKube(object):
    """A Cluster whose in-place upgrade takes ``steps`` polls; or a Job that fails."""

    def __init__(self, obj, steps=3, fail=False):
        self.obj, self.steps, self.fail, self.polls, self.patches = obj, steps, fail, 0, []
        self.api = self

    def get(self, path, query=None, ok_missing=False):
        if "/postgresclusters/" in path:
            return None
        return copy.deepcopy(self.obj)

    def items(self, path, query=None):
        sel = query["labelSelector"]
        if "jobRole" in sel:
            if self.patches and self.fail:
                return [{"metadata": {"name": "pg-1-major-upgrade"}, "status": {"failed": 2}}]
            return []
        if sel.startswith("job-name="):
            return [{"metadata": {"name": "pg-1-major-upgrade-x", "creationTimestamp": "t"},
                     "status": {"phase": "Failed", "initContainerStatuses": [
                         {"name": "prepare", "state": {"terminated": {"exitCode": 0}}}],
                         "containerStatuses": [{"name": "major-upgrade", "state": {"terminated": {"exitCode": 1}}}]}}]
        image = self.obj["spec"]["imageName"]
        if self.patches:
            self.polls += 1
            if self.polls >= self.steps:
                self.obj["status"]["pgDataImageInfo"]["majorVersion"] = 18
                return [pod("pg-1", image), pod("pg-2", image)]
            return []
        return [pod("pg-1", image), pod("pg-2", image)]

    def request(self, method, path, body=None, content_type=None, retry_status=True, ok_missing=False, query=None):
        assert method == "PATCH"
        self.patches.append(body)
        self.obj["spec"].update(body.get("spec") or {})
        notes = self.obj["metadata"].setdefault("annotations", {})
        for key, value in ((body.get("metadata") or {}).get("annotations") or {}).items():  # a merge patch
            if value is None:
                notes.pop(key, None)
            else:
                notes[key] = value
        return {}

    def call_api(self, path, method, **kw):
        class Resp(object):
            data = (json.dumps({"level": "info", "msg": "Running pg_upgrade"}) + "\n"
                    + json.dumps({"level": "error", "msg": "Error while running pg_upgrade",
                                  "error": "could not load library \"$libdir/vector\""}) + "\n").encode()
        assert path.endswith("/pg-1-major-upgrade-x/log")
        return Resp()


def clusters_of(kube):
    return cluster.CnpgClusters(kube, "shop")


def test_parse_inventory_and_refusal_of_garbage():
    inv = major.parse_inventory("PostgreSQL 18.1 (Debian 18.1-1)\n/usr/lib/postgresql/18/lib\nplpgsql hstore \npgoutput plpgsql\n")
    assert inv == {"version": "18.1 (Debian 18.1-1)", "pkglibdir": "/usr/lib/postgresql/18/lib",
                   "extensions": ["hstore", "plpgsql"], "libraries": ["pgoutput", "plpgsql"]}
    with pytest.raises(cluster.CnpgError, match="pg_config"):
        major.parse_inventory("sh: pg_config: not found")


def test_inventory_pod_runs_where_the_cluster_runs():
    body = major.inventory_pod_body(cnpg(), "pg-inventory-1", NEW)
    spec = body["spec"]
    assert spec["nodeSelector"] == {"lab.fournines.io/kubelet": "real"}
    assert spec["tolerations"][0]["key"] == "lab.fournines.io/real-node"
    assert spec["containers"][0]["image"] == NEW and spec["containers"][0]["imagePullPolicy"] == "Never"
    assert spec["restartPolicy"] == "Never" and body["metadata"]["namespace"] == "shop"


def test_preflight_findings_block_a_missing_extension_and_a_logical_slot():
    info = {"extensions": {"app": [{"name": "vector", "version": "0.8.0"}]}, "settings": {},
            "prepared_transactions": 0,
            "replication_slots": [{"slot_name": "_cnpg_pg_2", "slot_type": "physical", "database": None},
                                  {"slot_name": "cdc", "slot_type": "logical", "database": "app"}]}
    inv = {"extensions": ["plpgsql"], "libraries": [], "pkglibdir": "/usr/lib/postgresql/18/lib"}
    msgs = major.blocking(major.preflight_findings(info, inv, NEW))
    assert len(msgs) == 2
    assert "vector 0.8.0 in database app is NOT provided" in msgs[0]
    assert "logical slot cdc" in msgs[1]


def test_upgrade_in_place_patches_once_and_times_the_primary():
    kube = FakeKube(cnpg(), steps=3)
    res = major.upgrade_in_place(clusters_of(kube), "pg", NEW, timeout=60, interval=0, clock=Clock())
    assert res["patched"] and res["changed"]
    assert kube.patches == [{"spec": {"imageName": NEW}}]  # no switchover for a major
    assert res["after"]["healthy"] and res["primary_ready_seconds"] > 0
    assert res["healthy_seconds"] >= res["primary_ready_seconds"]


def test_a_rerun_after_the_patch_only_waits():
    obj = cnpg(image=NEW)
    kube = FakeKube(obj, steps=2)
    kube.patches.append("earlier run")  # the operator is at work
    res = major.upgrade_in_place(clusters_of(kube), "pg", NEW, timeout=60, interval=0, clock=Clock())
    assert not res["patched"] and res["changed"]
    assert kube.patches == ["earlier run"]


def test_done_cluster_is_a_noop():
    kube = FakeKube(cnpg(image=NEW, data_major=18))
    res = major.upgrade_in_place(clusters_of(kube), "pg", NEW, timeout=60, interval=0, clock=Clock())
    assert not res["changed"] and not kube.patches


@pytest.mark.parametrize("image,match", [(OLD.replace("17-", "16-"), "not a newer major"),
                                         ("lab.local/postgresql:17.5", "not a newer major")])
def test_wrong_target_is_refused_before_any_change(image, match):
    kube = FakeKube(cnpg())
    with pytest.raises(cluster.CnpgError, match=match):
        major.upgrade_in_place(clusters_of(kube), "pg", image, timeout=60, interval=0, clock=Clock())
    assert not kube.patches


def test_unhealthy_cluster_is_refused_before_any_change():
    kube = FakeKube(cnpg(ready=1))
    with pytest.raises(cluster.CnpgError, match="1 of 2 instances ready.*nothing was changed"):
        major.upgrade_in_place(clusters_of(kube), "pg", NEW, timeout=60, interval=0, clock=Clock())
    assert not kube.patches


def test_a_failing_job_stops_the_wait_with_its_error():
    kube = FakeKube(cnpg(), steps=99, fail=True)
    with pytest.raises(cluster.CnpgError) as err:
        major.upgrade_in_place(clusters_of(kube), "pg", NEW, timeout=60, interval=0, clock=Clock())
    msg = str(err.value)
    assert "container major-upgrade of pg-1-major-upgrade-x exited 1" in msg
    assert 'could not load library "$libdir/vector"' in msg
    assert "promote the pre-upgrade clone" in msg


def test_smart_shutdown_is_lowered_before_the_image_and_put_back_after():
    kube, slept = FakeKube(cnpg(), steps=3), []
    res = major.upgrade_in_place(clusters_of(kube), "pg", NEW, timeout=60, interval=0, clock=Clock(),
                                 smart_shutdown_timeout=0, run_id="run-1", sleep=slept.append)
    lowered, image, restored = kube.patches
    assert lowered == {"metadata": {"annotations": {major.SMART_SHUTDOWN_ANNOTATION: "180", major.RUN_ANNOTATION: "run-1"}},
                       "spec": {"smartShutdownTimeout": 0}}
    assert image == {"spec": {"imageName": NEW}}
    assert restored["spec"] == {"smartShutdownTimeout": 180}
    assert slept == [major.SMART_SHUTDOWN_SETTLE]  # the instance managers read it before their pods go
    assert res["smart_shutdown_before"] == 180 and res["smart_shutdown_restored"] == 180
    assert kube.obj["spec"]["smartShutdownTimeout"] == 180 and kube.obj["metadata"]["annotations"] == {}


def test_a_rerun_after_a_killed_upgrade_restores_what_the_killed_run_lowered():
    obj = cnpg(image=NEW)
    obj["spec"]["smartShutdownTimeout"] = 0
    obj["metadata"]["annotations"] = {major.SMART_SHUTDOWN_ANNOTATION: "45", major.RUN_ANNOTATION: "killed"}
    kube = FakeKube(obj, steps=2)
    kube.patches.append("earlier run")
    res = major.upgrade_in_place(clusters_of(kube), "pg", NEW, timeout=60, interval=0, clock=Clock(),
                                 smart_shutdown_timeout=0, run_id="rerun", sleep=lambda s: None)
    assert not res["patched"] and res["resumed_run"] == "killed"
    assert kube.patches[1:] == [{"metadata": {"annotations": {major.SMART_SHUTDOWN_ANNOTATION: None,
                                                              major.RUN_ANNOTATION: None}},
                                 "spec": {"smartShutdownTimeout": 45}}]
    assert res["smart_shutdown_restored"] == 45


def test_a_done_cluster_still_gets_back_what_a_killed_run_lowered():
    obj = cnpg(image=NEW, data_major=18)
    obj["spec"]["smartShutdownTimeout"] = 0
    obj["metadata"]["annotations"] = {major.SMART_SHUTDOWN_ANNOTATION: "180", major.RUN_ANNOTATION: "killed"}
    planned = major.upgrade_in_place(clusters_of(FakeKube(copy.deepcopy(obj))), "pg", NEW, timeout=60, interval=0,
                                     clock=Clock(), check_mode=True)
    assert planned["changed"] and "smart_shutdown_restored" not in planned
    kube = FakeKube(obj)
    res = major.upgrade_in_place(clusters_of(kube), "pg", NEW, timeout=60, interval=0, clock=Clock())
    assert res["changed"] and res["smart_shutdown_restored"] == 180 and res["resumed_run"] == "killed"
    assert kube.obj["spec"]["smartShutdownTimeout"] == 180 and kube.obj["metadata"]["annotations"] == {}
    again = major.upgrade_in_place(clusters_of(kube), "pg", NEW, timeout=60, interval=0, clock=Clock())
    assert not again["changed"] and len(kube.patches) == 1


def test_a_failing_job_still_puts_the_smart_shutdown_back():
    kube = FakeKube(cnpg(), steps=99, fail=True)
    with pytest.raises(cluster.CnpgError, match="promote the pre-upgrade clone"):
        major.upgrade_in_place(clusters_of(kube), "pg", NEW, timeout=60, interval=0, clock=Clock(),
                               smart_shutdown_timeout=0, sleep=lambda s: None)
    assert kube.obj["spec"]["smartShutdownTimeout"] == 180 and kube.obj["metadata"]["annotations"] == {}


def test_a_failed_upgrade_keeps_its_run_on_the_cluster_and_a_rerun_carries_it_on():
    kube = FakeKube(cnpg(), steps=99, fail=True)
    with pytest.raises(cluster.CnpgError) as err:
        major.upgrade_in_place(clusters_of(kube), "pg", NEW, timeout=60, interval=0, clock=Clock(),
                               smart_shutdown_timeout=0, run_id="run-1", sleep=lambda s: None)
    assert "promote the pre-upgrade clone" in str(err.value)
    assert "keeps the annotation %s=run-1: running the runbook again carries this run on" % major.RUN_ANNOTATION in str(err.value)
    assert err.value.details["run_kept"] == "run-1" and err.value.details["job"] == "pg-1-major-upgrade"
    # smartShutdownTimeout is back, the run stays named on the Cluster
    assert kube.obj["spec"]["smartShutdownTimeout"] == 180
    assert kube.obj["metadata"]["annotations"] == {major.RUN_ANNOTATION: "run-1"}
    # The operator gets past it (say the Job's cause was fixed); the re-run finds run-1, waits, then clears it.
    kube.fail, kube.polls, kube.steps = False, 0, 2
    res = major.upgrade_in_place(clusters_of(kube), "pg", NEW, timeout=60, interval=0, clock=Clock(),
                                 smart_shutdown_timeout=0, run_id=None, sleep=lambda s: None)
    assert res["resumed_run"] == "run-1" and not res["patched"] and res["after"]["healthy"]
    assert res["smart_shutdown_restored"] is None  # put back by the failed attempt already
    assert kube.obj["metadata"]["annotations"] == {} and kube.obj["spec"]["smartShutdownTimeout"] == 180


def test_a_wait_that_runs_out_keeps_the_run_too():
    kube = FakeKube(cnpg(), steps=10 ** 6)
    with pytest.raises(cluster.CnpgError, match="was not healthy on PostgreSQL 18 within 0 s") as err:
        major.upgrade_in_place(clusters_of(kube), "pg", NEW, timeout=0, interval=0, clock=Clock(), run_id="run-2")
    assert err.value.details["run_kept"] == "run-2" and "carries this run on" in str(err.value)
    assert kube.obj["metadata"]["annotations"] == {major.RUN_ANNOTATION: "run-2"}


class Refusal(object):
    status, reason, headers = 400, "Bad Request", None
    body = json.dumps({"message": "admission webhook denied the request"})


def test_a_refused_image_change_leaves_no_run_behind():
    kube = FakeKube(cnpg())
    real = kube.request

    def refuse(method, path, body=None, **kw):
        if (body.get("spec") or {}).get("imageName"):
            raise major.K8sApiError("refused", Refusal())
        return real(method, path, body=body, **kw)
    kube.request = refuse
    with pytest.raises(cluster.CnpgError) as err:
        major.upgrade_in_place(clusters_of(kube), "pg", NEW, timeout=60, interval=0, clock=Clock(),
                               smart_shutdown_timeout=0, run_id="run-3", sleep=lambda s: None)
    assert "admission webhook denied the request" in str(err.value) and "carries this run on" not in str(err.value)
    assert kube.obj["metadata"]["annotations"] == {} and kube.obj["spec"]["smartShutdownTimeout"] == 180


def test_prediction_band():
    assert major.predict_downtime({"primary_ready_seconds": 20}) == {
        "predicted_seconds": 20.0, "low_seconds": 15.0, "high_seconds": 25.0, "margin": 0.25}


def test_rollback_clone_is_a_replica_cluster_of_production_on_the_old_image():
    body = major.rollback_clone_body(cnpg(), "pg-preupgrade")
    spec = body["spec"]
    assert spec["imageName"] == OLD
    assert spec["replica"] == {"enabled": True, "source": "pg"}
    assert spec["bootstrap"] == {"pg_basebackup": {"source": "pg"}}
    assert body["metadata"]["labels"]["fournines.io/canary-of"] == "pg"
    assert body["metadata"]["labels"]["fournines.io/role"] == "pre-upgrade-clone"
    assert major.promote_patch() == {"spec": {"replica": {"enabled": False}}}


class CloneKube(object):
    """Production plus whatever Clusters are created; created Clusters are healthy at once."""

    def __init__(self, prod, others=()):
        self.objs = {"pg": prod}
        for obj in others:
            self.objs[obj["metadata"]["name"]] = obj
        self.requests = []

    def get(self, path, query=None, ok_missing=False):
        if "/postgresclusters/" in path:
            return None
        if path.endswith("/proxy/pg/status"):  # the instance manager: out of recovery once promoted
            return {"isPrimary": not self.objs["pg-preupgrade"]["spec"]["replica"]["enabled"]}
        return copy.deepcopy(self.objs.get(path.rsplit("/", 1)[1]))

    def items(self, path, query=None):
        name = query["labelSelector"].split("=", 1)[1]
        obj = self.objs.get(name)
        return [pod(name + "-1", obj["spec"]["imageName"])] if obj else []

    def request(self, method, path, body=None, content_type=None, retry_status=True, ok_missing=False, query=None):
        self.requests.append((method, body))
        if method == "POST":
            obj = copy.deepcopy(body)
            obj["spec"]["instances"] = 1
            obj["status"] = {"phase": cluster.HEALTHY_PHASE, "readyInstances": 1, "currentPrimary": obj["metadata"]["name"] + "-1",
                             "targetPrimary": obj["metadata"]["name"] + "-1"}
            self.objs[obj["metadata"]["name"]] = obj
        elif method == "PATCH":
            self.objs[path.rsplit("/", 1)[1]]["spec"].update(body["spec"])
        return {}


def test_rollback_clone_is_created_once_then_promoted():
    kube = CloneKube(cnpg())
    res = major.ensure_rollback_clone(clusters_of(kube), "pg", "pg-preupgrade", timeout=5)
    assert res["changed"] and res["image"] == OLD and res["cluster"]["healthy"]
    again = major.ensure_rollback_clone(clusters_of(kube), "pg", "pg-preupgrade", timeout=5)
    assert not again["changed"] and [m for m, _ in kube.requests] == ["POST"]
    promoted = major.promote_rollback_clone(clusters_of(kube), "pg", "pg-preupgrade", timeout=5, interval=0, settle=0,
                                            write_check=lambda: None)
    assert promoted["changed"] and kube.requests[-1] == ("PATCH", {"spec": {"replica": {"enabled": False}}})
    assert not major.promote_rollback_clone(clusters_of(kube), "pg", "pg-preupgrade", timeout=5, interval=0, settle=0,
                                            write_check=lambda: None)["changed"]


class PromotingKube(CloneKube):
    """The promoted clone as the lab's operator showed it, one poll per entry: out of recovery while the
    Cluster still says healthy, then a pending restart, the in-place restart, and healthy again."""

    SCRIPT = [  # (phase, isPrimary, pendingRestart, mightBeUnavailable, write error)
        (cluster.HEALTHY_PHASE, False, False, False, "cannot execute in a read-only transaction"),
        (cluster.HEALTHY_PHASE, True, False, False, None),  # the race the old wait lost
        ("Applying configuration", True, True, False, None),
        ("Primary instance is being restarted in-place", True, False, True, "the database system is shutting down"),
        (cluster.HEALTHY_PHASE, True, False, True, None),
    ] + [(cluster.HEALTHY_PHASE, True, False, False, None)] * 20

    def __init__(self, prod, clone):
        CloneKube.__init__(self, prod, [clone])
        self.poll = -1

    def now(self):
        return self.SCRIPT[min(max(self.poll, 0), len(self.SCRIPT) - 1)]

    def get(self, path, query=None, ok_missing=False):
        if path.endswith("/proxy/pg/status"):
            phase, primary, pending, unavailable, dummy = self.now()
            return {"isPrimary": primary, "pendingRestart": pending, "mightBeUnavailable": unavailable}
        if path.endswith("/clusters/pg-preupgrade"):
            self.poll += 1
            obj = copy.deepcopy(self.objs["pg-preupgrade"])
            obj["status"]["phase"] = self.now()[0]
            return obj
        return CloneKube.get(self, path, query, ok_missing)


def test_promotion_returns_only_once_the_operator_has_restarted_the_new_primary_and_writes_keep_working():
    clone = major.rollback_clone_body(cnpg(), "pg-preupgrade")
    clone["metadata"]["namespace"] = "shop"
    clone["status"] = {"phase": cluster.HEALTHY_PHASE, "readyInstances": 1, "currentPrimary": "pg-preupgrade-1",
                       "targetPrimary": "pg-preupgrade-1"}
    kube = PromotingKube(cnpg(), clone)
    writes = []

    def write_check():
        writes.append(kube.poll)
        return kube.now()[4]
    res = major.promote_rollback_clone(clusters_of(kube), "pg", "pg-preupgrade", timeout=60, interval=0, settle=3,
                                       write_check=write_check, clock=Clock())
    assert res["changed"]
    # Polls 1 and 4..: writes asked only when the operator's view allowed it; the early success of poll 1 did not count.
    assert writes[0] == 1 and 2 not in writes and 3 not in writes and 4 not in writes
    settled_from = 5
    assert writes[-1] - settled_from >= 1  # at least two writes, settle seconds apart, after the restart
    assert kube.poll >= settled_from + 1


def test_promotion_that_never_settles_says_what_it_last_saw():
    clone = major.rollback_clone_body(cnpg(), "pg-preupgrade")
    clone["metadata"]["namespace"] = "shop"
    clone["status"] = {"phase": cluster.HEALTHY_PHASE, "readyInstances": 1, "currentPrimary": "pg-preupgrade-1",
                       "targetPrimary": "pg-preupgrade-1"}
    kube = CloneKube(cnpg(), [clone])
    kube.objs["pg-preupgrade"]["spec"]["replica"]["enabled"] = False
    with pytest.raises(cluster.CnpgError, match="did not serve writes steadily within 0 s after its promotion: a write "
                                                "through pg-preupgrade-rw failed: password authentication failed"):
        major.promote_rollback_clone(clusters_of(kube), "pg", "pg-preupgrade", timeout=0, interval=0,
                                     write_check=lambda: "password authentication failed")


def test_rollback_clone_refuses_a_foreign_cluster_and_a_raised_production():
    other = cnpg()
    other["metadata"]["name"] = "pg-preupgrade"
    kube = CloneKube(cnpg(), [other])
    with pytest.raises(cluster.CnpgError, match="is not the pre-upgrade clone of pg"):
        major.ensure_rollback_clone(clusters_of(kube), "pg", "pg-preupgrade", timeout=5)
    kube = CloneKube(cnpg(image=NEW, data_major=17))
    with pytest.raises(cluster.CnpgError, match="already being raised"):
        major.ensure_rollback_clone(clusters_of(kube), "pg", "pg-preupgrade", timeout=5)
    assert not kube.requests
    with pytest.raises(cluster.CnpgError, match="no pre-upgrade clone"):
        major.promote_rollback_clone(clusters_of(kube), "pg", "pg-preupgrade", timeout=5)


class ApiGoneDuringTheWait(FakeKube):
    """The Kubernetes API answers the patches, then fails for good while the upgrade is waited for."""

    def items(self, path, query=None):
        if self.patches and len(self.patches) >= 2:
            raise K8sError("GET %s failed for good: connection refused" % path)
        return FakeKube.items(self, path, query)


def test_an_api_error_during_the_wait_still_puts_the_smart_shutdown_back():
    kube = ApiGoneDuringTheWait(cnpg(), steps=99)
    with pytest.raises(K8sError):
        major.upgrade_in_place(clusters_of(kube), "pg", NEW, timeout=60, interval=0, clock=Clock(),
                               smart_shutdown_timeout=0, sleep=lambda s: None)
    assert kube.obj["spec"]["smartShutdownTimeout"] == 180 and kube.obj["metadata"]["annotations"] == {}
