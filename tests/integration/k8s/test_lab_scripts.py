"""lab/k8s/{up,down,status} on a second, isolated instance (own state dir and ports), so the
shared lab is never disturbed: start, idempotent re-run, crash recovery, stale state, port
in use, missing Go, and down leaving no process behind."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
K8S = os.path.join(REPO, "lab", "k8s")
PROCS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "volumes")
SHIFT = 10000  # the isolated instance's ports: the lab's + SHIFT


def _free(port):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.fixture(scope="module")
def iso(tmp_path_factory, lab_env, lab_up):
    lab_up("k8s")  # the binaries are built and cached by the shared lab
    root = tmp_path_factory.mktemp("isolated-lab")
    ports = {k: v + SHIFT for k, v in lab_env.ports().items()}
    busy = [k for k in ("ETCD_CLIENT_PORT", "ETCD_PEER_PORT", "APISERVER_PORT", "CONTROLLER_MANAGER_PORT",
                        "SCHEDULER_PORT", "KWOK_PORT") if not _free(ports[k])]
    if busy:
        pytest.fail("ports for the isolated lab are taken: %s" % ", ".join("%s=%d" % (k, ports[k]) for k in busy))
    (root / "ports.env").write_text("".join("%s=%d\n" % kv for kv in ports.items()))
    env = dict(os.environ, LAB_STATE=str(root / "state"), LAB_PORTS_FILE=str(root / "ports.env"),
               LAB_PROFILE="fast", LAB_PYTHON=sys.executable, REPO=REPO, LAB_DIR=os.path.join(REPO, "lab"))
    box = {"env": env, "state": str(root / "state"), "ports": ports}
    yield box
    subprocess.run([os.path.join(K8S, "down")], env=env, capture_output=True, check=False, timeout=120)


def run(iso, script, **extra):
    env = dict(iso["env"], **extra)
    return subprocess.run([os.path.join(K8S, script)], env=env, capture_output=True, text=True,
                          timeout=600, check=False)


def ours(iso):
    """PIDs of every process whose command line names the isolated state dir."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                cmd = handle.read().decode(errors="replace")
            with open("/proc/%s/stat" % entry, encoding="ascii", errors="replace") as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if iso["state"] in cmd and state != "Z":
            pids.append(int(entry))
    return pids


def pid_of(iso, name):
    with open(os.path.join(iso["state"], "k8s", name + ".pid"), encoding="ascii") as handle:
        return int(handle.read())


def test_port_in_use_is_named_and_nothing_starts(iso):
    port = iso["ports"]["APISERVER_PORT"]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = run(iso, "up")
    assert result.returncode != 0
    assert "port %d (APISERVER_PORT in lab/ports.env)" % port in result.stderr
    assert ours(iso) == []


def test_missing_go_gives_a_clear_message(iso, tmp_path):
    # An empty binary cache forces a build; a PATH without go makes it impossible.
    path = ":".join(p for p in os.environ["PATH"].split(":") if not os.path.exists(os.path.join(p, "go")))
    result = run(iso, "up", FOURNINES_LAB_CACHE=str(tmp_path / "cache"), PATH=path)
    assert result.returncode != 0
    assert "Go is not installed" in result.stderr
    assert ours(iso) == []


def test_up_is_idempotent_recovers_from_crashes_and_down_stops_everything(iso):
    first = run(iso, "up")
    assert first.returncode == 0, first.stderr
    pids = {name: pid_of(iso, name) for name in PROCS}
    assert sorted(ours(iso)) == sorted(pids.values())
    assert run(iso, "status").returncode == 0

    # The up/down lock must stay with lab/k8s/up, never leak into the daemons it starts.
    lock = os.path.join(iso["state"], "k8s", ".lock")
    for pid in pids.values():
        fds = os.listdir("/proc/%d/fd" % pid)
        assert lock not in [os.path.realpath("/proc/%d/fd/%s" % (pid, fd)) for fd in fds]
    again = run(iso, "up")
    assert again.returncode == 0 and "already running" in again.stderr
    assert {name: pid_of(iso, name) for name in PROCS} == pids

    # Another time profile: the running component restarts with the new timings.
    switched = run(iso, "up", LAB_PROFILE="production")
    assert switched.returncode == 0, switched.stderr
    assert "restarting it with the new timings" in switched.stderr
    with open("/proc/%d/cmdline" % pid_of(iso, "kube-controller-manager"), "rb") as handle:
        args = handle.read().decode().split("\0")
    assert args[args.index("--node-monitor-grace-period") + 1] == "50s"
    pids = {name: pid_of(iso, name) for name in PROCS}
    assert sorted(ours(iso)) == sorted(pids.values())

    # A crash of some processes: up notices the half-running lab and starts it cleanly.
    for name in ("kwok", "kube-scheduler"):
        os.kill(pids[name], signal.SIGKILL)
    time.sleep(0.5)
    assert run(iso, "status").returncode != 0
    healed = run(iso, "up")
    assert healed.returncode == 0, healed.stderr
    assert "half-running" in healed.stderr
    assert len(ours(iso)) == len(PROCS)

    # Everything killed: stale PID files are recognised and cleared.
    for pid in ours(iso):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while ours(iso) and time.monotonic() < deadline:
        time.sleep(0.2)
    stale = run(iso, "up")
    assert stale.returncode == 0, stale.stderr
    assert "stale PID files" in stale.stderr

    down = run(iso, "down")
    assert down.returncode == 0, down.stderr
    assert ours(iso) == []
    assert not [f for f in os.listdir(os.path.join(iso["state"], "k8s")) if f.endswith(".pid")]
    assert run(iso, "status").returncode != 0


def test_down_when_nothing_runs_is_harmless(iso):
    result = run(iso, "down")
    assert result.returncode == 0
    assert ours(iso) == []


@pytest.fixture(autouse=True, scope="module")
def _no_leftovers(iso):
    yield
    leftover = ours(iso)
    for pid in leftover:
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(iso["state"], ignore_errors=True)
    assert leftover == [], "isolated lab processes left behind"


@pytest.mark.parametrize("args, env, message", [
    (["no-such-part"], {}, "unknown component 'no-such-part'; known: k8s"),
    (["k8s"], {"LAB_PROFILE": "slow"}, "LAB_PROFILE=slow is not a profile; use fast"),
])
def test_dispatcher_refuses_bad_input(args, env, message):
    for script in ("up", "down", "status"):
        result = subprocess.run([os.path.join(REPO, "lab", script)] + args, env=dict(os.environ, **env),
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 2, (script, result.stderr)
        assert message in result.stderr
