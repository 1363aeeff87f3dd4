"""The metadata address: a guest's request to 169.254.169.254 reaches the agent's metadata service,
which answers for the instance that asks, whatever the request claims.

The guests are network namespaces with an instance's MAC and fixed address, plugged into the bridge
the agent made for the instance's network (the ``lab`` and ``bridged`` fixtures); the metadata
service answers in this thread, so it sees this test's rows.
"""

from __future__ import annotations

import json
import subprocess

from django.conf import settings

from instances.compute import networking
from instances.compute.metadata import MetadataServer
from instances.virt.hostnet import bridge_name
from tests.instances.compute.conftest import launch
from tests.support.netlab import PYTHON

URL = "http://169.254.169.254/openstack/latest/meta_data.json"
# GET a URL with extra headers; print the status and the body.
FETCH = """
import sys, urllib.error, urllib.request
request = urllib.request.Request(sys.argv[1], headers=dict(h.split(": ", 1) for h in sys.argv[2:]))
try:
    with urllib.request.urlopen(request, timeout=10) as response:
        print(response.status, response.read().decode())
except urllib.error.HTTPError as exc:
    print(exc.code, exc.read().decode())
"""


def ask(server: MetadataServer, guest_ns: str, url: str = URL, *headers: str) -> tuple[int, str]:
    """One request from the guest, answered by the server in this thread."""
    argv = ["ip", "netns", "exec", guest_ns, PYTHON, "-c", FETCH, url, *headers]
    client = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server.httpd.timeout = 15
    server.httpd.handle_request()
    out, err = client.communicate(timeout=20)
    assert client.returncode == 0, err
    status, _, body = out.strip().partition(" ")
    return int(status), body


def test_a_guest_gets_its_own_identity_whatever_it_claims(
    world, bridged, lab, image, tiny, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    web = launch(world, bridged, image, tiny, capture, "member", "web")
    db = launch(world, bridged, image, tiny, capture, "member", "db")
    away = launch(world, bridged, image, tiny, capture, "outsider", "away")
    web_ns = lab.guest("web", bridge_name(networking.net_id(web.network)), web.mac_address, web.address,
                       web.network.gateway)  # fmt: skip
    away_ns = lab.guest("away", bridge_name(networking.net_id(away.network)), away.mac_address,
                        away.address, away.network.gateway)  # fmt: skip
    server = MetadataServer("bridged", settings.METADATA_PORT, threaded=False)
    try:
        status, body = ask(server, web_ns)
        assert status == 200
        assert json.loads(body)["uuid"] == str(web.pk) and json.loads(body)["name"] == "web"
        # Another instance's id in a header, the query or the path changes nothing.
        forged = ask(server, web_ns, f"{URL}?instance_id={db.pk}", f"X-Instance-ID: {db.pk}",
                     f"X-Forwarded-For: {db.address}")  # fmt: skip
        assert forged[0] == 200 and json.loads(forged[1])["uuid"] == str(web.pk)
        assert ask(server, web_ns, f"http://169.254.169.254/openstack/latest/{db.pk}")[0] == 404
        status, body = ask(server, away_ns)
        assert status == 200 and json.loads(body)["uuid"] == str(away.pk)
        assert ask(server, web_ns, "http://169.254.169.254/openstack")[1].splitlines()[-1] == "latest"
    finally:
        server.httpd.server_close()


def test_an_address_no_instance_holds_gets_nothing(
    world, bridged, lab, image, tiny, django_capture_on_commit_callbacks
):
    web = launch(world, bridged, image, tiny, django_capture_on_commit_callbacks, "member", "web")
    stranger = lab.guest("stranger", bridge_name(networking.net_id(web.network)), "fa:16:3e:77:77:77",
                         "10.100.0.200", web.network.gateway)  # fmt: skip
    server = MetadataServer("bridged", settings.METADATA_PORT, threaded=False)
    try:
        assert ask(server, stranger) == (404, "Not Found")
    finally:
        server.httpd.server_close()
