"""The agent's healing after a crash, power-state sync, stuck-task sweeping and cache pruning
(fake driver, in process)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from instances.choices import PowerState, TaskState, VmState
from instances.compute import agent
from instances.models import ComputeHost, Instance
from tests.instances.api.test_servers import create_body
from tests.instances.conftest import Deliver


def launched(world, host, image, tiny, capture, deliver=True) -> str:
    with capture() as callbacks:
        server_id = world["member"].post("/servers", create_body(image, tiny), "2.96").json()["server"]["id"]
    if deliver:
        Deliver(host)(callbacks)
    return server_id


def test_heal_errors_interrupted_builds_and_destroys_orphans(
    world, host, image, tiny, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    building = launched(world, host, image, tiny, capture, deliver=False)
    running = launched(world, host, image, tiny, capture)
    gone = launched(world, host, image, tiny, capture)
    Instance.objects.filter(pk=gone).update(deleted=True, vm_state=VmState.DELETED)  # deleted while down
    counts = agent.heal(host)
    assert counts["errored"] == 1 and counts["orphans"] == 1
    broken = Instance.objects.get(pk=building)
    assert (broken.vm_state, broken.task_state) == (VmState.ERROR, TaskState.NONE)
    assert "being built" in broken.fault_message
    assert host.driver.list_defined() == [running]
    assert not host.disk_paths(gone)["vda"].exists()


def test_heal_settles_an_interrupted_action_on_the_real_power_state(
    world, host, image, tiny, django_capture_on_commit_callbacks
):
    server = launched(world, host, image, tiny, django_capture_on_commit_callbacks)
    host.driver.power_off(server)  # the stop happened, the agent died before recording it
    Instance.objects.filter(pk=server).update(task_state=TaskState.POWERING_OFF)
    assert agent.heal(host)["settled"] == 1
    instance = Instance.objects.get(pk=server)
    assert (instance.vm_state, instance.task_state, instance.power_state) == (
        VmState.STOPPED,
        TaskState.NONE,
        PowerState.SHUTDOWN,
    )


def test_a_guest_that_died_is_shutoff_after_the_sync(
    world, host, image, tiny, django_capture_on_commit_callbacks
):
    server = launched(world, host, image, tiny, django_capture_on_commit_callbacks)
    host.driver.power_off(server)
    assert agent.sync_power_states(host) == 1
    assert world["member"].get(f"/servers/{server}").json()["server"]["status"] == "SHUTOFF"


def test_stuck_tasks_and_slow_builds_end_in_error(
    world, host, image, tiny, django_capture_on_commit_callbacks, settings
):
    capture = django_capture_on_commit_callbacks
    settings.COMPUTE_BUILD_TIMEOUT, settings.COMPUTE_TASK_TIMEOUT = 60, 60
    slow = launched(world, host, image, tiny, capture, deliver=False)
    stuck = launched(world, host, image, tiny, capture)
    long_ago = timezone.now() - timedelta(hours=1)
    Instance.objects.filter(pk=slow).update(created_at=long_ago)
    Instance.objects.filter(pk=stuck).update(task_state=TaskState.REBOOTING, task_started_at=long_ago)
    counts = agent.sweep_stuck()
    assert counts["build_timeout"] == 1 and counts["stuck"] == 1
    assert "timed out" in Instance.objects.get(pk=slow).fault_message
    assert Instance.objects.get(pk=stuck).vm_state == VmState.ERROR


def test_the_cache_keeps_bases_in_use_and_prunes_old_unused_ones(
    world, host, image, tiny, django_capture_on_commit_callbacks, settings
):
    server = launched(world, host, image, tiny, django_capture_on_commit_callbacks)
    settings.COMPUTE_IMAGE_CACHE_MAX_AGE = 0
    assert agent.prune_cache(host, force=True) == []
    world["member"].delete(f"/servers/{server}")
    host.delete(server)
    assert agent.prune_cache(host, force=True) == [str(image.pk)]


def test_registration_recounts_claims(world, host, image, tiny, django_capture_on_commit_callbacks):

    launched(world, host, image, tiny, django_capture_on_commit_callbacks)
    ComputeHost.objects.update(memory_mb_used=9999)
    agent.register(host, "nova", {"vcpus": 8, "memory_mb": 4096, "disk_gb": 100})
    assert ComputeHost.objects.get().memory_mb_used == 128
