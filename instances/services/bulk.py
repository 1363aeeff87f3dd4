"""What the Instances panel can do to many instances at once (see dashboard.bulk): stop, start,
reboot and delete, each through the same services and policy rules as a row action.

Every item is logged in the instance's action log under the job's request id, so a resumed job
that repeats an item finds the action it already began and reports it done instead of refusing
it for the state that action itself caused."""

from __future__ import annotations

from dashboard.bulk import BulkAction, Refused, register
from dashboard.policy import can
from instances import policies
from instances.models import Instance, InstanceAction
from instances.services import servers

KIND = "instances"
RULES = {
    "start": policies.SERVERS_START,
    "stop": policies.SERVERS_STOP,
    "reboot": policies.SERVERS_REBOOT,
    "delete": policies.SERVERS_DELETE,
}
LABELS = {
    "start": "Start instances",
    "stop": "Shut off instances",
    "reboot": "Reboot instances",
    "delete": "Delete instances",
}


def _run(action: str):
    def run(ctx, instance_id: str, params: dict) -> str:
        request_id = params.get("request_id", "")
        if (
            request_id
            and InstanceAction.objects.filter(instance_id=instance_id, request_id=request_id).exists()
        ):
            return "Already requested by this job."
        instance = Instance.objects.accessible_to(ctx).select_related("host").filter(pk=instance_id).first()
        if instance is None:
            raise Refused("The instance no longer exists, or you can no longer see it.")
        if not can(ctx, RULES[action], {"project_id": instance.project_id}):
            raise Refused(f"Policy doesn't allow {RULES[action]} on this instance.")
        if action == "delete":
            servers.begin_delete(ctx, instance, request_id)
        else:
            servers.begin_action(ctx, instance, action, request_id=request_id)
        return ""

    return run


ACTIONS = {name: BulkAction(KIND, name, LABELS[name], _run(name)) for name in RULES}


def register_actions() -> None:
    for action in ACTIONS.values():
        register(action)
