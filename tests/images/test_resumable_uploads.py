"""Resumable uploads (tus 1.0.0) on the image staging area: offsets, conflicts, termination,
expiry, policy and quotas, through the real URLs; then the import the last byte starts."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from images import tasks
from images.models import Image, ImageUpload
from images.staging import staging_path
from tests.factories import make_project
from tests.images.conftest import api_for

pytestmark = pytest.mark.django_db
TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
OCTETS = "application/offset+octet-stream"


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def create(api, image_id, length, **meta):
    extra = {"HTTP_UPLOAD_LENGTH": str(length), **TUS}
    if meta:
        extra["HTTP_UPLOAD_METADATA"] = metadata(**meta)
    return api.post(f"/v2/images/{image_id}/uploads", **extra)


def path_of(response) -> str:
    return response["Location"].split("/image", 1)[1]


def send(api, path, offset, data):
    return api.client.patch(
        f"/image{path}", data, content_type=OCTETS, HTTP_UPLOAD_OFFSET=str(offset), **api._headers(TUS)
    )


def head(api, path):
    return api.client.generic("HEAD", f"/image{path}", **api._headers(TUS))


def test_an_upload_appends_at_its_offset_survives_a_conflict_and_starts_the_import(
    member, stores_dir, qcow2, django_capture_on_commit_callbacks
):
    image = member.create()
    created = create(member, image["id"], len(qcow2), filename="small.qcow2", **{"import": "glance-direct"})
    assert created.status_code == 201 and created["Tus-Resumable"] == "1.0.0"
    assert created["Upload-Expires"]
    path = path_of(created)
    row = Image.objects.get(pk=image["id"])
    assert row.status == "uploading" and row.reserved_bytes >= len(qcow2)

    first = send(member, path, 0, qcow2[:100_000])
    assert first.status_code == 204 and first["Upload-Offset"] == "100000"
    probe = head(member, path)
    assert probe.status_code == 200
    assert (probe["Upload-Offset"], probe["Upload-Length"]) == ("100000", str(len(qcow2)))
    assert "filename" in probe["Upload-Metadata"] and probe["Cache-Control"] == "no-store"

    # A client that thinks it is elsewhere is told so, and nothing is written.
    stale = send(member, path, 50_000, qcow2[50_000:])
    assert stale.status_code == 409
    assert ImageUpload.objects.get(image_id=image["id"]).offset == 100_000

    with django_capture_on_commit_callbacks() as callbacks:
        last = send(member, path, 100_000, qcow2[100_000:])
    assert last.status_code == 204 and last["Upload-Offset"] == str(len(qcow2))
    assert Image.objects.get(pk=image["id"]).status == "importing"
    assert staging_path(image["id"]).read_bytes() == qcow2
    assert len(callbacks) == 1
    tasks.import_image(image["id"])
    row = Image.objects.get(pk=image["id"])
    assert row.status == "active", row.reason
    assert row.os_hash_value == hashlib.sha512(qcow2).hexdigest() and row.size == len(qcow2)
    assert not staging_path(image["id"]).exists()
    # The finished upload's record stays until it expires: every byte was read once.
    record = ImageUpload.objects.get(image_id=image["id"])
    assert record.offset == record.length == record.received == len(qcow2)
    ImageUpload.objects.filter(pk=record.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tasks.expire_uploads() == 0  # nothing to reclaim, only the record goes
    assert not ImageUpload.objects.exists() and Image.objects.get(pk=image["id"]).status == "active"


def test_bytes_past_the_offset_left_by_a_cut_request_are_overwritten(member, stores_dir, qcow2):
    image = member.create()
    path = path_of(create(member, image["id"], len(qcow2)))
    assert send(member, path, 0, qcow2[:4096]).status_code == 204
    with staging_path(image["id"]).open("ab") as fh:
        fh.write(b"garbage that never reached the offset")
    assert send(member, path, 4096, qcow2[4096:]).status_code == 204
    assert staging_path(image["id"]).read_bytes() == qcow2
    # Without the import metadata the bytes wait in staging for POST /import, as after PUT /stage.
    assert Image.objects.get(pk=image["id"]).status == "uploading"


def test_delete_terminates_the_upload_and_releases_its_bytes_and_quota(member, stores_dir):
    image = member.create(disk_format="raw")
    path = path_of(create(member, image["id"], 10_000))
    assert send(member, path, 0, b"x" * 3000).status_code == 204
    assert member.delete(path, **TUS).status_code == 204
    row = Image.objects.get(pk=image["id"])
    assert row.status == "queued" and row.reserved_bytes == 0 and "aborted" in row.reason
    assert not staging_path(image["id"]).exists()
    assert head(member, path).status_code == 404
    assert send(member, path, 3000, b"x").status_code == 404


def test_an_expired_unfinished_upload_loses_its_bytes(member, stores_dir):
    image = member.create(disk_format="raw")
    path = path_of(create(member, image["id"], 1 << 20))
    assert send(member, path, 0, b"y" * 200_000).status_code == 204
    assert staging_path(image["id"]).stat().st_size == 200_000
    assert tasks.expire_uploads() == 0  # not yet

    ImageUpload.objects.filter(image_id=image["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert head(member, path).status_code == 410
    assert tasks.expire_uploads() == 1
    assert not staging_path(image["id"]).exists()
    row = Image.objects.get(pk=image["id"])
    assert row.status == "queued" and row.reserved_bytes == 0 and "expired" in row.reason
    assert head(member, path).status_code == 404
    assert tasks.expire_uploads() == 0


def test_every_request_checks_the_version_policy_and_ownership(member, project, stores_dir):
    image = member.create(disk_format="raw")
    assert member.post(f"/v2/images/{image['id']}/uploads", HTTP_UPLOAD_LENGTH="10").status_code == 412
    path = path_of(create(member, image["id"], 10))
    stranger = api_for(make_project(), "member")
    assert head(stranger, path).status_code == 404
    assert send(stranger, path, 0, b"x").status_code == 404
    reader = api_for(project, "reader")
    assert head(reader, path).status_code == 403
    assert reader.delete(path, **TUS).status_code == 403
    assert ImageUpload.objects.get(image_id=image["id"]).offset == 0


def test_the_whole_length_counts_against_the_quota_at_creation(member, stores_dir, settings):
    settings.IMAGE_QUOTA_STAGING_BYTES = 5000
    image = member.create(disk_format="raw")
    assert create(member, image["id"], 6000).status_code == 413
    assert Image.objects.get(pk=image["id"]).status == "queued"
    assert create(member, image["id"], 4000).status_code == 201
