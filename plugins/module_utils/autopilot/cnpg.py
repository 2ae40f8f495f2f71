# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the autopilot sees of PostgreSQL under CloudNativePG: the Cluster runs the version its image tag names
(``spec.imageName``, CloudNativePG's own rule: the tag starts with the PostgreSQL version), and the releases it
could move to are the images the operator of the platform lists (the policy's ``components.postgres.images``): the APIs offer no
catalogue of PostgreSQL images, and an image is only a candidate once someone has built or vetted it.

An offered image counts when it is of the Cluster's image repository and of its tag's flavour (the part after the
version without build stamps, for example ``-standard-bookworm`` of ``17.6-202509151215-standard-bookworm``: a stamp
is a part of 7 or more hexadecimal digits, a date or a content hash, which differs from build to build); others are
listed as ignored, with the reason. The observation has the
same form as the host backend's (``current``, ``available``) plus ``images`` (version -> image) so the runbook is
given the very image the version came from.

A tag that names only the major (``17``, ``16-3.4`` of CloudNativePG's PostGIS images, the lab's major pair
``15-<hash>`` -> ``18-<hash>``) is enough to tell a major upgrade: such a Cluster's version is its major (``"15"``)
and such an offered image is a candidate of its major (``"18"``) when that is above the Cluster's. A patch release
cannot be told against it: an offered image of the Cluster's own major is ignored (with the reason) when either tag
lacks the minor.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.cloudnative_pg.cluster import CnpgError, image_version

_TAG = re.compile(r"^\d+(?:\.\d+)?(.*)$")
#: A build stamp in a tag (a date such as 202509151215, a content hash such as 97f57dcc5a17): not part of the flavour.
_STAMP = re.compile(r"^[0-9a-f]{7,}$")


class CnpgOfferError(RunbookError):
    """The Cluster's image or an offered image cannot be read as a PostgreSQL release; nothing was decided."""


def _parts(image):
    """(repository, flavour) of an image reference: 'ghcr.io/x/postgresql:15.18-202509151215-bookworm@sha256:..' ->
    ('ghcr.io/x/postgresql', '-bookworm')."""
    ref = str(image).split("@", 1)[0]
    repository, _sep, tag = ref.rpartition(":")
    match = _TAG.match(tag)
    suffix = match.group(1) if match else ""
    return repository, "".join("-" + part for part in suffix.split("-") if part and not _STAMP.match(part))


def _version(major, minor):
    """'15.18', or '15' for a tag that names only the major."""
    return "%d" % major if minor is None else "%d.%d" % (major, minor)


def observation(cluster_image, offered_images):
    """``{"component": "postgres", "current", "available", "images", "ignored"}`` for a Cluster running
    ``cluster_image`` with ``offered_images`` (a list of image references) to move to.

    Raises :class:`CnpgOfferError` naming the input (``cluster_image`` / ``offered_images[i]``) for an image
    whose tag does not start with a PostgreSQL major version, and for two offered images of the same version.
    """
    try:
        major, minor = image_version(cluster_image)
    except CnpgError as err:
        raise CnpgOfferError("the Cluster's image (spec.imageName): %s" % err, details={"image": cluster_image})
    if not isinstance(offered_images, (list, tuple)):
        raise CnpgOfferError("offered_images must be a list of image references, not %s"
                             % type(offered_images).__name__, details={"offered_images": offered_images})
    repository, flavour = _parts(cluster_image)
    images, ignored = {}, []
    for index, image in enumerate(offered_images):
        name = "offered_images[%d]" % index
        try:
            o_major, o_minor = image_version(image)
        except CnpgError as err:
            raise CnpgOfferError("%s: %s" % (name, err), details={"input": name, "image": image})
        o_repository, o_flavour = _parts(image)
        if o_repository != repository:
            ignored.append({"image": image, "reason": "another repository than the Cluster's (%s)" % repository})
            continue
        if o_flavour != flavour:
            ignored.append({"image": image, "reason": "another tag flavour (%r) than the Cluster's (%r)"
                            % (o_flavour, flavour)})
            continue
        if o_major == major and None in (minor, o_minor):
            # 15 against 15.20, or 15.18 against 15: which is newer cannot be told from the tags
            if o_minor is None:
                reason = ("names only the major version %d: a release of the Cluster's major (%s) must name its "
                          "minor (MAJOR.MINOR, such as %d.5)" % (o_major, _version(major, minor), o_major))
            else:
                reason = ("the Cluster's image names only the major version %d, so no release of that major can be "
                          "compared with it: pin the Cluster's tag to MAJOR.MINOR (such as %d.5)" % (major, major))
            ignored.append({"image": image, "reason": reason})
            continue
        version = _version(o_major, o_minor)
        if version in images and images[version] != image:
            raise CnpgOfferError("%s: %s and %s both offer PostgreSQL %s; list one image per version"
                                 % (name, images[version], image, version), details={"input": name, "version": version})
        images[version] = image
    available = sorted(images, key=lambda v: tuple(int(p) for p in v.split(".")))
    return {"component": "postgres", "current": _version(major, minor), "available": available, "images": images,
            "ignored": ignored}
