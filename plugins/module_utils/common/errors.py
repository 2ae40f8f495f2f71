# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception type the collection's shared code raises, and how a module fails from it.

Shared code raises :class:`RunbookError` (one subclass per concern). It carries data, not
only text: ``msg`` (the whole message, also ``str(err)``), ``status`` (the HTTP status of the
API answer that caused it, or None) and ``details`` (a dict of what a caller may act on,
for example what a drain did before it stopped). Modules catch it and call
:func:`fail_from_error`; anything else escaping is a bug. Messages name the bad input and
what would be valid.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.module_utils.basic import missing_required_lib


class RunbookError(Exception):
    """A failure the user can act on; ``str(err)`` is the whole message.

    ``RunbookError(msg, status=404, details={...})``; keyword arguments beyond those are
    added to ``details`` (``DNSError(msg, results=[...])``).
    """

    def __init__(self, msg, status=None, details=None, **more):
        super(RunbookError, self).__init__(msg)
        self.msg = msg
        self.status = status
        self.details = dict(details or {})
        self.details.update(more)

    def __str__(self):
        return str(self.msg)


def _plain(value):
    """``value`` as JSON types, so a detail never breaks the module's answer."""
    return json.loads(json.dumps(value, default=str))


def fail_from_error(module, err, **result):
    """Fail ``module`` from ``err``: ``msg``, plus ``status`` and ``details`` when the error has them.

    ``result`` is what the module had gathered so far (it wins over the error's own keys).
    """
    extra = dict(result)
    status = getattr(err, "status", None)
    if status is not None and "status" not in extra:
        extra["status"] = status
    details = getattr(err, "details", None)
    if details and "details" not in extra:
        extra["details"] = _plain(details)
    module.fail_json(msg=str(err), **extra)


def require_lib(module, name, present, import_error=None, reason=None):
    """Fail ``module`` with Ansible's standard text when the optional library ``name`` is missing.

    ``present``/``import_error`` are the ``HAS_*``/``*_IMPORT_ERROR`` pair the module_utils that
    imports the library sets; ``reason`` says what the library is needed for, when only some
    uses of the module need it.
    """
    if not present:
        extra = {"exception": str(import_error)} if import_error is not None else {}
        module.fail_json(msg=missing_required_lib(name, reason=reason), **extra)
