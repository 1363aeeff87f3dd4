"""Port forwards: a port of the instance's host forwarded to the instance, through the compute API,
the dashboard and the host's nftables.

The host is a throwaway network namespace (the ``lab`` fixture); the "instance" answering on its
port 22 is a namespace holding the instance's MAC and address on the bridge the agent made.
"""

from __future__ import annotations

from django.conf import settings

from instances.compute import networking
from instances.models import PortForward
from instances.virt.hostnet import bridge_name
from tests.instances.api.test_servers import create_body
from tests.instances.compute.conftest import launch
from tests.instances.conftest import Deliver
from tests.instances.dashboard_support import browser_for
from tests.support.netlab import connect_here, run


def forward(world, manager, instance, capture, who="member", guest_port=22):
    with capture() as callbacks:
        response = world[who].post(
            f"/servers/{instance.pk}/os-port-forwards", {"port_forward": {"guest_port": guest_port}}
        )
    Deliver(manager)(callbacks)
    return response


def test_a_forward_reaches_the_instance_through_the_bind_address_until_the_instance_is_deleted(
    world, bridged, lab, image, tiny, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    web = launch(world, bridged, image, tiny, capture, "member", "web")
    guest = lab.guest("web", bridge_name(networking.net_id(web.network)), web.mac_address, web.address,
                      web.network.gateway)  # fmt: skip
    lab.serve(guest, "web", "0.0.0.0", 22)

    response = forward(world, bridged, web, capture)
    assert response.status_code == 201, response.content
    body = response.json()["port_forward"]
    first = settings.PORT_FORWARD_FIRST
    assert (body["host"], body["host_port"], body["guest_port"]) == ("127.0.0.1", first, 22)
    assert body["ssh"] == f"ssh -p {first} USER@127.0.0.1"
    assert connect_here("127.0.0.1", first) == f"web sees {web.network.gateway}"
    listed = world["reader"].get(f"/servers/{web.pk}/os-port-forwards").json()["port_forwards"]
    assert [f["host_port"] for f in listed] == [first]
    assert forward(world, bridged, web, capture).status_code == 409  # port 22 is forwarded already
    # The server shows the public address where Nova shows a floating IP (`openstack server show`).
    for path in (f"/servers/{web.pk}", "/servers/detail"):
        body = world["reader"].get(path, "2.96").json()
        server = body.get("server") or body["servers"][0]
        assert [(a["addr"], a["OS-EXT-IPS:type"]) for a in server["addresses"][web.network.name]] == [
            (web.address, "fixed"),
            ("127.0.0.1", "floating"),
        ]
    page = browser_for("member").get(f"/instances/{web.pk}/").content.decode()
    assert f"ssh -p {first} USER@127.0.0.1" in page.split('data-testid="forwards"')[1].split("</dd>")[0]

    with capture() as callbacks:
        assert world["member"].delete(f"/servers/{web.pk}").status_code == 204
    Deliver(bridged)(callbacks)
    assert not PortForward.objects.exists()
    assert connect_here("127.0.0.1", first, timeout=1) is None
    assert f"{first}" not in run("nft", "list", "table", "inet", "stratus")
    # The port is free again for the next instance.
    db = launch(world, bridged, image, tiny, capture, "member", "db")
    assert forward(world, bridged, db, capture).json()["port_forward"]["host_port"] == first


def test_removing_a_forward_closes_it(world, bridged, lab, image, tiny, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    web = launch(world, bridged, image, tiny, capture, "member", "web")
    guest = lab.guest("web", bridge_name(networking.net_id(web.network)), web.mac_address, web.address,
                      web.network.gateway)  # fmt: skip
    lab.serve(guest, "web", "0.0.0.0", 8080)
    made = forward(world, bridged, web, capture, guest_port=8080).json()["port_forward"]
    assert connect_here("127.0.0.1", made["host_port"]) is not None
    # From the dashboard: the form removes it.
    with capture() as callbacks:
        browser_for("member").post(f"/instances/{web.pk}/forwards/{made['id']}/remove/")
    Deliver(bridged)(callbacks)
    assert connect_here("127.0.0.1", made["host_port"], timeout=1) is None
    assert world["member"].get(f"/servers/{web.pk}/os-port-forwards").json()["port_forwards"] == []


def test_who_may_forward_what(world, bridged, image, tiny, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    web = launch(world, bridged, image, tiny, capture, "member", "web")
    assert forward(world, bridged, web, capture, who="reader").status_code == 403
    assert forward(world, bridged, web, capture, who="outsider").status_code == 404
    assert forward(world, bridged, web, capture, guest_port=0).status_code == 400
    assert world["member"].delete(f"/servers/{web.pk}/os-port-forwards/not-an-id").status_code == 404


def test_a_host_on_user_networking_says_why_it_cannot_forward(
    world, host, image, tiny, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    with capture() as callbacks:
        created = world["member"].post("/servers", create_body(image, tiny), "2.96")
    Deliver(host)(callbacks)
    server = created.json()["server"]["id"]
    response = world["member"].post(f"/servers/{server}/os-port-forwards", {"port_forward": {}})
    assert response.status_code == 409
    assert "user networking" in response.json()["conflictingRequest"]["message"]
    page = browser_for("member").get(f"/instances/{server}/").content.decode()
    assert 'data-testid="forward-add"' not in page


def test_a_forward_outlives_stop_and_start(
    world, bridged, lab, image, tiny, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    web = launch(world, bridged, image, tiny, capture, "member", "web")
    port = forward(world, bridged, web, capture).json()["port_forward"]["host_port"]
    for action in ("os-stop", "os-start"):
        with capture() as callbacks:
            assert world["member"].post(f"/servers/{web.pk}/action", {action: None}).status_code == 202
        Deliver(bridged)(callbacks)
        bridged.sync_networks()  # as when the agent stops or starts
        rules = run("nft", "list", "ruleset")
        assert (f"127.0.0.1 . {port}" in rules) == (action == "os-start"), action
    assert [
        f["host_port"]
        for f in world["member"].get(f"/servers/{web.pk}/os-port-forwards").json()["port_forwards"]
    ] == [port]
