"""Input checks shared by the handlers: each raises a 400 that names the field."""

import re

from .store import bad_request

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_K8S_LABEL_KEY = re.compile(r"^([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")


def integer(value, field, low=None, high=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request("%s must be an integer" % field, field)
    if (low is not None and value < low) or (high is not None and value > high):
        raise bad_request("%s must be between %s and %s" % (field, low, high), field)
    return value


def boolean(value, field):
    if not isinstance(value, bool):
        raise bad_request("%s must be true or false" % field, field)
    return value


def label(value, field):
    if not isinstance(value, str) or not _LABEL.match(value):
        raise bad_request("%s must be 1-32 letters, digits, '.', '-' or '_'" % field, field)
    return value


def str_list(value, field):
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise bad_request("%s must be a list of strings" % field, field)
    return list(value)


def labels(value):
    if not isinstance(value, dict):
        raise bad_request("labels must be an object of string keys and values", "labels")
    for key, val in value.items():
        if not _K8S_LABEL_KEY.match(key) or not isinstance(val, str):
            raise bad_request("label %r=%r is not a valid Kubernetes label" % (key, val),
                              "labels")
    return dict(value)


def string(value, field, choices=None, required=True):
    if value is None and not required:
        return None
    if not isinstance(value, str) or (choices and value not in choices):
        valid = (" one of " + ", ".join(choices)) if choices else " a string"
        raise bad_request("%s must be%s" % (field, valid), field)
    return value
