"""The lab control plane: loopback only, TLS, time profile applied, seeded objects and CRDs,
seen through the Python client and through kubernetes.core.k8s_info."""

import os
import socket
import ssl
import subprocess
import sys
import uuid

import pytest
import yaml

from k8slab import wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
K8S_PORTS = ("ETCD_CLIENT_PORT", "ETCD_PEER_PORT", "APISERVER_PORT", "CONTROLLER_MANAGER_PORT",
             "SCHEDULER_PORT", "KWOK_PORT")


def _listeners():
    """{port: {local addresses}} of every listening TCP socket (IPv4 and IPv6)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as handle:
            next(handle)
            for line in handle:
                fields = line.split()
                if fields[3] != "0A":  # LISTEN
                    continue
                addr, port = fields[1].split(":")
                if len(addr) == 8:
                    text = socket.inet_ntop(socket.AF_INET, bytes.fromhex(addr)[::-1])
                else:
                    raw = bytes.fromhex(addr)
                    text = socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
                found.setdefault(int(port, 16), set()).add(text)
    return found


def test_control_plane_listens_on_loopback_only(k8s_client, lab_env):
    listeners = _listeners()
    for name in K8S_PORTS:
        port = lab_env.port(name)
        assert listeners.get(port) == {"127.0.0.1"}, "%s (%d) listens on %s" % (name, port, listeners.get(port))


def test_api_server_speaks_tls_with_the_lab_ca(k8s_client, lab_env):
    ca_file = lab_env.component_env("k8s")["K8S_CA_FILE"]
    port = lab_env.port("APISERVER_PORT")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")
    ctx = ssl.create_default_context(cafile=ca_file)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version().startswith("TLS")


def _cmdline(lab_env, process):
    with open(os.path.join(lab_env.state_dir(), "k8s", process + ".pid"), encoding="ascii") as handle:
        pid = handle.read().strip()
    with open("/proc/%s/cmdline" % pid, "rb") as handle:
        return handle.read().decode().split("\0")


def test_time_profile_reaches_the_real_components(k8s_client, lab_env, lab_profile):
    env = lab_env.component_env("k8s")
    for key, value in lab_profile.items():
        assert env[key] == str(value)
    kcm = _cmdline(lab_env, "kube-controller-manager")
    assert kcm[kcm.index("--node-monitor-grace-period") + 1] == "%ds" % lab_profile["NODE_MONITOR_GRACE_PERIOD"]
    api = _cmdline(lab_env, "kube-apiserver")
    assert api[api.index("--default-unreachable-toleration-seconds") + 1] == \
        str(lab_profile["DEFAULT_UNREACHABLE_TOLERATION_SECONDS"])
    fast, prod = lab_env.profile_values("fast"), lab_env.profile_values("production")
    assert prod["DEFAULT_UNREACHABLE_TOLERATION_SECONDS"] == 300
    assert all(fast[k] <= prod[k] for k in fast)


def test_seeded_workloads(k8s_client):
    from kubernetes import client
    apps, core = client.AppsV1Api(k8s_client), client.CoreV1Api(k8s_client)
    policy, storage = client.PolicyV1Api(k8s_client), client.StorageV1Api(k8s_client)

    web = apps.read_namespaced_deployment("web", "app")
    assert web.spec.replicas == 1
    assert [v.persistent_volume_claim.claim_name for v in web.spec.template.spec.volumes] == ["web-data"]
    assert core.read_namespaced_persistent_volume_claim("web-data", "app").spec.access_modes == ["ReadWriteOnce"]
    assert apps.read_namespaced_deployment("api", "app").spec.replicas == 3
    assert policy.read_namespaced_pod_disruption_budget("api", "app").spec.min_available == 2
    assert apps.read_namespaced_deployment("legacy", "blocked").spec.replicas == 2
    legacy_pdb = wait_for("legacy PDB status", lambda: (lambda p: p if p.status and p.status.observed_generation
                                                        else None)(
        policy.read_namespaced_pod_disruption_budget("legacy", "blocked")))
    assert legacy_pdb.spec.max_unavailable == 0 and legacy_pdb.status.disruptions_allowed == 0
    pg = apps.read_namespaced_stateful_set("postgres", "db")
    assert pg.spec.replicas == 1
    assert pg.spec.volume_claim_templates[0].spec.access_modes == ["ReadWriteOnce"]
    ds = apps.read_namespaced_daemon_set("ingress-nginx-controller", "ingress-nginx")
    for ns, svc in (("app", "web"), ("app", "api"), ("db", "postgres")):
        assert core.read_namespaced_service(svc, ns).spec.selector
    for template in (web.spec.template, pg.spec.template, ds.spec.template,
                     apps.read_namespaced_deployment("api", "app").spec.template):
        for container in template.spec.containers:
            assert container.resources.requests["cpu"] and container.resources.requests["memory"]
    default = [sc for sc in storage.list_storage_class().items
               if (sc.metadata.annotations or {}).get("storageclass.kubernetes.io/is-default-class") == "true"]
    assert [sc.metadata.name for sc in default] == ["linode-block-storage-retain"]
    assert default[0].reclaim_policy == "Retain"


CRDS = {
    "certificates.cert-manager.io": "v1", "certificaterequests.cert-manager.io": "v1",
    "issuers.cert-manager.io": "v1", "clusterissuers.cert-manager.io": "v1",
    "orders.acme.cert-manager.io": "v1", "challenges.acme.cert-manager.io": "v1",
    "postgresclusters.postgres-operator.crunchydata.com": "v1beta1",
    "pgupgrades.postgres-operator.crunchydata.com": "v1beta1",
}


def test_crds_are_established_with_status_subresource(k8s_client):
    from kubernetes import client
    ext = client.ApiextensionsV1Api(k8s_client)
    for name, version in CRDS.items():
        crd = ext.read_custom_resource_definition(name)
        assert any(c.type == "Established" and c.status == "True" for c in crd.status.conditions), name
        [ver] = crd.spec.versions
        assert ver.name == version and ver.served and ver.subresources.status is not None


def test_crd_keeps_unknown_fields_and_status(k8s_client):
    from kubernetes import client
    objs = client.CustomObjectsApi(k8s_client)
    name = "lab-test-" + uuid.uuid4().hex[:6]
    body = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": name},
            "spec": {"secretName": name, "dnsNames": ["app.lab.test"], "issuerRef": {"name": "pebble"}}}
    objs.create_namespaced_custom_object("cert-manager.io", "v1", "app", "certificates", body)
    try:
        objs.patch_namespaced_custom_object_status("cert-manager.io", "v1", "app", "certificates", name, {
            "status": {"notAfter": "2027-01-01T00:00:00Z",
                       "conditions": [{"type": "Ready", "status": "True"}]}})
        got = objs.get_namespaced_custom_object("cert-manager.io", "v1", "app", "certificates", name)
        assert got["spec"]["dnsNames"] == ["app.lab.test"]
        assert got["status"]["notAfter"] == "2027-01-01T00:00:00Z"
    finally:
        objs.delete_namespaced_custom_object("cert-manager.io", "v1", "app", "certificates", name)


def test_inventory_points_at_the_lab_api(lab_env):
    with open(os.path.join(REPO, "inventories", "lab", "group_vars", "all.yml"), encoding="utf-8") as handle:
        facts = yaml.safe_load(handle)
    assert facts["lab_k8s_api_server"] == lab_env.api_server()
    assert facts["lab_kubeconfig"].endswith("/../../.lab/kubeconfig")


def test_k8s_info_sees_the_seeded_objects(k8s_client):
    playbook = os.path.join(os.path.dirname(os.path.abspath(__file__)), "playbooks", "seeded.yml")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), playbook],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "ok=5" in proc.stdout and "failed=0" in proc.stdout
