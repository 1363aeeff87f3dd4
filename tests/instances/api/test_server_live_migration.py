"""os-migrateLive through the servers API, on two in-process compute hosts with the fake driver:
the steps between the agents, the claims on both hosts, the disks made on the target, the
failures that leave the instance running where it was, and the 400s, 403s and 409s."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from instances import tasks
from instances.choices import PowerState, TaskState, VmState, VolumeStatus
from instances.compute import agent
from instances.models import ComputeHost, Instance, Migration, Volume
from instances.services import live_migration
from instances.virt import disks
from instances.virt.base import PowerState as DriverPower
from instances.virt.base import VirtError
from tests.instances.api.test_server_resize_rebuild_rescue import act, actions, deliver, launch, show, usage
from tests.instances.api.test_volumes import create
from tests.instances.conftest import Deliver, make_host
from tests.instances.volume_support import Run, VolumeCaller

GiB = 1024**3
STEPS = [
    "instances.check_live_migration_source",
    "instances.prepare_live_migration",
    "instances.live_migrate",
    "instances.finish_live_migration",
    "instances.clean_up_live_migration_source",
]


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def host2(host, tmp_path):
    return make_host(tmp_path, "host2")


@pytest.fixture
def cinder(world, settings, tmp_path):
    settings.VOLUMES_DIR = tmp_path / "volumes"  # one directory both hosts reach
    return {"member": VolumeCaller(world["member"])}


def migrate_live(world, capture, server_id, *managers, who="admin", **body):
    body.setdefault("block_migration", "auto")
    body.setdefault("host", None)
    return act(world, capture, server_id, {"os-migrateLive": body}, *managers, who=who, version="2.30")


def test_a_running_server_moves_to_the_host_the_admin_names(world, host, host2, image, tiny, capture):
    server_id = launch(world, capture, image, tiny, host, host2)
    assert usage("host1") == (1, 128, 2) and usage("host2") == (0, 0, 0)
    instance = Instance.objects.get(pk=server_id)
    drive = host.config_drive_path(instance).read_bytes()

    response, ran = migrate_live(world, capture, server_id, host, host2, host="host2")

    assert response.status_code == 202, response.content
    assert ran == STEPS
    server = show(world, server_id)
    assert (server["status"], server["OS-EXT-STS:task_state"]) == ("ACTIVE", None)
    instance = Instance.objects.get(pk=server_id)
    assert instance.host.name == "host2" and instance.live_migration_target is None
    assert host2.driver.power_state(server_id) == DriverPower.RUNNING
    # The target's disks: the root an overlay on its own copy of the image, each of the source's size.
    paths = host2.disk_paths(server_id)
    root = disks.info(paths["vda"], "qcow2")
    assert root.virtual_size == 1 * GiB
    assert root.backing_file == str(host2.cache.base_path(str(image.pk)).resolve())
    assert disks.info(paths["vdb"], "qcow2").virtual_size == 1 * GiB
    assert disks.info(paths["vdh"], "qcow2").backing_file is None
    # The guest may have its config drive mounted: the same bytes, not a drive written anew.
    assert host2.config_drive_path(instance).read_bytes() == drive
    # Nothing of it is left on the source, and the claim moved with it.
    assert host.driver.list_defined() == [] and not (host.disks_dir / server_id).exists()
    assert usage("host1") == (0, 0, 0) and usage("host2") == (1, 128, 2)
    assert actions(server_id) == [("create", "Success"), ("live-migration", "Success")]
    # The move is recorded as os-migrations lists it.
    record = Migration.objects.get(instance_id=server_id)
    assert (record.migration_type, record.status) == ("live-migration", "completed")
    assert (record.source_compute, record.dest_compute) == ("host1", "host2")
    for name in ("host1", "host2"):
        before = usage(name)
        agent.recount_claims(ComputeHost.objects.get(name=name))
        assert usage(name) == before


def test_without_a_host_the_scheduler_picks_another_one_and_a_paused_server_stays_paused(
    world, host, host2, image, tiny, capture
):
    server_id = launch(world, capture, image, tiny, host, host2)
    act(world, capture, server_id, {"pause": None}, host, host2)

    response, ran = migrate_live(world, capture, server_id, host, host2)

    assert response.status_code == 202, response.content
    assert ran == STEPS
    assert show(world, server_id)["status"] == "PAUSED"
    assert Instance.objects.get(pk=server_id).host.name == "host2"
    assert host2.driver.power_state(server_id) == DriverPower.PAUSED


def test_the_server_is_migrating_while_the_hosts_work_and_the_target_holds_a_claim(
    world, host, host2, image, tiny, capture
):
    server_id = launch(world, capture, image, tiny, host, host2)
    with capture() as callbacks:
        response = world["admin"].post(
            f"/servers/{server_id}/action",
            {"os-migrateLive": {"host": None, "block_migration": True}},
            "2.30",
        )
    assert response.status_code == 202, response.content
    assert [c.args[0] for c in callbacks] == ["instances.check_live_migration_source"]
    server = show(world, server_id)
    assert (server["status"], server["OS-EXT-STS:task_state"]) == ("MIGRATING", "migrating")
    assert usage("host1") == (1, 128, 2) and usage("host2") == (1, 128, 2)
    # A second request, or any other action, must wait for the end of this one.
    again, _ = migrate_live(world, capture, server_id)
    assert again.status_code == 409
    # The target's agent keeps the guest that arrives there.
    agent.recount_claims(ComputeHost.objects.get(name="host2"))
    assert usage("host2") == (1, 128, 2)


def test_a_target_that_cannot_prepare_leaves_the_server_running_where_it_was(
    world, host, host2, image, tiny, capture, monkeypatch
):
    server_id = launch(world, capture, image, tiny, host, host2)

    def refuse(spec, address, shared=()):
        raise VirtError("no room for the guest")

    monkeypatch.setattr(host2.driver, "prepare_incoming", refuse)
    response, ran = migrate_live(world, capture, server_id, host, host2, host="host2")

    assert response.status_code == 202
    assert ran == [*STEPS[:2], "instances.abort_live_migration"]
    assert show(world, server_id)["status"] == "ACTIVE"
    assert Instance.objects.get(pk=server_id).host.name == "host1"
    assert "no room for the guest" in Instance.objects.get(pk=server_id).fault_message
    assert host.driver.power_state(server_id) == DriverPower.RUNNING
    assert host2.driver.list_defined() == [] and not (host2.disks_dir / server_id).exists()
    assert usage("host1") == (1, 128, 2) and usage("host2") == (0, 0, 0)
    assert actions(server_id)[-1] == ("live-migration", "Error")
    record = Migration.objects.get(instance_id=server_id)
    assert record.status == "error" and "no room for the guest" in record.error


def test_a_target_that_fails_after_the_copy_gives_the_guest_back_to_the_source(
    world, host, host2, image, tiny, capture, monkeypatch
):
    server_id = launch(world, capture, image, tiny, host, host2)

    def fail(uuid, running=True, console_before=""):
        raise VirtError("the guest would not start")

    monkeypatch.setattr(host2.driver, "finish_incoming", fail)
    response, ran = migrate_live(world, capture, server_id, host, host2, host="host2")

    assert ran == [*STEPS[:4], "instances.abort_live_migration", "instances.resume_live_migration_source"]
    instance = Instance.objects.get(pk=server_id)
    assert (instance.host.name, instance.vm_state, instance.task_state) == (
        "host1",
        VmState.ACTIVE,
        TaskState.NONE,
    )
    assert instance.power_state == PowerState.RUNNING
    assert host.driver.power_state(server_id) == DriverPower.RUNNING and not host.driver.has_left(server_id)
    assert host2.driver.list_defined() == []
    assert usage("host1") == (1, 128, 2) and usage("host2") == (0, 0, 0)
    assert actions(server_id)[-1] == ("live-migration", "Error")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"host": "host2", "block_migration": False}, "share no storage"),
        ({"host": "host1", "block_migration": "auto"}, "can't be the same"),
        ({"host": "nowhere", "block_migration": "auto"}, "could not be found"),
        ({"host": None}, "block_migration"),
        ({"host": None, "block_migration": "sometimes"}, "block_migration"),
        ({"host": None, "block_migration": "auto", "colour": "red"}, "Additional properties"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(world, host, host2, image, tiny, capture, body, message):
    server_id = launch(world, capture, image, tiny, host, host2)
    with capture() as callbacks:
        response = world["admin"].post(f"/servers/{server_id}/action", {"os-migrateLive": body}, "2.30")
    assert response.status_code == 400, response.content
    assert message in response.content.decode()
    assert list(callbacks) == []
    assert show(world, server_id)["status"] == "ACTIVE"
    assert usage("host2") == (0, 0, 0)


def test_only_an_admin_may_live_migrate_and_only_a_running_server(world, host, host2, image, tiny, capture):
    server_id = launch(world, capture, image, tiny, host, host2)
    response, _ = migrate_live(world, capture, server_id, host, host2, who="member")
    assert response.status_code == 403
    act(world, capture, server_id, {"os-stop": None}, host, host2)
    response, _ = migrate_live(world, capture, server_id, host, host2)
    assert response.status_code == 409
    assert usage("host2") == (0, 0, 0)


def test_a_host_without_room_is_a_400(world, host, host2, image, tiny, capture):
    server_id = launch(world, capture, image, tiny, host, host2)
    ComputeHost.objects.filter(name="host2").update(memory_mb_used=4096)
    response, _ = migrate_live(world, capture, server_id, host, host2, host="host2")
    assert response.status_code == 400 and "No valid host" in response.content.decode()


def test_a_migration_stuck_past_the_task_timeout_is_given_up(
    world, host, host2, image, tiny, capture, settings
):
    server_id = launch(world, capture, image, tiny, host, host2)
    with capture():  # the steps are enqueued, never delivered: both agents stay silent
        body = {"os-migrateLive": {"host": None, "block_migration": "auto"}}
        assert world["admin"].post(f"/servers/{server_id}/action", body, "2.30").status_code == 202
    Instance.objects.filter(pk=server_id).update(task_started_at=timezone.now() - timedelta(hours=2))
    settings.COMPUTE_TASK_TIMEOUT = 3600

    with capture():
        assert agent.sweep_stuck()["stuck"] == 1

    instance = Instance.objects.get(pk=server_id)
    assert (instance.vm_state, instance.task_state, instance.host.name) == (
        VmState.ACTIVE,
        TaskState.NONE,
        "host1",
    )
    assert instance.live_migration_target is None and "stuck" in instance.fault_message
    assert usage("host2") == (0, 0, 0)
    assert actions(server_id)[-1] == ("live-migration", "Error")


def test_an_attached_volume_stays_where_it_is_and_the_new_host_opens_it(
    world, cinder, host, host2, image, tiny, capture
):
    server_id = launch(world, capture, image, tiny, host, host2)
    volume_id = create(cinder, capture, host)["id"]
    with capture() as callbacks:
        response = world["member"].post(
            f"/servers/{server_id}/os-volume_attachments", {"volumeAttachment": {"volumeId": volume_id}}
        )
    assert response.status_code == 200, response.content
    Run(capture, host)(callbacks)
    path = str(Volume.objects.get(pk=volume_id).path)

    response, ran = migrate_live(world, capture, server_id, host, host2, host="host2")

    assert ran == STEPS
    assert host2.driver.saved_spec(server_id).disk("vdc").path == path  # the volumes directory is shared
    assert sorted(p.name for p in (host2.disks_dir / server_id).iterdir()) == [
        "disk", "disk.config", "disk.eph0", "disk.swap",
    ]  # fmt: skip
    assert Volume.objects.get(pk=volume_id).status == VolumeStatus.IN_USE


@pytest.mark.parametrize(
    ("version", "body", "status"),
    [
        ("2.24", {"host": None, "block_migration": True, "disk_over_commit": False}, 202),
        ("2.24", {"host": None, "block_migration": "auto", "disk_over_commit": False}, 400),
        ("2.25", {"host": None, "block_migration": "auto", "disk_over_commit": False}, 400),
        ("2.30", {"host": "host2", "block_migration": "auto", "force": False}, 202),
        ("2.68", {"host": "host2", "block_migration": "auto", "force": False}, 400),
        ("2.96", {"block_migration": "auto"}, 400),
    ],
)
def test_the_body_follows_novas_microversions(
    world, host, host2, image, tiny, capture, version, body, status
):
    server_id = launch(world, capture, image, tiny, host, host2)
    with capture():
        response = world["admin"].post(f"/servers/{server_id}/action", {"os-migrateLive": body}, version)
    assert response.status_code == status, response.content


def start_undelivered(world, capture, server_id) -> None:
    """A live migration to host2 begun, its steps enqueued and never delivered."""
    with capture():
        body = {"os-migrateLive": {"host": "host2", "block_migration": "auto"}}
        assert world["admin"].post(f"/servers/{server_id}/action", body, "2.30").status_code == 202


def test_a_host_that_is_a_live_migration_target_is_not_removed(world, host, host2, image, tiny, capture):
    server_id = launch(world, capture, image, tiny, host, host2)
    start_undelivered(world, capture, server_id)
    services = world["admin"].get("/os-services", "2.53").json()["services"]
    host2_id = next(s["id"] for s in services if s["host"] == "host2")
    response = world["admin"].delete(f"/os-services/{host2_id}", "2.53")
    assert response.status_code == 409
    assert Instance.objects.get(pk=server_id).live_migration_target.name == "host2"


def given_up_after_the_copy(world, capture, server_id, settings) -> None:
    """Given up once the copy was complete (the source's guest paused): the source's agent never
    got to run it again, and the task is past its timeout."""
    start_undelivered(world, capture, server_id)
    with capture():
        assert live_migration.failed(server_id, "the target died", source_paused=True)
    Instance.objects.filter(pk=server_id).update(task_started_at=timezone.now() - timedelta(hours=2))
    settings.COMPUTE_TASK_TIMEOUT = 3600


def test_a_migration_given_up_after_the_copy_is_settled_when_its_source_stays_down(
    world, host, host2, image, tiny, capture, settings
):
    server_id = launch(world, capture, image, tiny, host, host2)
    given_up_after_the_copy(world, capture, server_id, settings)
    ComputeHost.objects.filter(name="host1").update(forced_down=True)

    with capture() as callbacks:
        assert agent.sweep_stuck()["stuck"] == 1
    assert list(callbacks) == []
    instance = Instance.objects.get(pk=server_id)
    assert (instance.task_state, instance.host.name) == (TaskState.NONE, "host1")
    assert "stuck" in instance.fault_message
    assert actions(server_id)[-1] == ("live-migration", "Error")
    # Now it can be evacuated.
    with capture() as callbacks:
        response = world["admin"].post(f"/servers/{server_id}/action", {"evacuate": {}}, "2.96")
    assert response.status_code == 200, response.content
    assert deliver(capture, callbacks, host, host2) == ["instances.evacuate"]
    assert Instance.objects.get(pk=server_id).host.name == "host2"


def test_a_migration_given_up_after_the_copy_asks_its_source_again_when_it_is_up(
    world, host, host2, image, tiny, capture, settings
):
    server_id = launch(world, capture, image, tiny, host, host2)
    given_up_after_the_copy(world, capture, server_id, settings)

    with capture() as callbacks:
        assert agent.sweep_stuck()["stuck"] == 1
    assert deliver(capture, callbacks, host, host2) == ["instances.resume_live_migration_source"]
    instance = Instance.objects.get(pk=server_id)
    assert (instance.vm_state, instance.task_state, instance.host.name) == (
        VmState.ACTIVE,
        TaskState.NONE,
        "host1",
    )
    assert host.driver.power_state(server_id) == DriverPower.RUNNING


def test_once_the_target_lets_the_guest_run_the_migration_is_not_given_up_elsewhere(
    world, host, host2, image, tiny, capture, monkeypatch
):
    server_id = launch(world, capture, image, tiny, host, host2)
    original, refused = host2.driver.finish_incoming, []

    def late_give_up_then_run(uuid, running=True, console_before=""):
        # The sweeper (or the source's agent) tries to give the migration up at this moment.
        refused.append(live_migration.failed(uuid, "too late", source_paused=True))
        original(uuid, running=running, console_before=console_before)

    monkeypatch.setattr(host2.driver, "finish_incoming", late_give_up_then_run)
    response, ran = migrate_live(world, capture, server_id, host, host2, host="host2")

    assert refused == [False] and ran == STEPS
    instance = Instance.objects.get(pk=server_id)
    assert (instance.host.name, instance.task_state, instance.live_migration_finishing) == (
        "host2",
        TaskState.NONE,
        False,
    )
    assert host2.driver.power_state(server_id) == DriverPower.RUNNING
    assert host.driver.list_defined() == []


def test_a_target_whose_migration_was_given_up_does_not_let_its_guest_run(
    world, host, host2, image, tiny, capture, monkeypatch
):
    server_id = launch(world, capture, image, tiny, host, host2)
    copy, armed, started = host.driver.migrate_to, [], []

    def copy_then_arm(*args, **kwargs):
        figures = copy(*args, **kwargs)
        armed.append(True)
        return figures

    def migrating_here(instance_id, *, as_target):
        row = type(host2)._migrating_here(host2, instance_id, as_target=as_target)
        if armed and as_target and row is not None:
            # Given up (the copy was complete) just after the target read the row.
            assert live_migration.failed(instance_id, "given up", source_paused=True)
        return row

    monkeypatch.setattr(host.driver, "migrate_to", copy_then_arm)
    monkeypatch.setattr(host2, "_migrating_here", migrating_here)
    monkeypatch.setattr(host2.driver, "finish_incoming", lambda uuid, **kw: started.append(uuid))
    migrate_live(world, capture, server_id, host, host2, host="host2")

    assert started == []
    instance = Instance.objects.get(pk=server_id)
    assert (instance.host.name, instance.task_state) == ("host1", TaskState.NONE)
    assert host.driver.power_state(server_id) == DriverPower.RUNNING
    assert host2.driver.list_defined() == []


def test_a_migration_stuck_while_its_target_finished_it_is_finished(
    world, host, host2, image, tiny, capture, settings, monkeypatch
):
    server_id = launch(world, capture, image, tiny, host, host2)
    monkeypatch.setattr(live_migration, "finished", lambda instance_id: False)  # the target stopped here
    migrate_live(world, capture, server_id, host, host2, host="host2")
    monkeypatch.undo()
    assert Instance.objects.get(pk=server_id).live_migration_finishing
    Instance.objects.filter(pk=server_id).update(task_started_at=timezone.now() - timedelta(hours=2))
    settings.COMPUTE_TASK_TIMEOUT = 3600

    # Its agent is up: asked to finish again, it finds the guest running and records the move.
    with capture() as callbacks:
        assert agent.sweep_stuck()["stuck"] == 1
    assert deliver(capture, callbacks, host, host2) == STEPS[3:]
    instance = Instance.objects.get(pk=server_id)
    assert (instance.host.name, instance.task_state) == ("host2", TaskState.NONE)
    assert host2.driver.power_state(server_id) == DriverPower.RUNNING
    assert usage("host1") == (0, 0, 0) and usage("host2") == (1, 128, 2)


def test_a_malformed_endpoint_gives_the_migration_up_and_the_target_lets_go(
    world, host, host2, image, tiny, capture, monkeypatch
):
    server_id = launch(world, capture, image, tiny, host, host2)
    ready = live_migration.destination_ready
    monkeypatch.setattr(live_migration, "destination_ready", lambda iid, endpoint: ready(iid, {"bogus": 1}))
    response, ran = migrate_live(world, capture, server_id, host, host2, host="host2")

    assert ran == [*STEPS[:3], "instances.abort_live_migration"]
    assert_given_up(world, host, host2, server_id)


def test_a_config_drive_that_is_not_base64_gives_the_migration_up(
    world, host, host2, image, tiny, capture, monkeypatch
):
    server_id = launch(world, capture, image, tiny, host, host2)
    checked = live_migration.source_checked
    monkeypatch.setattr(
        live_migration, "source_checked", lambda iid, layout: checked(iid, {**layout, "config_drive": "abc"})
    )
    response, ran = migrate_live(world, capture, server_id, host, host2, host="host2")

    assert ran == [*STEPS[:2], "instances.abort_live_migration"]
    assert_given_up(world, host, host2, server_id)


def test_a_step_whose_hand_over_fails_is_given_up_by_the_task_failure_hook(
    world, host, host2, image, tiny, capture, monkeypatch
):
    server_id = launch(world, capture, image, tiny, host, host2)
    with capture() as pending:
        body = {"os-migrateLive": {"host": "host2", "block_migration": "auto"}}
        assert world["admin"].post(f"/servers/{server_id}/action", body, "2.30").status_code == 202
    for step in STEPS[:2]:  # source checked, target ready; step 3 runs as the Celery task below
        with capture() as more:
            assert Deliver(host, host2)(pending) == [step]
        pending = list(more)
    (copy,) = pending
    assert copy.args[0] == "instances.live_migrate"

    def refused(instance_id, tail):
        raise DatabaseError("database is locked")

    monkeypatch.setattr(live_migration, "memory_copied", refused)
    monkeypatch.setattr(agent, "current", lambda: host)
    with capture() as callbacks:
        result = tasks.live_migrate.apply(args=copy.keywords["args"])
    assert result.failed()
    monkeypatch.undo()
    assert deliver(capture, callbacks, host, host2) == [
        "instances.abort_live_migration",
        "instances.resume_live_migration_source",
    ]
    assert_given_up(world, host, host2, server_id)
    assert "database is locked" in Instance.objects.get(pk=server_id).fault_message


def assert_given_up(world, host, host2, server_id) -> None:
    instance = Instance.objects.get(pk=server_id)
    assert (instance.host.name, instance.vm_state, instance.task_state, instance.live_migration_target) == (
        "host1",
        VmState.ACTIVE,
        TaskState.NONE,
        None,
    )
    assert host.driver.power_state(server_id) == DriverPower.RUNNING
    assert host2.driver.list_defined() == []
    assert usage("host1") == (1, 128, 2) and usage("host2") == (0, 0, 0)
    assert Migration.objects.get(instance_id=server_id).status == "error"
    assert actions(server_id)[-1] == ("live-migration", "Error")
