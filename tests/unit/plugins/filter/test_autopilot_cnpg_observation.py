"""The autopilot_cnpg_observation filter: the observation of module_utils/autopilot/cnpg.py, its refusals as
filter errors naming the input."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fournines.runbooks.plugins.filter.autopilot_cnpg_observation import FilterModule

OBSERVE = FilterModule().filters()["autopilot_cnpg_observation"]
REPO = "ghcr.io/cloudnative-pg/postgresql"


def test_observation():
    got = OBSERVE(REPO + ":15.17", [REPO + ":15.18"])
    assert (got["current"], got["available"], got["images"]) == ("15.17", ["15.18"], {"15.18": REPO + ":15.18"})


def test_refusal_names_the_input():
    with pytest.raises(AnsibleFilterError) as err:
        OBSERVE(REPO + ":15.17", [REPO + ":15.18", "nonsense"])
    assert "autopilot_cnpg_observation: offered_images[1]" in str(err.value)
