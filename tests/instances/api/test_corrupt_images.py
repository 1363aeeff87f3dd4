"""An image whose stored data the scrubber found damaged is refused by compute as Nova refuses an
unacceptable image (400), and a build that was accepted before the finding ends in ERROR."""

from __future__ import annotations

import pytest

from images import tasks as image_tasks
from instances.models import Instance
from tests.instances.api.test_servers import create_body
from tests.instances.conftest import Deliver, upload_image
from tests.instances.volume_support import VolumeCaller


def damage(image, stores_dir) -> None:
    path = stores_dir / "store" / str(image.pk)
    data = bytearray(path.read_bytes())
    data[600] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture
def corrupt(image, stores_dir, settings):
    settings.IMAGE_SCRUB_BYTES_PER_SECOND = 0
    damage(image, stores_dir)
    assert image_tasks.scrub()["corrupt"] == [str(image.pk)]
    image.refresh_from_db()
    return image


def test_launching_a_corrupt_image_is_a_400_and_nothing_is_made(world, host, corrupt, tiny):
    response = world["member"].post("/servers", create_body(corrupt, tiny), "2.96")
    assert response.status_code == 400
    message = response.json()["badRequest"]["message"]
    assert (
        message.startswith(f"Image {corrupt.pk} is unacceptable: ") and "failed an integrity check" in message
    )
    assert not Instance.objects.exists()


def test_a_build_accepted_before_the_finding_ends_in_error(
    world, host, image, stores_dir, tiny, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = world["member"].post("/servers", create_body(image, tiny), "2.96")
    assert response.status_code == 202
    settings.IMAGE_SCRUB_BYTES_PER_SECOND = 0
    damage(image, stores_dir)
    image_tasks.scrub()
    Deliver(host)(callbacks)
    shown = world["member"].get(f"/servers/{response.json()['server']['id']}", "2.96").json()["server"]
    assert shown["status"] == "ERROR"
    assert "failed an integrity check" in shown["fault"]["message"]
    assert host.cache.cached() == []


def test_a_volume_cannot_be_made_from_a_corrupt_image(world, corrupt, settings, tmp_path):
    settings.VOLUMES_DIR = tmp_path / "volumes"
    body = {"volume": {"size": 1, "imageRef": str(corrupt.pk)}}
    response = VolumeCaller(world["member"]).post("/volumes", body)
    assert response.status_code == 400 and "failed an integrity check" in response.content.decode()


def test_an_image_whose_kernel_is_corrupt_is_refused(world, host, stores_dir, marker_bytes, tiny, settings):
    kernel = upload_image(world["home"].pk, b"MZ kernel " * 512, disk_format="aki", container_format="aki")
    root = upload_image(
        world["home"].pk, marker_bytes, disk_format="ami", container_format="ami",
        properties={"kernel_id": str(kernel.pk)},
    )  # fmt: skip
    settings.IMAGE_SCRUB_BYTES_PER_SECOND = 0
    damage(kernel, stores_dir)
    assert image_tasks.scrub()["corrupt"] == [str(kernel.pk)]
    response = world["member"].post("/servers", create_body(root, tiny), "2.96")
    assert response.status_code == 400
    message = response.json()["badRequest"]["message"]
    assert message.startswith(f"Image kernel_id {kernel.pk} is unacceptable: ")
    assert not Instance.objects.exists()


def test_rebuilding_or_rescuing_with_a_corrupt_image_is_a_400(
    world, host, image, stores_dir, tiny, settings, django_capture_on_commit_callbacks
):
    other = upload_image(world["home"].pk, image_bytes(image, stores_dir), name="other")
    with django_capture_on_commit_callbacks() as callbacks:
        response = world["member"].post("/servers", create_body(other, tiny), "2.96")
    Deliver(host)(callbacks)
    server_id = response.json()["server"]["id"]
    settings.IMAGE_SCRUB_BYTES_PER_SECOND = 0
    damage(image, stores_dir)
    assert image_tasks.scrub()["corrupt"] == [str(image.pk)]
    for body in ({"rebuild": {"imageRef": str(image.pk)}}, {"rescue": {"rescue_image_ref": str(image.pk)}}):
        answer = world["member"].post(f"/servers/{server_id}/action", body, "2.96")
        assert answer.status_code == 400, answer.content
        assert answer.json()["badRequest"]["message"].startswith(f"Image {image.pk} is unacceptable: ")
    assert Instance.objects.get(pk=server_id).vm_state == "active"


def image_bytes(image, stores_dir) -> bytes:
    return (stores_dir / "store" / str(image.pk)).read_bytes()
