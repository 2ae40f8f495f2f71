"""PostgreSQL under CloudNativePG as the autopilot sees it: the Cluster's image tag is its version, the offered
images of the same repository and flavour are what it could move to."""

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import cnpg, run

REPO = "ghcr.io/cloudnative-pg/postgresql"


def test_the_clusters_tag_is_its_version_and_the_listed_images_are_offered():
    got = cnpg.observation(REPO + ":15.17-bookworm", [REPO + ":15.18-bookworm", REPO + ":15.20-bookworm@sha256:ab",
                                                      REPO + ":17.6-bookworm", REPO + ":15.19-bullseye",
                                                      "docker.io/library/postgres:15.21"])
    assert got["current"] == "15.17"
    assert got["available"] == ["15.18", "15.20", "17.6"]
    assert got["images"]["15.20"] == REPO + ":15.20-bookworm@sha256:ab"
    assert [i["image"] for i in got["ignored"]] == [REPO + ":15.19-bullseye", "docker.io/library/postgres:15.21"]
    # the same rules as the host backend decide from it: the newest patch of the major first
    assert run.candidate("postgres", got["current"], got["available"]) == "15.20"


def test_nothing_offered_is_up_to_date():
    got = cnpg.observation(REPO + ":16.4", [])
    assert (got["current"], got["available"], got["images"]) == ("16.4", [], {})
    assert run.candidate("postgres", got["current"], got["available"]) is None


@pytest.mark.parametrize("cluster, offered, named", [
    (REPO + "@sha256:ab", [], "the Cluster's image (spec.imageName)"),
    (REPO + ":17.5", [REPO + ":latest"], "offered_images[0]"),
    (REPO + ":17.5", [REPO + ":17.6", REPO + ":stable"], "offered_images[1]"),
    (REPO + ":17.5", [REPO + ":17.6", REPO + ":17.6@sha256:cd"], "both offer PostgreSQL 17.6"),
    (REPO + ":17.5", REPO + ":17.6", "must be a list"),
])
def test_an_unreadable_image_is_refused_naming_it(cluster, offered, named):
    with pytest.raises(cnpg.CnpgOfferError) as err:
        cnpg.observation(cluster, offered)
    assert named in str(err.value)


def test_build_stamps_are_not_a_flavour():
    """CloudNativePG's own tags carry a build date (17.6-202509151215-standard-bookworm), the lab's a content hash
    (15.20-97f57dcc5a17): a newer build of the same flavour counts, another flavour still does not."""
    got = cnpg.observation(REPO + ":17.5-202505190812-standard-bookworm",
                           [REPO + ":17.6-202509151215-standard-bookworm", REPO + ":17.6-202509151215-minimal-bookworm"])
    assert got["images"] == {"17.6": REPO + ":17.6-202509151215-standard-bookworm"}
    assert [i["image"] for i in got["ignored"]] == [REPO + ":17.6-202509151215-minimal-bookworm"]
    lab = cnpg.observation("lab.local/postgresql:15.18-551743e68229", ["lab.local/postgresql:15.20-97f57dcc5a17"])
    assert (lab["current"], lab["available"], lab["ignored"]) == ("15.18", ["15.20"], [])


def test_a_tag_with_the_major_alone_tells_a_major_upgrade_and_nothing_of_its_own_major():
    """The lab's major pair (pg-premajor 15-<hash> -> pg-major 18-<hash>) and CloudNativePG's floating major tags: the
    Cluster's version is its major and a higher major is a candidate; a release of the same major cannot be compared
    with a tag that lacks the minor (either side), so it is ignored with the reason, never taken for newer."""
    lab = cnpg.observation("lab.local/postgresql:15-9c951bf62bcf",
                           ["lab.local/postgresql:18-926d4c04b05a", "lab.local/postgresql:15.20-97f57dcc5a17"])
    assert (lab["current"], lab["available"], lab["images"]) == ("15", ["18"], {"18": "lab.local/postgresql:18-926d4c04b05a"})
    assert [i["image"] for i in lab["ignored"]] == ["lab.local/postgresql:15.20-97f57dcc5a17"]
    assert "pin the Cluster's tag to MAJOR.MINOR" in lab["ignored"][0]["reason"]
    assert run.candidate("postgres", lab["current"], lab["available"]) == "18"
    pinned = cnpg.observation(REPO + ":17.5", [REPO + ":17", REPO + ":18", REPO + ":17.6"])
    assert (pinned["current"], pinned["available"]) == ("17.5", ["17.6", "18"])
    assert [i["image"] for i in pinned["ignored"]] == [REPO + ":17"] and "must name its minor" in pinned["ignored"][0]["reason"]
    # the newest patch of the major first, the major only after it
    assert run.candidate("postgres", pinned["current"], pinned["available"]) == "17.6"
    assert run.candidate("postgres", "17.6", pinned["available"]) == "18"
