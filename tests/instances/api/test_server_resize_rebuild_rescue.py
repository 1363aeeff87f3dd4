"""Resize (confirm, revert, auto-confirm), rebuild and rescue through the servers API, on in-process
compute hosts with the fake driver: the state machine, the claims on both hosts, the disks, the
400s and 409s, and the Action Log."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from flavors import services
from images.models import Image
from instances.choices import PowerState, TaskState, VmState
from instances.compute import agent
from instances.models import ComputeHost, Instance, InstanceAction, InstanceSizeChange
from instances.services import quotas, resize
from instances.virt import disks
from instances.virt.base import VirtError
from tests.instances.api.test_servers import create_body
from tests.instances.bootimage import build_boot_image
from tests.instances.conftest import Deliver, make_host, upload_image

GiB = 1024**3


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def small(db):
    return services.create_flavor(name="t.small", vcpus=2, ram=256, disk=2, ephemeral=2, swap=32)


@pytest.fixture
def host2(host, tmp_path):
    return make_host(tmp_path, "host2")


def deliver(capture, callbacks, *managers) -> list[str]:
    """Run the enqueued tasks and the tasks they enqueue in turn, as the hosts' agents would."""
    ran, pending = [], list(callbacks)
    while pending:
        with capture() as more:
            ran += Deliver(*managers)(pending)
        pending = list(more)
    return ran


def launch(world, capture, image, flavor, *managers, **extra) -> str:
    with capture() as callbacks:
        response = world["member"].post("/servers", create_body(image, flavor, **extra), "2.96")
    assert response.status_code == 202, response.content
    deliver(capture, callbacks, *managers)
    return response.json()["server"]["id"]


def act(world, capture, server_id, body, *managers, who="member", version="2.96"):
    with capture() as callbacks:
        response = world[who].post(f"/servers/{server_id}/action", body, version)
    ran = deliver(capture, callbacks, *managers)
    return response, ran


def show(world, server_id, version="2.96") -> dict:
    return world["member"].get(f"/servers/{server_id}", version).json()["server"]


def usage(name: str) -> tuple[int, int, int]:
    row = ComputeHost.objects.get(name=name)
    return row.vcpus_used, row.memory_mb_used, row.local_gb_used


def actions(server_id) -> list[tuple[str, str]]:
    rows = InstanceAction.objects.filter(instance_id=server_id).order_by("start_time", "id")
    return list(rows.values_list("action", "result"))


# --- resize -------------------------------------------------------------------------------------


def test_resize_moves_to_another_host_and_confirm_releases_the_old_one(
    world, host, host2, image, tiny, small, capture
):
    server_id = launch(world, capture, image, tiny, host, host2)
    assert Instance.objects.get(pk=server_id).host.name == "host1"

    response, ran = act(world, capture, server_id, {"resize": {"flavorRef": small.pk}}, host, host2)
    assert response.status_code == 202, response.content
    assert ran == ["instances.resize", "instances.finish_resize"]
    server = show(world, server_id)
    assert (server["status"], server["OS-EXT-STS:vm_state"]) == ("VERIFY_RESIZE", "resized")
    assert server["flavor"]["original_name"] == "t.small"
    instance = Instance.objects.get(pk=server_id)
    assert instance.host.name == "host2" and instance.power_state == PowerState.RUNNING
    spec = host2.driver.saved_spec(server_id)
    assert (spec.vcpus, spec.memory_mb) == (2, 256)
    assert disks.info(host2.disk_paths(server_id)["vda"], "qcow2").virtual_size == 2 * GiB
    assert disks.info(host2.disk_paths(server_id)["vdb"], "qcow2").virtual_size == 2 * GiB
    # The new root disk is backed by host2's own copy of the image.
    backing = disks.info(host2.disk_paths(server_id)["vda"], "qcow2").backing_file
    assert backing == str(host2.cache.base_path(str(image.pk)).resolve())
    assert host.driver.list_defined() == [] and host.resize_dir(server_id).is_dir()
    # Both claims are held until the confirm: the old flavor on host1, the new one on host2.
    assert usage("host1") == (1, 128, 2) and usage("host2") == (2, 256, 4)

    response, ran = act(world, capture, server_id, {"confirmResize": None}, host, host2)
    assert response.status_code == 204, response.content
    assert ran == ["instances.confirm_resize"]
    assert show(world, server_id)["status"] == "ACTIVE"
    assert not host.resize_dir(server_id).exists()
    assert usage("host1") == (0, 0, 0) and usage("host2") == (2, 256, 4)
    assert actions(server_id) == [("create", "Success"), ("resize", "Success"), ("confirmResize", "Success")]
    # The recount agrees with the claims the transitions kept.
    for name in ("host1", "host2"):
        before = usage(name)
        agent.recount_claims(ComputeHost.objects.get(name=name))
        assert usage(name) == before


def test_revert_brings_back_the_old_flavor_disk_and_host(world, host, host2, image, tiny, small, capture):
    server_id = launch(world, capture, image, tiny, host, host2)
    root = host.disk_paths(server_id)["vda"]
    root.write_bytes(root.read_bytes())  # the old disk must come back as it was, not remade
    stamp = root.stat().st_ino
    act(world, capture, server_id, {"resize": {"flavorRef": small.pk}}, host, host2)
    assert usage("host2") == (2, 256, 4)

    response, ran = act(world, capture, server_id, {"revertResize": None}, host, host2)
    assert response.status_code == 202, response.content
    assert ran == ["instances.revert_resize", "instances.finish_revert_resize"]
    server = show(world, server_id)
    assert server["status"] == "ACTIVE" and server["flavor"]["original_name"] == "t.tiny"
    instance = Instance.objects.get(pk=server_id)
    assert instance.host.name == "host1"
    assert (instance.old_flavor, instance.resize_source, instance.resize_target) == ({}, None, None)
    spec = host.driver.saved_spec(server_id)
    assert (spec.vcpus, spec.memory_mb) == (1, 128)
    assert host.disk_paths(server_id)["vda"].stat().st_ino == stamp
    assert disks.info(root, "qcow2").virtual_size == 1 * GiB
    assert host2.driver.list_defined() == [] and not host2.disk_paths(server_id)["vda"].parent.exists()
    assert usage("host1") == (1, 128, 2) and usage("host2") == (0, 0, 0)
    assert actions(server_id)[-1] == ("revertResize", "Success")
    # Usage reports charge each stretch with its sizes: the resize and its revert are recorded.
    changes = InstanceSizeChange.objects.filter(instance_id=server_id).order_by("at", "id")
    assert [(c.before["flavor_name"], c.after["flavor_name"], c.after["vcpus"]) for c in changes] == [
        ("t.tiny", "t.small", 2),
        ("t.small", "t.tiny", 1),
    ]


def test_same_host_resize_needs_the_operator_setting(world, host, image, tiny, small, capture, settings):
    server_id = launch(world, capture, image, tiny, host)
    response, ran = act(world, capture, server_id, {"resize": {"flavorRef": small.pk}}, host)
    assert response.status_code == 400
    assert "No valid host was found" in response.json()["badRequest"]["message"]
    assert ran == [] and show(world, server_id)["status"] == "ACTIVE"
    assert usage("host1") == (1, 128, 2)
    assert Instance.objects.get(pk=server_id).old_flavor == {}

    settings.COMPUTE_ALLOW_RESIZE_TO_SAME_HOST = True
    response, _ = act(world, capture, server_id, {"resize": {"flavorRef": small.pk}}, host)
    assert response.status_code == 202
    assert show(world, server_id)["status"] == "VERIFY_RESIZE"
    assert usage("host1") == (3, 384, 6)  # old and new claims on the one host
    assert disks.info(host.disk_paths(server_id)["vda"], "qcow2").virtual_size == 2 * GiB
    act(world, capture, server_id, {"revertResize": None}, host)
    assert show(world, server_id)["status"] == "ACTIVE" and usage("host1") == (1, 128, 2)
    assert disks.info(host.disk_paths(server_id)["vda"], "qcow2").virtual_size == 1 * GiB

    act(world, capture, server_id, {"resize": {"flavorRef": small.pk}}, host)
    act(world, capture, server_id, {"confirmResize": {}}, host)
    assert show(world, server_id)["status"] == "ACTIVE" and usage("host1") == (2, 256, 4)
    assert host.driver.saved_spec(server_id).vcpus == 2
    assert not host.resize_dir(server_id).exists()


def test_a_smaller_disk_or_the_same_flavor_is_400(world, host, host2, image, tiny, small, capture):
    server_id = launch(world, capture, image, small, host, host2)
    response, _ = act(world, capture, server_id, {"resize": {"flavorRef": tiny.pk}}, host, host2)
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == "Resize to a smaller disk flavor is not allowed."
    response, _ = act(world, capture, server_id, {"resize": {"flavorRef": small.pk}}, host, host2)
    assert response.status_code == 400 and "must change flavor" in response.content.decode()
    response, _ = act(world, capture, server_id, {"resize": {"flavorRef": "nope"}}, host, host2)
    assert response.status_code == 400
    response, _ = act(world, capture, server_id, {"resize": {"flavorRef": tiny.pk, "x": 1}}, host, host2)
    assert response.status_code == 400 and "Additional properties" in response.content.decode()
    assert show(world, server_id)["status"] == "ACTIVE"
    assert InstanceAction.objects.filter(instance_id=server_id, action="resize").count() == 0


def test_resize_checks_the_cores_and_ram_quota_delta(world, host, host2, image, tiny, small, capture):
    server_id = launch(world, capture, image, tiny, host, host2)
    quotas.set_limits(world["home"], {"cores": 1}, force=True)
    response, _ = act(world, capture, server_id, {"resize": {"flavorRef": small.pk}}, host, host2)
    assert response.status_code == 403
    assert "Quota exceeded for cores" in response.content.decode()
    assert usage("host2") == (0, 0, 0) and show(world, server_id)["status"] == "ACTIVE"


def test_host_capacity_is_checked_as_at_launch(world, host, image, tiny, capture, tmp_path):
    make_host(tmp_path, "host2", vcpus=8, memory_mb=200, disk_gb=100)
    big = services.create_flavor(name="t.big", vcpus=1, ram=512, disk=1, ephemeral=1)
    server_id = launch(world, capture, image, tiny, host)
    response, _ = act(world, capture, server_id, {"resize": {"flavorRef": big.pk}}, host)
    assert response.status_code == 400 and "No host has room" in response.content.decode()


def test_a_stopped_instance_resizes_stopped_and_stays_stopped_after_confirm(
    world, host, host2, image, tiny, small, capture
):
    server_id = launch(world, capture, image, tiny, host, host2)
    act(world, capture, server_id, {"os-stop": None}, host, host2)
    act(world, capture, server_id, {"resize": {"flavorRef": small.pk}}, host, host2)
    server = show(world, server_id)
    assert server["status"] == "VERIFY_RESIZE" and server["OS-EXT-STS:power_state"] == PowerState.SHUTDOWN
    assert host2.driver.list_defined() == []  # not started
    act(world, capture, server_id, {"confirmResize": None}, host, host2)
    assert show(world, server_id)["status"] == "SHUTOFF"
    act(world, capture, server_id, {"os-start": None}, host, host2)
    assert host2.driver.saved_spec(server_id).vcpus == 2


@pytest.mark.parametrize(
    ("setup", "body", "message"),
    [
        ({"pause": None}, {"resize": {"flavorRef": "SMALL"}}, "while it is in vm_state paused"),
        (
            None,
            {"confirmResize": None},
            "Cannot 'confirmResize' instance {id} while it is in vm_state active",
        ),
        (None, {"revertResize": None}, "Cannot 'revertResize' instance {id} while it is in vm_state active"),
        (None, {"unrescue": None}, "Cannot 'unrescue' instance {id} while it is in vm_state active"),
        ({"suspend": None}, {"rebuild": {"imageRef": "IMAGE"}}, "while it is in vm_state suspended"),
        ({"pause": None}, {"rescue": None}, "Cannot 'rescue' instance {id} while it is in vm_state paused"),
    ],
)
def test_an_operation_in_the_wrong_state_is_409_in_novas_words(
    world, host, host2, image, tiny, small, capture, setup, body, message
):
    server_id = launch(world, capture, image, tiny, host, host2)
    if setup:
        act(world, capture, server_id, setup, host, host2)
    (name,) = body
    if body[name] and "flavorRef" in body[name]:
        body = {name: {"flavorRef": small.pk}}
    if body[name] and "imageRef" in body[name]:
        body = {name: {"imageRef": str(image.pk)}}
    response, ran = act(world, capture, server_id, body, host, host2)
    assert response.status_code == 409, response.content
    assert message.format(id=server_id) in response.json()["conflictingRequest"]["message"]
    assert ran == []


def test_a_resize_in_progress_refuses_other_actions_with_its_task_state(
    world, host, host2, image, tiny, small, capture
):
    server_id = launch(world, capture, image, tiny, host, host2)
    with capture() as callbacks:
        world["member"].post(f"/servers/{server_id}/action", {"resize": {"flavorRef": small.pk}})
    assert show(world, server_id)["status"] == "RESIZE"
    response = world["member"].post(f"/servers/{server_id}/action", {"os-stop": None})
    assert response.status_code == 409
    response = world["member"].post(f"/servers/{server_id}/action", {"rebuild": {"imageRef": str(image.pk)}})
    assert response.status_code == 409
    assert "while it is in task_state resize_prep" in response.json()["conflictingRequest"]["message"]
    # Delivered twice: the second delivery finds nothing to do.
    deliver(capture, callbacks, host, host2)
    assert deliver(capture, callbacks, host, host2) == ["instances.resize"]
    assert show(world, server_id)["status"] == "VERIFY_RESIZE"
    assert usage("host2") == (2, 256, 4)


def test_deleting_a_resized_instance_gives_back_both_claims(world, host, host2, image, tiny, small, capture):
    server_id = launch(world, capture, image, tiny, host, host2)
    act(world, capture, server_id, {"resize": {"flavorRef": small.pk}}, host, host2)
    with capture() as callbacks:
        assert world["member"].delete(f"/servers/{server_id}").status_code == 204
    deliver(capture, callbacks, host, host2)
    assert usage("host1") == (0, 0, 0) and usage("host2") == (0, 0, 0)
    assert host.resize_dir(server_id).is_dir()
    agent.sync_power_states(host)  # the periodic sync removes the old disks kept for a revert
    assert not host.resize_dir(server_id).exists()


def test_a_resize_waiting_longer_than_the_window_is_confirmed(
    world, host, host2, image, tiny, small, capture, settings
):
    server_id = launch(world, capture, image, tiny, host, host2)
    act(world, capture, server_id, {"resize": {"flavorRef": small.pk}}, host, host2)
    settings.COMPUTE_RESIZE_CONFIRM_WINDOW = 0
    assert resize.confirm_expired() == 0
    settings.COMPUTE_RESIZE_CONFIRM_WINDOW = 600
    assert resize.confirm_expired() == 0
    Instance.objects.filter(pk=server_id).update(resized_at=timezone.now() - timedelta(seconds=601))
    with capture() as callbacks:
        assert resize.confirm_expired() == 1
    deliver(capture, callbacks, host, host2)
    assert show(world, server_id)["status"] == "ACTIVE"
    assert usage("host1") == (0, 0, 0) and not host.resize_dir(server_id).exists()
    assert actions(server_id)[-1] == ("confirmResize", "Success")


def test_an_agent_that_died_during_a_resize_leaves_the_instance_in_error_not_stuck(
    world, host, host2, image, tiny, small, capture
):
    server_id = launch(world, capture, image, tiny, host, host2)
    with capture():
        world["member"].post(f"/servers/{server_id}/action", {"resize": {"flavorRef": small.pk}})
    assert agent.heal(host)["errored"] == 1
    instance = Instance.objects.get(pk=server_id)
    assert (instance.vm_state, instance.task_state) == (VmState.ERROR, TaskState.NONE)
    with capture() as callbacks:
        assert world["member"].delete(f"/servers/{server_id}").status_code == 204
    deliver(capture, callbacks, host, host2)
    assert usage("host1") == (0, 0, 0) and usage("host2") == (0, 0, 0)


def test_a_reader_may_not_resize(world, host, host2, image, tiny, small, capture):
    server_id = launch(world, capture, image, tiny, host, host2)
    for body in (
        {"resize": {"flavorRef": small.pk}},
        {"rebuild": {"imageRef": str(image.pk)}},
        {"rescue": None},
    ):
        response, _ = act(world, capture, server_id, body, host, host2, who="reader")
        assert response.status_code == 403


# --- rebuild ------------------------------------------------------------------------------------


@pytest.fixture
def other_image(world, stores_dir, tmp_path):
    data = build_boot_image(tmp_path / "other.raw", "STRATUS-MARKER other").read_bytes()
    return upload_image(world["home"].pk, data, name="other", visibility="public")


def test_rebuild_gives_a_new_root_disk_and_keeps_id_address_and_flavor(
    world, host, image, other_image, tiny, capture
):
    server_id = launch(world, capture, image, tiny, host, metadata={"a": "1"})
    before = show(world, server_id)
    body = {
        "rebuild": {
            "imageRef": str(other_image.pk),
            "name": "renamed",
            "metadata": {"b": "2"},
            "description": "rebuilt",
            "user_data": "aGVsbG8=",
        }
    }
    with capture() as callbacks:
        response = world["member"].post(f"/servers/{server_id}/action", body, "2.57")
    assert response.status_code == 202, response.content
    server = response.json()["server"]
    assert server["id"] == server_id and server["status"] == "REBUILD" and "adminPass" in server
    assert server["image"]["id"] == str(other_image.pk)
    # Nova's rebuild view before 2.75: no extended status, zone, usage or groups; key_name from 2.54
    assert "key_name" in server and "server_groups" not in server
    assert server["user_data"] == "aGVsbG8="  # 2.57 answers with the rebuild's user data
    assert not {"OS-EXT-STS:task_state", "OS-EXT-AZ:availability_zone", "security_groups"} & set(server)
    assert deliver(capture, callbacks, host) == ["instances.rebuild"]
    after = show(world, server_id)
    assert after["status"] == "ACTIVE" and after["name"] == "renamed" and after["metadata"] == {"b": "2"}
    assert after["description"] == "rebuilt"
    assert after["addresses"] == before["addresses"] and after["flavor"] == before["flavor"]
    backing = disks.info(host.disk_paths(server_id)["vda"], "qcow2").backing_file
    assert backing == str(host.cache.base_path(str(other_image.pk)).resolve())
    assert Instance.objects.get(pk=server_id).user_data == "aGVsbG8="
    assert actions(server_id)[-1] == ("rebuild", "Success")


def test_rebuild_fields_follow_the_microversion(world, host, image, tiny, capture):
    server_id = launch(world, capture, image, tiny, host)
    for version, field, value in [
        ("2.53", "key_name", "k"),
        ("2.56", "user_data", "aGk="),
        ("2.18", "description", "d"),
    ]:
        body = {"rebuild": {"imageRef": str(image.pk), field: value}}
        response = world["member"].post(f"/servers/{server_id}/action", body, version)
        assert response.status_code == 400, (version, field)
    body = {"rebuild": {"imageRef": str(image.pk), "key_name": "missing"}}
    response = world["member"].post(f"/servers/{server_id}/action", body, "2.54")
    assert response.status_code == 400 and "key_name" in response.content.decode()
    assert show(world, server_id)["status"] == "ACTIVE"


def test_rebuild_of_a_stopped_instance_leaves_it_stopped(world, host, image, other_image, tiny, capture):
    server_id = launch(world, capture, image, tiny, host)
    act(world, capture, server_id, {"os-stop": None}, host)
    response, ran = act(world, capture, server_id, {"rebuild": {"imageRef": str(other_image.pk)}}, host)
    assert response.status_code == 202 and ran == ["instances.rebuild"]
    assert show(world, server_id)["status"] == "SHUTOFF"
    assert Instance.objects.get(pk=server_id).image_id == str(other_image.pk)
    act(world, capture, server_id, {"os-start": None}, host)
    assert show(world, server_id)["status"] == "ACTIVE"


def test_rebuild_with_an_image_too_big_for_the_flavor_is_400(world, host, image, tiny, capture):
    server_id = launch(world, capture, image, tiny, host)
    big = upload_image(world["home"].pk, b"\0" * 1024, name="big", min_disk=5)
    response, _ = act(world, capture, server_id, {"rebuild": {"imageRef": str(big.pk)}}, host)
    assert response.status_code == 400 and "too small" in response.content.decode()


# --- rescue -------------------------------------------------------------------------------------


def test_rescue_boots_the_rescue_image_with_the_root_disk_second_and_unrescue_returns(
    world, host, image, other_image, tiny, capture
):
    server_id = launch(world, capture, image, tiny, host)
    root = str(host.disk_paths(server_id)["vda"])
    body = {"rescue": {"rescue_image_ref": str(other_image.pk)}}
    response, ran = act(world, capture, server_id, body, host)
    assert response.status_code == 200 and "adminPass" in response.json()
    assert ran == ["instances.rescue"]
    assert show(world, server_id)["status"] == "RESCUE"
    spec = host.driver.saved_spec(server_id)
    assert spec.disk("vdb").path == root and spec.disk("vda").path.endswith("disk.rescue")
    backing = disks.info(spec.disk("vda").path, "qcow2").backing_file
    assert backing == str(host.cache.base_path(str(other_image.pk)).resolve())

    response, ran = act(world, capture, server_id, {"unrescue": None}, host)
    assert response.status_code == 202 and ran == ["instances.unrescue"]
    assert show(world, server_id)["status"] == "ACTIVE"
    assert host.driver.saved_spec(server_id).disk("vda").path == root
    assert not (host.disk_paths(server_id)["vda"].parent / "disk.rescue").exists()
    assert [a for a, _ in actions(server_id)] == ["create", "rescue", "unrescue"]


def test_rescue_without_an_image_uses_the_instances_own(world, host, image, tiny, capture):
    server_id = launch(world, capture, image, tiny, host)
    response, _ = act(world, capture, server_id, {"rescue": None}, host)
    assert response.status_code == 200
    spec = host.driver.saved_spec(server_id)
    assert disks.info(spec.disk("vda").path, "qcow2").backing_file == str(
        host.cache.base_path(str(image.pk)).resolve()
    )
    response, _ = act(world, capture, server_id, {"rescue": None}, host)
    assert response.status_code == 409


def test_the_sweeper_puts_a_resize_stuck_past_the_task_timeout_in_error(
    world, host, host2, image, tiny, small, capture, settings
):
    server_id = launch(world, capture, image, tiny, host, host2)
    with capture():
        world["member"].post(f"/servers/{server_id}/action", {"resize": {"flavorRef": small.pk}})
    assert agent.sweep_stuck()["stuck"] == 0
    late = timezone.now() - timedelta(seconds=settings.COMPUTE_TASK_TIMEOUT + 1)
    Instance.objects.filter(pk=server_id).update(task_started_at=late)
    assert agent.sweep_stuck()["stuck"] == 1
    instance = Instance.objects.get(pk=server_id)
    assert (instance.vm_state, instance.task_state) == (VmState.ERROR, TaskState.NONE)
    assert "resize_prep" in instance.fault_message


@pytest.mark.parametrize("preserve", [True, False])
def test_rebuild_keeps_the_ephemeral_disk_only_when_asked(world, host, image, tiny, capture, preserve):
    server_id = launch(world, capture, image, tiny, host)
    ephemeral = host.disk_paths(server_id)["vdb"]
    os.utime(ephemeral, (1_000_000_000, 1_000_000_000))
    body = {"rebuild": {"imageRef": str(image.pk), "preserve_ephemeral": preserve}}
    response, _ = act(world, capture, server_id, body, host)
    assert response.status_code == 202
    assert ephemeral.is_file() and (ephemeral.stat().st_mtime == 1_000_000_000) is preserve


def test_disks_grow_but_never_shrink(tmp_path):
    path = disks.create_blank(tmp_path / "d.qcow2", 2)
    disks.grow(path, "qcow2", 3)
    assert disks.info(path, "qcow2").virtual_size == 3 * GiB
    with pytest.raises(VirtError, match="cannot shrink"):
        disks.grow(path, "qcow2", 1)


def test_resize_needs_the_instances_image_to_be_active(world, host, host2, image, tiny, small, capture):
    server_id = launch(world, capture, image, tiny, host, host2)
    Image.objects.filter(pk=image.pk).update(status="deactivated")
    response, ran = act(world, capture, server_id, {"resize": {"flavorRef": small.pk}}, host, host2)
    assert response.status_code == 400 and "is not active" in response.content.decode()
    assert ran == [] and usage("host2") == (0, 0, 0)


def test_a_resize_the_old_host_cannot_start_is_rolled_back_with_its_claim(
    world, host, host2, image, tiny, small, capture
):
    server_id = launch(world, capture, image, tiny, host, host2)
    root = host.disk_paths(server_id)["vda"].parent
    root.rename(root.with_name("elsewhere"))  # the disks are gone: nothing to move
    response, ran = act(world, capture, server_id, {"resize": {"flavorRef": small.pk}}, host, host2)
    assert response.status_code == 202 and ran == ["instances.resize"]
    instance = Instance.objects.get(pk=server_id)
    assert (instance.vm_state, instance.task_state, instance.flavor_name) == (VmState.ACTIVE, "", "t.tiny")
    assert instance.old_flavor == {} and "are missing" in instance.fault_message
    assert usage("host1") == (1, 128, 2) and usage("host2") == (0, 0, 0)
    assert actions(server_id)[-1] == ("resize", "Error")


def test_confirm_resize_with_a_non_empty_body_is_400(world, host, image, tiny, capture):
    server_id = launch(world, capture, image, tiny, host)
    response, _ = act(world, capture, server_id, {"confirmResize": {"x": 1}}, host)
    assert response.status_code == 400
    assert "It must be null or an empty object." in response.content.decode()
