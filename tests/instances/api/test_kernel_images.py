"""Kernel (aki) and ramdisk (ari) images through the servers API on a fake-driver host: an image
naming a kernel_id and a ramdisk_id boots them directly, and a launch naming one the project
cannot boot is refused before anything is made."""

from __future__ import annotations

from pathlib import Path

import pytest

from images.choices import ImageStatus
from images.models import Image
from instances.models import Instance
from instances.services.kernels import DEFAULT_CMDLINE
from tests.instances.api.test_servers import create_body, launch
from tests.instances.conftest import upload_image

KERNEL = b"MZ a stand-in for a bzImage " * 64
RAMDISK = b"070701 a stand-in for a newc cpio " * 64


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def kernel(world, stores_dir):
    return upload_image(world["home"].pk, KERNEL, disk_format="aki", container_format="aki", name="vmlinuz")


@pytest.fixture
def ramdisk(world, stores_dir):
    return upload_image(world["home"].pk, RAMDISK, disk_format="ari", container_format="ari", name="initrd")


def ami(world, marker_bytes, **properties):
    return upload_image(
        world["home"].pk, marker_bytes, disk_format="ami", container_format="ami", properties=properties
    )


def test_an_ami_boots_its_kernel_and_ramdisk_from_the_image_cache(
    world, host, stores_dir, marker_bytes, kernel, ramdisk, tiny, capture
):
    root = ami(world, marker_bytes, kernel_id=str(kernel.pk), ramdisk_id=str(ramdisk.pk))
    server_id = launch(world, host, root, tiny, capture)

    instance = Instance.objects.get(pk=server_id)
    assert instance.vm_state == "active"
    assert instance.image_properties["kernel_id"] == str(kernel.pk)
    assert instance.image_properties["ramdisk_id"] == str(ramdisk.pk)
    spec = host.driver.saved_spec(server_id)
    assert spec.kernel == str(host.cache.base_path(str(kernel.pk)))
    assert spec.ramdisk == str(host.cache.base_path(str(ramdisk.pk)))
    assert spec.cmdline == DEFAULT_CMDLINE == "root=/dev/vda console=ttyS0"
    assert Path(spec.kernel).read_bytes() == KERNEL
    assert Path(spec.ramdisk).read_bytes() == RAMDISK
    assert spec.disk("vda").path == str(host.disk_paths(server_id)["vda"])  # the ami is still the root disk
    assert host.cache.cached() == sorted(str(i.pk) for i in (root, kernel, ramdisk))


def test_the_image_s_os_command_line_is_the_kernel_command_line(
    world, host, stores_dir, marker_bytes, kernel, tiny, capture
):
    root = ami(world, marker_bytes, kernel_id=str(kernel.pk), os_command_line="console=ttyS0 quiet")
    spec = host.driver.saved_spec(launch(world, host, root, tiny, capture))
    assert (spec.cmdline, spec.ramdisk) == ("console=ttyS0 quiet", "")
    assert Path(spec.kernel).read_bytes() == KERNEL


def test_an_image_without_a_kernel_boots_from_its_disk(world, host, image, tiny, capture):
    spec = host.driver.saved_spec(launch(world, host, image, tiny, capture))
    assert (spec.kernel, spec.ramdisk, spec.cmdline) == ("", "", "")


def refused(world, root, tiny, capture):
    with capture() as callbacks:
        response = world["member"].post("/servers", create_body(root, tiny), "2.96")
    assert response.status_code == 400, response.content
    assert callbacks == []
    assert not Instance.objects.exists()
    return response.json()["badRequest"]["message"]


def test_a_kernel_id_that_does_not_exist_is_refused(world, host, stores_dir, marker_bytes, tiny, capture):
    missing = "7d1e2c5a-8f3b-4a6e-9c0d-1b2a3c4d5e6f"
    root = ami(world, marker_bytes, kernel_id=missing)
    assert refused(world, root, tiny, capture) == f"Image kernel_id {missing} could not be found."
    root = ami(world, marker_bytes, kernel_id="not-a-uuid")
    assert refused(world, root, tiny, capture) == "Image kernel_id not-a-uuid could not be found."


def test_another_project_s_private_kernel_is_not_found(world, host, stores_dir, marker_bytes, tiny, capture):
    theirs = upload_image(world["other"].pk, KERNEL, disk_format="aki", visibility="private")
    root = ami(world, marker_bytes, kernel_id=str(theirs.pk))
    assert refused(world, root, tiny, capture) == f"Image kernel_id {theirs.pk} could not be found."


def test_a_kernel_that_is_not_active_is_refused(world, host, stores_dir, marker_bytes, kernel, tiny, capture):
    Image.objects.filter(pk=kernel.pk).update(status=ImageStatus.DEACTIVATED)
    root = ami(world, marker_bytes, kernel_id=str(kernel.pk))
    assert refused(world, root, tiny, capture) == f"Image kernel_id {kernel.pk} is not active."


def test_a_kernel_id_naming_a_disk_image_is_refused(world, host, image, marker_bytes, tiny, capture):
    root = ami(world, marker_bytes, kernel_id=str(image.pk))
    message = refused(world, root, tiny, capture)
    assert message == f"Image kernel_id {image.pk} is not a kernel image (disk_format aki)."


def test_a_ramdisk_id_naming_a_kernel_is_refused(
    world, host, stores_dir, marker_bytes, kernel, tiny, capture
):
    root = ami(world, marker_bytes, kernel_id=str(kernel.pk), ramdisk_id=str(kernel.pk))
    message = refused(world, root, tiny, capture)
    assert message == f"Image ramdisk_id {kernel.pk} is not a ramdisk image (disk_format ari)."


def test_a_ramdisk_without_a_kernel_is_refused(world, host, stores_dir, marker_bytes, ramdisk, tiny, capture):
    root = ami(world, marker_bytes, ramdisk_id=str(ramdisk.pk))
    assert "ramdisk_id needs a kernel_id" in refused(world, root, tiny, capture)
