# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Linode connection: argument spec, a retrying linode_api4 client, and LKE calls.

Every request is retried on HTTP 429, 5xx and dropped connections, with exponential
backoff (or the server's Retry-After) inside one overall deadline per module call.

What linode_api4 already does, and why this file still does it: its own retry (``retry_max``,
``retry_statuses``, urllib3's Retry under requests) counts attempts per request, so N requests
can wait N times as long; it is turned off (``retry=False``) and one deadline bounds them all.
Its paging (``PaginatedList``) pages model objects; the runbooks read raw JSON, so
:meth:`LKE._paged` follows ``page``/``pages`` itself. urllib3's ``Retry.parse_retry_after``
takes whole seconds only, so :func:`parse_retry_after` also reads fractional ones.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import email.utils
import time

from ansible.module_utils.basic import env_fallback

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError
from ansible_collections.fournines.runbooks.plugins.module_utils.common.retry import Deadline, backoff_delays, retry_call

try:
    import requests
    from linode_api4 import LinodeClient
    from linode_api4.errors import ApiError
    HAS_LINODE = True
    LINODE_IMPORT_ERROR = None
except ImportError as _err:  # pragma: no cover - reported by the module
    HAS_LINODE = False
    LINODE_IMPORT_ERROR = _err
    LinodeClient = object
    ApiError = Exception

DEFAULT_API_URL = "https://api.linode.com/v4"

#: The Linode connection options: part of every lke_* module's (LKE_ARG_SPEC) and of the DNS provider's
#: (module_utils/dns/providers/registry.py; doc fragment fournines.runbooks.dns_provider).
LINODE_ARG_SPEC = dict(
    api_token=dict(type="str", no_log=True, aliases=["token"], fallback=(env_fallback, ["LINODE_TOKEN"])),
    api_url=dict(type="str", default=DEFAULT_API_URL, fallback=(env_fallback, ["LINODE_API_URL"])),
    api_timeout=dict(type="float", default=300.0),
)

#: The options of every lke_* module: the connection and the cluster it acts on
#: (doc fragment fournines.runbooks.linode; module_utils/linode/lke_module.py lke_argument_spec).
LKE_ARG_SPEC = dict(LINODE_ARG_SPEC, cluster_id=dict(type="int", required=True))


class LinodeError(RunbookError):
    """A Linode API call failed for good, or its input was wrong.

    ``status`` is the HTTP status of the API's answer (None when there was no answer), and
    ``details`` has ``method``, ``path`` and the API's ``errors`` reasons.
    """


def _is_transient(err):
    if isinstance(err, ApiError):
        status = getattr(err, "status", 0) or 0
        return status == 429 or status == 408 or status >= 500
    if HAS_LINODE and isinstance(err, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
        return True
    return False


def parse_retry_after(value, now=None):
    """Seconds from a Retry-After header (delta seconds or an HTTP date), or None."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def _retry_after(err):
    response = getattr(err, "response", None)
    if response is None:
        return None
    wanted = parse_retry_after(response.headers.get("Retry-After"))
    # Cap so a silly header cannot stall the run past a sensible poll interval.
    return None if wanted is None else min(wanted, 60.0)


class RetryingLinodeClient(LinodeClient):
    """linode_api4's client whose every request shares one deadline for retries."""

    def __init__(self, token, base_url, deadline, on_retry=None):
        super(RetryingLinodeClient, self).__init__(token, base_url=base_url, retry=False)
        self.deadline = deadline
        self.on_retry = on_retry
        self.retries = 0

    def _api_call(self, endpoint, model=None, method=None, data=None, filters=None):
        parent = super(RetryingLinodeClient, self)._api_call

        def note(err, attempt, delay):
            self.retries += 1
            if self.on_retry:
                self.on_retry(err, attempt, delay)

        return retry_call(lambda: parent(endpoint, model=model, method=method, data=data, filters=filters),
                          self.deadline, _is_transient, delays=backoff_delays(0.5, 2.0, 8.0),
                          retry_after=_retry_after, on_retry=note)


def _describe(err):
    if isinstance(err, ApiError):
        reasons = "; ".join(getattr(err, "errors", []) or []) or str(err)
        return "HTTP %s: %s" % (getattr(err, "status", "?"), reasons)
    return str(err)


class LKE(object):
    """The LKE calls the runbooks make, on one cluster."""

    def __init__(self, client, cluster_id):
        self.client = client
        self.cluster_id = int(cluster_id)

    def _call(self, verb, path, data=None, what=None):
        fn = getattr(self.client, verb)
        try:
            if data is None:
                return fn(path)
            return fn(path, data=data)
        except Exception as err:  # pylint: disable=broad-except
            if not isinstance(err, ApiError):
                if _is_transient(err):  # connection errors that outlived the deadline
                    raise LinodeError("Linode API %s %s did not answer before the deadline: %s"
                                      % (verb.upper(), path, err))
                raise
            status = getattr(err, "status", None)
            details = {"method": verb.upper(), "path": path, "errors": list(getattr(err, "errors", None) or [])}
            if status == 401:
                raise LinodeError("the Linode API refused the token (HTTP 401) at %s; give a valid api_token "
                                  "(or LINODE_TOKEN) for %s" % (path, self.client.base_url), status, details)
            if status == 404 and path.rstrip("/") == "/lke/clusters/%d" % self.cluster_id:
                raise LinodeError("LKE cluster id %d does not exist at %s; check cluster_id (list them with "
                                  "GET /lke/clusters)" % (self.cluster_id, self.client.base_url), status, details)
            what = " (%s)" % what if what else ""
            raise LinodeError("Linode API %s %s failed%s: %s" % (verb.upper(), path, what, _describe(err)),
                              status, details)

    def _paged(self, path):
        items, page = [], 1
        while True:
            sep = "&" if "?" in path else "?"
            body = self._call("get", "%s%spage=%d" % (path, sep, page)) or {}
            items.extend(body.get("data", []))
            if page >= int(body.get("pages", 1) or 1):
                return items
            page += 1

    @property
    def base(self):
        return "/lke/clusters/%d" % self.cluster_id

    def cluster(self):
        return self._call("get", self.base)

    def versions(self):
        return [v["id"] for v in self._paged("/lke/versions")]

    def pools(self):
        return self._paged(self.base + "/pools")

    def pool(self, pool_id):
        return self._call("get", "%s/pools/%d" % (self.base, int(pool_id)))

    def api_endpoints(self):
        return [e.get("endpoint") for e in self._paged(self.base + "/api-endpoints")]

    def kubeconfig(self):
        body = self._call("get", self.base + "/kubeconfig")
        return base64.b64decode(body["kubeconfig"]).decode("utf-8")

    def set_version(self, version):
        return self._call("put", self.base, data={"k8s_version": version}, what="upgrade control plane")

    def resize_pool(self, pool_id, count):
        return self._call("put", "%s/pools/%d" % (self.base, int(pool_id)), data={"count": int(count)},
                          what="resize pool to %d" % count)

    def create_pool(self, body):
        return self._call("post", self.base + "/pools", data=body, what="create pool")

    def delete_pool(self, pool_id):
        return self._call("delete", "%s/pools/%d" % (self.base, int(pool_id)), what="delete pool")

    def recycle_node(self, node_id):
        return self._call("post", "%s/nodes/%s/recycle" % (self.base, node_id), data={}, what="recycle node")

    def delete_node(self, node_id):
        return self._call("delete", "%s/nodes/%s" % (self.base, node_id), what="delete node")

    def node(self, node_id):
        return self._call("get", "%s/nodes/%s" % (self.base, node_id))


def lke_from_params(params, on_retry=None):
    """Build an :class:`LKE` from module params (LINODE_ARG_SPEC + ``cluster_id``)."""
    if not HAS_LINODE:
        raise LinodeError("the Python library linode_api4 is required on the controller: %s" % LINODE_IMPORT_ERROR)
    token = params.get("api_token")
    if not token:
        raise LinodeError("no Linode API token: set api_token or the LINODE_TOKEN environment variable")
    url = (params.get("api_url") or DEFAULT_API_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise LinodeError("api_url %r is not an http(s) URL; the default is %s" % (url, DEFAULT_API_URL))
    cluster_id = params.get("cluster_id")
    try:
        cluster_id = int(cluster_id)
    except (TypeError, ValueError):
        raise LinodeError("cluster_id %r is not an LKE cluster id (a positive integer)" % (cluster_id,))
    if cluster_id <= 0:
        raise LinodeError("cluster_id %r is not an LKE cluster id (a positive integer)" % (cluster_id,))
    deadline = Deadline(params.get("api_timeout") or 300.0)
    client = RetryingLinodeClient(token, url, deadline, on_retry=on_retry)
    return LKE(client, cluster_id)


def instance_id_of(node):
    """Linode instance id from a Kubernetes Node (spec.providerID = linode://<id>), or None."""
    provider = ((node or {}).get("spec") or {}).get("providerID") or ""
    if provider.startswith("linode://"):
        try:
            return int(provider[len("linode://"):].strip("/"))
        except ValueError:
            return None
    return None
