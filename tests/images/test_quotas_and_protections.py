"""Security cases F (quotas) and Glance property protections (security-cases §2)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from dashboard import policy
from images import protections, services
from images.models import Image

pytestmark = pytest.mark.django_db


def test_image_count_quota_refuses_creation_and_creates_nothing(member, stores_dir, settings):
    settings.IMAGE_QUOTA_COUNT = 1
    member.create()
    response = member.post("/v2/images", {"name": "second"})
    assert response.status_code == 413
    settings.IMAGE_QUOTA_COUNT = 0
    assert member.post("/v2/images", {"name": "third"}).status_code == 413
    assert Image.objects.filter(owner=member.project.id).count() == 1


def test_properties_and_tags_beyond_the_limit_are_refused(member, stores_dir, settings):
    settings.IMAGE_PROPERTY_QUOTA = 3
    settings.IMAGE_TAG_QUOTA = 2
    many = {f"p{i}": "v" for i in range(4)}
    assert member.post("/v2/images", {"name": "props", **many}).status_code == 413
    assert member.post("/v2/images", {"name": "tags", "tags": ["a", "b", "c"]}).status_code == 413
    assert not Image.objects.filter(owner=member.project.id).exists()


def test_storage_quota_stops_an_upload_and_restores_queued(member, stores_dir, settings):
    settings.IMAGE_QUOTA_BYTES = 1000
    image = member.create(disk_format="raw")
    response = member.upload(image["id"], b"x" * 2000)
    assert response.status_code == 413 and "quota" in response.json()["message"]
    row = Image.objects.get(pk=image["id"])
    assert row.status == "queued" and row.reserved_bytes == 0
    assert list((stores_dir / "store").iterdir()) == []


def test_bytes_in_flight_count_against_the_storage_quota(member, stores_dir, settings):
    settings.IMAGE_QUOTA_BYTES = 3000
    first = Image.objects.get(pk=member.create(disk_format="raw")["id"])
    services.begin_upload(first)
    from images.quotas import reserve

    reserve(first, 2000, staging=False)
    second = member.create(disk_format="raw")
    assert member.upload(second["id"], b"x" * 1500).status_code == 413
    assert member.upload(second["id"], b"x" * 900).status_code == 204


def test_uploads_in_flight_are_capped(member, stores_dir, settings):
    settings.IMAGE_QUOTA_UPLOADS = 1
    busy = Image.objects.get(pk=member.create(disk_format="raw")["id"])
    services.begin_upload(busy)
    other = member.create(disk_format="raw")
    assert member.upload(other["id"], b"x").status_code == 413
    assert member.put(f"/v2/images/{other['id']}/stage", b"x").status_code == 413


def test_the_staging_quota_counts_staged_bytes(member, stores_dir, settings):
    settings.IMAGE_QUOTA_STAGING_BYTES = 1000
    image = member.create()
    assert member.put(f"/v2/images/{image['id']}/stage", b"x" * 2000).status_code == 413
    assert Image.objects.get(pk=image["id"]).status == "queued"


ROLES_FILE = """
[^x_admin_only]
create = admin
read = admin
update = admin
delete = admin

[^x_read_only]
create = admin
read = @
update = !
delete = !

[.*]
create = @
read = @
update = @
delete = @
"""


@pytest.fixture
def protected(tmp_path):
    path = tmp_path / "protections.conf"
    path.write_text(ROLES_FILE)
    protections.load(str(path), "roles")
    yield
    protections.load("", "roles")


def test_protected_properties_follow_the_roles_file(member, admin, stores_dir, protected):
    assert member.post("/v2/images", {"name": "a", "x_admin_only": "1"}).status_code == 403
    image = admin.create(x_admin_only="1", x_read_only="ro", owner=member.project.id)
    shown = member.get(f"/v2/images/{image['id']}").json()
    assert "x_admin_only" not in shown and shown["x_read_only"] == "ro"
    path = f"/v2/images/{image['id']}"
    assert member.patch(path, [{"op": "replace", "path": "/x_read_only", "value": "x"}]).status_code == 403
    assert member.patch(path, [{"op": "remove", "path": "/x_read_only"}]).status_code == 403
    assert member.patch(path, [{"op": "add", "path": "/free", "value": "x"}]).status_code == 200
    assert admin.get(path).json()["x_admin_only"] == "1"


@pytest.mark.parametrize(
    "content",
    [
        "[x_\ncreate = @\nread = @\nupdate = @\ndelete = @\n",  # not a regex
        "[x]\ncreate = @\nread = @\nupdate = @\n",  # a missing key
        "[x]\ncreate = @,!\nread = @\nupdate = @\ndelete = @\n",  # @ with !
    ],
)
def test_an_invalid_protection_file_stops_start_up(tmp_path, content):
    path = tmp_path / "bad.conf"
    path.write_text(content)
    with pytest.raises(ImproperlyConfigured):
        protections.PropertyProtections(str(path), "roles")


def test_a_missing_protection_file_stops_start_up(tmp_path):
    with pytest.raises(ImproperlyConfigured):
        protections.PropertyProtections(str(tmp_path / "nope.conf"), "roles")


def test_the_policies_format_checks_policy_rules(tmp_path, member, admin, stores_dir):
    path = tmp_path / "p.conf"
    path.write_text(
        "[^x_]\ncreate = context_is_admin\nread = context_is_admin\nupdate = !\ndelete = context_is_admin\n"
    )
    try:
        protections.load(str(path), "policies")
        assert member.post("/v2/images", {"name": "a", "x_y": "1"}).status_code == 403
        assert admin.post("/v2/images", {"name": "a", "x_y": "1"}).status_code == 201
        with pytest.raises(ImproperlyConfigured):
            bad = tmp_path / "bad.conf"
            bad.write_text("[^x_]\ncreate = a,b\nread = a\nupdate = a\ndelete = a\n")
            protections.PropertyProtections(str(bad), "policies")
    finally:
        protections.load("", "roles")
        policy.register_defaults([])
