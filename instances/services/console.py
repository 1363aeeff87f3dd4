"""An instance's serial console output, asked of the agent of its host (shared by the Compute
API's os-getConsoleOutput and the dashboard's Log tab)."""

from __future__ import annotations

from dashboard.exceptions import Conflict
from instances.compute import rpc
from instances.models import Instance


def console_output(instance: Instance, length: int | None = None) -> str:
    """The last ``length`` lines (all with None). Conflict when the host cannot answer now;
    rpc.AgentTimeout when it does not answer in time."""
    if instance.host is None or not instance.host.is_up:
        raise Conflict(f"Instance {instance.pk} is not ready: its compute host is not available.")
    return rpc.call("instances.console_output", instance.host.name, str(instance.pk), length)
