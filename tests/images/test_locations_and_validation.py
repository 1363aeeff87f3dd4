"""User-supplied hashes (security cases 18, 19), OVA imports, and the locations API (Glance 2.17)."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from images import tasks
from images.models import Image, ImageLocation
from images.staging import staging_path
from tests.images.conftest import api_for, qemu_img
from tests.images.live_support import RemoteFiles

pytestmark = pytest.mark.django_db


@pytest.fixture
def remote(tmp_path, settings):
    (tmp_path / "remote").mkdir()
    server = RemoteFiles(tmp_path / "remote")
    settings.IMAGE_IMPORT_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.IMAGE_IMPORT_ALLOWED_PORTS = [server.port]
    yield server
    server.stop()


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


def store_files(stores_dir):
    return sorted(p.name for p in (stores_dir / "store").iterdir())


def backing_file_qcow2(tmp_path) -> bytes:
    canary = tmp_path / "canary"
    canary.write_bytes(b"host-secret-canary")
    path = tmp_path / "backed.qcow2"
    qemu_img("create", "-f", "qcow2", "-b", str(canary), "-F", "raw", str(path), "16M")
    return path.read_bytes()


def import_(api, image_id, method: dict, **body):
    response = api.post(f"/v2/images/{image_id}/import", {"method": method, **body})
    assert response.status_code == 202, response.content
    tasks.import_image(image_id)
    return Image.objects.get(pk=image_id)


# --- security cases 18 and 19: the user's hash is checked on the fetched bytes, first ----------------


def test_a_staged_image_whose_hash_does_not_match_validation_data_goes_back_to_queued(
    member, stores_dir, qcow2
):
    image = member.create()
    assert member.put(f"/v2/images/{image['id']}/stage", qcow2).status_code == 204
    wrong = sha512(b"something else")
    row = import_(
        member,
        image["id"],
        {"name": "glance-direct"},
        validation_data={"os_hash_algo": "sha512", "os_hash_value": wrong},
    )
    assert row.status == "queued" and "does not match the expected sha512" in row.reason
    assert row.checksum is None and row.os_hash_value is None and row.size is None
    assert store_files(stores_dir) == [] and not staging_path(row.pk).exists()


def test_the_hash_is_checked_before_the_content_is_inspected(member, stores_dir, tmp_path):
    # A qcow2 with a backing file would be refused by the inspector; with a wrong hash the refusal
    # must name the hash, which shows that no inspector (and no qemu-img) looked at it first.
    image = member.create()
    assert member.put(f"/v2/images/{image['id']}/stage", backing_file_qcow2(tmp_path)).status_code == 204
    row = import_(
        member,
        image["id"],
        {"name": "glance-direct"},
        validation_data={"os_hash_algo": "sha256", "os_hash_value": "ab" * 32},
    )
    assert row.status == "queued" and "expected sha256 hash" in row.reason and "backing" not in row.reason


def test_a_matching_hash_lets_the_import_finish(member, stores_dir, qcow2):
    image = member.create()
    member.put(f"/v2/images/{image['id']}/stage", qcow2)
    row = import_(
        member,
        image["id"],
        {"name": "glance-direct"},
        validation_data={"os_hash_algo": "sha512", "os_hash_value": sha512(qcow2).upper()},
    )
    assert row.status == "active", row.reason
    assert row.os_hash_value == sha512(qcow2) and row.import_hash_value == ""


def test_a_web_download_with_a_wrong_hash_is_refused_and_leaves_nothing(member, stores_dir, remote, qcow2):
    (remote.root / "disk.qcow2").write_bytes(qcow2)
    image = member.create()
    row = import_(
        member,
        image["id"],
        {
            "name": "web-download",
            "uri": remote.url("disk.qcow2"),
            "validation_data": {"os_hash_algo": "sha512", "os_hash_value": sha512(b"other")},
        },
    )
    assert row.status == "queued" and "expected sha512" in row.reason
    assert row.os_hash_value is None and row.checksum is None
    assert store_files(stores_dir) == [] and not staging_path(row.pk).exists()


@pytest.mark.parametrize(
    "validation",
    [
        {"os_hash_algo": "md5", "os_hash_value": "0" * 32},
        {"os_hash_algo": "sha512", "os_hash_value": "xyz"},
        {"os_hash_algo": "sha512", "os_hash_value": "zz" * 64},
        "sha512",
    ],
)
def test_bad_validation_data_is_a_400_and_the_image_stays_queued(member, stores_dir, remote, validation):
    image = member.create()
    response = member.post(
        f"/v2/images/{image['id']}/import",
        {"method": {"name": "web-download", "uri": remote.url("x"), "validation_data": validation}},
    )
    assert response.status_code == 400
    assert Image.objects.get(pk=image["id"]).status == "queued"


# --- OVA -----------------------------------------------------------------------------------------------


def make_ova(members: list[tuple[str, bytes]], links: tuple[str, ...] = ()) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name in links:
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)
    return out.getvalue()


@pytest.fixture
def vmdk(tmp_path) -> bytes:
    path = tmp_path / "disk.vmdk"
    qemu_img("create", "-f", "vmdk", "-o", "subformat=streamOptimized", str(path), "16M")
    return path.read_bytes()


def test_an_ova_import_keeps_only_its_disk_converted_to_qcow2(member, stores_dir, vmdk):
    ova = make_ova([("vm.ovf", b"<Envelope/>"), ("vm-disk1.vmdk", vmdk), ("vm.mf", b"SHA256(x)= 0")])
    image = member.create(disk_format="vmdk", container_format="ova")
    assert member.put(f"/v2/images/{image['id']}/stage", ova).status_code == 204
    row = import_(member, image["id"], {"name": "glance-direct"})
    assert row.status == "active", row.reason
    assert row.container_format == "bare" and row.disk_format == "qcow2" and row.virtual_size == 16 << 20
    assert row.properties["source_disk_format"] == "vmdk"
    stored = (stores_dir / "store" / image["id"]).read_bytes()
    assert stored[:4] == b"QFI\xfb" and row.os_hash_value == sha512(stored) and row.size == len(stored)
    assert member.get(f"/v2/images/{image['id']}/file").getvalue() == stored
    assert not any(staging_path(row.pk).parent.iterdir())


def test_without_conversion_an_ova_import_keeps_its_disk_as_it_is(member, stores_dir, vmdk, settings):
    settings.IMAGE_CONVERT_TO = ""
    ova = make_ova([("vm.ovf", b"<Envelope/>"), ("vm-disk1.vmdk", vmdk)])
    image = member.create(disk_format="vmdk", container_format="ova")
    assert member.put(f"/v2/images/{image['id']}/stage", ova).status_code == 204
    row = import_(member, image["id"], {"name": "glance-direct"})
    assert row.status == "active", row.reason
    assert (row.container_format, row.disk_format) == ("bare", "vmdk")
    assert "source_disk_format" not in row.properties
    assert (stores_dir / "store" / image["id"]).read_bytes() == vmdk


def test_an_ova_with_an_unsafe_disk_is_refused(member, stores_dir, tmp_path):
    ova = make_ova([("vm.ovf", b"<Envelope/>"), ("disk.qcow2", backing_file_qcow2(tmp_path))])
    image = member.create(disk_format="qcow2", container_format="ova")
    member.put(f"/v2/images/{image['id']}/stage", ova)
    row = import_(member, image["id"], {"name": "glance-direct"})
    assert row.status == "queued" and "backing_file" in row.reason
    assert store_files(stores_dir) == [] and not any(staging_path(row.pk).parent.iterdir())


@pytest.mark.parametrize(
    ("ova", "reason"),
    [
        (make_ova([("vm.ovf", b"<Envelope/>")]), "no disk"),
        (make_ova([("a.vmdk", b"x" * 512), ("b.vmdk", b"y" * 512)]), "more than one disk"),
        (make_ova([("vm.ovf", b"x")], links=("disk.vmdk",)), "links"),
        (make_ova([("run.sh", b"#!/bin/sh")]), "unexpected file type"),
        (b"not a tar at all" * 100, "not a valid tar"),
    ],
)
def test_malformed_ovas_are_refused(member, stores_dir, ova, reason):
    image = member.create(disk_format="vmdk", container_format="ova")
    member.put(f"/v2/images/{image['id']}/stage", ova)
    row = import_(member, image["id"], {"name": "glance-direct"})
    assert row.status == "queued" and reason in row.reason
    assert store_files(stores_dir) == [] and not any(staging_path(row.pk).parent.iterdir())


def test_an_ova_cannot_be_uploaded_with_put_file(member, stores_dir, vmdk):
    image = member.create(disk_format="vmdk", container_format="ova")
    response = member.upload(image["id"], make_ova([("d.vmdk", vmdk)]))
    assert response.status_code == 400 and "import" in response.json()["message"]
    assert Image.objects.get(pk=image["id"]).status == "queued"


# --- locations -----------------------------------------------------------------------------------------


def add_location(api, image_id, url, validation=None):
    body = {"url": url}
    if validation is not None:
        body["validation_data"] = validation
    return api.post(f"/v2/images/{image_id}/locations", body)


def test_a_location_makes_the_image_active_and_downloads_stream_from_the_url(
    member, stores_dir, remote, qcow2
):
    (remote.root / "disk.qcow2").write_bytes(qcow2)
    image = member.create()
    url = remote.url("disk.qcow2")
    validation = {"os_hash_algo": "sha512", "os_hash_value": sha512(qcow2)}
    assert add_location(member, image["id"], url, validation).status_code == 202
    tasks.import_image(image["id"])
    row = Image.objects.get(pk=image["id"])
    assert row.status == "active", row.reason
    assert row.checksum == hashlib.md5(qcow2).hexdigest() and row.size == len(qcow2)
    assert list(ImageLocation.objects.filter(image=row).values_list("store", "url")) == [("http", url)]
    assert store_files(stores_dir) == [] and not staging_path(row.pk).exists()  # no copy kept
    shown = member.get(f"/v2/images/{image['id']}").json()
    assert shown["stores"] == "http" and "locations" not in shown and "direct_url" not in shown
    before = len(remote.requests)
    download = member.get(f"/v2/images/{image['id']}/file")
    assert download.status_code == 200 and b"".join(download.streaming_content) == qcow2
    assert remote.requests[before:] == ["/files/disk.qcow2"]
    assert member.get(f"/v2/images/{image['id']}/locations").json() == [
        {"url": url, "metadata": {"store": "http"}}
    ]


def test_only_admins_and_the_owner_see_locations(member, reader, other, admin, project, stores_dir, remote):
    image = member.create(visibility="community")
    path = f"/v2/images/{image['id']}/locations"
    assert member.get(path).status_code == 200
    assert admin.get(path).status_code == 200
    assert reader.get(path).status_code == 403
    assert other.get(path).status_code == 403
    assert add_location(other, image["id"], remote.url("x")).status_code == 403
    assert add_location(api_for(project, "reader"), image["id"], remote.url("x")).status_code == 403


def test_a_location_with_a_wrong_hash_leaves_the_image_queued_without_hashes(
    member, stores_dir, remote, qcow2
):
    (remote.root / "disk.qcow2").write_bytes(qcow2)
    image = member.create()
    validation = {"os_hash_algo": "sha512", "os_hash_value": sha512(b"not it")}
    add_location(member, image["id"], remote.url("disk.qcow2"), validation)
    tasks.import_image(image["id"])
    row = Image.objects.get(pk=image["id"])
    assert row.status == "queued" and "expected sha512" in row.reason
    assert row.checksum is None and row.os_hash_value is None
    assert not ImageLocation.objects.filter(image=row).exists() and not staging_path(row.pk).exists()


def test_a_location_whose_content_is_unsafe_is_refused(member, stores_dir, remote, tmp_path):
    (remote.root / "b.qcow2").write_bytes(backing_file_qcow2(tmp_path))
    image = member.create()
    add_location(member, image["id"], remote.url("b.qcow2"))
    tasks.import_image(image["id"])
    row = Image.objects.get(pk=image["id"])
    assert row.status == "queued" and "backing_file" in row.reason
    assert not ImageLocation.objects.filter(image=row).exists()


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "s3://bucket/key",
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:6379/",
        "http://user:secret@example.com/disk.qcow2",
        "",
    ],
)
def test_locations_refuse_other_schemes_internal_targets_and_credentials(member, stores_dir, url):
    image = member.create()
    response = add_location(member, image["id"], url)
    assert response.status_code == 400
    assert b"secret" not in response.content
    assert Image.objects.get(pk=image["id"]).status == "queued"


def test_a_location_is_only_for_a_queued_image(member, stores_dir, remote, qcow2):
    image = member.create()
    member.upload(image["id"], qcow2)
    assert add_location(member, image["id"], remote.url("x")).status_code == 409


def test_copy_image_brings_a_location_image_into_a_store(member, admin, stores_dir, remote, qcow2):
    (remote.root / "disk.qcow2").write_bytes(qcow2)
    image = member.create(visibility="community")
    add_location(member, image["id"], remote.url("disk.qcow2"))
    tasks.import_image(image["id"])
    response = admin.post(
        f"/v2/images/{image['id']}/import", {"method": {"name": "copy-image"}, "stores": ["file"]}
    )
    assert response.status_code == 202, response.content
    tasks.import_image(image["id"])
    row = Image.objects.get(pk=image["id"])
    assert row.status == "active" and row.reason == ""
    assert sorted(ImageLocation.objects.filter(image=row).values_list("store", flat=True)) == ["file", "http"]
    assert (stores_dir / "store" / image["id"]).read_bytes() == qcow2


def test_copy_image_to_all_stores_of_an_image_in_every_store_is_accepted_and_done(
    member, admin, stores_dir, qcow2
):
    image = member.create(visibility="community")
    member.upload(image["id"], qcow2)
    body = {"method": {"name": "copy-image"}, "all_stores": True, "all_stores_must_succeed": False}
    response = admin.post(f"/v2/images/{image['id']}/import", body)
    assert response.status_code == 202, response.content
    shown = member.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active"
    assert shown["os_glance_importing_to_stores"] == "" and shown["os_glance_failed_import"] == ""
    assert Image.objects.get(pk=image["id"]).import_method == ""
    named = {"method": {"name": "copy-image"}, "stores": ["file"]}
    assert admin.post(f"/v2/images/{image['id']}/import", named).status_code == 400
