"""Cold migration (confirm, revert), evacuation, the migration records (os-migrations) and host
administration (os-services forced_down and removal) through the compute API, on in-process
compute hosts with the fake driver; the disks of a migration travel through the old host's real
transfer endpoint, and one altered on the way is refused."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from instances.choices import TaskState, VmState
from instances.compute import transfer
from instances.models import ComputeHost, Instance, Migration
from instances.services import hosts as host_services
from tests.instances.api.test_server_resize_rebuild_rescue import (
    actions,
    deliver,
    launch,
    show,
    usage,
)
from tests.instances.conftest import Deliver, make_host


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def host2(host, tmp_path):
    return make_host(tmp_path, "host2")


@pytest.fixture
def endpoint(host):
    """host1's disk transfer endpoint, as its agent runs it, recorded in its capabilities."""
    server = transfer.TransferServer(host.host_name, "127.0.0.1:0", host.state_dir / "resize").start()
    row = ComputeHost.objects.get(name=host.host_name)
    row.capabilities = {**row.capabilities, "transfer": server.url}
    row.save(update_fields=["capabilities"])
    yield server
    server.stop()


def admin_act(world, capture, server_id, body, *managers, version="2.96"):
    with capture() as callbacks:
        response = world["admin"].post(f"/servers/{server_id}/action", body, version)
    return response, deliver(capture, callbacks, *managers)


def migrations_of(world, server_id, version="2.80") -> list[dict]:
    response = world["admin"].get(f"/os-migrations?instance_uuid={server_id}", version)
    assert response.status_code == 200, response.content
    return response.json()["migrations"]


def test_cold_migrate_moves_the_disks_through_the_transfer_endpoint_and_confirm_keeps_it_there(
    world, host, host2, endpoint, image, tiny, capture
):
    server_id = launch(world, capture, image, tiny, host, host2)
    old_root = host.disk_paths(server_id)["vda"].read_bytes()

    response, ran = admin_act(world, capture, server_id, {"migrate": None}, host, host2)
    assert response.status_code == 202, response.content
    assert ran == ["instances.resize", "instances.finish_resize"]
    server = show(world, server_id)
    assert server["status"] == "VERIFY_RESIZE" and server["flavor"]["original_name"] == "t.tiny"
    instance = Instance.objects.get(pk=server_id)
    assert instance.host.name == "host2" and instance.vcpus == 1
    # The root overlay arrived intact (byte for byte before the rebase onto host2's own base).
    assert host2.disk_paths(server_id)["vda"].stat().st_size >= len(old_root) // 2
    assert not (host2.state_dir / "incoming" / server_id).exists()
    assert usage("host1") == (1, 128, 2) and usage("host2") == (1, 128, 2)
    (migration,) = migrations_of(world, server_id)
    assert (migration["migration_type"], migration["status"]) == ("migration", "finished")
    assert (migration["source_compute"], migration["dest_compute"]) == ("host1", "host2")

    response, ran = admin_act(world, capture, server_id, {"confirmResize": None}, host, host2)
    assert response.status_code == 204, response.content
    assert show(world, server_id)["status"] == "ACTIVE"
    assert usage("host1") == (0, 0, 0) and usage("host2") == (1, 128, 2)
    assert not host.resize_dir(server_id).exists()
    assert migrations_of(world, server_id)[0]["status"] == "confirmed"
    assert ("migrate", "Success") in actions(server_id)

    # At 2.1 the record has Nova's keys and no others (clients validate the body against them);
    # the flavor numbers are null for a flavor whose id is not a number (t.tiny's is a UUID).
    (plain,) = migrations_of(world, server_id, version="2.1")
    assert set(plain) == {
        "id", "status", "instance_uuid", "source_node", "source_compute", "dest_node", "dest_compute",
        "dest_host", "old_instance_type_id", "new_instance_type_id", "created_at", "updated_at",
    }  # fmt: skip
    assert plain["old_instance_type_id"] is None and plain["new_instance_type_id"] is None
    Migration.objects.filter(instance_id=server_id).update(old_flavor_ref="3", new_flavor_ref="42")
    (numbered,) = migrations_of(world, server_id, version="2.1")
    assert (numbered["old_instance_type_id"], numbered["new_instance_type_id"]) == (3, 42)


def test_cold_migrate_then_revert_brings_it_back_to_the_old_host(
    world, host, host2, endpoint, image, tiny, capture
):
    server_id = launch(world, capture, image, tiny, host, host2)
    admin_act(world, capture, server_id, {"migrate": {"host": "host2"}}, host, host2)
    assert Instance.objects.get(pk=server_id).host.name == "host2"

    response, ran = admin_act(world, capture, server_id, {"revertResize": None}, host, host2)
    assert response.status_code == 202, response.content
    assert ran == ["instances.revert_resize", "instances.finish_revert_resize"]
    instance = Instance.objects.get(pk=server_id)
    assert (instance.host.name, instance.vm_state, instance.task_state) == ("host1", "active", "")
    assert host.driver.list_running() == [server_id] and host2.driver.list_defined() == []
    assert usage("host1") == (1, 128, 2) and usage("host2") == (0, 0, 0)
    assert migrations_of(world, server_id)[0]["status"] == "reverted"


def test_a_disk_altered_on_the_old_host_after_it_was_hashed_is_refused(
    world, host, host2, endpoint, image, tiny, capture
):
    server_id = launch(world, capture, image, tiny, host, host2)
    with capture() as callbacks:
        world["admin"].post(f"/servers/{server_id}/action", {"migrate": None}, "2.96")
    with capture() as more:
        Deliver(host)(callbacks)  # only the old host's step: disks set aside and hashed
    (finish,) = more
    aside = host.resize_dir(server_id) / "disk"
    with open(aside, "r+b") as fh:  # same size, one byte changed
        fh.seek(aside.stat().st_size // 2)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 0xFF]))
    deliver(capture, [finish], host, host2)
    instance = Instance.objects.get(pk=server_id)
    assert instance.vm_state == VmState.ERROR
    assert "not as the old host sent it" in instance.fault_message
    assert not host2.disk_paths(server_id)["vda"].exists()
    assert migrations_of(world, server_id)[0]["status"] == "error"


def test_the_transfer_endpoint_serves_only_signed_requests_for_instances_moving_away(
    world, host, host2, endpoint, image, tiny, capture, caplog
):
    server_id = launch(world, capture, image, tiny, host, host2)
    caplog.set_level(logging.INFO, logger="instances.compute.transfer")
    url = f"{endpoint.url}/resize/{server_id}/disk?expires=9999999999&signature=00secret"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)
    assert refused.value.code == 403
    # A signature with characters outside ASCII is refused the same way (not a dropped connection).
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url + "%C3%A9", timeout=10)
    assert refused.value.code == 403
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"/resize/{server_id}/disk" in logged and " 403 " in logged
    assert "00secret" not in logged and "expires=" not in logged
    # Correctly signed, but the instance is not being moved away from this host.
    with pytest.raises(transfer.TransferFailed, match="404"):
        transfer.fetch(
            endpoint.url, server_id, "disk", {"size": 1, "sha512": "0"}, Path(host2.state_dir) / "x"
        )


def test_migrate_is_for_admins_and_checks_the_host(world, host, host2, image, tiny, capture):
    server_id = launch(world, capture, image, tiny, host, host2)
    response = world["member"].post(f"/servers/{server_id}/action", {"migrate": None}, "2.96")
    assert response.status_code == 403
    response = world["admin"].post(f"/servers/{server_id}/action", {"migrate": {"host": "host1"}}, "2.96")
    assert response.status_code == 400 and "same one" in response.json()["badRequest"]["message"]
    response = world["admin"].post(f"/servers/{server_id}/action", {"migrate": {"host": "nope"}}, "2.96")
    assert (
        response.status_code == 400 and "nope could not be found" in response.json()["badRequest"]["message"]
    )
    response = world["admin"].post(f"/servers/{server_id}/action", {"migrate": {"host": "host2"}}, "2.55")
    assert response.status_code == 400  # a target host only from 2.56
    assert Instance.objects.get(pk=server_id).task_state == TaskState.NONE
    assert not Migration.objects.exists()


def test_evacuate_rebuilds_on_another_host_only_when_the_old_one_is_down(
    world, host, host2, image, tiny, capture
):
    server_id = launch(world, capture, image, tiny, host, host2)
    response = world["admin"].post(f"/servers/{server_id}/action", {"evacuate": {}}, "2.96")
    assert response.status_code == 409 and "still in use" in response.json()["conflictingRequest"]["message"]

    service = world["admin"].get("/os-services", "2.53").json()["services"]
    host1_id = next(s["id"] for s in service if s["host"] == "host1")
    response = world["admin"].put(f"/os-services/{host1_id}", {"forced_down": True}, "2.53")
    assert response.status_code == 200 and response.json()["service"]["state"] == "down"

    response, ran = admin_act(world, capture, server_id, {"evacuate": {}}, host, host2)
    assert response.status_code == 200, response.content
    assert ran == ["instances.evacuate"]
    instance = Instance.objects.get(pk=server_id)
    assert (instance.host.name, instance.vm_state, instance.task_state) == ("host2", "active", "")
    assert host2.driver.list_running() == [server_id]
    assert host2.disk_paths(server_id)["vda"].is_file()
    assert usage("host1") == (0, 0, 0) and usage("host2") == (1, 128, 2)
    (migration,) = migrations_of(world, server_id)
    assert (migration["migration_type"], migration["status"]) == ("evacuation", "done")
    assert ("evacuate", "Success") in actions(server_id)


def test_a_host_is_removed_only_when_it_holds_no_instances(world, host, host2, image, tiny, capture):
    server_id = launch(world, capture, image, tiny, host, host2)
    services = world["admin"].get("/os-services", "2.53").json()["services"]
    host1_id = next(s["id"] for s in services if s["host"] == "host1")
    response = world["admin"].delete(f"/os-services/{host1_id}", "2.53")
    assert response.status_code == 409
    assert ComputeHost.objects.filter(name="host1").exists()

    response = world["admin"].put(
        f"/os-services/{host1_id}", {"status": "disabled", "disabled_reason": "maintenance"}, "2.53"
    )
    assert response.json()["service"]["disabled_reason"] == "maintenance"
    with capture() as callbacks:
        moved, refused = host_services.drain(None, ComputeHost.objects.get(name="host1"))
    assert (moved, refused) == ([server_id], {})
    deliver(capture, callbacks, host, host2)
    admin_act(world, capture, server_id, {"confirmResize": None}, host, host2)
    assert Instance.objects.get(pk=server_id).host.name == "host2"

    response = world["admin"].delete(f"/os-services/{host1_id}", "2.53")
    assert response.status_code == 204
    assert not ComputeHost.objects.filter(name="host1").exists()
    # The history keeps the removed host's name.
    assert migrations_of(world, server_id)[0]["source_compute"] == "host1"


def test_deleting_a_migrated_instance_settles_its_migration(
    world, host, host2, endpoint, image, tiny, capture
):
    server_id = launch(world, capture, image, tiny, host, host2)
    admin_act(world, capture, server_id, {"migrate": None}, host, host2)
    assert migrations_of(world, server_id)[0]["status"] == "finished"
    with capture() as callbacks:
        assert world["admin"].delete(f"/servers/{server_id}", "2.96").status_code == 204
    deliver(capture, callbacks, host, host2)
    assert migrations_of(world, server_id)[0]["status"] == "confirmed"
    assert usage("host1") == (0, 0, 0) and usage("host2") == (0, 0, 0)


def test_disks_left_half_fetched_by_a_stopped_agent_are_pruned(world, host, host2, image, tiny, capture):
    server_id = launch(world, capture, image, tiny, host, host2)
    left = host2.state_dir / "incoming" / server_id
    left.mkdir(parents=True)
    (left / "disk").write_bytes(b"half")
    assert host2.prune_resize_dirs() == 1
    assert not left.exists()
