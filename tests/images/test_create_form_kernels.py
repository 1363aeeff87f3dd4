"""The Create Image form offers Kernel and Ramdisk choices for an AMI, as Horizon's classic form
does: active aki/ari images the project can see, stored as kernel_id/ramdisk_id properties."""

from __future__ import annotations

import pytest
from django.urls import reverse

from images.choices import ImageStatus
from tests.factories import make_project, make_user
from tests.images.test_views import create_data, image, login


@pytest.fixture
def home(db):
    return make_project("home")


@pytest.fixture
def boot_images(client, home):
    login(client, make_user("mia", roles={home: "member"}))
    other = make_project("other")
    return {
        "kernel": image(home, "vmlinuz", disk_format="aki", status=ImageStatus.ACTIVE),
        "ramdisk": image(home, "initrd", disk_format="ari", status=ImageStatus.ACTIVE),
        "public_kernel": image(
            other, "public-vmlinuz", disk_format="aki", status=ImageStatus.ACTIVE, visibility="public"
        ),
        "private_kernel": image(
            other, "their-vmlinuz", disk_format="aki", status=ImageStatus.ACTIVE, visibility="private"
        ),
        "queued_kernel": image(home, "queued-vmlinuz", disk_format="aki"),
        "disk": image(home, "disk", status=ImageStatus.ACTIVE),
    }


def test_the_form_offers_the_visible_active_kernels_and_ramdisks(client, boot_images):
    page = client.get(reverse("image-create")).content.decode()
    assert 'name="kernel"' in page and 'name="ramdisk"' in page and 'data-format-panel="ami"' in page
    kernels = page.split('name="kernel"')[1].split("</select>")[0]
    offered = {name for name, img in boot_images.items() if str(img.pk) in kernels}
    assert offered == {"kernel", "public_kernel"}
    ramdisks = page.split('name="ramdisk"')[1].split("</select>")[0]
    assert str(boot_images["ramdisk"].pk) in ramdisks and str(boot_images["kernel"].pk) not in ramdisks


def test_an_ami_stores_its_kernel_and_ramdisk_as_properties(client, boot_images):
    kernel, ramdisk = boot_images["kernel"].pk, boot_images["ramdisk"].pk
    data = create_data(disk_format="ami", kernel=str(kernel), ramdisk=str(ramdisk))
    response = client.post(reverse("image-create"), data)
    assert response.status_code == 200, response.content
    body = response.json()["image"]
    assert (body["disk_format"], body["container_format"]) == ("ami", "ami")
    assert (body["kernel_id"], body["ramdisk_id"]) == (str(kernel), str(ramdisk))


def test_other_formats_ignore_a_chosen_kernel(client, boot_images):
    data = create_data(kernel=str(boot_images["kernel"].pk))
    body = client.post(reverse("image-create"), data).json()["image"]
    assert "kernel_id" not in body and "ramdisk_id" not in body


def test_a_kernel_the_project_cannot_see_or_a_ramdisk_alone_is_a_field_error(client, boot_images):
    hidden = create_data(disk_format="ami", kernel=str(boot_images["private_kernel"].pk))
    errors = client.post(reverse("image-create"), hidden).json()["errors"]
    assert "kernel" in errors
    alone = create_data(disk_format="ami", ramdisk=str(boot_images["ramdisk"].pk))
    errors = client.post(reverse("image-create"), alone).json()["errors"]
    assert errors == {"kernel": ["A ramdisk is only used with a kernel: choose one."]}
