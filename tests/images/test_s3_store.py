"""The S3 store against a real S3-compatible endpoint (moto's standalone server on loopback):
uploads, downloads, deletes and copy-image through the API, and no credentials in any error."""

from __future__ import annotations

import json
import logging

import boto3
import pytest
from moto.server import ThreadedMotoServer

from images import tasks
from images.models import Image, ImageLocation
from images.stores import all_stores
from tests.support.processes import free_port

pytestmark = pytest.mark.django_db

ACCESS_KEY = "AKIASTRATUSTESTKEY01"
SECRET_KEY = "stratus-s3-secret-key-that-must-never-show"


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, request):
    name = f"images-{request.node.name[:20].replace('_', '-').lower()}-{free_port()}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=name)
    return client, name


def use_stores(settings, tmp_path, endpoint: str, bucket: str, default: str) -> None:
    settings.IMAGE_STORES = {
        "file": {"type": "filesystem", "path": str(tmp_path / "store")},
        "s3": {
            "type": "s3",
            "bucket": bucket,
            "endpoint_url": endpoint,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "region": "us-east-1",
        },
    }
    settings.IMAGE_DEFAULT_STORE = default
    settings.IMAGE_STAGING_DIR = tmp_path / "staging"
    all_stores.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_stores():
    yield
    all_stores.cache_clear()


def objects(client, bucket: str) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_upload_download_and_delete_through_the_api_land_in_the_bucket(
    member, settings, tmp_path, s3_endpoint, bucket, qcow2
):
    client, name = bucket
    use_stores(settings, tmp_path, s3_endpoint, name, default="s3")
    image = member.create()
    assert member.upload(image["id"], qcow2).status_code == 204
    shown = member.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active" and shown["stores"] == "s3"
    assert objects(client, name) == [f"images/{image['id']}"]
    assert client.get_object(Bucket=name, Key=f"images/{image['id']}")["Body"].read() == qcow2
    download = member.get(f"/v2/images/{image['id']}/file")
    assert b"".join(download.streaming_content) == qcow2
    ranged = member.get(f"/v2/images/{image['id']}/file", HTTP_RANGE="bytes=0-3")
    assert ranged.status_code == 206 and b"".join(ranged.streaming_content) == b"QFI\xfb"
    assert member.delete(f"/v2/images/{image['id']}").status_code == 204
    assert objects(client, name) == []


def test_a_refused_upload_leaves_no_object_in_the_bucket(member, settings, tmp_path, s3_endpoint, bucket):
    client, name = bucket
    use_stores(settings, tmp_path, s3_endpoint, name, default="s3")
    image = member.create(disk_format="qcow2")
    assert member.upload(image["id"], b"\0" * 100_000).status_code == 400  # raw content, not qcow2
    assert Image.objects.get(pk=image["id"]).status == "queued"
    assert objects(client, name) == []
    assert client.list_multipart_uploads(Bucket=name).get("Uploads", []) == []


@pytest.mark.parametrize(("source", "target"), [("file", "s3"), ("s3", "file")])
def test_copy_image_between_the_filesystem_and_s3(
    member, admin, settings, tmp_path, s3_endpoint, bucket, qcow2, source, target
):
    client, name = bucket
    use_stores(settings, tmp_path, s3_endpoint, name, default=source)
    image = member.create(visibility="community")
    assert member.upload(image["id"], qcow2).status_code == 204
    response = admin.post(
        f"/v2/images/{image['id']}/import", {"method": {"name": "copy-image"}, "stores": [target]}
    )
    assert response.status_code == 202, response.content
    tasks.import_image(image["id"])
    row = Image.objects.get(pk=image["id"])
    assert row.status == "active" and row.import_method == "" and row.reason == ""
    assert sorted(ImageLocation.objects.filter(image=row).values_list("store", flat=True)) == ["file", "s3"]
    assert objects(client, name) == [f"images/{image['id']}"]
    assert (tmp_path / "store" / image["id"]).read_bytes() == qcow2
    assert client.get_object(Bucket=name, Key=f"images/{image['id']}")["Body"].read() == qcow2
    assert member.get(f"/v2/images/{image['id']}").json()["stores"] == "file,s3"
    assert member.delete(f"/v2/images/{image['id']}").status_code == 204
    assert objects(client, name) == [] and not (tmp_path / "store" / image["id"]).exists()


def test_a_broken_s3_endpoint_shows_no_credentials_anywhere(member, settings, tmp_path, caplog, qcow2):
    # Nothing listens on this port: every S3 call fails (security case 24).
    bad = f"http://127.0.0.1:{free_port()}"
    use_stores(settings, tmp_path, bad, "images", default="s3")
    caplog.set_level(logging.DEBUG)
    image = member.create()
    response = member.upload(image["id"], qcow2)
    assert response.status_code == 503
    shown = member.get(f"/v2/images/{image['id']}")
    listed = member.get("/v2/images")
    stores = member.get("/v2/info/stores")
    assert Image.objects.get(pk=image["id"]).status == "queued"
    everything = "\n".join(
        [
            response.content.decode(),
            shown.content.decode(),
            listed.content.decode(),
            stores.content.decode(),
            json.dumps(list(Image.objects.filter(pk=image["id"]).values())[0], default=str),
            caplog.text,
        ]
    )
    for secret in (ACCESS_KEY, SECRET_KEY, "Signature=", "X-Amz-Credential", "aws_secret"):
        assert secret not in everything


def test_the_scrubber_finds_an_object_changed_or_removed_in_the_bucket(
    member, settings, tmp_path, s3_endpoint, bucket, qcow2
):
    client, name = bucket
    use_stores(settings, tmp_path, s3_endpoint, name, default="s3")
    settings.IMAGE_SCRUB_BYTES_PER_SECOND = 0
    changed, removed, intact = (member.create()["id"] for _ in range(3))
    for image_id in (changed, removed, intact):
        assert member.upload(image_id, qcow2).status_code == 204
    client.put_object(Bucket=name, Key=f"images/{changed}", Body=qcow2[:-1] + b"\x01")
    client.delete_object(Bucket=name, Key=f"images/{removed}")
    report = tasks.scrub()
    assert report["checked"] == 3 and sorted(report["corrupt"]) == sorted([changed, removed])
    assert "does not match" in Image.objects.get(pk=changed).scrub_error
    assert Image.objects.get(pk=removed).scrub_error == "The data is missing from store 's3'."
    assert not Image.objects.get(pk=intact).is_corrupt
    assert member.get(f"/v2/images/{changed}/file").status_code == 409


def test_an_unreachable_bucket_is_no_finding_about_the_data(
    member, settings, tmp_path, s3_endpoint, bucket, qcow2
):
    client, name = bucket
    use_stores(settings, tmp_path, s3_endpoint, name, default="s3")
    settings.IMAGE_SCRUB_BYTES_PER_SECOND = 0
    image_id = member.create()["id"]
    assert member.upload(image_id, qcow2).status_code == 204
    use_stores(settings, tmp_path, f"http://127.0.0.1:{free_port()}", name, default="s3")  # nobody listens
    report = tasks.scrub()
    assert report["unreadable_store"] == [image_id] and report["corrupt"] == []
    assert not Image.objects.get(pk=image_id).is_corrupt
