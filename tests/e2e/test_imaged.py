"""strata-imaged through the real clients (openstack CLI, glanceclient library)
and raw HTTP, against real Ceph: uploads into RBD, checksums, downloads,
qcow2 conversion and rejection, tenancy, delete-with-clones, kill -9 mid-upload."""
import hashlib
import json
import os
import signal
import socket
import subprocess
import time
import uuid

import pytest
import rados
import rbd
import requests

from conftest import BUILD, TOP

MIB = 1 << 20


def token(home, project, roles="member"):
    out = subprocess.run([os.path.join(BUILD, "tools", "strata-token"), "--config",
                          os.path.join(home, "etc", "strata.conf"), "--project", project,
                          "--user", "u-" + project, "--roles", roles],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture(scope="module")
def url(strata_env):
    if "STRATA_IMAGE_URL" not in strata_env:
        pytest.fail("strata-imaged is not running (no STRATA_IMAGE_URL in strata.env)")
    return strata_env["STRATA_IMAGE_URL"]


@pytest.fixture(scope="module")
def alice(home):
    return token(home, "p-alice")


@pytest.fixture(scope="module")
def bob(home):
    return token(home, "p-bob")


@pytest.fixture(scope="module")
def admin_tok(strata_env):
    return strata_env["STRATA_ADMIN_TOKEN"]


@pytest.fixture(scope="module")
def cluster(ceph_conf):
    c = rados.Rados(conffile=ceph_conf, name="client.admin")
    c.connect(timeout=15)
    yield c
    c.shutdown()


def rbd_names(cluster, pool="strata.images"):
    with cluster.open_ioctx(pool) as io:
        return set(rbd.RBD().list(io))


def osc(url, tok, *args):
    """The real `openstack` client with a fixed endpoint and a token (with a
    token and no Keystone, openstacksdk wants the versioned endpoint)."""
    p = subprocess.run(["openstack", "--os-auth-type", "admin_token", "--os-token", tok,
                        "--os-endpoint", url + "/v2", "--os-image-api-version", "2", *args],
                       capture_output=True, text=True, timeout=300)
    return p


def osc_json(url, tok, *args):
    p = osc(url, tok, *args, "-f", "json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def make_file(path, size, seed=1, sparse_tail=0):
    """Random data then `sparse_tail` bytes of zeros."""
    rnd = hashlib.sha256(str(seed).encode()).digest()
    with open(path, "wb") as f:
        block = os.urandom(MIB)
        left = size
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
        if sparse_tail:
            f.truncate(size + sparse_tail)
    return path


def digests(path):
    md5, sha = hashlib.md5(), hashlib.sha512()
    with open(path, "rb") as f:
        for c in iter(lambda: f.read(4 * MIB), b""):
            md5.update(c)
            sha.update(c)
    return md5.hexdigest(), sha.hexdigest()


def H(tok, **extra):
    return dict({"X-Auth-Token": tok}, **extra)


def test_versions_document(url):
    r = requests.get(url + "/versions")
    assert r.status_code == 200
    ids = [v["id"] for v in r.json()["versions"]]
    assert any(v.startswith("v2") for v in ids)
    assert requests.get(url + "/").status_code == 300


def test_raw_upload_with_openstack_cli(url, alice, admin_tok, tmp_path, cluster):
    src = make_file(str(tmp_path / "disk.raw"), 6 * MIB + 12345, sparse_tail=64 * MIB)
    md5, sha = digests(src)
    img = osc_json(url, alice, "image", "create", "--disk-format", "raw", "--container-format",
                   "bare", "--file", src, "cli-raw-" + uuid.uuid4().hex[:6])
    shown = osc_json(url, alice, "image", "show", img["id"])
    assert shown["status"] == "active"
    assert shown["checksum"] == md5
    assert shown["size"] == os.path.getsize(src)
    assert img["id"] in rbd_names(cluster)
    # sparse: the zero tail was not written to the OSDs
    with cluster.open_ioctx("strata.images") as io, rbd.Image(io, img["id"], read_only=True) as im:
        used = sum(length for _, length, exists in _extents(im) if exists)
        assert used < 16 * MIB, used
        assert [s["name"] for s in im.list_snaps()] == ["snap"]
        assert im.is_protected_snap("snap")
    # download equals upload, through the CLI
    out = str(tmp_path / "back.raw")
    p = osc(url, alice, "image", "save", "--file", out, img["id"])
    assert p.returncode == 0, p.stderr
    assert digests(out) == (md5, sha)
    r = requests.get(url + "/v2/images/" + img["id"], headers=H(alice)).json()
    assert r["os_hash_algo"] == "sha512" and r["os_hash_value"] == sha
    assert "direct_url" not in r and "locations" not in r  # the Ceph layout is not a member's
    r = requests.get(url + "/v2/images/" + img["id"], headers=H(admin_tok)).json()
    assert r["direct_url"].startswith("rbd://") and r["direct_url"].endswith(
        "/strata.images/%s/snap" % img["id"])


def _extents(image):
    found = []
    image.diff_iterate(0, image.size(), None, lambda off, length, exists: found.append((off, length, exists)))
    return found


def test_list_show_set_delete_with_cli(url, alice, bob):
    name = "cli-meta-" + uuid.uuid4().hex[:6]
    img = osc_json(url, alice, "image", "create", "--disk-format", "raw", "--container-format",
                   "bare", "--property", "os_distro=debian", "--tag", "t1", name)
    assert img["status"] == "queued"
    p = osc(url, alice, "image", "set", "--name", name + "-2", "--property", "hw_disk_bus=virtio",
            "--tag", "t2", "--min-disk", "2", img["id"])
    assert p.returncode == 0, p.stderr
    shown = osc_json(url, alice, "image", "show", img["id"])
    assert shown["name"] == name + "-2" and shown["min_disk"] == 2
    assert sorted(shown["tags"]) == ["t1", "t2"]
    props = shown["properties"]
    assert props.get("os_distro") == "debian" and props.get("hw_disk_bus") == "virtio"
    listed = osc_json(url, alice, "image", "list", "--name", name + "-2")
    assert [i["ID"] for i in listed] == [img["id"]]
    # repeated tag filters must all match
    both = requests.get(url + "/v2/images?tag=t1&tag=t2", headers=H(alice)).json()["images"]
    assert img["id"] in [i["id"] for i in both]
    one = requests.get(url + "/v2/images?tag=t1&tag=nope", headers=H(alice)).json()["images"]
    assert img["id"] not in [i["id"] for i in one]
    # bob sees nothing of alice's private/shared image
    assert osc(url, bob, "image", "show", img["id"]).returncode != 0
    assert img["id"] not in [i["ID"] for i in osc_json(url, bob, "image", "list")]
    assert osc(url, alice, "image", "delete", img["id"]).returncode == 0
    assert osc(url, alice, "image", "show", img["id"]).returncode != 0


def test_glanceclient_library_upload_download(url, alice, tmp_path):
    from glanceclient.v2 import client as gclient
    g = gclient.Client(url, token=alice)
    src = make_file(str(tmp_path / "lib.raw"), 3 * MIB + 7)
    md5, _ = digests(src)
    img = g.images.create(name="lib-" + uuid.uuid4().hex[:6], disk_format="raw",
                          container_format="bare", visibility="private")
    with open(src, "rb") as f:
        g.images.upload(img.id, f)
    got = g.images.get(img.id)
    assert got.status == "active" and got.checksum == md5
    data = b"".join(g.images.data(img.id))
    assert hashlib.md5(data).hexdigest() == md5
    names = [i.name for i in g.images.list(filters={"name": img.name})]
    assert names == [img.name]
    g.images.delete(img.id)


def test_qcow2_is_converted(url, alice, tmp_path):
    raw = make_file(str(tmp_path / "src.raw"), 5 * MIB, sparse_tail=27 * MIB)
    qcow = str(tmp_path / "src.qcow2")
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow], check=True)
    img = osc_json(url, alice, "image", "create", "--disk-format", "qcow2", "--container-format",
                   "bare", "--file", qcow, "cli-qcow2-" + uuid.uuid4().hex[:6])
    shown = requests.get(url + "/v2/images/" + img["id"], headers=H(alice)).json()
    assert shown["status"] == "active", shown
    assert shown["virtual_size"] == os.path.getsize(raw)
    assert shown["disk_format"] == "raw"   # stored as raw in RBD, like Glance's conversion
    r = requests.get(url + "/v2/images/%s/file" % img["id"], headers=H(alice))
    assert r.status_code == 200 and hashlib.md5(r.content).hexdigest() == digests(raw)[0]
    assert r.headers["Content-MD5"] == shown["checksum"]


def create(url, tok, **fields):
    body = dict({"name": "t-" + uuid.uuid4().hex[:6], "disk_format": "raw",
                 "container_format": "bare"}, **fields)
    r = requests.post(url + "/v2/images", headers=H(tok), json=body)
    assert r.status_code == 201, r.text
    return r.json()


def upload(url, tok, image_id, data, **headers):
    return requests.put(url + "/v2/images/%s/file" % image_id,
                        headers=H(tok, **{"Content-Type": "application/octet-stream"}, **headers),
                        data=data)


def test_qcow2_with_backing_file_is_refused(url, alice, tmp_path, cluster):
    base = str(tmp_path / "base.raw")
    make_file(base, MIB)
    child = str(tmp_path / "child.qcow2")
    subprocess.run(["qemu-img", "create", "-f", "qcow2", "-b", base, "-F", "raw", child], check=True)
    img = create(url, alice, disk_format="qcow2")
    with open(child, "rb") as f:
        r = upload(url, alice, img["id"], f.read())
    assert r.status_code == 400 and "backing" in r.text, r.text
    shown = requests.get(url + "/v2/images/" + img["id"], headers=H(alice)).json()
    assert shown["status"] == "queued"
    assert img["id"] not in rbd_names(cluster)


@pytest.mark.parametrize("declared", ["qcow2", "raw"])
def test_qcow2_with_data_file_is_refused_before_qemu_img(url, alice, tmp_path, cluster, declared):
    """The header names an external data file: refused from the header, never
    opened.  It names a FIFO here, on which `qemu-img info` would hang until
    the probe's deadline (and answer "could not be inspected in time")."""
    q = str(tmp_path / "d.qcow2")
    fifo = str(tmp_path / "d.fifo")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=" + fifo, q,
                    "1M"], check=True)
    os.unlink(fifo)
    os.mkfifo(fifo)
    img = create(url, alice, disk_format=declared)
    t0 = time.time()
    with open(q, "rb") as f:
        r = upload(url, alice, img["id"], f.read())
    assert r.status_code == 400, r.text
    assert "qcow2 images with an external data file are refused" in r.text, r.text
    assert time.time() - t0 < 10
    assert requests.get(url + "/v2/images/" + img["id"], headers=H(alice)).json()["status"] == "queued"
    assert img["id"] not in rbd_names(cluster)


def test_staged_and_converted_uploads_check_content_md5(url, alice, tmp_path, cluster):
    raw = make_file(str(tmp_path / "m.raw"), MIB)
    qcow = str(tmp_path / "m.qcow2")
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow], check=True)
    data = open(qcow, "rb").read()
    img = create(url, alice, disk_format="qcow2")
    assert upload(url, alice, img["id"], data, **{"Content-MD5": "f" * 32}).status_code == 400
    assert requests.get(url + "/v2/images/" + img["id"], headers=H(alice)).json()["status"] == "killed"
    img = create(url, alice, disk_format="qcow2")
    good = hashlib.md5(data).hexdigest()
    assert upload(url, alice, img["id"], data, **{"Content-MD5": good}).status_code == 204
    assert requests.get(url + "/v2/images/" + img["id"], headers=H(alice)).json()["status"] == "active"


def test_glance_direct_import(url, alice, tmp_path):
    raw = make_file(str(tmp_path / "i.raw"), 2 * MIB)
    img = create(url, alice)
    info = requests.get(url + "/v2/info/import", headers=H(alice)).json()
    assert "glance-direct" in info["import-methods"]["value"]
    r = requests.put(url + "/v2/images/%s/stage" % img["id"],
                     headers=H(alice, **{"Content-Type": "application/octet-stream"}),
                     data=open(raw, "rb").read())
    assert r.status_code == 204, r.text
    assert requests.get(url + "/v2/images/" + img["id"], headers=H(alice)).json()["status"] == "uploading"
    r = requests.post(url + "/v2/images/%s/import" % img["id"], headers=H(alice),
                      json={"method": {"name": "glance-direct"}})
    assert r.status_code == 202, r.text
    deadline = time.time() + 60
    while time.time() < deadline:
        st = requests.get(url + "/v2/images/" + img["id"], headers=H(alice)).json()
        if st["status"] == "active":
            break
        time.sleep(0.2)
    assert st["status"] == "active" and st["checksum"] == digests(raw)[0]


def test_declared_raw_but_qcow2_is_refused(url, alice, tmp_path, cluster):
    q = str(tmp_path / "x.qcow2")
    subprocess.run(["qemu-img", "create", "-f", "qcow2", q, "64M"], check=True)
    img = create(url, alice)
    with open(q, "rb") as f:
        r = upload(url, alice, img["id"], f.read())
    assert r.status_code == 400 and "qcow2" in r.text, r.text
    assert img["id"] not in rbd_names(cluster)


def test_checksum_or_size_mismatch_kills(url, alice, cluster):
    img = create(url, alice)
    r = upload(url, alice, img["id"], b"a" * 4096, **{"Content-MD5": "0" * 32})
    assert r.status_code == 400, r.text
    assert requests.get(url + "/v2/images/" + img["id"], headers=H(alice)).json()["status"] == "killed"
    assert img["id"] not in rbd_names(cluster)


def test_upload_rules(url, alice, bob, admin_tok):
    img = create(url, alice)
    assert upload(url, bob, img["id"], b"x").status_code == 404          # not bob's
    assert upload(url, alice, img["id"], b"x" * 1000).status_code == 204
    assert upload(url, alice, img["id"], b"y").status_code == 409        # already active
    r = requests.put(url + "/v2/images/%s/file" % img["id"],
                     headers=H(alice, **{"Content-Type": "application/json"}), data=b"{}")
    assert r.status_code == 415
    # Range downloads
    r = requests.get(url + "/v2/images/%s/file" % img["id"], headers=H(alice, Range="bytes=10-19"))
    assert r.status_code == 206 and r.content == b"x" * 10
    assert r.headers["Content-Range"] == "bytes 10-19/1000"
    r = requests.get(url + "/v2/images/%s/file" % img["id"], headers=H(alice, Range="bytes=2000-"))
    assert r.status_code == 416
    # queued image: no data
    q = create(url, alice)
    assert requests.get(url + "/v2/images/%s/file" % q["id"], headers=H(alice)).status_code == 204
    # only admins publicize
    r = requests.post(url + "/v2/images", headers=H(alice), json={"name": "p", "visibility": "public"})
    assert r.status_code == 403
    pub = create(url, admin_tok, visibility="public")
    assert requests.get(url + "/v2/images/" + pub["id"], headers=H(bob)).status_code == 200
    assert requests.delete(url + "/v2/images/" + pub["id"], headers=H(bob)).status_code == 403


def test_bad_requests(url, alice):
    h = H(alice, **{"Content-Type": "application/json"})
    assert requests.post(url + "/v2/images", headers=h, data="{bad").status_code == 400
    assert requests.post(url + "/v2/images", headers=h, json={"min_disk": "x"}).status_code == 400
    assert requests.post(url + "/v2/images", headers=h, json={"status": "active"}).status_code == 403
    assert requests.post(url + "/v2/images", headers=h, json={"disk_format": "exe"}).status_code == 400
    assert requests.get(url + "/v2/images/" + str(uuid.uuid4()), headers=h).status_code == 404
    assert requests.get(url + "/v2/images/not-a-uuid", headers=h).status_code == 404
    assert requests.get(url + "/v2/images?limit=x", headers=h).status_code == 400
    assert requests.get(url + "/v2/images").status_code == 401
    img = create(url, alice)
    r = requests.patch(url + "/v2/images/" + img["id"], headers=H(alice, **{
        "Content-Type": "application/openstack-images-v2.1-json-patch"}),
        data=json.dumps([{"op": "replace", "path": "/status", "value": "active"}]))
    assert r.status_code == 403


def test_protected_and_deactivated(url, alice, bob):
    img = create(url, alice, protected=True)
    assert upload(url, alice, img["id"], b"z" * 512).status_code == 204
    assert requests.delete(url + "/v2/images/" + img["id"], headers=H(alice)).status_code == 403
    a = url + "/v2/images/%s/actions/" % img["id"]
    assert requests.post(a + "deactivate", headers=H(alice)).status_code == 204
    assert requests.get(url + "/v2/images/" + img["id"], headers=H(alice)).json()["status"] == "deactivated"
    assert requests.get(url + "/v2/images/%s/file" % img["id"], headers=H(alice)).status_code == 403
    assert requests.post(a + "reactivate", headers=H(alice)).status_code == 204
    assert requests.get(url + "/v2/images/%s/file" % img["id"], headers=H(alice)).status_code == 200


def restart_imaged(home):
    env = dict(os.environ, STRATA_HOME=home)
    pid = int(open(os.path.join(home, "run", "imaged.pid")).read())
    return pid, env


def eventually(fn, what, timeout=60):
    deadline = time.time() + timeout
    while not fn():
        assert time.time() < deadline, "not within %d s: %s" % (timeout, what)
        time.sleep(0.2)


def kill_and_restart(home, sig):
    pid, env = restart_imaged(home)
    os.kill(pid, sig)
    for _ in range(300):
        try:
            os.kill(pid, 0)
            time.sleep(0.1)
        except ProcessLookupError:
            break
    p = subprocess.run([os.path.join(TOP, "tools", "strata"), "up"], env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr


def test_delete_with_clones_keeps_the_data(url, alice, bob, admin_tok, home, cluster):
    img = create(url, alice)
    payload = os.urandom(2 * MIB)
    assert upload(url, alice, img["id"], payload).status_code == 204
    name = "volume-" + str(uuid.uuid4())
    clone = url + "/internal/v1/images/%s/clone" % img["id"]
    # the clone API is for services (admin role), acting for a project
    assert requests.post(clone, headers=H(alice), json={"pool": "strata.volumes",
                                                        "name": name}).status_code == 403
    r = requests.post(clone, headers=H(admin_tok), json={"pool": "strata.volumes", "name": name,
                                                         "project_id": "p-bob"})
    assert r.status_code == 404   # not visible to bob's project
    r = requests.post(clone, headers=H(admin_tok),
                      json={"pool": "strata.volumes", "name": name, "size": 8 * MIB,
                            "project_id": "p-alice"})
    assert r.status_code == 201, r.text
    assert r.json()["parent"]["image"] == img["id"]
    # not into any other pool
    r2 = requests.post(clone, headers=H(admin_tok), json={"pool": "strata.backups", "name": name})
    assert r2.status_code == 400
    assert requests.delete(url + "/v2/images/" + img["id"], headers=H(alice)).status_code == 204
    assert requests.get(url + "/v2/images/" + img["id"], headers=H(alice)).status_code == 404
    assert img["id"] not in [i["id"] for i in requests.get(url + "/v2/images", headers=H(alice)).json()["images"]]
    assert img["id"] in rbd_names(cluster)          # kept hidden for the clone
    with cluster.open_ioctx("strata.volumes") as io:
        with rbd.Image(io, name, read_only=True) as vol:
            assert vol.size() == 8 * MIB
            assert vol.read(0, len(payload)) == payload
        rbd.RBD().remove(io, name)                  # the last clone goes
    kill_and_restart(home, signal.SIGTERM)          # start-up reconcile purges it
    eventually(lambda: img["id"] not in rbd_names(cluster), "the hidden image purged")


def image_record(cluster, image_id):
    """The image's stored record, private part ("_s") included."""
    with cluster.open_ioctx("strata.meta") as io, rados.ReadOpCtx() as op:
        it, _ = io.get_omap_vals_by_keys(op, ("r/" + image_id,))
        io.operate_read_op(op, "meta.image")
        return {k[2:]: json.loads(v) for k, v in it}[image_id]


def test_clone_list_is_pruned_of_gone_children(url, alice, admin_tok, home, cluster):
    """The parent's private clone list drops a clone whose RBD image is gone
    (the reconcile prunes it) instead of growing forever."""
    img = create(url, alice)
    assert upload(url, alice, img["id"], os.urandom(MIB)).status_code == 204
    clone = url + "/internal/v1/images/%s/clone" % img["id"]
    names = ["volume-" + str(uuid.uuid4()) for _ in range(2)]
    for n in names:
        r = requests.post(clone, headers=H(admin_tok),
                          json={"pool": "strata.volumes", "name": n, "project_id": "p-alice"})
        assert r.status_code == 201, r.text

    def clone_names():
        return [c["name"] for c in image_record(cluster, img["id"])["_s"].get("clones", [])]

    assert clone_names() == names
    with cluster.open_ioctx("strata.volumes") as io:
        rbd.RBD().remove(io, names[0])
    kill_and_restart(home, signal.SIGTERM)          # start-up reconcile prunes it
    eventually(lambda: clone_names() == names[1:], "the gone clone dropped from the list", 30)
    with cluster.open_ioctx("strata.volumes") as io:
        rbd.RBD().remove(io, names[1])
    assert requests.delete(url + "/v2/images/" + img["id"], headers=H(alice)).status_code == 204


def test_clone_of_a_queued_image_names_its_status(url, alice, admin_tok):
    """A clone is only made of an active image; the 409 says what the image is
    (the status was once read from a freed record and came back as garbage)."""
    img = create(url, alice)
    clone = url + "/internal/v1/images/%s/clone" % img["id"]
    r = requests.post(clone, headers=H(admin_tok),
                      json={"pool": "strata.volumes", "name": "volume-" + str(uuid.uuid4()),
                            "project_id": "p-alice"})
    assert r.status_code == 409, r.text
    msg = json.dumps(r.json())
    assert "is queued; only active images can be cloned" in msg, msg
    # the same kind of borrowed status, in deactivate's refusal
    r = requests.post(url + "/v2/images/%s/actions/deactivate" % img["id"], headers=H(alice))
    assert r.status_code == 409 and "is queued: only active images" in r.text, r.text
    assert requests.delete(url + "/v2/images/" + img["id"], headers=H(alice)).status_code == 204


def test_kill_9_during_upload_leaves_no_partial_image(url, alice, home, cluster):
    img = create(url, alice)
    port = int(url.rsplit(":", 1)[1])
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("PUT /v2/images/%s/file HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\n"
               "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
               % (img["id"], alice, 512 * MIB)).encode())
    chunk = os.urandom(MIB)
    for _ in range(48):
        s.sendall(chunk)
    deadline = time.time() + 30
    while img["id"] not in rbd_names(cluster) and time.time() < deadline:
        time.sleep(0.1)
    st = requests.get(url + "/v2/images/" + img["id"], headers=H(alice)).json()["status"]
    assert st == "saving"
    kill_and_restart(home, signal.SIGKILL)
    s.close()
    # the start-up reconcile runs beside serving: the record settles soon after
    eventually(lambda: requests.get(url + "/v2/images/" + img["id"], headers=H(alice))
               .json()["status"] in ("queued", "killed"), "the interrupted upload reconciled")
    eventually(lambda: img["id"] not in rbd_names(cluster), "the partial RBD image removed")
    # and it can be uploaded again
    assert upload(url, alice, img["id"], b"q" * 4096).status_code == 204


def orphan_rbd_images(url, admin_tok, cluster):
    """RBD images of the images pool that belong to no record the admin can see
    and are not a deleted image kept for its clones."""
    ids = set()
    marker = None
    while True:
        q = "/v2/images?limit=1000&visibility=all" + ("&marker=" + marker if marker else "")
        r = requests.get(url + q, headers=H(admin_tok)).json()
        ids |= {i["id"] for i in r["images"]}
        if "next" not in r:
            break
        marker = r["images"][-1]["id"]
    orphans = []
    for name in rbd_names(cluster):
        if name in ids:
            continue
        with cluster.open_ioctx("strata.images") as io:
            try:
                with rbd.Image(io, name, snapshot="snap", read_only=True) as im:
                    if list(im.list_children2()):
                        continue
            except rbd.ImageNotFound:   # no snap: nothing can be cloned from it
                pass
        orphans.append(name)
    return orphans


def test_no_orphan_rbd_images(url, alice, admin_tok, cluster):
    """Every RBD image in the images pool belongs to a record the admin can see,
    or to a deleted image that still has clones.  Not on an empty pool: an
    image of ours is there, and a planted orphan is found."""
    img = create(url, alice)
    assert upload(url, alice, img["id"], os.urandom(MIB)).status_code == 204
    assert img["id"] in rbd_names(cluster)
    planted = str(uuid.uuid4())
    with cluster.open_ioctx("strata.images") as io:
        rbd.RBD().create(io, planted, MIB)
    try:
        assert orphan_rbd_images(url, admin_tok, cluster) == [planted]
    finally:
        with cluster.open_ioctx("strata.images") as io:
            rbd.RBD().remove(io, planted)
    assert orphan_rbd_images(url, admin_tok, cluster) == []
    assert requests.delete(url + "/v2/images/" + img["id"], headers=H(alice)).status_code == 204
    assert img["id"] not in rbd_names(cluster)
    assert orphan_rbd_images(url, admin_tok, cluster) == []
