"""lab/install-deps: with component names it checks (and would install) only the base packages of
lab/apt-packages.txt and those components' sections; without, every package; a wrong name is refused."""

import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(REPO, "lab", "install-deps")


def _checked(tmp_path, *components):
    """The packages install-deps asks dpkg about (a fake dpkg-query says each is installed)."""
    log = tmp_path / "asked"
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "dpkg-query").write_text('#!/bin/sh\nfor a; do last=$a; done\necho "$last" >>%s\n'
                                     'printf "install ok installed"\n' % log)
    (fake / "dpkg-query").chmod(0o755)
    log.write_text("")
    env = dict(os.environ, PATH="%s:%s" % (fake, os.environ["PATH"]))
    proc = subprocess.run([SCRIPT, *components], env=env, capture_output=True, text=True, check=False)
    return proc, log.read_text().split()


def test_the_demo_components_need_only_the_base_packages(tmp_path):
    proc, asked = _checked(tmp_path, "k8s", "linode_sim", "edge")
    assert proc.returncode == 0, proc.stderr
    assert asked == ["ca-certificates", "curl", "openssl", "git", "rsync", "make"]


def test_a_component_adds_its_section_and_no_argument_means_all(tmp_path):
    dummy, everything = _checked(tmp_path)
    dummy, dns = _checked(tmp_path, "dns")
    assert "pdns-server" in dns and "postgresql-15" not in dns and "containerd" not in dns
    assert set(dns) < set(everything)
    assert {"postgresql-15", "containerd", "pebble", "openjdk-17-jre-headless", "unbound"} <= set(everything)


@pytest.mark.parametrize("name", ["bogus", "k8s,edge"])
def test_an_unknown_component_is_refused_naming_the_valid_ones(tmp_path, name):
    proc, asked = _checked(tmp_path, name)
    assert proc.returncode == 2 and asked == []
    assert "unknown component '%s'" % name in proc.stderr and "k8s linode_sim edge" in proc.stderr
