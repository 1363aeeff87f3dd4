"""The volume API and Nova's volume attachments on an in-process fake-driver host: create
(empty, from an image), attach as vdc, detach, delete, boot from volume, bad input, quotas."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from images.models import Image
from instances.choices import VolumeStatus
from instances.models import Instance, Volume, VolumeAttachment
from instances.services import volume_sweeper
from tests.instances.api.test_servers import create_body
from tests.instances.conftest import upload_image
from tests.instances.volume_support import Run, VolumeCaller


@pytest.fixture
def vol_dir(settings, tmp_path):
    settings.VOLUMES_DIR = tmp_path / "volumes"
    return settings.VOLUMES_DIR


@pytest.fixture
def cinder(world, vol_dir):
    return {name: VolumeCaller(world[name]) for name in ("member", "reader", "outsider", "admin")}


def create(cinder, capture, host, who="member", **fields) -> dict:
    body = {"volume": {"size": 1, "name": "v1", "imageRef": None, "source_volid": None, **fields}}
    with capture() as callbacks:
        response = cinder[who].post("/volumes", body)
    assert response.status_code == 202, response.content
    assert response.json()["volume"]["status"] == "creating"
    Run(capture, host)(callbacks)
    return response.json()["volume"]


def server(world, host, image, flavor, capture, **extra) -> str:
    with capture() as callbacks:
        response = world["member"].post("/servers", create_body(image, flavor, **extra), "2.96")
    assert response.status_code == 202, response.content
    Run(capture, host)(callbacks)
    return response.json()["server"]["id"]


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_version_discovery_at_both_urls(client):
    for url, status in (("/volume/", 300), ("/volume/v3/", 200)):
        response = client.get(url)
        assert response.status_code == status
        versions = response.json()["versions"]
        assert [(v["id"], v["status"], v["version"], v["min_version"]) for v in versions] == [
            ("v3.0", "CURRENT", "3.71", "3.0")
        ]


def test_an_empty_volume_is_created_listed_shown_and_found_by_name(cinder, capture, host, vol_dir):
    made = create(cinder, capture, host)
    volume = Volume.objects.get(pk=made["id"])
    assert volume.status == VolumeStatus.AVAILABLE
    assert volume.path.is_file() and volume.path.parent == vol_dir
    response = cinder["member"].get(f"/volumes/{made['id']}")
    assert response.headers["OpenStack-API-Version"] == "volume 3.71"
    shown = response.json()["volume"]
    assert (shown["status"], shown["size"], shown["bootable"], shown["attachments"]) == (
        "available",
        1,
        "false",
        [],
    )
    assert cinder["member"].get("/volumes/v1").status_code == 404
    assert [v["id"] for v in cinder["member"].get("/volumes/detail?name=v1").json()["volumes"]] == [
        made["id"]
    ]
    assert cinder["outsider"].get(f"/volumes/{made['id']}").status_code == 404
    assert cinder["reader"].get("/volumes").json()["volumes"][0]["name"] == "v1"
    denied = cinder["reader"].post("/volumes", {"volume": {"size": 1}})
    assert denied.status_code == 403 and "forbidden" in denied.json()
    assert cinder["reader"].delete(f"/volumes/{made['id']}").status_code == 403


def test_a_volume_from_an_image_is_bootable_and_keeps_the_core_properties(cinder, capture, host, image):
    made = create(cinder, capture, host, imageRef=str(image.pk))
    shown = cinder["member"].get(f"/volumes/{made['id']}").json()["volume"]
    assert shown["status"] == "available" and shown["bootable"] == "true"
    meta = shown["volume_image_metadata"]
    assert meta["image_id"] == str(image.pk) and meta["disk_format"] == "raw"
    assert meta["checksum"] == image.checksum and meta["size"] == str(image.size)
    assert {"image_name", "container_format", "min_disk", "min_ram"} <= set(meta)
    assert "volume_image_metadata" not in made  # Cinder adds it to show and list, not to create


@pytest.mark.parametrize(
    ("version", "fields"),
    [
        ("3.0", set()),
        ("3.60", set()),
        ("3.61", {"cluster_name"}),
        ("3.65", {"cluster_name", "consumes_quota"}),
    ],
)
def test_fields_newer_than_3_0_appear_from_their_microversion(cinder, capture, host, version, fields):
    made = create(cinder, capture, host)
    shown = cinder["member"].get(f"/volumes/{made['id']}", HTTP_OPENSTACK_API_VERSION=f"volume {version}")
    assert {"cluster_name", "consumes_quota"} & set(shown.json()["volume"]) == fields


def test_a_size_below_the_images_virtual_size_is_refused_and_nothing_is_made(
    cinder, capture, host, world, stores_dir
):

    big = upload_image(world["home"].pk, b"\0" * (1024**3 + 512), visibility="public")
    response = cinder["member"].post("/volumes", {"volume": {"size": 1, "imageRef": str(big.pk)}})
    assert response.status_code == 400
    assert "larger than volume size 1GB" in response.json()["badRequest"]["message"]
    assert not Volume.objects.exists()


def test_attach_as_vdc_detach_and_the_409_400_cases(world, cinder, capture, host, image, tiny):
    server_id = server(world, host, image, tiny, capture)
    volume_id = create(cinder, capture, host)["id"]
    with capture() as callbacks:
        response = world["member"].post(
            f"/servers/{server_id}/os-volume_attachments",
            {"volumeAttachment": {"volumeId": volume_id, "device": None}},
        )
    assert response.status_code == 200, response.content
    assert response.json()["volumeAttachment"] == {
        "id": volume_id,
        "serverId": server_id,
        "volumeId": volume_id,
        "device": "/dev/vdc",
    }
    assert Volume.objects.get(pk=volume_id).status == VolumeStatus.ATTACHING
    assert Run(capture, host)(callbacks) == ["instances.attach_volume"]
    assert Volume.objects.get(pk=volume_id).status == VolumeStatus.IN_USE
    spec = host.driver.saved_spec(server_id)
    assert spec.disk("vdc").path == str(Volume.objects.get(pk=volume_id).path)
    shown = cinder["member"].get(f"/volumes/{volume_id}").json()["volume"]
    assert shown["status"] == "in-use"
    assert (
        shown["attachments"][0]["server_id"] == server_id and shown["attachments"][0]["device"] == "/dev/vdc"
    )

    # In use: a second attach and a delete are refused, and nothing changes.
    other = server(world, host, image, tiny, capture, name="vm2")
    again = world["member"].post(
        f"/servers/{other}/os-volume_attachments", {"volumeAttachment": {"volumeId": volume_id}}
    )
    assert again.status_code == 400 and "must be available" in again.json()["badRequest"]["message"]
    gone = cinder["member"].delete(f"/volumes/{volume_id}")
    assert gone.status_code == 400 and "attached" in gone.json()["badRequest"]["message"]
    extend = cinder["member"].post(f"/volumes/{volume_id}/action", {"os-extend": {"new_size": 2}})
    assert extend.status_code == 400
    volume = Volume.objects.get(pk=volume_id)
    assert (volume.status, volume.size, VolumeAttachment.objects.count()) == (VolumeStatus.IN_USE, 1, 1)

    listed = world["member"].get(f"/servers/{server_id}/os-volume_attachments", "2.89").json()
    assert listed["volumeAttachments"][0]["delete_on_termination"] is False
    with capture() as callbacks:
        response = world["member"].delete(f"/servers/{server_id}/os-volume_attachments/{volume_id}")
    assert response.status_code == 202
    Run(capture, host)(callbacks)
    assert Volume.objects.get(pk=volume_id).status == VolumeStatus.AVAILABLE
    assert host.driver.saved_spec(server_id).disk("vdc") is None
    assert not VolumeAttachment.objects.exists()


def test_deleting_an_instance_keeps_its_volume_available_unless_delete_on_termination(
    world, cinder, capture, host, image, tiny
):
    server_id = server(world, host, image, tiny, capture)
    keep = create(cinder, capture, host, name="keep")["id"]
    drop = create(cinder, capture, host, name="drop")["id"]
    for volume_id, flag in ((keep, False), (drop, True)):
        with capture() as callbacks:
            response = world["member"].post(
                f"/servers/{server_id}/os-volume_attachments",
                {"volumeAttachment": {"volumeId": volume_id, "delete_on_termination": flag}},
                "2.79",
            )
        assert response.status_code == 200, response.content
        Run(capture, host)(callbacks)
    devices = sorted(VolumeAttachment.objects.values_list("device", flat=True))
    assert devices == ["vdc", "vdd"]
    dropped_path = Volume.objects.get(pk=drop).path
    with capture() as callbacks:
        assert world["member"].delete(f"/servers/{server_id}").status_code == 204
    Run(capture, host)(callbacks)
    assert Instance.objects.get(pk=server_id).deleted
    assert Volume.objects.get(pk=keep).status == VolumeStatus.AVAILABLE
    assert Volume.objects.get(pk=keep).path.is_file()
    assert Volume.objects.get(pk=drop).deleted and not dropped_path.exists()
    assert cinder["member"].get(f"/volumes/{drop}").status_code == 404


def test_boot_from_a_new_volume_made_from_the_image(world, cinder, capture, host, image, tiny):
    bdm = [
        {
            "uuid": str(image.pk),
            "source_type": "image",
            "destination_type": "volume",
            "boot_index": 0,
            "volume_size": 1,
            "delete_on_termination": True,
        }
    ]
    server_id = server(world, host, image, tiny, capture, imageRef="", block_device_mapping_v2=bdm)
    shown = world["member"].get(f"/servers/{server_id}", "2.96").json()["server"]
    assert shown["status"] == "ACTIVE" and shown["image"] == ""
    attachment = VolumeAttachment.objects.get(instance_id=server_id)
    volume = attachment.volume
    assert (attachment.device, volume.status, volume.bootable) == ("vda", VolumeStatus.IN_USE, True)
    assert host.driver.saved_spec(server_id).disk("vda").path == str(volume.path)
    refused = world["member"].delete(f"/servers/{server_id}/os-volume_attachments/{volume.pk}")
    assert refused.status_code == 400
    with capture() as callbacks:
        world["member"].delete(f"/servers/{server_id}")
    Run(capture, host)(callbacks)
    volume.refresh_from_db()
    assert volume.deleted and not volume.path.exists()


def test_boot_from_an_existing_bootable_volume_keeps_it_after_the_delete(
    world, cinder, capture, host, image, tiny
):
    volume_id = create(cinder, capture, host, imageRef=str(image.pk), size=1)["id"]
    bdm = [{"uuid": volume_id, "source_type": "volume", "destination_type": "volume", "boot_index": 0}]
    server_id = server(world, host, image, tiny, capture, imageRef="", block_device_mapping_v2=bdm)
    assert world["member"].get(f"/servers/{server_id}", "2.96").json()["server"]["status"] == "ACTIVE"
    assert Volume.objects.get(pk=volume_id).status == VolumeStatus.IN_USE
    with capture() as callbacks:
        world["member"].delete(f"/servers/{server_id}")
    Run(capture, host)(callbacks)
    assert Volume.objects.get(pk=volume_id).status == VolumeStatus.AVAILABLE


def test_extend_update_bootable_and_upload_to_image(cinder, capture, host, world, stores_dir):

    volume_id = create(cinder, capture, host)["id"]
    with capture() as callbacks:
        response = cinder["member"].post(f"/volumes/{volume_id}/action", {"os-extend": {"new_size": 2}})
    assert response.status_code == 202
    Run(capture, host)(callbacks)
    assert Volume.objects.get(pk=volume_id).size == 2
    renamed = cinder["member"].put(f"/volumes/{volume_id}", {"volume": {"name": "data", "description": "d"}})
    assert renamed.json()["volume"]["name"] == "data"
    response = cinder["member"].post(f"/volumes/{volume_id}/action", {"os-set_bootable": {"bootable": True}})
    assert response.status_code == 200 and Volume.objects.get(pk=volume_id).bootable
    with capture() as callbacks:
        response = cinder["member"].post(
            f"/volumes/{volume_id}/action",
            {"os-volume_upload_image": {"image_name": "from-vol", "disk_format": "qcow2"}},
        )
    assert response.status_code == 202, response.content
    image_id = response.json()["os-volume_upload_image"]["image_id"]
    Run(capture, host)(callbacks)
    image = Image.objects.get(pk=image_id)
    assert (image.status, image.disk_format, image.virtual_size) == ("active", "qcow2", 2 * 1024**3)
    assert Volume.objects.get(pk=volume_id).status == VolumeStatus.AVAILABLE


def test_quota_limits_and_quota_sets(cinder, capture, host, world, settings):
    settings.VOLUME_QUOTA_GIGABYTES = 3
    create(cinder, capture, host, size=2)
    over = cinder["member"].post("/volumes", {"volume": {"size": 2}})
    assert over.status_code == 413 and "VolumeSizeExceedsAvailableQuota" in over.content.decode()
    assert Volume.objects.count() == 1
    absolute = cinder["member"].get("/limits").json()["limits"]["absolute"]
    assert (absolute["maxTotalVolumeGigabytes"], absolute["totalGigabytesUsed"]) == (3, 2)
    project = world["home"].pk
    response = cinder["admin"].put(f"/os-quota-sets/{project}", {"quota_set": {"gigabytes": 10}})
    assert response.status_code == 200 and response.json()["quota_set"]["gigabytes"] == 10
    assert (
        cinder["member"].put(f"/os-quota-sets/{project}", {"quota_set": {"volumes": 99}}).status_code == 403
    )
    assert cinder["member"].post("/volumes", {"volume": {"size": 2}}).status_code == 202
    below = cinder["admin"].put(f"/os-quota-sets/{project}", {"quota_set": {"gigabytes": 3, "volumes": 5}})
    assert below.status_code == 400
    assert "Quota limit 3 for gigabytes must be greater than or equal to already used and reserved 4." in (
        below.content.decode()
    )
    assert cinder["admin"].get(f"/os-quota-sets/{project}").json()["quota_set"]["volumes"] == 10


def test_the_volume_list_costs_the_same_queries_for_many_volumes(world, cinder, capture, host, image, tiny):
    server_id = server(world, host, image, tiny, capture)
    first = create(cinder, capture, host)["id"]
    with capture() as callbacks:
        world["member"].post(
            f"/servers/{server_id}/os-volume_attachments", {"volumeAttachment": {"volumeId": first}}
        )
    Run(capture, host)(callbacks)
    with CaptureQueriesContext(connection) as few:
        assert len(cinder["member"].get("/volumes/detail").json()["volumes"]) == 1
    for index in range(5):
        create(cinder, capture, host, name=f"v{index}")
    with CaptureQueriesContext(connection) as many:
        assert len(cinder["member"].get("/volumes/detail").json()["volumes"]) == 6
    assert len(many) == len(few)


def test_the_sweeper_settles_volumes_stuck_in_transitional_states(world, cinder, capture, host, settings):

    stuck = create(cinder, capture, host)["id"]
    with capture():
        cinder["member"].post(f"/volumes/{stuck}/action", {"os-extend": {"new_size": 3}})
    creating = cinder["member"].post("/volumes", {"volume": {"size": 1}}).json()["volume"]["id"]
    assert volume_sweeper.sweep() == {"errored": 0, "reverted": 0}
    later = timezone.now() + timedelta(seconds=settings.VOLUME_TASK_TIMEOUT + 1)
    assert volume_sweeper.sweep(now=later) == {"errored": 1, "reverted": 1}
    assert Volume.objects.get(pk=stuck).status == VolumeStatus.AVAILABLE
    assert Volume.objects.get(pk=stuck).size == 1
    assert Volume.objects.get(pk=creating).status == VolumeStatus.ERROR


def test_servers_show_their_volumes_with_a_constant_query_count(world, cinder, capture, host, image, tiny):
    def boot(delete: bool) -> tuple[str, str]:
        bdm = [
            {
                "uuid": str(image.pk),
                "source_type": "image",
                "destination_type": "volume",
                "boot_index": 0,
                "volume_size": 1,
                "delete_on_termination": delete,
            }
        ]
        server_id = server(world, host, image, tiny, capture, imageRef="", block_device_mapping_v2=bdm)
        return server_id, str(VolumeAttachment.objects.get(instance_id=server_id).volume_id)

    server_id, volume_id = boot(True)
    old = world["member"].get(f"/servers/{server_id}", "2.1").json()["server"]
    assert old["os-extended-volumes:volumes_attached"] == [{"id": volume_id}]
    new = world["member"].get(f"/servers/{server_id}", "2.3").json()["server"]
    assert new["os-extended-volumes:volumes_attached"] == [{"id": volume_id, "delete_on_termination": True}]
    with CaptureQueriesContext(connection) as one:
        assert world["member"].get("/servers/detail", "2.96").status_code == 200
    kept = [boot(False) for _ in range(3)]
    with CaptureQueriesContext(connection) as many:
        listed = world["member"].get("/servers/detail", "2.96").json()["servers"]
    assert len(many) == len(one)
    attached = {s["id"]: s["os-extended-volumes:volumes_attached"] for s in listed}
    assert attached[kept[0][0]] == [{"id": kept[0][1], "delete_on_termination": False}]
    assert len(attached) == 4


def test_a_locked_server_refuses_a_members_volume_attach_and_detach(
    world, cinder, capture, host, image, tiny
):
    server_id = server(world, host, image, tiny, capture)
    volume_id = create(cinder, capture, host)["id"]
    body = {"volumeAttachment": {"volumeId": volume_id}}
    Instance.objects.filter(pk=server_id).update(locked=True, locked_by="owner")
    refused = world["member"].post(f"/servers/{server_id}/os-volume_attachments", body)
    assert refused.status_code == 409
    assert refused.json()["conflictingRequest"]["message"] == f"Instance {server_id} is locked"
    assert Volume.objects.get(pk=volume_id).status == VolumeStatus.AVAILABLE
    with capture() as callbacks:
        assert world["admin"].post(f"/servers/{server_id}/os-volume_attachments", body).status_code == 200
    Run(capture, host)(callbacks)
    detach = world["member"].delete(f"/servers/{server_id}/os-volume_attachments/{volume_id}")
    assert detach.status_code == 409
    assert Volume.objects.get(pk=volume_id).status == VolumeStatus.IN_USE


def test_the_summary_counts_the_project_s_volumes_from_3_12(cinder, capture, host):
    create(cinder, capture, host, size=1, metadata={"tier": "gold"})
    create(cinder, capture, host, size=2, metadata={"tier": "silver"})
    old = cinder["member"].get("/volumes/summary", HTTP_OPENSTACK_API_VERSION="volume 3.11")
    assert old.status_code == 404
    summary = cinder["member"].get("/volumes/summary").json()["volume-summary"]
    assert (summary["total_size"], summary["total_count"]) == (3, 2)
    assert sorted(summary["metadata"]["tier"]) == ["gold", "silver"]
    assert cinder["outsider"].get("/volumes/summary").json()["volume-summary"]["total_count"] == 0


def test_the_availability_zones_of_volumes(cinder):
    zones = cinder["reader"].get("/os-availability-zone").json()["availabilityZoneInfo"]
    assert zones == [{"zoneName": "nova", "zoneState": {"available": True}}]
