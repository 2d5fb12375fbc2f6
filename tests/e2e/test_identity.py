"""strata-identity through the stock `openstack` client with passwords and raw
HTTP: tokens and the catalog, project/user/role management as the admin,
images and volumes as the demo member, readers that cannot write, projects
that cannot see each other (404), revocation reaching every daemon, application
credentials, racing creates of one name, and the role x project x endpoint
policy matrix.  Real Ceph, real HTTP, real clients."""
import concurrent.futures
import json
import os
import subprocess
import time
import uuid

import pytest
import requests

from conftest import BUILD, Daemon, free_port, write_config

# Secrets this module uses: test_zz_lifecycle greps every daemon log for them.
SECRETS_FILE = "e2e-secrets"


def remember_secret(home, value):
    with open(os.path.join(home, SECRETS_FILE), "a") as f:
        f.write(value + "\n")


@pytest.fixture(scope="module")
def idurl(strata_env):
    if "STRATA_IDENTITY_URL" not in strata_env:
        pytest.fail("strata-identity is not running (no STRATA_IDENTITY_URL in strata.env)")
    return strata_env["STRATA_IDENTITY_URL"]


@pytest.fixture(scope="module")
def admin_tok(strata_env):
    return strata_env["STRATA_ADMIN_TOKEN"]


def os_env(strata_env, user, password, project):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update({k: v for k, v in strata_env.items() if k.startswith("OS_")})
    env.update({"OS_USERNAME": user, "OS_PASSWORD": password, "OS_PROJECT_NAME": project})
    return env


def osc(env, *args, check=True):
    p = subprocess.run(["openstack"] + list(args), env=env, capture_output=True, text=True,
                       timeout=120)
    if check and p.returncode != 0:
        raise AssertionError("openstack %s failed (%d): %s" % (" ".join(args), p.returncode,
                                                                p.stderr))
    return p


def osj(env, *args):
    return json.loads(osc(env, *(list(args) + ["-f", "json"])).stdout)


def password_token(idurl, user, password, project=None, domain="Default"):
    body = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": user, "domain": {"name": domain}, "password": password}}}}}
    if project:
        body["auth"]["scope"] = {"project": {"name": project, "domain": {"name": domain}}}
    r = requests.post(idurl + "/auth/tokens", json=body, timeout=30)
    return r


def tok(idurl, user, password, project=None):
    r = password_token(idurl, user, password, project)
    assert r.status_code == 201, r.text
    return r.headers["X-Subject-Token"]


class Directory:
    """Projects and users made through identity's API as the admin."""

    def __init__(self, idurl, admin_tok, home):
        self.idurl, self.h = idurl, {"X-Auth-Token": admin_tok}
        self.home = home
        self.roles = {r["name"]: r["id"] for r in
                      requests.get(idurl + "/roles", headers=self.h, timeout=30).json()["roles"]}

    def project(self, name):
        r = requests.post(self.idurl + "/projects", headers=self.h, timeout=30,
                          json={"project": {"name": name, "domain_id": "default"}})
        assert r.status_code == 201, r.text
        return r.json()["project"]

    def user(self, name, project, role):
        pw = uuid.uuid4().hex
        remember_secret(self.home, pw)
        r = requests.post(self.idurl + "/users", headers=self.h, timeout=30,
                          json={"user": {"name": name, "password": pw, "domain_id": "default"}})
        assert r.status_code == 201, r.text
        u = r.json()["user"]
        if project:
            r = requests.put("%s/projects/%s/users/%s/roles/%s" % (self.idurl, project["id"], u["id"],
                                                                  self.roles[role]),
                             headers=self.h, timeout=30)
            assert r.status_code == 204, r.text
        return {"name": name, "password": pw, "id": u["id"],
                "project": project["name"] if project else None}

    def token(self, who):
        u = self.users[who]
        t = tok(self.idurl, u["name"], u["password"], u["project"])
        remember_secret(self.home, t)
        return t


class World(Directory):
    """Projects and users of the matrix, made once through the API as the admin."""

    def __init__(self, idurl, admin_tok, home):
        super().__init__(idurl, admin_tok, home)
        suffix = uuid.uuid4().hex[:8]
        self.p1 = self.project("m1-" + suffix)
        self.p2 = self.project("m2-" + suffix)
        self.users = {}
        for name, project, role in [("member1", self.p1, "member"), ("reader1", self.p1, "reader"),
                                    ("member2", self.p2, "member"), ("norole", None, None)]:
            self.users[name] = self.user(name + "-" + suffix, project, role)


@pytest.fixture(scope="module")
def world(idurl, admin_tok, home):
    return World(idurl, admin_tok, home)


# ---- the stock client with passwords ----

def test_versions_and_token_with_catalog(idurl, strata_env):
    r = requests.get(idurl.rsplit("/v3", 1)[0] + "/", timeout=10)
    assert r.status_code == 300
    assert r.json()["versions"]["values"][0]["id"].startswith("v3.")
    v = requests.get(idurl, timeout=10).json()["version"]
    assert v["status"] == "stable" and v["links"][0]["href"].endswith("/v3/")

    env = os_env(strata_env, "admin", strata_env["OS_PASSWORD"], "admin")
    t = osj(env, "token", "issue")
    assert t["project_id"] == strata_env["STRATA_ADMIN_PROJECT_ID"]
    assert t["id"].startswith("st1.")
    cat = {c["Type"]: c for c in osj(env, "catalog", "list")}
    for typ in ("identity", "compute", "volumev3", "block-storage", "image"):
        assert typ in cat, cat.keys()
    # The volume endpoint carries the token's project.
    assert strata_env["STRATA_ADMIN_PROJECT_ID"] in json.dumps(cat["volumev3"])

    # Keystone's token body, validated with GET /v3/auth/tokens.
    body = requests.get(idurl + "/auth/tokens", headers={"X-Auth-Token": t["id"],
                                                         "X-Subject-Token": t["id"]},
                        timeout=10).json()["token"]
    assert body["methods"] == ["password"]
    assert body["user"]["name"] == "admin" and body["user"]["domain"]["id"] == "default"
    assert body["project"]["name"] == "admin"
    assert {"admin", "member", "reader"} <= {r["name"] for r in body["roles"]}
    assert body["expires_at"].endswith("Z") and len(body["audit_ids"]) == 1
    for ep in body["catalog"][0]["endpoints"]:
        assert set(ep) >= {"id", "interface", "region", "region_id", "url"}
    assert requests.head(idurl + "/auth/tokens", headers={"X-Auth-Token": t["id"],
                                                          "X-Subject-Token": t["id"]},
                         timeout=10).status_code == 200
    # Wrong password: 401 in Keystone's shape, saying nothing about which part was wrong.
    r = password_token(idurl, "admin", "wrong", "admin")
    assert r.status_code == 401 and r.json()["error"]["title"] == "Unauthorized"
    r2 = password_token(idurl, "no-such-user-" + uuid.uuid4().hex[:6], "wrong", "admin")
    assert r2.status_code == 401 and r2.json() == r.json()


def test_admin_manages_projects_users_and_roles(strata_env, idurl):
    admin = os_env(strata_env, "admin", strata_env["OS_PASSWORD"], "admin")
    n = uuid.uuid4().hex[:8]
    p = osj(admin, "project", "create", "--description", "e2e", "proj-" + n)
    pw = uuid.uuid4().hex
    remember_secret(os.environ["STRATA_HOME"], pw)
    u = osj(admin, "user", "create", "--project", p["id"], "--password", pw, "--email",
            "e2e@example.org", "user-" + n)
    assert u["name"] == "user-" + n and "password" not in u
    osc(admin, "role", "add", "--project", "proj-" + n, "--user", "user-" + n, "member")
    rows = osj(admin, "role", "assignment", "list", "--project", "proj-" + n, "--names")
    assert [(r["Role"], r["User"]) for r in rows] == [("member", "user-" + n + "@Default")]
    names = [x["Name"] for x in osj(admin, "project", "list")]
    assert "proj-" + n in names and "demo" in names
    # A duplicate name is a conflict.
    p2 = osc(admin, "project", "create", "proj-" + n, check=False)
    assert p2.returncode != 0 and "409" in p2.stderr

    # The new user logs in, sees its project; disabled, it cannot.
    env = os_env(strata_env, "user-" + n, pw, "proj-" + n)
    assert osj(env, "token", "issue")["project_id"] == p["id"]
    assert [x["Name"] for x in osj(env, "project", "list")] == ["proj-" + n]
    t = tok(idurl, "user-" + n, pw, "proj-" + n)
    osc(admin, "user", "set", "--disable", "user-" + n)
    assert password_token(idurl, "user-" + n, pw, "proj-" + n).status_code == 401
    # ... and a token it had stops working (revocation on disable).
    r = requests.get(idurl + "/auth/tokens", headers={"X-Auth-Token": strata_env["STRATA_ADMIN_TOKEN"],
                                                      "X-Subject-Token": t}, timeout=10)
    assert r.status_code == 404
    osc(admin, "user", "set", "--enable", "--password", pw + "2", "user-" + n)
    remember_secret(os.environ["STRATA_HOME"], pw + "2")
    assert password_token(idurl, "user-" + n, pw, "proj-" + n).status_code == 401
    assert password_token(idurl, "user-" + n, pw + "2", "proj-" + n).status_code == 201
    # Role removal: no more access to the project.
    osc(admin, "role", "remove", "--project", "proj-" + n, "--user", "user-" + n, "member")
    assert password_token(idurl, "user-" + n, pw + "2", "proj-" + n).status_code == 401
    osc(admin, "user", "delete", "user-" + n)
    osc(admin, "project", "delete", "proj-" + n)
    assert "proj-" + n not in [x["Name"] for x in osj(admin, "project", "list")]
    # The name is free again.
    osc(admin, "project", "create", "proj-" + n)
    osc(admin, "project", "delete", "proj-" + n)


def test_demo_member_uses_images_and_volumes(strata_env, tmp_path):
    env = os_env(strata_env, strata_env["STRATA_DEMO_USER"], strata_env["STRATA_DEMO_PASSWORD"],
                 strata_env["STRATA_DEMO_PROJECT"])
    data = tmp_path / "img.raw"
    data.write_bytes(os.urandom(1 << 20))
    name = "demo-img-" + uuid.uuid4().hex[:6]
    img = osj(env, "image", "create", "--disk-format", "raw", "--container-format", "bare",
              "--file", str(data), name)
    assert osj(env, "image", "show", img["id"])["status"] == "active"
    assert name in [i["Name"] for i in osj(env, "image", "list")]
    vol = osj(env, "volume", "create", "--size", "1", "--image", img["id"], "demo-vol")
    deadline = time.time() + 60
    while osj(env, "volume", "show", vol["id"])["status"] != "available":
        assert time.time() < deadline, "volume from image not available"
        time.sleep(0.5)
    assert vol["id"] in [v["ID"] for v in osj(env, "volume", "list")]
    osc(env, "volume", "delete", vol["id"])
    osc(env, "image", "delete", img["id"])


# ---- policy ----

def expect(method, url, token, status, **kw):
    r = requests.request(method, url, headers={"X-Auth-Token": token}, timeout=30, **kw)
    assert r.status_code == status, "%s %s: %d (expected %d): %s" % (method, url, r.status_code,
                                                                     status, r.text[:200])
    return r


def settle(url, token, timeout=120):
    """Wait until the volume at url is no longer being created."""
    deadline = time.time() + timeout
    while True:
        st = requests.get(url, headers={"X-Auth-Token": token}, timeout=30).json()["volume"]["status"]
        if st != "creating":
            return st
        assert time.time() < deadline, "%s still creating" % url
        time.sleep(0.5)


def test_reader_reads_but_cannot_write(world, strata_env):
    u = world.users["reader1"]
    env = os_env(strata_env, u["name"], u["password"], u["project"])
    osj(env, "volume", "list")
    osj(env, "image", "list")
    p = osc(env, "volume", "create", "--size", "1", "nope", check=False)
    assert p.returncode != 0 and "403" in p.stderr, p.stderr
    p = osc(env, "image", "create", "--disk-format", "raw", "nope", check=False)
    assert p.returncode != 0 and "403" in p.stderr, p.stderr


def test_projects_do_not_see_each_other(world, strata_env):
    m1, m2 = world.token("member1"), world.token("member2")
    vol_url = strata_env["STRATA_VOLUME_URL"].rsplit("/", 1)[0]
    img_url = strata_env["STRATA_IMAGE_URL"]
    v = expect("POST", "%s/%s/volumes" % (vol_url, world.p1["id"]), m1, 202,
               json={"volume": {"size": 1, "name": "private"}}).json()["volume"]
    i = expect("POST", img_url + "/v2/images", m1, 201,
               json={"name": "private", "disk_format": "raw", "container_format": "bare"}).json()
    # Another project's volume and image: 404, through its own URL and through theirs.
    expect("GET", "%s/%s/volumes/%s" % (vol_url, world.p2["id"], v["id"]), m2, 404)
    expect("GET", "%s/%s/volumes/%s" % (vol_url, world.p1["id"], v["id"]), m2, 403)
    expect("GET", "%s/v2/images/%s" % (img_url, i["id"]), m2, 404)
    expect("DELETE", "%s/v2/images/%s" % (img_url, i["id"]), m2, 404)
    assert v["id"] not in [x["id"] for x in expect("GET", "%s/%s/volumes" % (vol_url, world.p2["id"]),
                                                   m2, 200).json()["volumes"]]
    vurl = "%s/%s/volumes/%s" % (vol_url, world.p1["id"], v["id"])
    assert settle(vurl, m1) == "available"
    expect("DELETE", vurl, m1, 202)
    expect("DELETE", "%s/v2/images/%s" % (img_url, i["id"]), m1, 204)


def test_revoked_token_is_refused_by_every_daemon(world, strata_env, idurl):
    admin_t = tok(idurl, "admin", strata_env["OS_PASSWORD"], "admin")
    m1 = world.token("member1")
    urls = {
        "identity": (idurl + "/auth/projects", m1),
        "imaged": (strata_env["STRATA_IMAGE_URL"] + "/v2/images", m1),
        "blockd": ("%s/%s/volumes" % (strata_env["STRATA_VOLUME_URL"].rsplit("/", 1)[0],
                                      world.p1["id"]), m1),
    }
    if "STRATA_AGENT_URL" in strata_env:
        urls["computed"] = (strata_env["STRATA_AGENT_URL"] + "/v1/host", admin_t)
    for name, (u, t) in urls.items():
        expect("GET", u, t, 200)
    for t in (m1, admin_t):
        r = requests.delete(idurl + "/auth/tokens", headers={"X-Auth-Token": t, "X-Subject-Token": t},
                            timeout=10)
        assert r.status_code == 204, r.text
    # The revocation waits for every watcher's reload: refused at once.
    for name, (u, t) in urls.items():
        r = requests.get(u, headers={"X-Auth-Token": t}, timeout=10)
        assert r.status_code == 401, "%s accepted a revoked token: %d" % (name, r.status_code)
        assert "revoked" in r.text
    # Other tokens of the same user are untouched.
    expect("GET", urls["imaged"][0], world.token("member1"), 200)


def test_application_credential(world, strata_env, idurl):
    u = world.users["member1"]
    env = os_env(strata_env, u["name"], u["password"], u["project"])
    name = "ci-" + uuid.uuid4().hex[:6]
    ac = osj(env, "application", "credential", "create", "--role", "reader", name)
    assert ac["secret"] and ac["project_id"] == world.p1["id"]
    remember_secret(os.environ["STRATA_HOME"], ac["secret"])
    acenv = {k: v for k, v in env.items() if not k.startswith("OS_")}
    acenv.update({"OS_AUTH_URL": env["OS_AUTH_URL"], "OS_AUTH_TYPE": "v3applicationcredential",
                  "OS_APPLICATION_CREDENTIAL_ID": ac["id"],
                  "OS_APPLICATION_CREDENTIAL_SECRET": ac["secret"],
                  "OS_IDENTITY_API_VERSION": "3", "OS_INTERFACE": "public"})
    osj(acenv, "volume", "list")
    # Only the roles given: a reader credential of a member cannot write.
    p = osc(acenv, "volume", "create", "--size", "1", "nope", check=False)
    assert p.returncode != 0 and "403" in p.stderr
    shown = osj(env, "application", "credential", "show", name)
    assert "secret" not in shown or not shown["secret"]
    body = {"auth": {"identity": {"methods": ["application_credential"],
                                  "application_credential": {"id": ac["id"], "secret": ac["secret"]}}}}
    t = requests.post(idurl + "/auth/tokens", json=body, timeout=10).headers["X-Subject-Token"]
    osc(env, "application", "credential", "delete", name)
    r = requests.get(strata_env["STRATA_IMAGE_URL"] + "/v2/images", headers={"X-Auth-Token": t},
                     timeout=10)
    assert r.status_code == 401
    assert requests.post(idurl + "/auth/tokens", json=body, timeout=10).status_code == 401


def test_bad_input_gets_clear_errors(idurl, admin_tok):
    h = {"X-Auth-Token": admin_tok}
    for body in ("{", "[]", '{"auth": 5}', '{"auth": {"identity": {"methods": ["totp"]}}}'):
        r = requests.post(idurl + "/auth/tokens", data=body, timeout=10,
                          headers={"Content-Type": "application/json"})
        assert r.status_code in (400, 401), (body, r.status_code)
        assert "error" in r.json() or "badRequest" in r.json()
    r = requests.post(idurl + "/users", headers=h, json={"user": {"name": 7}}, timeout=10)
    assert r.status_code == 400 and "user.name" in r.json()["error"]["message"]
    r = requests.get(idurl + "/users/nope", headers=h, timeout=10)
    assert r.status_code == 404 and r.json()["error"]["message"] == "Could not find user: nope."
    r = requests.put(idurl + "/projects/x/users/y/roles/z", headers=h, timeout=10)
    assert r.status_code == 404
    # Domain-scoped tokens are not offered: a clear 401.
    r = requests.post(idurl + "/auth/tokens", timeout=10, json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": admin_tok}},
        "scope": {"domain": {"id": "default"}}}})
    assert r.status_code == 401 and "domain" in r.json()["error"]["message"]
    # The built-in roles and the admin project cannot be deleted.
    roles = requests.get(idurl + "/roles?name=member", headers=h, timeout=10).json()["roles"]
    assert requests.delete(idurl + "/roles/" + roles[0]["id"], headers=h, timeout=10).status_code == 403


def test_one_name_one_winner_across_two_instances(home, idurl, admin_tok, tmp_path):
    """20 concurrent creates of one project name, split over two identity
    daemons: exactly one 201, every other a 409, one record."""
    port = free_port()
    conf = write_config(str(tmp_path / "id2.conf"), os.path.join(home, "etc", "strata.conf"),
                        {"identity": {"port": port}})
    d = Daemon(os.path.join(BUILD, "identity", "strata-identity"), conf, str(tmp_path / "id2.log"))
    d.start("http://127.0.0.1:%d" % port)
    try:
        urls = [idurl, "http://127.0.0.1:%d/v3" % port]
        name = "race-" + uuid.uuid4().hex[:8]

        def create(i):
            return requests.post(urls[i % 2] + "/projects", headers={"X-Auth-Token": admin_tok},
                                 json={"project": {"name": name}}, timeout=60).status_code

        with concurrent.futures.ThreadPoolExecutor(20) as ex:
            codes = sorted(ex.map(create, range(20)))
        assert codes == [201] + [409] * 19, codes
        found = requests.get(idurl + "/projects?name=" + name, headers={"X-Auth-Token": admin_tok},
                             timeout=10).json()["projects"]
        assert len(found) == 1
        requests.delete(idurl + "/projects/" + found[0]["id"], headers={"X-Auth-Token": admin_tok},
                        timeout=10)
    finally:
        d.stop()


# The full policy matrix: caller x endpoint -> status.  Callers: the admin (a
# password token on the admin project), a member and a reader of p1, a member
# of p2, and an unscoped token of a user with no role.  "own" resources are
# p1's; every cell is asserted.
MATRIX = [
    # endpoint                      admin  member1 reader1 member2 unscoped
    ("image_list",                  200,   200,    200,    200,    401),
    ("image_create",                201,   201,    403,    201,    401),
    ("image_show_p1",               200,   200,    200,    404,    401),
    ("image_delete_p1",             404,   204,    403,    404,    401),  # admin: after member1's delete
    ("volume_list_p1",              200,   200,    200,    403,    401),
    ("volume_create_p1",            202,   202,    403,    403,    401),
    ("volume_show_p1",              200,   200,    200,    403,    401),
    ("identity_users",              200,   403,    403,    403,    401),
    ("identity_project_create",     201,   403,    403,    403,    401),
    ("identity_own_project",        200,   200,    200,    403,    403),
    ("identity_auth_projects",      200,   200,    200,    200,    200),
    ("agent_host",                  200,   403,    403,    403,    401),
]
CALLERS = ["admin", "member1", "reader1", "member2", "unscoped"]


def test_role_project_endpoint_matrix(world, strata_env, idurl):
    tokens = {"admin": tok(idurl, "admin", strata_env["OS_PASSWORD"], "admin")}
    for c in ("member1", "reader1", "member2"):
        tokens[c] = world.token(c)
    nr = world.users["norole"]
    tokens["unscoped"] = tok(idurl, nr["name"], nr["password"])
    m1 = tokens["member1"]
    img, vol = strata_env["STRATA_IMAGE_URL"], strata_env["STRATA_VOLUME_URL"].rsplit("/", 1)[0]
    p1 = world.p1["id"]
    image = expect("POST", img + "/v2/images", m1, 201,
                   json={"name": "m", "disk_format": "raw", "container_format": "bare"}).json()
    volume = expect("POST", "%s/%s/volumes" % (vol, p1), m1, 202,
                    json={"volume": {"size": 1}}).json()["volume"]
    made = []

    def call(endpoint, t):
        img_body = {"name": "x", "disk_format": "raw", "container_format": "bare"}
        reqs = {
            "image_list": ("GET", img + "/v2/images", None),
            "image_create": ("POST", img + "/v2/images", img_body),
            "image_show_p1": ("GET", "%s/v2/images/%s" % (img, image["id"]), None),
            "image_delete_p1": ("DELETE", "%s/v2/images/%s" % (img, image["id"]), None),
            "volume_list_p1": ("GET", "%s/%s/volumes" % (vol, p1), None),
            "volume_create_p1": ("POST", "%s/%s/volumes" % (vol, p1), {"volume": {"size": 1}}),
            "volume_show_p1": ("GET", "%s/%s/volumes/%s" % (vol, p1, volume["id"]), None),
            "identity_users": ("GET", idurl + "/users", None),
            "identity_project_create": ("POST", idurl + "/projects",
                                        {"project": {"name": "mx-" + uuid.uuid4().hex[:8]}}),
            "identity_own_project": ("GET", "%s/projects/%s" % (idurl, p1), None),
            "identity_auth_projects": ("GET", idurl + "/auth/projects", None),
            "agent_host": ("GET", strata_env.get("STRATA_AGENT_URL", "") + "/v1/host", None),
        }
        method, u, body = reqs[endpoint]
        r = requests.request(method, u, headers={"X-Auth-Token": t}, json=body, timeout=30)
        if r.status_code in (201, 202):
            made.append((endpoint, r.json()))
        return r.status_code

    failures = []
    for row in MATRIX:
        endpoint, want = row[0], dict(zip(CALLERS, row[1:]))
        if endpoint == "agent_host" and "STRATA_AGENT_URL" not in strata_env:
            continue
        order = CALLERS if endpoint != "image_delete_p1" else ["reader1", "member2", "unscoped",
                                                               "member1", "admin"]
        for caller in order:
            got = call(endpoint, tokens[caller])
            if got != want[caller]:
                failures.append("%s as %s: %d, expected %d" % (endpoint, caller, got, want[caller]))
    # Clean up what the allowed creates made.
    admin = tokens["admin"]
    for endpoint, doc in made:
        if endpoint == "image_create":
            requests.delete("%s/v2/images/%s" % (img, doc["id"]), headers={"X-Auth-Token": admin})
        elif endpoint == "volume_create_p1":
            u = "%s/%s/volumes/%s" % (vol, p1, doc["volume"]["id"])
            settle(u, admin)
            requests.delete(u, headers={"X-Auth-Token": admin})
        elif endpoint == "identity_project_create":
            requests.delete("%s/projects/%s" % (idurl, doc["project"]["id"]),
                            headers={"X-Auth-Token": admin})
    u = "%s/%s/volumes/%s" % (vol, p1, volume["id"])
    settle(u, admin)
    expect("DELETE", u, admin, 202)
    assert not failures, "\n".join(failures)
