"""The postgres_* roles' argument specs and READMEs are generated from defaults/main.yml:
check they are in step (same variables, same defaults, a description for each)."""

import glob
import os

import pytest
import yaml

ROLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))), "roles")
POSTGRES_ROLES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROLES, "postgres_*")))


@pytest.mark.parametrize("role", POSTGRES_ROLES)
def test_argument_specs_match_defaults(role):
    with open(os.path.join(ROLES, role, "defaults", "main.yml")) as handle:
        defaults = yaml.safe_load(handle)
    with open(os.path.join(ROLES, role, "meta", "argument_specs.yml")) as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    assert sorted(defaults) == sorted(options), "run lab/postgres/gen-role-docs.py"
    for name, value in defaults.items():
        assert name.startswith(role + "_")
        assert options[name]["default"] == value
        assert options[name]["description"] and options[name]["description"] != name
    with open(os.path.join(ROLES, role, "README.md")) as handle:
        readme = handle.read()
    assert all("`%s`" % name in readme for name in defaults)
