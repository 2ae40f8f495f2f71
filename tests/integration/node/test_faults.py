"""lab/node refuses to start, with a message naming what is missing, and changes nothing."""

import os
import shutil
import subprocess



HIDE = {"containerd", "conntrack"}


def host_state():
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return netns, len(links.splitlines())


def test_missing_packages_are_named_and_nothing_changes(real_node, k8s_core, tmp_path):
    # A PATH with every command of this machine but containerd and conntrack.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for d in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        if not os.path.isdir(d) or os.path.islink(d):
            continue
        for name in os.listdir(d):
            target = bindir / name
            if name in HIDE or target.exists():
                continue
            target.symlink_to(os.path.join(d, name))
    before = host_state()
    env = dict(os.environ, PATH=str(bindir))
    proc = subprocess.run([os.path.join(os.path.dirname(__file__), "..", "..", "..", "lab", "node", "up")],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0
    assert "missing: containerd conntrack" in proc.stderr and "lab/install-deps" in proc.stderr, proc.stderr
    assert host_state() == before
    # The running node was not touched.
    node = k8s_core.read_node(real_node["NODE_NAME"])
    assert {c.type: c.status for c in node.status.conditions}["Ready"] == "True"


def test_short_disk_is_reported_before_building(real_node, tmp_path):
    env_cache = str(tmp_path / "cache")
    proc = subprocess.run([os.path.join(os.path.dirname(__file__), "..", "..", "..", "lab", "node", "images"),
                           "build", "app"], capture_output=True, text=True, timeout=120, check=False,
                          env=dict(os.environ, FOURNINES_LAB_CACHE=env_cache, NODE_IMAGES_NEED_MB="99999999"))
    assert proc.returncode != 0
    assert "building needs about 99999999 MB" in proc.stderr and "free some disk" in proc.stderr, proc.stderr
    # Nothing was built or downloaded.
    assert not [f for f in os.listdir(os.path.join(env_cache, "images")) if not f.startswith(".")]
    shutil.rmtree(env_cache, ignore_errors=True)
