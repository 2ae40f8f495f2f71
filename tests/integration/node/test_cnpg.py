"""CloudNativePG for real on the real node: a Cluster of 2 instances becomes healthy, takes
writes on the primary, streams them to the replica, and survives the deletion of its primary
pod (failover to the replica) without losing a committed row.

Connections go from the host to the Cluster's Services (ClusterIPs routed into the node's
namespace, where kube-proxy sends them to the pods), as the runbook will.
"""

import json
import os
import subprocess
import sys
import time
import uuid

import psycopg
import pytest
from kubernetes import client

from conftest import TAINT_KEY, pg_connect, wait_for

GROUP, VERSION, PLURAL = "postgresql.cnpg.io", "v1", "clusters"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture
def pg_namespace(k8s_core):
    name = "cnpg-test-" + uuid.uuid4().hex[:6]
    k8s_core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    k8s_core.delete_namespace(name)
    # The local volumes its PVCs used: wait until they are Released, then make them Available.
    wait_for("the namespace gone", lambda: not [n for n in k8s_core.list_namespace().items
                                                 if n.metadata.name == name], timeout=180)
    subprocess.run([sys.executable, os.path.join(REPO, "lab", "node", "seed.py"), "volumes",
                    os.path.join(REPO, ".lab", "kubeconfig"),
                    k8s_core.list_node(label_selector="lab.fournines.io/kubelet=real").items[0].metadata.name,
                    "6", "/var/lib/fournines-node/volumes"], check=True, timeout=120)


def cluster_body(image):
    return {
        "apiVersion": GROUP + "/" + VERSION, "kind": "Cluster", "metadata": {"name": "pg"},
        "spec": {
            "instances": 2, "imageName": image, "imagePullPolicy": "Never",
            "enableSuperuserAccess": True,
            "storage": {"size": "1Gi", "storageClass": "lab-node-local"},
            "affinity": {"nodeSelector": {"lab.fournines.io/kubelet": "real"},
                         "tolerations": [{"key": TAINT_KEY, "operator": "Equal", "value": "true",
                                          "effect": "NoSchedule"}]},
            "postgresql": {"parameters": {"shared_buffers": "32MB", "max_connections": "30"}},
            "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        },
    }


def status(custom, ns):
    return custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, "pg").get("status") or {}


def healthy(custom, ns):
    st = status(custom, ns)
    if st.get("readyInstances") == 2 and st.get("phase") == "Cluster in healthy state" \
            and st.get("currentPrimary") == st.get("targetPrimary"):
        return st
    return None


def connect(core, ns, service, user="postgres", retry_for=60):
    return pg_connect(core, ns, service, "pg-superuser" if user == "postgres" else "pg-app", user=user,
                      retry_for=retry_for, connect_timeout=5)


def try_connect(core, ns, service):
    try:
        return connect(core, ns, service, retry_for=0)
    except psycopg.OperationalError:
        return None


def test_cluster_of_two_fails_over_without_losing_committed_rows(real_node, k8s_core, k8s_client, pg_namespace):
    custom = client.CustomObjectsApi(k8s_client)
    ns = pg_namespace
    started = time.monotonic()
    custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, cluster_body(real_node["NODE_IMAGE_PG_OLD"]))
    st = wait_for("Cluster pg healthy with 2 instances", lambda: healthy(custom, ns), timeout=420, every=2)
    print("cnpg: 2-instance cluster healthy in %.1fs" % (time.monotonic() - started))
    first_primary = st["currentPrimary"]
    pods = {p.metadata.name: p for p in k8s_core.list_namespaced_pod(ns, label_selector="cnpg.io/cluster=pg").items
            if p.metadata.labels.get("cnpg.io/podRole") == "instance"}
    assert len(pods) == 2 and all(p.spec.node_name == real_node["NODE_NAME"] for p in pods.values())

    # Writes on the primary, each committed on its own.
    with connect(k8s_core, ns, "pg-rw") as conn:
        assert conn.execute("select pg_is_in_recovery()").fetchone()[0] is False
        assert conn.execute("show server_version").fetchone()[0].startswith("15.18")
        conn.execute("create table ledger (id int primary key, note text not null)")
        for i in range(1, 201):
            conn.execute("insert into ledger values (%s, %s)", (i, "row %d" % i))
        # Streaming: the replica is attached and replays what the primary wrote.
        repl = conn.execute("select application_name, state from pg_stat_replication").fetchall()
        assert [r[1] for r in repl] == ["streaming"], repl
        lsn = conn.execute("select pg_current_wal_lsn()::text").fetchone()[0]
    with connect(k8s_core, ns, "pg-ro") as replica:
        assert replica.execute("select pg_is_in_recovery()").fetchone()[0] is True
        wait_for("the replica to replay the primary's writes", lambda: replica.execute(
            "select pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0], timeout=60)
        assert replica.execute("select count(*), max(id) from ledger").fetchone() == (200, 200)

    # Failover: the primary's pod disappears; the replica is promoted.
    k8s_core.delete_namespaced_pod(first_primary, ns, grace_period_seconds=0)
    failed_over = time.monotonic()
    wait_for("a new primary", lambda: status(custom, ns).get("currentPrimary") not in (None, first_primary),
             timeout=180, every=1)
    conn = wait_for("the rw Service to answer on the new primary",
                    lambda: try_connect(k8s_core, ns, "pg-rw"), timeout=120, every=1)
    with conn:
        assert conn.execute("select pg_is_in_recovery()").fetchone()[0] is False
        assert conn.execute("select count(*), max(id) from ledger").fetchone() == (200, 200)
        conn.execute("insert into ledger values (201, 'after failover')")
    print("cnpg: failover, rw Service writable again after %.1fs" % (time.monotonic() - failed_over))
    # The old primary comes back as a replica of the new one; the Cluster is whole again.
    st = wait_for("Cluster pg healthy again", lambda: healthy(custom, ns), timeout=300, every=2)
    assert st["currentPrimary"] != first_primary
    with connect(k8s_core, ns, "pg-rw") as conn:
        wait_for("the old primary streaming from the new one", lambda: [r[0] for r in conn.execute(
            "select state from pg_stat_replication").fetchall()] == ["streaming"], timeout=120)
        assert conn.execute("select count(*) from ledger").fetchone()[0] == 201


def test_operator_webhooks_validate_and_default(real_node, k8s_client, pg_namespace):
    """The API server calls the operator's webhooks (ClusterIP routed into the node's namespace)."""
    custom = client.CustomObjectsApi(k8s_client)
    bad = cluster_body(real_node["NODE_IMAGE_PG_OLD"])
    bad["spec"]["bootstrap"] = {"initdb": {"database": "app", "owner": "app"},
                                "pg_basebackup": {"source": "elsewhere"}}
    with pytest.raises(client.ApiException) as err:
        custom.create_namespaced_custom_object(GROUP, VERSION, pg_namespace, PLURAL, bad)
    message = json.loads(err.value.body)["message"]
    assert err.value.status in (400, 422) and 'admission webhook "vcluster.cnpg.io" denied the request' in message, message
    # Dry run through the mutating webhook: defaults the CRD schema alone does not set.
    ok = cluster_body(real_node["NODE_IMAGE_PG_OLD"])
    made = custom.create_namespaced_custom_object(GROUP, VERSION, pg_namespace, PLURAL, ok, dry_run="All")
    assert made["spec"]["bootstrap"]["initdb"]["database"] == "app"
