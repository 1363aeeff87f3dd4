"""An instance's serial console output, asked of the agent of its host (shared by the Compute
API's os-getConsoleOutput and the dashboard's Log tab), and the whole log streamed (its download)."""

from __future__ import annotations

from collections.abc import Iterator

from dashboard.exceptions import Conflict
from instances.compute import rpc
from instances.models import Instance


def console_output(instance: Instance, length: int | None = None) -> str:
    """The last ``length`` lines (all with None). Conflict when the host cannot answer now;
    rpc.AgentTimeout when it does not answer in time."""
    _check_host(instance)
    return rpc.call("instances.console_output", instance.host.name, str(instance.pk), length)


def console_log(instance: Instance) -> Iterator[bytes]:
    """The whole serial log, streamed from the host in chunks as they arrive. Conflict and
    rpc.AgentTimeout as console_output, raised before the first chunk."""
    _check_host(instance)
    return rpc.stream("instances.console_log", instance.host.name, str(instance.pk))


def _check_host(instance: Instance) -> None:
    if instance.host is None or not instance.host.is_up:
        raise Conflict(f"Instance {instance.pk} is not ready: its compute host is not available.")
