"""Nova's OS-DCF:diskConfig (AUTO or MANUAL, at create, update, rebuild and resize, and the image's
auto_disk_config property) and the guest host name asked for at create or update (2.90+)."""

from __future__ import annotations

import json

import pytest

from images.models import Image
from instances.models import Instance
from instances.services.guest_metadata import document
from instances.virt.bootsector import build_boot_image
from tests.instances.api.test_server_resize_rebuild_rescue import act, launch, show
from tests.instances.conftest import upload_image


@pytest.fixture
def other_image(world, stores_dir, tmp_path):
    data = build_boot_image(tmp_path / "other.raw", "STRATUS-MARKER other").read_bytes()
    return upload_image(world["home"].pk, data, name="other", visibility="public")


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_auto_disk_config_is_kept_at_create_and_changed_by_update_rebuild_and_resize(
    world, host, image, other_image, tiny, capture
):
    server_id = launch(world, capture, image, tiny, host, **{"OS-DCF:diskConfig": "AUTO"})
    assert Instance.objects.get(pk=server_id).auto_disk_config is True
    assert show(world, server_id)["OS-DCF:diskConfig"] == "AUTO"
    response = world["member"].put(
        f"/servers/{server_id}", {"server": {"OS-DCF:diskConfig": "MANUAL"}}, "2.96"
    )
    assert response.status_code == 200 and response.json()["server"]["OS-DCF:diskConfig"] == "MANUAL"
    body = {"rebuild": {"imageRef": str(other_image.pk), "OS-DCF:diskConfig": "AUTO"}}
    response, _ = act(world, capture, server_id, body, host)
    assert response.status_code == 202 and response.json()["server"]["OS-DCF:diskConfig"] == "AUTO"
    assert show(world, server_id)["OS-DCF:diskConfig"] == "AUTO"
    refused = world["member"].post(
        f"/servers/{server_id}/action", {"rebuild": {"imageRef": str(image.pk), "OS-DCF:diskConfig": "x"}}
    )
    assert refused.status_code == 400
    assert Instance.objects.get(pk=server_id).auto_disk_config is True


def test_the_image_property_sets_the_default_and_can_forbid_auto(world, host, image, tiny, capture):
    Image.objects.filter(pk=image.pk).update(properties={**image.properties, "auto_disk_config": "True"})
    server_id = launch(world, capture, Image.objects.get(pk=image.pk), tiny, host)
    assert show(world, server_id)["OS-DCF:diskConfig"] == "AUTO"
    Image.objects.filter(pk=image.pk).update(properties={**image.properties, "auto_disk_config": "disabled"})
    body = {
        "server": {
            "name": "vm2",
            "imageRef": str(image.pk),
            "flavorRef": tiny.pk,
            "networks": "none",
            "OS-DCF:diskConfig": "AUTO",
        }
    }
    response = world["member"].post("/servers", body, "2.96")
    assert response.status_code == 400 and "automatic disk resize disabled" in response.content.decode()
    assert Instance.objects.count() == 1
    manual = launch(world, capture, image, tiny, host, name="vm3", **{"OS-DCF:diskConfig": "MANUAL"})
    assert show(world, manual)["OS-DCF:diskConfig"] == "MANUAL"


def test_the_hostname_asked_for_is_the_guests_and_can_be_changed(world, host, image, tiny, capture):
    fqdn = "x" * 52 + "-guest-test.domaintest.com"
    server_id = launch(world, capture, image, tiny, host, name="Web 1", hostname=fqdn)
    instance = Instance.objects.get(pk=server_id)
    assert instance.hostname == fqdn
    admin_view = world["admin"].get(f"/servers/{server_id}", "2.96").json()["server"]
    assert admin_view["OS-EXT-SRV-ATTR:hostname"] == fqdn
    meta = json.loads(document(instance, "/openstack/latest/meta_data.json")[1])
    assert meta["hostname"] == fqdn and meta["name"] == "Web 1"
    response = world["member"].put(f"/servers/{server_id}", {"server": {"hostname": "db-1"}}, "2.90")
    assert response.status_code == 200
    assert Instance.objects.get(pk=server_id).hostname == "db-1"
    too_long = world["member"].put(f"/servers/{server_id}", {"server": {"hostname": fqdn}}, "2.93")
    assert too_long.status_code == 400
    assert Instance.objects.get(pk=server_id).hostname == "db-1"
