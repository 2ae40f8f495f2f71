"""lab/lib/daemon.sh, the process helpers every lab component sources: run in bash against
throw-away daemons (sleepers whose command line carries a marker) in a temp dir."""

import os
import signal
import subprocess
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
LIB = os.path.join(REPO, "lab", "lib", "daemon.sh")


def sh(script, *args, check=True):
    out = subprocess.run(["bash", "-c", 'set -euo pipefail; . "$LIB"; ' + script, "sh"] + list(args),
                         env=dict(os.environ, LIB=LIB), capture_output=True, text=True, timeout=60)
    if check:
        assert out.returncode == 0, out.stderr
    return out


@pytest.fixture
def sleeper(tmp_path):
    """Start a daemon through lab_daemon; yields (pidfile, marker, pid); always killed after."""
    pidfile, log = str(tmp_path / "s.pid"), str(tmp_path / "s.log")
    marker = "lab-daemon-test-%d" % os.getpid()
    sh('lab_daemon "$1" "$2" python3 -c "import time; time.sleep(60)" "$3"; lab_wait_pid "$1" "$3" 50',
       pidfile, log, marker)
    pid = int(open(pidfile).read())
    yield pidfile, marker, pid
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().split()[2] == "Z"
    except OSError:
        return True


def test_lab_daemon_writes_the_real_pid_and_leaves_its_session(sleeper):
    pidfile, marker, pid = sleeper
    assert marker in open("/proc/%d/cmdline" % pid).read()
    assert os.getsid(pid) == pid  # a session of its own: lab/up's terminal or job ends do not reach it
    assert sh('lab_pid "$1" "$2"', pidfile, marker).stdout.strip() == str(pid)


def test_lab_daemon_closes_inherited_descriptors(tmp_path):
    pidfile, log = str(tmp_path / "s.pid"), str(tmp_path / "s.log")
    marker = "lab-daemon-fd-%d" % os.getpid()
    # fd 9 stands for a lock the caller holds (lab/k8s's lock_component)
    sh('exec 9>"$3.lock"; lab_daemon "$1" "$2" python3 -c "import time; time.sleep(60)" "$4"; '
       'lab_wait_pid "$1" "$4" 50', pidfile, log, str(tmp_path / "x"), marker)
    pid = int(open(pidfile).read())
    try:
        assert sorted(int(fd) for fd in os.listdir("/proc/%d/fd" % pid))[:3] == [0, 1, 2]
        assert 9 not in [int(fd) for fd in os.listdir("/proc/%d/fd" % pid)]
    finally:
        os.kill(pid, signal.SIGKILL)


def test_lab_pid_ignores_a_pid_that_is_not_ours(tmp_path):
    pidfile = tmp_path / "x.pid"
    pidfile.write_text("%d\n" % os.getpid())  # a live process, but not the daemon
    assert sh('lab_pid "$1" no-such-marker', str(pidfile)).stdout == ""
    assert sh('lab_alive "$1" no-such-marker', str(pidfile), check=False).returncode == 1
    pidfile.write_text("")
    assert sh('lab_pid "$1" x', str(pidfile)).stdout == ""
    assert sh('lab_pid "$1" x', str(tmp_path / "missing.pid")).stdout == ""


def test_lab_pid_does_not_count_a_zombie(tmp_path):
    # a child that exits while its parent (this python) does not reap it yet
    child = subprocess.Popen(["python3", "-c", "pass", "lab-zombie-marker"])
    deadline = time.time() + 10
    while not gone(child.pid) and time.time() < deadline:
        time.sleep(0.05)
    pidfile = tmp_path / "z.pid"
    pidfile.write_text(str(child.pid))
    try:
        assert sh('lab_pid "$1" lab-zombie-marker', str(pidfile)).stdout == ""
    finally:
        child.wait()


def test_lab_stop_terminates_and_removes_the_pid_file(sleeper):
    pidfile, marker, pid = sleeper
    sh('lab_stop "$1" "$2" 50', pidfile, marker)
    assert gone(pid)
    assert not os.path.exists(pidfile)


def test_lab_stop_kills_what_ignores_sigterm_and_says_so(tmp_path):
    pidfile, log = str(tmp_path / "s.pid"), str(tmp_path / "s.log")
    marker = "lab-daemon-stubborn-%d" % os.getpid()
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    sh('lab_daemon "$1" "$2" python3 -c "$3" "$4"; lab_wait_pid "$1" "$4" 50; '
       'for i in $(seq 50); do grep -q ready "$2" && break; sleep 0.1; done', pidfile, log, code, marker)
    pid = int(open(pidfile).read())
    out = sh('say() { echo "lab/test: $*" >&2; }; lab_stop "$1" "$2" 5 stubborn', pidfile, marker)
    assert gone(pid) and not os.path.exists(pidfile)
    assert "lab/test: stubborn (pid %d) still running 0 s after SIGTERM; killing it" % pid in out.stderr


def test_lab_stop_never_signals_a_process_that_is_not_ours(tmp_path):
    victim = subprocess.Popen(["python3", "-c", "import time; time.sleep(60)", "innocent"])
    try:
        pidfile = tmp_path / "x.pid"
        pidfile.write_text(str(victim.pid))  # a stale PID file whose PID was reused
        sh('lab_stop "$1" lab-daemon-marker 5', str(pidfile))
        assert victim.poll() is None and not pidfile.exists()
    finally:
        victim.kill()
        victim.wait()


def test_lab_wait_for_and_lab_wait_pid_give_up_with_a_message(tmp_path):
    out = sh('say() { echo "lab/test: $*" >&2; }; lab_wait_for "the thing" 3 false', check=False)
    assert out.returncode == 1 and "lab/test: the thing did not come up" in out.stderr
    out = sh('lab_wait_for "the thing" 3 false', check=False)
    assert out.returncode == 1 and "the thing did not come up" in out.stderr
    assert sh('lab_wait_for x 3 true').returncode == 0
    assert sh('lab_wait_pid "$1" x 2', str(tmp_path / "none.pid"), check=False).returncode == 1


def test_lab_env_defaults_and_ports(tmp_path):
    ports = tmp_path / "ports.env"
    ports.write_text("EDGE_HTTP_PORT=1234\n")
    env = dict((k, v) for k, v in os.environ.items() if k not in ("LAB_DIR", "REPO", "LAB_STATE", "LAB_PYTHON"))
    out = subprocess.run(["bash", "-c", '. "$LIB"; lab_env "$1/lab/edge"; echo "$LAB_DIR|$REPO|$LAB_STATE|'
                          '$LAB_PYTHON|$EDGE_HTTP_PORT"; bash -c "echo \\$EDGE_HTTP_PORT"', "sh", REPO],
                         env=dict(env, LIB=LIB, LAB_PORTS_FILE=str(ports)), capture_output=True, text=True, check=True)
    first, exported = out.stdout.splitlines()
    assert first == "%s/lab|%s|%s/.lab|%s/.venv/bin/python|1234" % (REPO, REPO, REPO, REPO)
    assert exported == "1234"  # the ports reach the daemons


def test_lab_port_busy():
    import socket
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert sh('lab_port_busy "$1"', str(port), check=False).returncode == 0
    assert sh('lab_port_busy "$1"', str(port), check=False).returncode == 1


@pytest.mark.parametrize("component", ["edge", "linode_sim", "tls", "dns", "k8s", "node"])
def test_every_component_uses_the_shared_library(component):
    entry = os.path.join(REPO, "lab", component, "lib.sh" if component in ("k8s", "node") else "common.sh")
    with open(entry) as handle:
        text = handle.read()
    assert "lib/daemon.sh" in text
    for copied in ("DAEMON_SH=", "setsid ", "kill -0", "kill -TERM"):
        assert copied not in text, "%s repeats %r; use lab/lib/daemon.sh" % (entry, copied)


def test_the_node_starts_and_stops_its_processes_through_the_library(tmp_path):
    """lab/node/lib.sh's start_proc/proc_pid/stop_proc on a throw-away process ("host" placement, state in
    tmp_path): the real node is never touched."""
    node_lib = os.path.join(REPO, "lab", "node", "lib.sh")
    marker = "lab-node-lib-test-%d" % os.getpid()
    script = ('set -euo pipefail; . "$1"; start_proc "$2" host python3 -c "import time; time.sleep(60)" "$2"; '
              'pid=$(proc_pid "$2"); echo "$pid"; [ -f "$S/$2.pid" ]; grep -q "start: python3" "$LOGS/$2.log"; '
              'stop_proc "$2"; [ -z "$(proc_pid "$2")" ]; [ ! -e "$S/$2.pid" ]; echo stopped')
    out = subprocess.run(["bash", "-c", script, "sh", node_lib, marker], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, LAB_STATE=str(tmp_path), LAB_DIR=os.path.join(REPO, "lab"), REPO=REPO))
    assert out.returncode == 0, out.stderr
    pid, word = out.stdout.split()
    assert word == "stopped" and gone(int(pid))
