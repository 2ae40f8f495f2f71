# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The autopilot's observation of PostgreSQL under CloudNativePG; the rules live in module_utils/autopilot/cnpg.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: autopilot_cnpg_observation
short_description: What PostgreSQL under CloudNativePG runs and could move to, for the update autopilot
version_added: 0.1.0
description:
  - The Cluster runs the version its image tag names (C(spec.imageName); CloudNativePG's tags start with the
    PostgreSQL version).
  - The releases it could move to are the offered images of the same repository and tag flavour (the part after
    the version, for example C(-bookworm)); other images are listed under C(ignored) with the reason.
  - A tag that names only the major (C(17), C(16-3.4)) tells a major upgrade, not a patch release; an offered image
    of the Cluster's own major is ignored (with the reason) when either tag lacks the minor.
  - An image whose tag does not start with a PostgreSQL version, or two offered images of one version, fail with an
    error naming the input.
options:
  _input:
    description: The Cluster's image (C(spec.imageName)).
    type: str
    required: true
  offered_images:
    description: Image references the Cluster may move to (the policy's C(components.postgres.images)).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: What the Cluster runs and what it could move to
  ansible.builtin.debug:
    msg: >-
      {{ 'ghcr.io/cloudnative-pg/postgresql:15.17-bookworm'
         | fournines.runbooks.autopilot_cnpg_observation(['ghcr.io/cloudnative-pg/postgresql:15.18-bookworm']) }}
    # {"component": "postgres", "current": "15.17", "available": ["15.18"],
    #  "images": {"15.18": "ghcr.io/cloudnative-pg/postgresql:15.18-bookworm"}, "ignored": []}
"""

RETURN = r"""
_value:
  description: C(component) (postgres), C(current), C(available) (versions, oldest first), C(images) (version -> image)
    and C(ignored) (C(image), C(reason)).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fournines.runbooks.plugins.module_utils.autopilot import cnpg


def autopilot_cnpg_observation(cluster_image, offered_images):
    try:
        return cnpg.observation(cluster_image, offered_images)
    except cnpg.CnpgOfferError as err:
        raise AnsibleFilterError("autopilot_cnpg_observation: %s" % err)


class FilterModule(object):
    def filters(self):
        return {"autopilot_cnpg_observation": autopilot_cnpg_observation}
