"""`ansible-builder create` turns execution-environment.yml into a complete build context.

No image can be built here (no container runtime, no registry), so the test proves what can be
proven without one: the definition passes ansible-builder's v3 schema, and the generated context
holds the Containerfile, the pinned Python and system requirements, and the built collection, with
versions that agree with galaxy.yml and the lock file.
"""

import json
import os
import re
import shutil
import tarfile

import pytest
import yaml

from packaging_helpers import BIN, REPO, run


def _lock_pins():
    pins = {}
    with open(os.path.join(REPO, "requirements", "lock.txt"), encoding="utf-8") as handle:
        for line in handle:
            if "==" in line and not line.startswith("#"):
                name, version = line.strip().split("==", 1)
                pins[name.lower().replace("_", "-")] = version
    return pins


@pytest.fixture(scope="module")
def definition():
    with open(os.path.join(REPO, "execution-environment.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def context(tmp_path_factory, tarball, definition):
    """Build context from a copy of the EE definition beside a freshly built tarball."""
    src = tmp_path_factory.mktemp("ee-src")
    shutil.copy(os.path.join(REPO, "execution-environment.yml"), src)
    shutil.copy(os.path.join(REPO, definition["dependencies"]["system"]), src)
    python_reqs = src / definition["dependencies"]["python"]
    python_reqs.parent.mkdir(parents=True)
    shutil.copy(os.path.join(REPO, definition["dependencies"]["python"]), python_reqs)
    shutil.copy(tarball, src)
    out = tmp_path_factory.mktemp("ee-context")
    run([os.path.join(BIN, "ansible-builder"), "create", "--file", str(src / "execution-environment.yml"),
         "--context", str(out), "--output-filename", "Containerfile"], cwd=str(src))
    return out


def test_schema_version_3(definition):
    assert definition["version"] == 3


def test_containerfile_builds_from_the_base_image_with_pinned_ansible(context, definition):
    text = (context / "Containerfile").read_text()
    assert 'ARG EE_BASE_IMAGE="%s"' % definition["images"]["base_image"]["name"] in text
    pins = _lock_pins()
    refs = re.search(r'ARG ANSIBLE_INSTALL_REFS="([^"]*)"', text).group(1).split()
    assert sorted(refs) == sorted(["ansible-core==" + pins["ansible-core"], "ansible-runner==" + pins["ansible-runner"]]), (
        "the EE must run the ansible-core and ansible-runner that CI tests (requirements/lock.txt)")
    # the collection's dependencies are the ansible package's, never resolved from Galaxy
    assert 'ARG ANSIBLE_GALAXY_CLI_COLLECTION_OPTS="--no-deps"' in text
    assert "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml" in text
    assert "introspect --user-pip=requirements.txt --user-bindep=bindep.txt" in text
    assert "install-from-bindep" in text


def test_context_has_the_requirements_as_written(context, definition):
    for kind, name in (("python", "requirements.txt"), ("system", "bindep.txt")):
        with open(os.path.join(REPO, definition["dependencies"][kind]), encoding="utf-8") as handle:
            assert (context / "_build" / name).read_text() == handle.read(), kind


def test_runtime_requirements_include_the_ansible_package_of_the_lock(context):
    """The collection's dependencies come from this package (installed with --no-deps)."""
    text = (context / "_build" / "requirements.txt").read_text()
    assert re.search(r"^ansible==%s$" % re.escape(_lock_pins()["ansible"]), text, re.M)


def test_context_has_the_built_collection(context, galaxy):
    reqs = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    (entry,) = reqs["collections"]
    assert entry["type"] == "file"
    path = context / "_build" / entry["name"]
    assert path.is_file(), "requirements.yml names %s, which the context lacks" % entry["name"]
    with tarfile.open(path) as tar:
        info = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
    assert (info["namespace"], info["name"], info["version"]) == (
        galaxy["namespace"], galaxy["name"], galaxy["version"])


def test_ansible_package_satisfies_the_collection_dependencies(galaxy):
    """--no-deps is only safe if the pinned ansible package brings what galaxy.yml asks for."""
    from ansible.galaxy.dependency_resolution.versioning import meets_requirements

    site = os.path.join(REPO, ".venv", "lib", "python3.11", "site-packages", "ansible_collections")
    for fqcn, wanted in galaxy["dependencies"].items():
        namespace, name = fqcn.split(".")
        with open(os.path.join(site, namespace, name, "MANIFEST.json"), encoding="utf-8") as handle:
            version = json.load(handle)["collection_info"]["version"]
        assert meets_requirements(version, wanted), "%s %s does not meet %s" % (fqcn, version, wanted)


def test_bindep_resolves_for_this_platform():
    result = run([os.path.join(BIN, "bindep"), "--file", os.path.join(REPO, "bindep.txt"), "--list_all", "newline"])
    listed = set(result.stdout.split())
    assert {"git", "openssh-client", "postgresql-client", "dnsutils"} <= listed, listed
