"""ISO images are stored: qemu-img checks them under qemu's name for them (raw), and a hybrid ISO's
MBR (what a BIOS boots when the ISO is written to a disk) passes the same partition checks as a
disk's."""

from __future__ import annotations

import io
import struct

import pycdlib
import pytest

from images.models import Image
from tests.images.test_content_safety import refused

pytestmark = pytest.mark.django_db


def iso_bytes() -> bytes:
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=1, vol_ident="DATA")
    body = b"hello from an iso\n"
    iso.add_fp(io.BytesIO(body), len(body), "/HELLO.TXT;1")
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


def hybrid(data: bytes, boot_flag: int) -> bytes:
    """The ISO with an MBR in its system area: one partition over the whole image, as isohybrid writes."""
    image = bytearray(data)
    entry = struct.pack("<B3BB3BII", boot_flag, 0, 2, 0, 0x17, 0xFE, 0xFF, 0xFF, 0, len(data) // 512)
    image[446:462] = entry
    image[510:512] = b"\x55\xaa"
    return bytes(image)


def test_an_iso_is_stored_and_becomes_active(member, stores_dir):
    data = iso_bytes()
    image = member.create(disk_format="iso")
    response = member.upload(image["id"], data)
    assert response.status_code == 204, response.content
    row = Image.objects.get(pk=image["id"])
    assert (row.status, row.size, row.virtual_size) == ("active", len(data), len(data))


def test_a_hybrid_iso_with_a_sound_mbr_is_stored(member, stores_dir):
    image = member.create(disk_format="iso")
    assert member.upload(image["id"], hybrid(iso_bytes(), 0x80)).status_code == 204
    assert Image.objects.get(pk=image["id"]).status == "active"


def test_a_hybrid_iso_whose_mbr_is_broken_is_refused(member, stores_dir):
    refused(member, stores_dir, hybrid(iso_bytes(), 0x42), "iso", "failed safety checks: mbr")


def test_an_iso_declared_raw_is_refused(member, stores_dir):
    refused(member, stores_dir, iso_bytes(), "raw", "Image content is iso but disk_format is raw")
