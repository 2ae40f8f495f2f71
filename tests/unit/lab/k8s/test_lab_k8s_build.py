"""What `make demo` starts, and the lab's control plane as one multi-call binary.

lab/build/build-k8s links kube-apiserver, kube-controller-manager and kube-scheduler into one
binary, kube-control-plane, with a symlink per command; lab/k8s/up starts each through its
symlink. The binary tests need it built (lab/build/build-k8s, which `make lab`/`make demo` run)
and skip until then; the running-lab test skips while lab/k8s is down.
"""

import os
import re
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
MULTI_CALL = "kube-control-plane"


def _versions():
    values = {}
    with open(os.path.join(REPO, "lab", "build", "versions.env"), encoding="utf-8") as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if "=" in line:
                key, value = line.split("=", 1)
                values[key] = value
    return values


def _bin_dir():
    v = _versions()
    root = os.environ.get("FOURNINES_LAB_CACHE") or os.path.expanduser("~/.cache/fournines-lab")
    build = "%s-etcd%s-kwok%s" % (v["KUBERNETES_VERSION"], v["ETCD_VERSION"], v["KWOK_VERSION"])
    return os.path.join(root, build, "bin")


@pytest.fixture(scope="module")
def bin_dir():
    """The built control plane; a cache from before the multi-call binary (three separate binaries)
    counts as built, so these tests fail on it until lab/build/build-k8s has run again."""
    path = _bin_dir()
    if not any(os.access(os.path.join(path, name), os.X_OK) for name in (MULTI_CALL,) + COMMANDS):
        pytest.skip("the control plane is not built yet in %s (lab/build/build-k8s)" % path)
    return path


def _components_the_main_job_reads():
    """The lab components whose files the lab inventory hands to hosts of lke_clusters."""
    text = ""
    for name in ("all.yml", "lke_clusters.yml"):
        with open(os.path.join(REPO, "inventories", "lab", "group_vars", name), encoding="utf-8") as handle:
            text += handle.read()
    found = set(re.findall(r"\.lab/([a-z_]+)/", text))
    if ".lab/kubeconfig" in text:
        found.add("k8s")  # written by lab/k8s/up
    return found


def _lab_components():
    with open(os.path.join(REPO, "lab", "components"), encoding="utf-8") as handle:
        return [line.split("#", 1)[0].strip() for line in handle if line.split("#", 1)[0].strip()]


def _make_dry_run(target):
    result = subprocess.run(["make", "-n", target], cwd=REPO, capture_output=True, text=True, check=True)
    return [line.strip() for line in result.stdout.splitlines() if re.match(r"^\s*lab/up\b", line)]


def test_demo_starts_only_the_components_the_main_job_needs():
    (up,) = _make_dry_run("demo")
    started = up.split()[1:]
    assert started, "make demo runs a bare lab/up, which starts every component: %s" % _lab_components()
    assert set(started) == _components_the_main_job_reads() == {"k8s", "linode_sim", "edge"}
    assert all(c in _lab_components() for c in started)
    # and the full lab is still one command away
    assert _make_dry_run("lab") == ["lab/up"]


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_is_a_symlink_to_the_multi_call_binary(bin_dir, command):
    path = os.path.join(bin_dir, command)
    assert os.path.islink(path) and os.readlink(path) == MULTI_CALL, (
        "%s is a separate binary, not a symlink to %s: run lab/build/build-k8s" % (path, MULTI_CALL))


@pytest.mark.parametrize("how", ("symlink", "argument"))
@pytest.mark.parametrize("command", COMMANDS)
def test_multi_call_binary_serves_the_command(bin_dir, command, how):
    argv = [os.path.join(bin_dir, command)] if how == "symlink" else [os.path.join(bin_dir, MULTI_CALL), command]
    version = subprocess.run(argv + ["--version"], capture_output=True, text=True, timeout=60, check=False)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == "Kubernetes %s" % _versions()["KUBERNETES_VERSION"]
    # --help proves which command answered: cobra's usage line names it
    helptext = subprocess.run(argv + ["--help"], capture_output=True, text=True, timeout=60, check=False)
    assert helptext.returncode == 0, helptext.stderr
    assert "Usage:\n  %s [flags]" % command in helptext.stdout
    others = [c for c in COMMANDS if c != command]
    assert not any("Usage:\n  %s [flags]" % c in helptext.stdout for c in others)


def test_multi_call_binary_names_its_commands_when_none_is_given(bin_dir):
    for argv in ([os.path.join(bin_dir, MULTI_CALL)], [os.path.join(bin_dir, MULTI_CALL), "kubelet"]):
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 2
        assert all(c in result.stderr for c in COMMANDS), result.stderr


def test_running_control_plane_runs_from_the_multi_call_binary():
    state = os.path.join(os.environ.get("LAB_STATE") or os.path.join(REPO, ".lab"), "k8s")
    pids = {}
    for command in COMMANDS:
        try:
            with open(os.path.join(state, command + ".pid"), encoding="ascii") as handle:
                pids[command] = handle.read().strip()
        except OSError:
            pytest.skip("lab/k8s is not running (lab/up k8s)")
        if not os.path.exists("/proc/%s" % pids[command]):
            pytest.skip("lab/k8s is not running (lab/up k8s)")
    for command, pid in pids.items():
        assert os.path.basename(os.path.realpath("/proc/%s/exe" % pid)) == MULTI_CALL, command
        with open("/proc/%s/comm" % pid, encoding="utf-8") as handle:
            assert handle.read().strip() == command[:15]  # the kernel keeps 15 characters
    status = subprocess.run([os.path.join(REPO, "lab", "k8s", "status")], capture_output=True, text=True,
                            timeout=60, check=False).stdout
    for command in COMMANDS:
        assert re.search(r"^\s+%s\s+running \(pid %s\)" % (command, pids[command]), status, re.M), status
