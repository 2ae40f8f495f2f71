# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL version numbers: parse, format, and the minor-upgrade policy.

Backend-neutral: the host backend and an operator backend read versions the same way.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.fournines.runbooks.plugins.module_utils.postgres.errors import PostgresError


_VERSION_RE = re.compile(r"^\s*(?:PostgreSQL\s+)?(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$")
_VERSION_IN_TEXT_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


def parse_version(value, what="version"):
    """Return (major, minor) from '15.18', '15', '18.6', 150018 or 'PostgreSQL 15.18'.

    ``minor`` is None when only a major was given. Majors before 10 are refused: the lab and
    the runbooks only handle the two-part numbering.
    """
    if isinstance(value, bool):
        raise PostgresError("%s %r does not parse; give MAJOR.MINOR such as 15.18 or a major such as 18" % (what, value))
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit() and len(value.strip()) >= 5):
        num = int(value)
        if num >= 100000:
            return num // 10000, num % 10000
    text = str(value) if value is not None else ""
    match = _VERSION_RE.match(text)
    if not match or match.group(3) is not None:
        raise PostgresError("%s %r does not parse; give MAJOR.MINOR such as 15.18 or a major such as 18" % (what, value))
    major = int(match.group(1))
    if major < 10:
        raise PostgresError("%s %r is older than PostgreSQL 10; give MAJOR.MINOR such as 15.18" % (what, value))
    minor = int(match.group(2)) if match.group(2) is not None else None
    return major, minor


def format_version(version):
    major, minor = version
    return "%d" % major if minor is None else "%d.%d" % (major, minor)


def minor_policy(current, target):
    """Decide whether ``target`` is an allowed minor upgrade of ``current``.

    Returns 'upgrade' or 'noop'; raises for a downgrade or another major (that is the major flow).
    """
    cur, tgt = parse_version(current, "current version"), parse_version(target, "target version")
    if tgt[1] is None or cur[1] is None:
        raise PostgresError("minor upgrade needs full versions (MAJOR.MINOR), got current %r and target %r"
                            % (current, target))
    if tgt[0] != cur[0]:
        raise PostgresError("target version %s is another major than the running %s; the minor flow only applies "
                            "patch releases of %d (use postgres_upgrade=major)" % (format_version(tgt), format_version(cur), cur[0]))
    if tgt[1] < cur[1]:
        raise PostgresError("target version %s is a downgrade from the running %s; only newer patch releases of %d are applied"
                            % (format_version(tgt), format_version(cur), cur[0]))
    return "noop" if tgt[1] == cur[1] else "upgrade"
