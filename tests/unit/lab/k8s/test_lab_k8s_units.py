"""lab/labenv.py and the pure parts of lab/k8s (no cluster needed)."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
for _path in (os.path.join(REPO, "lab"), os.path.join(REPO, "lab", "k8s")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import kwoknodes  # noqa: E402
import labenv  # noqa: E402
import volumes  # noqa: E402

CONTRACT_KEYS = ("NODE_MONITOR_GRACE_PERIOD", "DEFAULT_NOT_READY_TOLERATION_SECONDS",
                 "DEFAULT_UNREACHABLE_TOLERATION_SECONDS", "VOLUME_FORCE_DETACH_SECONDS",
                 "NODE_PROVISION_SECONDS", "NODE_RECYCLE_SECONDS")


def test_profiles_hold_the_contract_keys_with_production_defaults():
    fast, prod = labenv.profile_values("fast"), labenv.profile_values("production")
    for key in CONTRACT_KEYS:
        assert 0 < fast[key] <= prod[key], key
    assert prod["DEFAULT_NOT_READY_TOLERATION_SECONDS"] == prod["DEFAULT_UNREACHABLE_TOLERATION_SECONDS"] == 300
    assert prod["VOLUME_FORCE_DETACH_SECONDS"] == 360
    assert fast["NODE_LEASE_DURATION_SECONDS"] <= fast["NODE_MONITOR_GRACE_PERIOD"]


def test_unknown_profile_is_refused_with_the_valid_names():
    with pytest.raises(ValueError, match="fast, production"):
        labenv.profile_values("slow")


def test_bash_reads_the_same_profile_table_as_python():
    for profile in labenv.PROFILES:
        out = subprocess.run(["bash", "-c", '. lab/k8s/lib.sh && profile_values "$0"', profile], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
        assert dict(line.split("=", 1) for line in out.split()) == \
            {k: str(v) for k, v in labenv.profile_values(profile).items()}


def test_ports_come_from_ports_env_and_name_the_valid_ones():
    assert labenv.api_server() == "https://127.0.0.1:%d" % labenv.port("APISERVER_PORT")
    with pytest.raises(KeyError, match="APISERVER_PORT"):
        labenv.port("NO_SUCH_PORT")


def test_node_manifest_is_a_kwok_managed_kubelet_registration():
    node = kwoknodes.node_manifest("n1", {"lke.linode.com/pool-id": "7"}, "linode://42", "v1.34.6",
                                   cpu="2", memory="4Gi", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}],
                                   **{"ephemeral-storage": "80Gi"})
    assert node["metadata"]["labels"][kwoknodes.KUBELET_LABEL] == kwoknodes.HEARTBEAT_ON
    assert node["metadata"]["labels"]["lke.linode.com/pool-id"] == "7"
    assert node["spec"] == {"providerID": "linode://42", "taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]}
    assert node["status"]["capacity"] == {"cpu": "2", "memory": "4Gi", "pods": "110", "ephemeral-storage": "80Gi"}
    assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.34.6"
    [internal] = [a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"]
    assert internal.startswith("192.168.") and 128 <= int(internal.split(".")[2]) <= 255
    assert "taints" not in kwoknodes.node_manifest("n2", {}, "linode://1", "v1.35.4")["spec"]


def test_volume_attachment_names_are_stable_and_per_node():
    assert volumes.va_name("pv1", "a") == volumes.va_name("pv1", "a")
    assert volumes.va_name("pv1", "a") != volumes.va_name("pv1", "b")
    assert volumes.va_name("pv1", "a").startswith("csi-") and len(volumes.va_name("pv1", "a")) == 68
