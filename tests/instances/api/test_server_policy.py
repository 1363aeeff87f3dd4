"""The servers RBAC matrix (security-cases §6): exact status per persona, 403 vs 404."""

from __future__ import annotations

import pytest

from instances.models import Instance
from tests.instances.api.test_servers import create_body
from tests.instances.conftest import Deliver


@pytest.fixture
def server(world, host, image, tiny, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = world["member"].post("/servers", create_body(image, tiny), "2.96")
    Deliver(host)(callbacks)
    return response.json()["server"]["id"]


@pytest.mark.parametrize(
    ("persona", "expected"), [("admin", 200), ("member", 200), ("reader", 200), ("outsider", 404)]
)
def test_show(world, server, persona, expected):
    assert world[persona].get(f"/servers/{server}").status_code == expected


@pytest.mark.parametrize(("persona", "expected"), [("admin", 200), ("member", 403), ("reader", 403)])
def test_list_all_projects(world, server, persona, expected):
    response = world[persona].get("/servers/detail?all_tenants=True")
    assert response.status_code == expected
    if expected == 200:
        assert server in [s["id"] for s in response.json()["servers"]]


@pytest.mark.parametrize(("persona", "count"), [("admin", 0), ("member", 1), ("reader", 1), ("outsider", 0)])
def test_list_own_project(world, server, persona, count):
    assert len(world[persona].get("/servers").json()["servers"]) == count


@pytest.mark.parametrize(
    ("persona", "expected"), [("admin", 202), ("member", 202), ("reader", 403), ("outsider", 404)]
)
@pytest.mark.parametrize(
    "body",
    [
        {"os-stop": None},
        {"reboot": {"type": "HARD"}},
        {"pause": None},
        {"suspend": None},
        {"createImage": {"name": "s"}},
    ],
)
def test_actions(world, server, persona, expected, body):
    assert world[persona].post(f"/servers/{server}/action", body, "2.96").status_code == expected


@pytest.mark.parametrize(("persona", "expected"), [("reader", 403), ("outsider", 404), ("member", 204)])
def test_delete(world, server, persona, expected):
    assert world[persona].delete(f"/servers/{server}").status_code == expected


def test_an_admin_deletes_another_projects_server(world, server):
    assert world["admin"].delete(f"/servers/{server}").status_code == 204
    assert Instance.objects.get(pk=server).task_state == "deleting"


@pytest.mark.parametrize(("persona", "expected"), [("reader", 403), ("member", 202), ("admin", 202)])
def test_create(world, host, image, tiny, persona, expected):
    assert world[persona].post("/servers", create_body(image, tiny), "2.96").status_code == expected


def test_unknown_ids_and_names_are_404(world, server):
    assert world["member"].get("/servers/vm1").status_code == 404
    assert world["member"].get("/servers/00000000-0000-0000-0000-000000000000").status_code == 404
    assert world["member"].post("/servers/vm1/action", {"os-stop": None}).status_code == 404


def test_anonymous_is_refused(client, server):
    assert client.get(f"/compute/v2.1/servers/{server}").status_code == 401
