"""imaged's transfer memory is a bounded pool ([imaged] io_buffers) reused by
every upload and download, not malloc'd per request (issue 18: RSS grew by
~60 MiB malloc arenas per upload and never came back).  On an imaged of the
test's own with io_buffers = 8 and upload_inflight = 8: many uploads and
downloads map no more than the pool and give every buffer back; while one
upload holds the pool, another waits io_buffer_wait and gets a 503 that says
why, and succeeds once the first is done.  (The RSS figures are printed by
`tools/strata bench images --only memory`; the e2e daemons run under ASan,
whose allocator makes RSS meaningless here.)"""
import os
import re
import threading
import time
import uuid

import requests

from conftest import free_port
from test_imaged import H, create, token, upload

MIB = 1 << 20


def gauges(url):
    text = requests.get(url + "/metrics", timeout=10).text
    return {m.group(1): float(m.group(2)) for m in
            re.finditer(r"^strata_imaged_io_buffers_(\w+) (\S+)$", text, re.M)}


def test_transfers_share_a_bounded_pool(imaged_factory, home):
    im = imaged_factory(free_port(), io_buffers=8, upload_inflight=8, io_buffer_wait="1s")
    tok = token(home, "p-iobufs-" + uuid.uuid4().hex[:6])
    data = os.urandom(12 * MIB)
    ids = []
    for i in range(6):
        img = create(im.url, tok)
        ids.append(img["id"])
        assert upload(im.url, tok, img["id"], data).status_code == 204
        r = requests.get("%s/v2/images/%s/file" % (im.url, img["id"]), headers=H(tok))
        assert r.status_code == 200 and r.content == data
    g = gauges(im.url)
    assert 0 < g["mapped"] <= 8, g
    assert g["free"] == g["mapped"], g          # every transfer gave its buffers back

    # one slow upload holds all 8 buffers: the next waits 1 s, then 503 naming the cause
    slow = create(im.url, tok)
    first = {}

    def trickle():
        yield data[:4 * MIB]
        time.sleep(4)
        yield data[4 * MIB:]

    def run_slow():
        first["r"] = requests.put("%s/v2/images/%s/file" % (im.url, slow["id"]), data=trickle(),
                                  headers=H(tok, **{"Content-Type": "application/octet-stream"}))
    t = threading.Thread(target=run_slow)
    t.start()
    deadline = time.time() + 10
    while gauges(im.url)["free"] > 0:
        assert time.time() < deadline, "the slow upload never took the pool"
        time.sleep(0.1)
    other = create(im.url, tok)
    t0 = time.monotonic()
    r = upload(im.url, tok, other["id"], data)
    waited = time.monotonic() - t0
    assert r.status_code == 503 and "io_buffers" in r.text, r.text
    assert waited >= 0.9, waited
    t.join(60)
    assert first["r"].status_code == 204, first["r"].text
    assert requests.get(im.url + "/v2/images/" + other["id"], headers=H(tok)).json()["status"] \
        == "queued"                                # the refused upload left nothing behind
    assert upload(im.url, tok, other["id"], data).status_code == 204
    g = gauges(im.url)
    assert g["mapped"] <= 8 and g["free"] == g["mapped"], g
    for i in ids + [slow["id"], other["id"]]:
        assert requests.delete(im.url + "/v2/images/" + i, headers=H(tok)).status_code == 204
