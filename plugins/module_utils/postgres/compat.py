# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backend-neutral major-upgrade checks: does the new major's installation provide every
extension the old cluster uses and every library it preloads?

The host backend reads what the new binaries provide from their ``sharedir``/``pkglibdir`` on
disk; the CloudNativePG backend from a pod of the new image. Both hand the names to
:func:`extension_findings`, so the verdicts and their wording are the same.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def finding(check, ok, message, severity="error"):
    """One preflight finding: ``ok`` findings are ``info``, the others ``severity``."""
    return {"check": check, "ok": bool(ok), "severity": "info" if ok else severity, "message": message}


def preloaded_libraries(settings):
    """The entries of ``shared_preload_libraries`` (a pg_settings dict)."""
    return [x.strip().strip('"') for x in (settings.get("shared_preload_libraries") or "").split(",") if x.strip()]


def extension_findings(info, provided_extensions, provided_libraries, where):
    """Findings for the extensions of every database and the preloaded libraries.

    ``info`` is :func:`..sql.cluster_info` of the old cluster; ``provided_extensions`` the names
    of the new installation's extension control files (without ``.control``),
    ``provided_libraries`` its pkglibdir's shared objects (without ``.so``); ``where`` names that
    installation in the messages (a directory, an image).
    """
    have_ext, have_lib = set(provided_extensions), set(provided_libraries)
    findings = []
    for dbname, exts in sorted(info["extensions"].items()):
        for ext in exts:
            ok = ext["name"] in have_ext
            findings.append(finding(
                "extension:%s:%s" % (dbname, ext["name"]), ok,
                "extension %s %s in database %s is %s by the new binaries" % (
                    ext["name"], ext["version"], dbname, "provided" if ok else "NOT provided")))
    for lib in preloaded_libraries(info["settings"]):
        ok = lib in have_lib
        findings.append(finding("library:%s" % lib, ok, "shared_preload_libraries entry %s is %s in the new pkglibdir %s"
                                % (lib, "present" if ok else "MISSING", where)))
    return findings
