"""Shelve, shelve-offload and unshelve through the compute API, on in-process fake-driver hosts:
the status sequence, the snapshot, what the host gives back, the 409s, policies and quota."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from images.models import Image
from instances.choices import TaskState, VmState
from instances.compute import agent
from instances.models import ComputeHost, Instance, InstanceAction, PortForward, VolumeAttachment
from instances.services import quotas
from instances.virt import disks
from tests.instances.api.test_servers import act, create_body, launch
from tests.instances.conftest import Deliver, make_host
from tests.instances.volume_support import Run


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def usage(name: str) -> tuple[int, int, int]:
    row = ComputeHost.objects.get(name=name)
    return row.vcpus_used, row.memory_mb_used, row.local_gb_used


def shown(world, server_id, who="member", version="2.96") -> dict:
    return world[who].get(f"/servers/{server_id}", version).json()["server"]


def test_shelve_snapshots_then_offloads_at_once_and_the_host_gives_everything_back(
    world, host, image, tiny, capture, settings
):
    settings.COMPUTE_SHELVED_OFFLOAD_TIME = 0
    server_id = launch(world, host, image, tiny, capture)
    PortForward.objects.create(
        instance_id=server_id,
        host=ComputeHost.objects.get(name="host1"),
        bind_address="127.0.0.1",
        host_port=2222,
    )
    assert usage("host1") == (1, 128, 2)

    with capture() as callbacks:
        response = world["member"].post(f"/servers/{server_id}/action", {"shelve": None}, "2.96")
    assert response.status_code == 202
    mid = shown(world, server_id)
    assert (mid["status"], mid["OS-EXT-STS:task_state"]) == ("ACTIVE", "shelving")
    Deliver(host)(callbacks)

    after = shown(world, server_id, who="admin")
    assert after["status"] == "SHELVED_OFFLOADED"
    assert after["OS-EXT-STS:vm_state"] == "shelved_offloaded"
    assert after["OS-EXT-STS:task_state"] is None
    assert after["OS-EXT-STS:power_state"] == 4
    assert after["OS-EXT-SRV-ATTR:host"] is None
    assert usage("host1") == (0, 0, 0)
    assert not host.disk_paths(server_id)["vda"].exists()
    assert server_id not in host.driver.list_defined()
    assert not PortForward.objects.filter(instance_id=server_id).exists()

    instance = Instance.objects.get(pk=server_id)
    snap = Image.objects.get(pk=instance.shelved_image_id)
    assert snap.name == "vm1-shelved" and snap.status == "active"
    assert snap.properties["instance_uuid"] == server_id
    assert snap.properties["image_type"] == "snapshot"
    assert instance.shelved_at is not None
    # Nova keeps counting a shelved-offloaded server's instances, cores and ram.
    assert quotas.usage_of(world["home"].pk) == quotas.Usage(instances=1, cores=1, ram=128)
    entry = InstanceAction.objects.get(instance=instance, action="shelve")
    assert entry.result == "Success"


def test_unshelve_schedules_again_boots_the_snapshot_and_deletes_it(world, host, image, tiny, capture):
    server_id = launch(world, host, image, tiny, capture)
    act(world, host, server_id, {"shelve": None}, capture)
    instance = Instance.objects.get(pk=server_id)
    snap_id = instance.shelved_image_id
    assert instance.vm_state == VmState.SHELVED_OFFLOADED

    with capture() as callbacks:
        response = world["member"].post(f"/servers/{server_id}/action", {"unshelve": None}, "2.96")
    assert response.status_code == 202
    mid = shown(world, server_id, who="admin")
    assert (mid["status"], mid["OS-EXT-STS:task_state"]) == ("SHELVED_OFFLOADED", "unshelving")
    assert mid["OS-EXT-SRV-ATTR:host"] == "host1"
    assert usage("host1") == (1, 128, 2)  # claimed in the request, before the host works
    assert Deliver(host)(callbacks) == ["instances.unshelve"]

    back = shown(world, server_id)
    assert (back["status"], back["OS-EXT-STS:power_state"]) == ("ACTIVE", 1)
    assert server_id in host.driver.list_running()
    root = host.disk_paths(server_id)["vda"]
    assert root.is_file()
    assert Image.objects.get(pk=snap_id).status == "deleted"
    instance.refresh_from_db()
    assert instance.shelved_image_id == "" and instance.shelved_at is None
    assert InstanceAction.objects.get(instance=instance, action="unshelve").result == "Success"
    # The root disk is a standalone copy, with nothing of the deleted snapshot behind it.
    assert disks.info(root, "qcow2").backing_file in (None, "")


def test_a_shelved_instance_keeps_its_host_until_the_periodic_offload_and_unshelves_in_place(
    world, host, image, tiny, capture, settings
):
    settings.COMPUTE_SHELVED_OFFLOAD_TIME = 3600
    server_id = launch(world, host, image, tiny, capture)
    act(world, host, server_id, {"shelve": None}, capture)
    after = shown(world, server_id, who="admin")
    assert (after["status"], after["OS-EXT-SRV-ATTR:host"]) == ("SHELVED", "host1")
    assert usage("host1") == (1, 128, 2)
    assert host.offload_shelved() == []  # not due yet

    # A SHELVED (not offloaded) instance unshelves on its own host; a zone is refused (2.77).
    response = world["member"].post(
        f"/servers/{server_id}/action", {"unshelve": {"availability_zone": "nova"}}, "2.77"
    )
    assert response.status_code == 409
    act(world, host, server_id, {"unshelve": None}, capture)
    assert shown(world, server_id)["status"] == "ACTIVE"

    act(world, host, server_id, {"shelve": None}, capture)
    Instance.objects.filter(pk=server_id).update(shelved_at=timezone.now() - timedelta(seconds=3601))
    assert host.offload_shelved() == [server_id]
    assert shown(world, server_id)["status"] == "SHELVED_OFFLOADED"
    assert usage("host1") == (0, 0, 0)


def test_shelve_offload_is_for_admins_and_only_from_shelved(world, host, image, tiny, capture, settings):
    settings.COMPUTE_SHELVED_OFFLOAD_TIME = -1
    server_id = launch(world, host, image, tiny, capture)
    response = act(world, host, server_id, {"shelveOffload": None}, capture, who="admin")
    assert response.status_code == 409
    assert response.json()["conflictingRequest"]["message"] == (
        f"Cannot 'shelveOffload' instance {server_id} while it is in vm_state active"
    )
    act(world, host, server_id, {"shelve": None}, capture)
    assert shown(world, server_id)["status"] == "SHELVED"
    assert host.offload_shelved() == []  # -1: never by itself
    assert act(world, host, server_id, {"shelveOffload": None}, capture).status_code == 403
    assert act(world, host, server_id, {"shelveOffload": None}, capture, who="admin").status_code == 202
    assert shown(world, server_id)["status"] == "SHELVED_OFFLOADED"
    assert usage("host1") == (0, 0, 0)
    assert InstanceAction.objects.get(instance_id=server_id, action="shelveOffload").result == "Success"


def test_wrong_states_are_409_in_novas_words_and_policies_apply(world, host, image, tiny, capture):
    server_id = launch(world, host, image, tiny, capture)
    response = act(world, host, server_id, {"unshelve": None}, capture)
    assert response.status_code == 409
    assert response.json()["conflictingRequest"]["message"] == (
        f"Cannot 'unshelve' instance {server_id} while it is in vm_state active"
    )
    assert act(world, host, server_id, {"shelve": None}, capture, who="reader").status_code == 403
    assert act(world, host, server_id, {"shelve": None}, capture, who="outsider").status_code == 404
    assert act(world, host, server_id, {"shelve": {"x": 1}}, capture).status_code == 400
    act(world, host, server_id, {"shelve": None}, capture)
    again = act(world, host, server_id, {"shelve": None}, capture)
    assert again.status_code == 409
    assert again.json()["conflictingRequest"]["message"] == (
        f"Cannot 'shelve' instance {server_id} while it is in vm_state shelved_offloaded"
    )
    assert act(world, host, server_id, {"os-start": None}, capture).status_code == 409
    # An availability zone needs 2.77; an unknown zone is a 400.
    assert (
        act(
            world, host, server_id, {"unshelve": {"availability_zone": "nova"}}, capture, version="2.76"
        ).status_code
        == 400
    )
    assert (
        act(
            world, host, server_id, {"unshelve": {"availability_zone": "mars"}}, capture, version="2.77"
        ).status_code
        == 400
    )
    assert act(world, host, server_id, {"unshelve": None}, capture, who="reader").status_code == 403
    # Listing by the new statuses works.
    listed = world["member"].get("/servers/detail?status=SHELVED_OFFLOADED").json()["servers"]
    assert [s["id"] for s in listed] == [server_id]


def test_unshelve_goes_to_the_zone_asked_for_and_stays_offloaded_when_no_host_has_room(
    world, host, image, tiny, capture, tmp_path
):
    other = make_host(tmp_path, "host2", zone="east")
    deliver = Deliver(host, other)
    server_id = launch(world, host, image, tiny, capture)
    act(world, host, server_id, {"shelve": None}, capture)

    ComputeHost.objects.filter(name="host2").update(enabled=False)
    with capture() as callbacks:
        response = world["member"].post(
            f"/servers/{server_id}/action", {"unshelve": {"availability_zone": "east"}}, "2.77"
        )
    assert response.status_code == 202 and callbacks == []
    instance = Instance.objects.get(pk=server_id)
    assert (instance.vm_state, instance.task_state, instance.host_id) == (
        VmState.SHELVED_OFFLOADED,
        TaskState.NONE,
        None,
    )
    assert instance.fault_message.startswith("No valid host was found")
    assert InstanceAction.objects.get(instance=instance, action="unshelve").result == "Error"

    ComputeHost.objects.filter(name="host2").update(enabled=True)
    with capture() as callbacks:
        response = world["member"].post(
            f"/servers/{server_id}/action", {"unshelve": {"availability_zone": "east"}}, "2.77"
        )
    assert response.status_code == 202
    deliver(callbacks)
    back = shown(world, server_id, who="admin")
    assert (back["status"], back["OS-EXT-SRV-ATTR:host"], back["OS-EXT-AZ:availability_zone"]) == (
        "ACTIVE",
        "host2",
        "east",
    )
    assert usage("host2") == (1, 128, 2) and usage("host1") == (0, 0, 0)


def test_deleting_a_shelved_offloaded_instance_deletes_its_snapshot(world, host, image, tiny, capture):
    server_id = launch(world, host, image, tiny, capture)
    act(world, host, server_id, {"shelve": None}, capture)
    snap_id = Instance.objects.get(pk=server_id).shelved_image_id
    with capture(execute=True):
        assert world["member"].delete(f"/servers/{server_id}").status_code == 204
    assert Instance.objects.get(pk=server_id).deleted
    assert Image.objects.get(pk=snap_id).status == "deleted"


def test_an_agent_restarted_during_an_offload_finishes_it_and_the_sweeper_lets_go_of_a_dead_host(
    world, host, image, tiny, capture, settings
):
    settings.COMPUTE_SHELVED_OFFLOAD_TIME = -1
    server_id = launch(world, host, image, tiny, capture)
    act(world, host, server_id, {"shelve": None}, capture)
    with capture():  # the offload task is lost with the agent
        world["admin"].post(f"/servers/{server_id}/action", {"shelveOffload": None}, "2.96")
    assert Instance.objects.get(pk=server_id).task_state == TaskState.SHELVING_OFFLOADING
    agent.heal(host)
    instance = Instance.objects.get(pk=server_id)
    assert (instance.vm_state, instance.host_id) == (VmState.SHELVED_OFFLOADED, None)
    assert usage("host1") == (0, 0, 0)

    second = launch(world, host, image, tiny, capture, name="vm2")
    act(world, host, second, {"shelve": None}, capture)
    with capture():
        world["admin"].post(f"/servers/{second}/action", {"shelveOffload": None}, "2.96")
    ComputeHost.objects.filter(name="host1").update(last_heartbeat=None)
    Instance.objects.filter(pk=second).update(task_started_at=timezone.now() - timedelta(hours=2))
    assert agent.sweep_stuck()["offloaded"] == 1
    assert Instance.objects.get(pk=second).vm_state == VmState.SHELVED_OFFLOADED
    assert usage("host1") == (0, 0, 0)


def test_a_volume_backed_instance_shelves_without_a_snapshot_and_unshelves_from_its_volume(
    world, host, image, tiny, capture, settings, tmp_path
):
    settings.VOLUMES_DIR = tmp_path / "volumes"
    settings.COMPUTE_SHELVED_OFFLOAD_TIME = -1  # volume-backed: offloaded at once all the same
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
    with capture() as callbacks:
        response = world["member"].post(
            "/servers", create_body(image, tiny, imageRef="", block_device_mapping_v2=bdm), "2.96"
        )
    assert response.status_code == 202, response.content
    Run(capture, host)(callbacks)
    server_id = response.json()["server"]["id"]
    images_before = Image.objects.count()
    volume = VolumeAttachment.objects.get(instance_id=server_id).volume

    with capture() as callbacks:
        assert world["member"].post(f"/servers/{server_id}/action", {"shelve": None}).status_code == 202
    Run(capture, host)(callbacks)
    instance = Instance.objects.get(pk=server_id)
    assert instance.vm_state == VmState.SHELVED_OFFLOADED and instance.host is None
    assert instance.shelved_image_id == "" and Image.objects.count() == images_before
    assert volume.path.exists()
    assert usage("host1") == (0, 0, 0)

    with capture() as callbacks:
        assert world["member"].post(f"/servers/{server_id}/action", {"unshelve": None}).status_code == 202
    Run(capture, host)(callbacks)
    assert shown(world, server_id)["status"] == "ACTIVE"
    assert host.driver.saved_spec(server_id).disk("vda").path == str(volume.path)


def test_an_unshelve_interrupted_by_an_agent_restart_ends_in_error_not_forever(
    world, host, image, tiny, capture
):
    server_id = launch(world, host, image, tiny, capture)
    act(world, host, server_id, {"shelve": None}, capture)
    with capture():  # the unshelve task is lost with the agent
        assert world["member"].post(f"/servers/{server_id}/action", {"unshelve": None}).status_code == 202
    assert Instance.objects.get(pk=server_id).task_state == TaskState.UNSHELVING
    assert agent.heal(host)["errored"] == 1
    instance = Instance.objects.get(pk=server_id)
    assert (instance.vm_state, instance.task_state) == (VmState.ERROR, TaskState.NONE)
    assert "unshelved" in instance.fault_message
    assert InstanceAction.objects.get(instance=instance, action="unshelve").result == "Error"
    # Its claim is still held by the host it was scheduled to, and a delete gives it back.
    assert usage("host1") == (1, 128, 2)
    with capture() as callbacks:
        assert world["member"].delete(f"/servers/{server_id}").status_code == 204
    Deliver(host)(callbacks)
    assert usage("host1") == (0, 0, 0)


def test_an_admin_unshelves_onto_a_named_host_from_2_91(world, host, image, tiny, capture, tmp_path):
    other = make_host(tmp_path, "host2", zone="east")
    deliver = Deliver(host, other)
    server_id = launch(world, host, image, tiny, capture)
    act(world, host, server_id, {"shelve": None}, capture)

    def unshelve(where, who="admin", version="2.91"):
        with capture() as callbacks:
            response = world[who].post(f"/servers/{server_id}/action", {"unshelve": where}, version)
        deliver(callbacks)
        return response

    refused = unshelve({"host": "host2"}, version="2.90")
    assert refused.status_code == 400 and "host unexpected" in refused.json()["badRequest"]["message"]
    assert unshelve({"availability_zone": None}, version="2.90").status_code == 400
    assert unshelve({"host": "host2"}, who="member").status_code == 403  # a host is for admins
    missing = unshelve({"host": "host9"})
    assert missing.json()["badRequest"]["message"] == "Compute host host9 could not be found."
    elsewhere = unshelve({"host": "host2", "availability_zone": "nova"})
    assert elsewhere.json()["badRequest"]["message"] == 'Host "host2" is not in the availability zone "nova".'
    assert unshelve({"host": ""}).status_code == 400
    assert Instance.objects.get(pk=server_id).vm_state == VmState.SHELVED_OFFLOADED

    assert unshelve({"host": "host2", "availability_zone": None}).status_code == 202
    back = shown(world, server_id, who="admin")
    assert (back["status"], back["OS-EXT-SRV-ATTR:host"], back["OS-EXT-AZ:availability_zone"]) == (
        "ACTIVE",
        "host2",
        "east",
    )
    assert usage("host2") == (1, 128, 2) and usage("host1") == (0, 0, 0)
    # Only a shelved offloaded server goes to a host.
    with capture() as callbacks:
        world["admin"].post(f"/servers/{server_id}/action", {"shelve": None}, "2.91")
    deliver(callbacks)
    Instance.objects.filter(pk=server_id).update(
        vm_state=VmState.SHELVED, host=ComputeHost.objects.get(name="host2")
    )
    conflict = unshelve({"host": "host1"})
    assert conflict.status_code == 409 and "to a host while it is in vm_state shelved" in conflict.text


def test_a_member_may_unpin_the_zone_from_2_91(world, host, image, tiny, capture):
    server_id = launch(world, host, image, tiny, capture)
    act(world, host, server_id, {"shelve": None}, capture)
    response = act(world, host, server_id, {"unshelve": {"availability_zone": None}}, capture, version="2.91")
    assert response.status_code == 202
    assert shown(world, server_id)["status"] == "ACTIVE"
