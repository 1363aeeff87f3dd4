"""Every disk format of the seeds is stored: a direct upload keeps the bytes as they are (checked
with QEMU's own driver name: an ISO is ``raw`` to QEMU, a VHD ``vpc``), an import converts them to
the operator's target format and remembers the source format."""

from __future__ import annotations

import hashlib

import pytest

from images.models import Image
from tests.images.test_locations_and_validation import import_
from tests.support.diskformats import every_format

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def disks(tmp_path_factory):
    return {d.name: d for d in every_format(tmp_path_factory.mktemp("formats"), "FORMATS")}


ALL = ["raw", "qcow2-v2", "qcow2-v3", "vmdk-sparse", "vmdk-stream", "vhd", "vhdx", "vdi", "iso"]


@pytest.mark.parametrize("name", ALL)
def test_a_direct_upload_keeps_the_bytes_in_their_format(member, stores_dir, disks, name):
    disk = disks[name]
    data = disk.path.read_bytes()
    image = member.create(disk_format=disk.disk_format)
    response = member.upload(image["id"], data)
    assert response.status_code == 204, response.content
    row = Image.objects.get(pk=image["id"])
    assert (row.status, row.disk_format) == ("active", disk.disk_format), row.reason
    assert row.os_hash_value == hashlib.sha512(data).hexdigest()
    # The marker disks are 1 MiB (a VHD rounds up to its geometry); the ISO is its own size.
    if name == "iso":
        assert row.virtual_size == len(data)
    else:
        assert 1024 * 1024 <= row.virtual_size < 1024 * 1024 + 64 * 1024
    assert "source_disk_format" not in row.properties


@pytest.mark.parametrize("name", ALL)
def test_an_import_converts_to_qcow2_and_keeps_the_source_format(member, stores_dir, disks, name):
    disk = disks[name]
    image = member.create(disk_format=disk.disk_format)
    assert member.put(f"/v2/images/{image['id']}/stage", disk.path.read_bytes()).status_code == 204
    row = import_(member, image["id"], {"name": "glance-direct"})
    assert row.status == "active", row.reason
    stored = (stores_dir / "store" / image["id"]).read_bytes()
    if disk.disk_format in ("qcow2", "iso"):
        assert row.disk_format == disk.disk_format and stored == disk.path.read_bytes()
        assert "source_disk_format" not in row.properties
    else:
        assert (row.disk_format, row.properties["source_disk_format"]) == ("qcow2", disk.disk_format)
        assert stored[:4] == b"QFI\xfb" and 1024 * 1024 <= row.virtual_size < 1024 * 1024 + 64 * 1024


def test_the_target_format_may_be_raw(member, stores_dir, disks, settings):
    settings.IMAGE_CONVERT_TO = "raw"
    image = member.create(disk_format="vhdx")
    assert member.put(f"/v2/images/{image['id']}/stage", disks["vhdx"].path.read_bytes()).status_code == 204
    row = import_(member, image["id"], {"name": "glance-direct"})
    assert (row.status, row.disk_format, row.properties["source_disk_format"]) == ("active", "raw", "vhdx")
    stored = (stores_dir / "store" / image["id"]).read_bytes()
    assert len(stored) == 1024 * 1024 and b"FORMATS vhdx" in stored[:510] and stored[510:512] == b"\x55\xaa"
