"""strata_cinder.client -- blockd's volume API as the driver calls it: a
keystoneauth session (token from Strata identity, renewed by keystoneauth),
Cinder-shaped error bodies turned into BlockdError, and waits on async ops.

No Cinder imports here, so the transport can be tested on its own.
"""
import time

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

# The newest volume API microversion the driver relies on (revert needs 3.40).
MICROVERSION = "3.70"


class BlockdError(Exception):
    """A call to blockd failed: HTTP status (0 when blockd was unreachable)."""

    def __init__(self, status, message, method="", path=""):
        self.status, self.message = status, message
        super().__init__("blockd %s %s: %s%s" % (method, path,
                                                  "%d " % status if status else "", message))


def _message(resp):
    """The message of a Cinder-shaped error body ({"badRequest": {"message": ..}})."""
    try:
        body = resp.json()
    except ValueError:
        return (resp.text or resp.reason or "").strip()[:300]
    if isinstance(body, dict):
        for v in body.values():
            if isinstance(v, dict) and "message" in v:
                return str(v["message"])
    return str(body)[:300]


class BlockdClient:
    """One driver's connection to blockd; safe to share between green threads."""

    def __init__(self, url, auth_url=None, username=None, password=None, project_name=None,
                 user_domain_name="Default", project_domain_name="Default", token=None,
                 project_id=None, verify=True, timeout=30, retries=3):
        if token:
            if not url or not project_id:
                raise ValueError("a static strata_auth_token needs strata_url and "
                                 "strata_project_id")
            auth = token_endpoint.Token(url, token)
        else:
            missing = [n for n, v in (("strata_auth_url", auth_url), ("strata_auth_username",
                       username), ("strata_auth_password", password), ("strata_project",
                       project_name)) if not v]
            if missing:
                raise ValueError("missing option(s): %s" % ", ".join(missing))
            auth = v3.Password(auth_url=auth_url, username=username, password=password,
                               project_name=project_name, user_domain_name=user_domain_name,
                               project_domain_name=project_domain_name)
        self._session = ks_session.Session(auth=auth, verify=verify, timeout=timeout)
        self._url, self._project_id, self._retries = (url or "").rstrip("/"), project_id, retries

    # ---- transport ----
    def base(self):
        """http://blockd:port/v3/<project>: strata_url, or the catalog's volumev3."""
        try:
            project = self._project_id or self._session.get_project_id()
            if self._url:
                return "%s/v3/%s" % (self._url, project)
            ep = (self._session.get_endpoint(service_type="volumev3", interface="public") or
                  self._session.get_endpoint(service_type="block-storage", interface="public"))
        except ks_exc.ClientException as e:   # identity unreachable or the login refused
            raise BlockdError(getattr(e, "http_status", 0) or 0, "Strata identity: %s" % e)
        if not ep:
            raise BlockdError(0, "no strata_url and no volumev3 endpoint in the catalog")
        return ep.rstrip("/")

    def call(self, method, path, body=None, ok=(200, 201, 202, 204), microversion=MICROVERSION):
        """The decoded JSON answer (None when empty) or BlockdError."""
        url = self.base() + path
        try:
            resp = self._session.request(
                url, method, json=body, raise_exc=False, connect_retries=self._retries,
                status_code_retries=self._retries, retriable_status_codes=[503],
                headers={"OpenStack-API-Version": "volume " + microversion,
                         "Accept": "application/json"})
        except ks_exc.ClientException as e:   # unreachable, TLS, auth refused
            raise BlockdError(getattr(e, "http_status", 0) or 0, str(e), method, path)
        if resp.status_code not in ok:
            raise BlockdError(resp.status_code, _message(resp), method, path)
        return resp.json() if resp.content else None

    def version(self):
        """blockd's /v3 version document (also proves the token works)."""
        root = self.base().rsplit("/", 1)[0]
        resp = self._session.get(root, raise_exc=False, authenticated=False)
        if resp.status_code != 200:
            raise BlockdError(resp.status_code, _message(resp), "GET", root)
        return resp.json().get("version", {})

    # ---- resources ----
    def get(self, kind, rid):
        """The volume/snapshot/... or None when blockd does not know it."""
        try:
            return self.call("GET", "/%ss/%s" % (kind, rid))[kind]
        except BlockdError as e:
            if e.status == 404:
                return None
            raise

    def find_by_name(self, kind, name):
        """The one volume/snapshot named `name` (newest if several), or None."""
        items = self.call("GET", "/%ss/detail?name=%s" % (kind, name))[kind + "s"]
        items = [i for i in items if i.get("name") == name]
        return max(items, key=lambda i: i.get("created_at", "")) if items else None

    def action(self, rid, name, arg=None, microversion=MICROVERSION):
        return self.call("POST", "/volumes/%s/action" % rid, {name: arg},
                         microversion=microversion)

    def wait(self, kind, rid, want, fail, timeout, gone_ok=False, check=None):
        """Poll until the resource's status is in `want` (and check(res) holds):
        the resource; BlockdError on a status in `fail`, on the timeout, or when it
        vanished (unless gone_ok, then None: what a delete waits for)."""
        deadline, pause = time.monotonic() + timeout, 0.1
        while True:
            res = self.get(kind, rid)
            if res is None:
                if gone_ok:
                    return None
                raise BlockdError(404, "%s %s disappeared" % (kind, rid))
            status = res.get("status")
            if status in want and (check is None or check(res)):
                return res
            if status in fail:
                raise BlockdError(0, "%s %s went to status %s" % (kind, rid, status))
            if time.monotonic() > deadline:
                raise BlockdError(0, "%s %s still %s after %ds" % (kind, rid, status, timeout))
            time.sleep(pause)
            pause = min(pause * 1.5, 2.0)
