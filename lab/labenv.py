"""The Python view of the lab: ports, paths, time profiles and component env files.

Tests, benchmarks and lab components import this instead of hard-coding anything:
ports come from lab/ports.env, time profiles from lab/k8s/profiles.env, and what a running
component tells its clients from .lab/<component>/env (KEY=VALUE lines).

    import labenv
    labenv.port("APISERVER_PORT")        # 16443
    labenv.kubeconfig()                  # <repo>/.lab/kubeconfig
    labenv.profile_values("fast")        # {"NODE_MONITOR_GRACE_PERIOD": 8, ...}
    labenv.component_env("k8s")          # {"KUBECONFIG": ..., "K8S_API_SERVER": ...}
"""

import contextlib
import fcntl
import os
import re
import subprocess

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(LAB_DIR)
PORTS_FILE = os.path.join(LAB_DIR, "ports.env")
PROFILES_FILE = os.path.join(LAB_DIR, "k8s", "profiles.env")
PROFILES = ("fast", "production")


def state_dir():
    """Where running components keep their state (git-ignored .lab/)."""
    return os.environ.get("LAB_STATE") or os.path.join(REPO, ".lab")


_HELD = {}


def hold(*parts):
    """Take the exclusive lock file .lab/<parts...> (one test session at a time on a shared lab
    part); returns the function that releases it.

    Re-entrant within a process: a fixture and a test of the same pytest session may both ask
    for it, and a second flock from the same process would wait on the first for ever.
    """
    path = os.path.join(state_dir(), *parts)
    if path in _HELD:
        _HELD[path][1] += 1
    else:
        handle = open(path, "w")  # noqa: SIM115 - kept open while held
        fcntl.flock(handle, fcntl.LOCK_EX)
        _HELD[path] = [handle, 1]

    def release():
        entry = _HELD.get(path)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _HELD[path]
            entry[0].close()
    return release


# The lock of every test that writes to LKE or resets the Linode simulator (one such test at a time on the lab).
SIMULATOR_LOCK = ("linode_sim", "upgrade-cluster-tests.lock")


@contextlib.contextmanager
def held(*parts):
    """hold() as a with-block: the lock is released however the block ends."""
    release = hold(*parts)
    try:
        yield
    finally:
        release()


def read_env_file(path):
    """KEY=VALUE lines (comments and blank lines skipped, optional quotes stripped)."""
    values = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, value = line.split("=", 1)
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            values[key.strip()] = value
    return values


def ports():
    """Every lab port, {NAME: int}, from lab/ports.env (the one place they live)."""
    return {key: int(value) for key, value in read_env_file(PORTS_FILE).items()}


def port(name):
    """One lab port by its lab/ports.env name; KeyError names the valid ones."""
    table = ports()
    if name not in table:
        raise KeyError("no port %r in %s; known: %s" % (name, PORTS_FILE, ", ".join(sorted(table))))
    return table[name]


def current_profile():
    """The active time profile: $LAB_PROFILE, else what lab/up remembered, else fast."""
    name = os.environ.get("LAB_PROFILE")
    if not name:
        remembered = os.path.join(state_dir(), "profile")
        if os.path.exists(remembered):
            with open(remembered, encoding="utf-8") as handle:
                name = handle.read().strip()
    return name or "fast"


def profile_table():
    """{setting: {"fast": int, "production": int}} from lab/k8s/profiles.env."""
    table = {}
    with open(PROFILES_FILE, encoding="utf-8") as handle:
        for line in handle:
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if len(fields) != 1 + len(PROFILES):
                raise ValueError("%s: expected 'NAME fast production', got %r" % (PROFILES_FILE, line.strip()))
            table[fields[0]] = {prof: int(val) for prof, val in zip(PROFILES, fields[1:])}
    return table


def profile_values(profile=None):
    """{setting: seconds} for one profile (default: the active one)."""
    profile = profile or current_profile()
    if profile not in PROFILES:
        raise ValueError("unknown lab profile %r; valid: %s" % (profile, ", ".join(PROFILES)))
    return {key: row[profile] for key, row in profile_table().items()}


# The name other lab components look for first.
time_profile = profile_values


def component_env(component):
    """What a running component wrote to .lab/<component>/env; {} when it is not up."""
    path = os.path.join(state_dir(), component, "env")
    if not os.path.exists(path):
        return {}
    return read_env_file(path)


def kubeconfig():
    """Path of the lab cluster's admin kubeconfig (written by lab/k8s/up)."""
    return os.path.join(state_dir(), "kubeconfig")


def api_server():
    """URL of the lab's kube-apiserver."""
    return "https://127.0.0.1:%d" % port("APISERVER_PORT")


def postgres_version(bindir):
    """MAJOR.MINOR of the PostgreSQL server binary in ``bindir`` as it is now (``postgres --version``).

    Read it from the binary, not from a component's env file: lab/postgres/up records the versions
    when it runs, and a package upgrade (Debian's postgresql-15 15.18 -> 15.20) changes the binary
    underneath a running lab.
    """
    path = os.path.join(bindir, "postgres")
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"\(PostgreSQL\) (\d+\.\d+)", out)
    if not match:
        raise ValueError("%s --version printed %r, not 'postgres (PostgreSQL) MAJOR.MINOR'" % (path, out.strip()))
    return match.group(1)


def python():
    """The venv's Python, which lab/up exports as LAB_PYTHON."""
    return os.environ.get("LAB_PYTHON") or os.path.join(REPO, ".venv", "bin", "python")
