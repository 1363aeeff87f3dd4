"""The Celery shells of agent actions: a failure nobody expected never leaves an instance stuck."""

from __future__ import annotations

import pytest

from instances import tasks
from instances.choices import TaskState, VmState
from instances.compute import agent
from instances.models import Instance
from tests.instances.dashboard_support import bulk_instances


def test_an_action_that_fails_puts_the_instance_in_error_with_the_reason(world, tiny, monkeypatch):
    bulk_instances(world["home"], 1, flavor=tiny, task_state=TaskState.POWERING_OFF)
    instance = Instance.objects.get()

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
