"""CloudNativePG on the real node: CRDs, RBAC, the operator Deployment, its webhook Service and
webhook configurations (the operator makes its own CA and fills in their caBundle).

cnpg.py install KUBECONFIG CONFIG_DIR OPERATOR_IMAGE [TIMEOUT]
    CONFIG_DIR is what lab/build/build-node copied from the module: crd/*.yaml, rbac/role.yaml,
    webhooks.yaml. Waits until the operator is Ready and both webhook configurations carry a
    caBundle, so a Cluster created right after is validated for real.
"""
import glob
import sys
import time

import yaml
from kubernetes import client, config, dynamic

NS = "cnpg-system"
NAME = "cnpg-controller-manager"
SA = "cnpg-manager"
TAINT = {"key": "lab.fournines.io/real-node", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
MANAGER = "lab-node"


def apply(dyn, doc):
    res = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
    return res.server_side_apply(body=doc, name=doc["metadata"]["name"],
                                 namespace=doc["metadata"].get("namespace"),
                                 field_manager=MANAGER, force_conflicts=True)


def objects(config_dir, image):
    docs = []
    for path in sorted(glob.glob(config_dir + "/crd/*.yaml")):
        with open(path, encoding="utf-8") as fh:
            docs += [d for d in yaml.safe_load_all(fh) if d]
    docs.append({"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": NS, "labels": {"lab.fournines.io/on-real-node": "true"}}})
    docs.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": SA, "namespace": NS}})
    with open(config_dir + "/rbac/role.yaml", encoding="utf-8") as fh:
        role = next(d for d in yaml.safe_load_all(fh) if d and d.get("kind") == "ClusterRole")
    docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                 "metadata": {"name": "cnpg-manager"}, "rules": role["rules"]})
    docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                 "metadata": {"name": "cnpg-manager"},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cnpg-manager"},
                 "subjects": [{"kind": "ServiceAccount", "name": SA, "namespace": NS}]})
    labels = {"app.kubernetes.io/name": "cloudnative-pg"}
    probe = {"httpGet": {"port": 9443, "scheme": "HTTPS", "path": "/readyz"}}
    docs.append({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": NAME, "namespace": NS, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {
                "serviceAccountName": SA,
                "nodeSelector": {"lab.fournines.io/kubelet": "real"}, "tolerations": [TAINT],
                "terminationGracePeriodSeconds": 5,
                "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "manager", "image": image, "imagePullPolicy": "Never",
                    "command": ["/manager"],
                    "args": ["controller", "--leader-elect=false", "--max-concurrent-reconciles=4",
                             "--webhook-port=9443"],
                    "env": [{"name": "OPERATOR_IMAGE_NAME", "value": image},
                            {"name": "OPERATOR_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
                    "ports": [{"containerPort": 9443, "name": "webhook-server"}],
                    "readinessProbe": dict(probe, periodSeconds=2),
                    "startupProbe": dict(probe, periodSeconds=2, failureThreshold=60),
                    "resources": {"requests": {"cpu": "50m", "memory": "100Mi"}, "limits": {"memory": "400Mi"}},
                    "securityContext": {"runAsUser": 10001, "runAsGroup": 10001, "readOnlyRootFilesystem": True,
                                        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    "volumeMounts": [{"mountPath": "/controller", "name": "scratch-data"},
                                     {"mountPath": "/run/secrets/cnpg.io/webhook", "name": "webhook-certificates"}],
                }],
                "volumes": [{"name": "scratch-data", "emptyDir": {}},
                            {"name": "webhook-certificates",
                             "secret": {"secretName": "cnpg-webhook-cert", "optional": True, "defaultMode": 0o644}}],
            }}}})
    docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "cnpg-webhook-service", "namespace": NS},
                 "spec": {"selector": labels, "ports": [{"port": 443, "targetPort": 9443, "name": "webhook"}]}})
    with open(config_dir + "/webhooks.yaml", encoding="utf-8") as fh:
        for hook in (d for d in yaml.safe_load_all(fh) if d):
            hook["metadata"]["name"] = "cnpg-" + hook["metadata"]["name"]
            for w in hook["webhooks"]:
                w["clientConfig"]["service"].update(name="cnpg-webhook-service", namespace=NS)
                w["timeoutSeconds"] = 10
            docs.append(hook)
    return docs


def install(kubeconfig, config_dir, image, timeout):
    config.load_kube_config(kubeconfig)
    api = client.ApiClient()
    dyn = dynamic.DynamicClient(api)
    # A namespace still terminating after a lab/down node: wait for it to go first.
    core = client.CoreV1Api(api)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if core.read_namespace(NS).metadata.deletion_timestamp is None:
                break
        except client.ApiException as err:
            if err.status == 404:
                break
            raise
        time.sleep(1)
    for doc in objects(config_dir, image):
        apply(dyn, doc)
    apps = client.AppsV1Api(api)
    adm = client.AdmissionregistrationV1Api(api)
    deadline = time.time() + timeout
    state = "not started"
    while time.time() < deadline:
        dep = apps.read_namespaced_deployment(NAME, NS)
        ready = (dep.status.ready_replicas or 0) >= 1
        bundles = [all(w.client_config.ca_bundle for w in h.webhooks)
                   for h in (adm.read_mutating_webhook_configuration("cnpg-mutating-webhook-configuration"),
                             adm.read_validating_webhook_configuration("cnpg-validating-webhook-configuration"))]
        if ready and all(bundles):
            return
        state = "operator ready=%s, webhook caBundles=%s" % (ready, bundles)
        time.sleep(1)
    sys.exit("CloudNativePG operator not ready after %ss: %s" % (timeout, state))


if __name__ == "__main__":
    if sys.argv[1] != "install":
        sys.exit("usage: cnpg.py install KUBECONFIG CONFIG_DIR OPERATOR_IMAGE [TIMEOUT]")
    install(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]) if len(sys.argv) > 5 else 180)
