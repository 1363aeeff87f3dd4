"""The Celery shells of agent actions: a failure nobody expected never leaves an instance stuck."""

from __future__ import annotations

import pytest

from instances import tasks
from instances.choices import TaskState, VmState
from instances.compute import agent
from instances.models import Instance, InstanceAction, InstanceActionEvent
from instances.services import action_log
from tests.instances.dashboard_support import bulk_instances


def test_an_action_that_fails_puts_the_instance_in_error_with_the_reason(world, tiny, monkeypatch):
    bulk_instances(world["home"], 1, flavor=tiny, task_state=TaskState.POWERING_OFF)
    instance = Instance.objects.get()
    action_log.record_action(instance.pk, "stop", request_id="req-1")

    def broken():
        raise RuntimeError("the hypervisor went away")

    monkeypatch.setattr(agent, "current", broken)
    result = tasks.stop.apply(args=[str(instance.pk)])
    assert result.failed()
    with pytest.raises(RuntimeError):
        result.get(propagate=True)
    instance.refresh_from_db()
    assert instance.vm_state == VmState.ERROR
    assert instance.task_state == TaskState.NONE
    assert "Stop failed: the hypervisor went away" in instance.fault_message
    stop = InstanceAction.objects.get(instance=instance, action="stop")
    assert stop.result == "Error" and stop.finish_time is not None
    assert "the hypervisor went away" in stop.message  # the traceback


def test_an_event_that_dies_half_way_ends_in_error_with_its_traceback(world, tiny):
    bulk_instances(world["home"], 1, flavor=tiny, task_state=TaskState.POWERING_OFF)
    instance = Instance.objects.get()
    action_log.record_action(instance.pk, "stop", request_id="req-2")
    action_log.start_event(instance.pk, TaskState.POWERING_OFF, "host9")
    action_log.fail_events(instance.pk, "Traceback: boom")
    (event,) = InstanceActionEvent.objects.filter(action__instance=instance)
    assert (event.event, event.host, event.result) == ("compute_stop_instance", "host9", "Error")
    assert event.traceback == "Traceback: boom" and event.finish_time is not None
