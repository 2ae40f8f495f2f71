"""The cert_check role's variable API is written once: defaults, argument specs and README agree."""

import os
import re

import yaml

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "cert_check")


def _load(*parts):
    with open(os.path.join(ROLE, *parts)) as handle:
        return yaml.safe_load(handle)


def test_defaults_specs_and_readme_list_the_same_variables():
    defaults = _load("defaults", "main.yml")
    specs = _load("meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    with open(os.path.join(ROLE, "README.md")) as handle:
        readme = set(re.findall(r"^\| `(cert_check_[a-z_]+)` \|", handle.read(), re.M))
    assert set(defaults) == set(specs) == readme
    assert all(name.startswith("cert_check_") for name in defaults)


def test_spec_defaults_match_defaults_file():
    defaults = _load("defaults", "main.yml")
    specs = _load("meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    for name, spec in specs.items():
        if "default" in spec:
            assert spec["default"] == defaults[name], name


def test_every_default_is_commented():
    with open(os.path.join(ROLE, "defaults", "main.yml")) as handle:
        lines = handle.read().splitlines()
    for index, line in enumerate(lines):
        if line.startswith("cert_check_"):
            assert lines[index - 1].startswith("#"), "%s has no comment above it" % line.split(":")[0]
