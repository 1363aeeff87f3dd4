"""Security cases A: image content. Each bad input is refused, the image stays queued, and nothing
of it (or of the host file it points at) stays in the store."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from images import tasks
from images.models import Image
from images.pipeline import qemu as pipeline_qemu
from images.pipeline.errors import ImageRejected
from images.staging import staging_path
from tests.images.conftest import qemu_img

pytestmark = pytest.mark.django_db

CANARY = b"CANARY-host-secret-" * 64


@pytest.fixture
def canary(tmp_path):
    path = tmp_path / "canary"
    path.write_bytes(CANARY)
    return path


def refused(api, stores_dir, data: bytes, disk_format: str, expect: str, container_format: str = "bare"):
    image = api.create(disk_format=disk_format, container_format=container_format)
    response = api.upload(image["id"], data)
    assert response.status_code == 400, response.content
    assert expect in response.json()["message"]
    assert CANARY not in response.content
    row = Image.objects.get(pk=image["id"])
    assert row.status == "queued" and row.size is None and row.checksum is None
    assert expect in row.reason
    leftovers = list((stores_dir / "store").iterdir())
    assert leftovers == [], leftovers
    return row


def test_it_rejects_a_qcow2_with_a_backing_file(member, stores_dir, tmp_path, canary):
    path = tmp_path / "x.qcow2"
    qemu_img("create", "-f", "qcow2", "-b", str(canary), "-F", "raw", str(path), "16M")
    refused(member, stores_dir, path.read_bytes(), "qcow2", "backing_file")


def test_it_rejects_a_qcow2_with_an_external_data_file(member, stores_dir, tmp_path, canary):
    path = tmp_path / "x.qcow2"
    qemu_img("create", "-f", "qcow2", "-o", f"data_file={canary},data_file_raw=on", str(path), "16M")
    refused(member, stores_dir, path.read_bytes(), "qcow2", "data_file")


def test_it_rejects_a_flat_vmdk_pointing_at_a_host_file(member, stores_dir, tmp_path, canary):
    path = tmp_path / "x.vmdk"
    qemu_img("create", "-f", "vmdk", "-o", "subformat=monolithicFlat", str(path), "1M")
    descriptor = path.read_bytes().replace(b'"x-flat.vmdk"', f'"{canary}"'.encode())
    refused(member, stores_dir, descriptor, "vmdk", "safety checks: descriptor")


def test_it_rejects_a_sparse_vmdk_with_an_extra_extent(member, stores_dir, tmp_path, canary):
    path = tmp_path / "x.vmdk"
    qemu_img("create", "-f", "vmdk", "-o", "subformat=monolithicSparse", str(path), "1M")
    data = bytearray(path.read_bytes())
    marker = data.index(b'RW 2048 SPARSE "x.vmdk"')
    extra = f'\nRW 2048 FLAT "{canary}" 0'.encode()
    end = data.index(b"\n", marker)
    data[end:end] = extra
    refused(member, stores_dir, bytes(data[: len(path.read_bytes())]), "vmdk", "safety checks")


def test_a_qcow2_with_a_backing_file_declared_raw_is_refused(member, stores_dir, tmp_path, canary):
    path = tmp_path / "x.qcow2"
    qemu_img("create", "-f", "qcow2", "-b", str(canary), "-F", "raw", str(path), "16M")
    refused(member, stores_dir, path.read_bytes(), "raw", "Image content is qcow2 but disk_format is raw")


def test_a_clean_qcow2_declared_raw_is_refused(member, stores_dir, qcow2):
    refused(member, stores_dir, qcow2, "raw", "Image content is qcow2 but disk_format is raw")


def test_raw_bytes_declared_qcow2_are_refused(member, stores_dir):
    refused(member, stores_dir, b"\0" * 100_000, "qcow2", "Image content is raw but disk_format is qcow2")


def test_a_vdi_declared_vmdk_is_refused(member, stores_dir, tmp_path):
    path = tmp_path / "x.vdi"
    qemu_img("create", "-f", "vdi", str(path), "16M")
    refused(member, stores_dir, path.read_bytes(), "vmdk", "Image content is vdi but disk_format is vmdk")


def test_qed_is_banned(member, stores_dir, tmp_path):
    path = tmp_path / "x.qed"
    qemu_img("create", "-f", "qed", str(path), "16M")
    refused(member, stores_dir, path.read_bytes(), "raw", "qed format is not allowed")


def luks1_header(payload_sectors: int = 4096) -> bytes:
    """A LUKS1 partition header as the on-disk format specification lays it out (big endian): magic,
    version 1, cipher, mode, hash, payload offset in sectors, key size, master key digest, its salt
    and iterations, the UUID, then eight key slots, the first one active. qemu-img could make one,
    but it times its PBKDF2 on the thread's CPU clock and fails at random ("Unable to get accurate
    CPU usage") where that clock ticks coarsely; the header is all the format check reads."""
    header = struct.pack(
        ">6sH32s32s32sII20s32sI40s",
        b"LUKS\xba\xbe",
        1,
        b"aes",
        b"xts-plain64",
        b"sha256",
        payload_sectors,
        64,
        bytes(20),
        bytes(32),
        1000,
        b"6c8e2f7a-3f4b-4d7e-9a8c-2b1d0e4f5a6b",
    )
    active = struct.pack(">II32sII", 0x00AC71F3, 1000, bytes(32), 8, 4000)
    inactive = struct.pack(">II32sII", 0x0000DEAD, 0, bytes(32), 0, 0)
    return header + active + inactive * 7


def test_luks_is_refused(member, stores_dir):
    data = luks1_header().ljust(4096 * 512 + 1024 * 1024, b"\x00")
    refused(member, stores_dir, data, "raw", "luks format is not allowed")


def test_a_qcow2_with_unknown_incompatible_features_is_refused(member, stores_dir, qcow2):
    data = bytearray(qcow2)
    data[0x4F] = 0x20
    refused(member, stores_dir, bytes(data), "qcow2", "safety checks")


def test_a_qcow2_version_1_header_is_refused(member, stores_dir, qcow2):
    data = bytearray(qcow2)
    data[4:8] = (1).to_bytes(4, "big")
    refused(member, stores_dir, bytes(data), "qcow2", "unknown_features")


def test_an_iso_qcow2_polyglot_is_refused(member, stores_dir, qcow2):
    data = bytearray(qcow2)
    data[0x8000:0x8006] = b"\x01CD001"
    refused(member, stores_dir, bytes(data), "qcow2", "several formats")


def test_a_truncated_qcow2_is_refused_as_qcow2(member, stores_dir, qcow2):
    refused(member, stores_dir, qcow2[:60], "qcow2", "disk_format is qcow2")


def test_an_empty_file_is_not_a_qcow2(member, stores_dir):
    refused(member, stores_dir, b"", "qcow2", "disk_format is qcow2")


def test_tiny_raw_data_is_accepted_as_opaque_raw(member, stores_dir, qcow2):
    image = member.create(disk_format="raw")
    assert member.upload(image["id"], qcow2[:60]).status_code == 204
    assert Image.objects.get(pk=image["id"]).status == "active"


def test_a_huge_virtual_size_in_a_small_file_is_refused(member, stores_dir, tmp_path):
    path = tmp_path / "h.qcow2"
    qemu_img("create", "-f", "qcow2", str(path), "1P")
    refused(member, stores_dir, path.read_bytes(), "qcow2", "virtual size")


def test_qemu_img_runs_under_a_memory_limit(member, stores_dir, qcow2, settings):
    # With an address-space limit too small to even start, qemu-img fails and the image is refused:
    # proof that the limit applies (a resource bomb meets the same fate).
    settings.QEMU_IMG_ADDRESS_SPACE_MB = 4
    refused(member, stores_dir, qcow2, "qcow2", "qemu-img info failed")


# --- the container format never switches the content checks off -----------------------------------


@pytest.mark.parametrize("container_format", ["compressed", "docker"])
def test_a_qcow2_with_a_backing_file_is_refused_whatever_the_container_format(
    member, stores_dir, tmp_path, canary, container_format
):
    path = tmp_path / "x.qcow2"
    qemu_img("create", "-f", "qcow2", "-b", str(canary), "-F", "raw", str(path), "16M")
    refused(member, stores_dir, path.read_bytes(), "qcow2", "backing_file", container_format=container_format)


@pytest.mark.parametrize("container_format", ["compressed", "docker"])
def test_a_qcow2_with_an_external_data_file_is_refused_whatever_the_container_format(
    member, stores_dir, tmp_path, canary, container_format
):
    path = tmp_path / "x.qcow2"
    qemu_img("create", "-f", "qcow2", "-o", f"data_file={canary},data_file_raw=on", str(path), "16M")
    refused(member, stores_dir, path.read_bytes(), "qcow2", "data_file", container_format=container_format)


@pytest.mark.parametrize("container_format", ["compressed", "docker"])
def test_a_backing_file_qcow2_declared_raw_in_an_opaque_container_is_refused(
    member, stores_dir, tmp_path, canary, container_format
):
    path = tmp_path / "x.qcow2"
    qemu_img("create", "-f", "qcow2", "-b", str(canary), "-F", "raw", str(path), "16M")
    refused(
        member, stores_dir, path.read_bytes(), "raw", "Image content is qcow2 but disk_format is raw",
        container_format=container_format,
    )  # fmt: skip


def test_a_flat_vmdk_in_a_compressed_container_is_refused(member, stores_dir, tmp_path, canary):
    path = tmp_path / "x.vmdk"
    qemu_img("create", "-f", "vmdk", "-o", "subformat=monolithicFlat", str(path), "1M")
    descriptor = path.read_bytes().replace(b'"x-flat.vmdk"', f'"{canary}"'.encode())
    refused(
        member, stores_dir, descriptor, "vmdk", "safety checks: descriptor", container_format="compressed"
    )


def test_a_polyglot_in_a_docker_container_is_refused(member, stores_dir, qcow2):
    data = bytearray(qcow2)
    data[0x8000:0x8006] = b"\x01CD001"
    refused(member, stores_dir, bytes(data), "qcow2", "several formats", container_format="docker")


def test_an_mbr_with_bad_partitions_in_a_compressed_container_is_refused(member, stores_dir):
    # A boot sector signature with a partition entry whose boot flag is neither 0x00 nor 0x80.
    data = bytearray(1 << 20)
    data[446] = 0x42
    data[510:512] = b"\x55\xaa"
    refused(member, stores_dir, bytes(data), "raw", "safety checks", container_format="compressed")


def test_a_clean_qcow2_in_a_compressed_container_is_checked_and_stored(member, stores_dir, qcow2):
    image = member.create(disk_format="qcow2", container_format="compressed")
    assert member.upload(image["id"], qcow2).status_code == 204
    row = Image.objects.get(pk=image["id"])
    assert row.status == "active" and row.virtual_size == 16 << 20


def test_an_archive_declared_raw_in_a_compressed_container_is_stored_as_raw(member, stores_dir):
    archive = b"\x1f\x8b\x08\x00" + bytes(range(256)) * 64  # a gzip header and bytes no format claims
    image = member.create(disk_format="raw", container_format="compressed")
    assert member.upload(image["id"], archive).status_code == 204
    assert Image.objects.get(pk=image["id"]).status == "active"


def test_a_glance_direct_import_in_a_docker_container_gets_the_content_checks(
    member, stores_dir, tmp_path, canary
):
    path = tmp_path / "x.qcow2"
    qemu_img("create", "-f", "qcow2", "-b", str(canary), "-F", "raw", str(path), "16M")
    image = member.create(disk_format="qcow2", container_format="docker")
    assert member.put(f"/v2/images/{image['id']}/stage", path.read_bytes()).status_code == 204
    response = member.post(f"/v2/images/{image['id']}/import", {"method": {"name": "glance-direct"}})
    assert response.status_code == 202
    tasks.import_image(image["id"])
    row = Image.objects.get(pk=image["id"])
    assert row.status == "queued" and "backing_file" in row.reason
    assert not staging_path(row.pk).exists()
    assert list((stores_dir / "store").iterdir()) == []


def test_the_pipeline_never_hands_qemu_img_a_relative_or_protocol_path(tmp_path, monkeypatch, qcow2):
    # Real files behind every name: qemu-img would read and write them if it were asked to.
    monkeypatch.chdir(tmp_path)
    staged = tmp_path / "staged.qcow2"
    staged.write_bytes(qcow2)
    raw = tmp_path / "in.raw"
    raw.write_bytes(bytes(65536))
    json_spec = f'json:{{"file.driver": "file", "file.filename": "{staged}"}}'
    for source in (Path("staged.qcow2"), f"file:{staged}", json_spec):
        with pytest.raises(ImageRejected, match="could not be processed"):
            pipeline_qemu.info(source, "qcow2")
    for target in (Path("out.qcow2"), f"file:{tmp_path / 'out2.qcow2'}"):
        with pytest.raises(ImageRejected, match="could not be processed"):
            pipeline_qemu.convert(raw, "raw", target, "qcow2")
    assert not (tmp_path / "out.qcow2").exists() and not (tmp_path / "out2.qcow2").exists()
