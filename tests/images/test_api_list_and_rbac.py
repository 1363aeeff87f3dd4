"""The list API (filters, paging, constant queries), discovery endpoints, ranges, members and RBAC."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from images.models import Image
from tests.images.conftest import api_for

pytestmark = pytest.mark.django_db


def test_versions_are_300_at_the_root_and_200_at_versions():
    client = Client()
    assert client.get("/image").status_code == 300
    response = client.get("/image/versions")
    assert response.status_code == 200 and response.json()["versions"][0]["id"] == "v2.17"


def test_list_pages_with_a_root_relative_next_link(member, stores_dir):
    ids = [member.create(name=f"img{i}")["id"] for i in range(5)]
    seen, url = [], "/v2/images?limit=2"
    while url:
        body = member.get(url).json()
        seen += [i["id"] for i in body["images"]]
        url = body.get("next")
        assert url is None or url.startswith("/v2/images?")
    assert seen == list(reversed(ids))


def test_list_filters(member, stores_dir):
    a = member.create(name="alpha", tags=["x"], os_distro="ubuntu")
    b = member.create(name="beta")
    hidden = member.create(name="gamma", os_hidden=True)
    names = lambda q: sorted(i["name"] for i in member.get(f"/v2/images?{q}").json()["images"])  # noqa: E731
    assert names("name=alpha") == ["alpha"]
    assert names(f"id=in:{a['id']},{b['id']}") == ["alpha", "beta"]
    assert names("tag=x") == ["alpha"]
    assert names("os_distro=ubuntu") == ["alpha"]
    assert names("") == ["alpha", "beta"]
    assert names("os_hidden=true") == ["gamma"] and hidden
    assert names("sort_key=name&sort_dir=asc") == ["alpha", "beta"]
    assert member.get("/v2/images?sort_key=bogus").status_code == 400


def test_projects_listing_with_the_same_query_each_see_their_own(member, other, admin, stores_dir):
    """One compiled list query serves every project: each call binds its own project."""
    mine = {member.create(name="mine-1")["id"], member.create(name="mine-2")["id"]}
    theirs = {other.create(name="theirs")["id"]}
    shared_with_me = other.create(name="shared-in")["id"]
    shared = other.post(f"/v2/images/{shared_with_me}/members", {"member": member.project.id})
    assert shared.status_code == 200
    public = admin.create(name="public", visibility="public")["id"]

    def listed(api, query="limit=50"):
        return {i["id"] for i in api.get(f"/v2/images?{query}").json()["images"]}

    for _ in range(2):  # the second round runs the compiled forms
        assert listed(member) == mine | {public}
        assert listed(other) == theirs | {shared_with_me, public}
        assert listed(admin) == mine | theirs | {shared_with_me, public}
    # Accepted, the shared image joins the member's default list; the other project's stays the same.
    path = f"/v2/images/{shared_with_me}/members/{member.project.id}"
    assert member.put(path, json.dumps({"status": "accepted"}), "application/json").status_code == 200
    assert listed(member) == mine | {public, shared_with_me}
    assert listed(other) == theirs | {shared_with_me, public}
    assert listed(member, "limit=50&member_status=all&visibility=shared") == mine | {shared_with_me}


def test_listing_costs_the_same_queries_for_5_or_25_images(member, stores_dir):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert member.get("/v2/images?limit=100").status_code == 200
        return len(ctx.captured_queries)

    for i in range(5):
        member.create(name=f"a{i}", tags=["t"])
    few = count()
    for i in range(20):
        member.create(name=f"b{i}", tags=["t", "u"])
    assert count() == few


def test_download_ranges_and_no_data(member, stores_dir, qcow2):
    image = member.create()
    assert member.get(f"/v2/images/{image['id']}/file").status_code == 204
    member.upload(image["id"], qcow2)
    response = member.get(f"/v2/images/{image['id']}/file", HTTP_RANGE="bytes=10-19")
    assert response.status_code == 206 and b"".join(response.streaming_content) == qcow2[10:20]
    assert response["Content-Range"] == f"bytes 10-19/{len(qcow2)}"
    bad = member.get(f"/v2/images/{image['id']}/file", HTTP_RANGE=f"bytes={len(qcow2)}-")
    assert bad.status_code == 416


def test_patch_needs_a_glance_patch_media_type(member, stores_dir):
    image = member.create()
    ops = [{"op": "replace", "path": "/name", "value": "n"}]
    assert member.patch(f"/v2/images/{image['id']}", ops, content_type="application/json").status_code == 415
    old = [{"replace": "/name", "value": "renamed"}]
    response = member.patch(
        f"/v2/images/{image['id']}", old, content_type="application/openstack-images-v2.0-json-patch"
    )
    assert response.status_code == 200 and response.json()["name"] == "renamed"


def test_sharing_with_a_member_project(member, other, stores_dir, qcow2):
    image = member.create(visibility="shared")
    member.upload(image["id"], qcow2)
    path = f"/v2/images/{image['id']}"
    assert other.get(path).status_code == 404
    response = member.post(f"{path}/members", {"member": other.project.id})
    assert response.status_code == 200 and response.json()["status"] == "pending"
    assert member.post(f"{path}/members", {"member": other.project.id}).status_code == 409
    assert other.get(path).status_code == 200
    assert image["id"] not in [i["id"] for i in other.get("/v2/images").json()["images"]]
    assert member.put(f"{path}/members/{other.project.id}", b"").status_code in (400, 403, 415)
    accept = other.client.put(
        f"/image{path}/members/{other.project.id}", '{"status": "accepted"}',
        content_type="application/json", HTTP_X_AUTH_TOKEN=other.token,
    )  # fmt: skip
    assert accept.status_code == 200
    assert image["id"] in [i["id"] for i in other.get("/v2/images").json()["images"]]
    assert other.get(f"{path}/file").status_code == 200
    private = member.create(visibility="private")
    assert member.post(f"/v2/images/{private['id']}/members", {"member": other.project.id}).status_code == 403


# persona → (show, download, patch, delete) on a private image of project P, as security-cases §6 has it.
MATRIX = {
    "admin": (200, 200, 200, 204),
    "member": (200, 200, 200, 204),
    "reader": (200, 403, 403, 403),
    "other": (404, 404, 404, 404),
}


@pytest.mark.parametrize("persona", list(MATRIX))
def test_rbac_on_a_private_image(persona, project, member, stores_dir, qcow2):
    image = member.create(visibility="private")
    member.upload(image["id"], qcow2)
    actor = {
        "admin": lambda: api_for(project, "admin"),
        "member": lambda: member,
        "reader": lambda: api_for(project, "reader"),
        "other": lambda: api_for(__import__("tests.factories").factories.make_project(), "member"),
    }[persona]()
    path = f"/v2/images/{image['id']}"
    ops = [{"op": "add", "path": "/k", "value": "v"}]
    got = (
        actor.get(path).status_code,
        actor.get(f"{path}/file").status_code,
        actor.patch(path, ops).status_code,
        actor.delete(path).status_code,
    )
    assert got == MATRIX[persona]


def test_only_admins_publicize_and_readers_cannot_create(member, reader, admin, stores_dir):
    assert member.post("/v2/images", {"name": "p", "visibility": "public"}).status_code == 403
    assert reader.post("/v2/images", {"name": "r"}).status_code == 403
    assert admin.post("/v2/images", {"name": "p", "visibility": "public"}).status_code == 201
    community = member.create(visibility="community")
    assert community["visibility"] == "community"
    assert Image.objects.filter(name="r").count() == 0


def test_info_and_schemas(member):
    assert member.get("/v2/info/import").json()["import-methods"]["value"] == [
        "glance-direct", "web-download", "copy-image",
    ]  # fmt: skip
    assert member.get("/v2/info/stores").json()["stores"][0]["default"] is True
    schema = member.get("/v2/schemas/image").json()
    assert schema["additionalProperties"] == {"type": "string"}
    assert member.get("/v2/schemas/members").status_code == 200


def test_a_listed_image_is_the_same_document_as_the_shown_one(member, stores_dir, qcow2, settings, tmp_path):
    from images import protections

    rules = tmp_path / "protections.conf"
    rules.write_text(
        "[^secret_]\ncreate = member\nread = admin\nupdate = member\ndelete = member\n"
        "[.*]\ncreate = @\nread = @\nupdate = @\ndelete = @\n"
    )
    protections.load(str(rules), "roles")
    try:
        image = member.create(name="doc", tags=["b", "a"], os_distro="ubuntu", secret_key="hidden")
        member.upload(image["id"], qcow2)
        shown = member.get(f"/v2/images/{image['id']}").json()
        listed = member.get("/v2/images").json()["images"]
    finally:
        protections.load("", "roles")
    assert listed == [shown]
    assert shown["os_distro"] == "ubuntu" and "secret_key" not in shown
    assert shown["stores"] == "file" and shown["protected"] is False and shown["size"] == len(qcow2)
