"""Celery shells: they take ids and hand over to the compute manager of this agent process
(``instances.compute.agent.current()``). All are idempotent (see instances.compute.manager) and acked late, so
a killed agent gets them again and a second run does nothing twice."""

from __future__ import annotations

import logging

import redis
from celery import Task, shared_task
from django.conf import settings

from dashboard.celery import enqueue
from instances.compute import agent, rpc
from instances.models import ComputeHost
from instances.services import action_log, servers, volume_images, volume_sweeper, volumes
from instances.services.resize import confirm_expired

log = logging.getLogger(__name__)

_TASK = {"acks_late": True, "reject_on_worker_lost": True}
LIVE_MIGRATION_STEPS = (
    "check_live_migration_source",
    "prepare_live_migration",
    "live_migrate",
    "finish_live_migration",
)


class InstanceActionTask(Task):
    """An agent action on one instance (its id is the first argument). If it fails with an error
    nobody expected, the instance is not left in its task state forever: Celery's failure hook
    puts it in ERROR with the error, and the task still fails for everyone to see."""

    action = ""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:

        instance_id = args[0] if args else kwargs.get("instance_id")
        log.error("%s of instance %s failed: %s", self.action, instance_id, exc)
        step = self.name.removeprefix("instances.")
        # A live migration step: given up as a failed migration (the target's claim and guest
        # go, the source runs on), never an instance in ERROR with the move half done.
        if step in LIVE_MIGRATION_STEPS and _live_migration_given_up(instance_id, step, exc):
            action_log.fail_events(instance_id, str(einfo.traceback or exc))
            return
        servers.set_error(instance_id, f"{self.action} failed: {exc}")
        action_log.fail_events(instance_id, str(einfo.traceback or exc))


def _live_migration_given_up(instance_id, step: str, exc: BaseException) -> bool:
    try:
        return agent.current().live_migration_went_wrong(instance_id, step, exc)
    except Exception:  # noqa: BLE001 (the hook must not fail: the sweeper settles it in the end)
        log.exception("the live migration of instance %s could not be given up", instance_id)
        return False


def _action(name: str, action: str):
    return shared_task(name=f"instances.{name}", base=InstanceActionTask, action=action, **_TASK)


@_action("build", "Build")
def build(instance_id: str) -> None:
    agent.current().build(instance_id)


@_action("stop", "Stop")
def stop(instance_id: str) -> None:
    agent.current().stop(instance_id)


@_action("start", "Start")
def start(instance_id: str) -> None:
    agent.current().start(instance_id)


@_action("reboot", "Reboot")
def reboot(instance_id: str) -> None:
    agent.current().reboot(instance_id)


@_action("pause", "Pause")
def pause(instance_id: str) -> None:
    agent.current().pause(instance_id)


@_action("unpause", "Unpause")
def unpause(instance_id: str) -> None:
    agent.current().unpause(instance_id)


@_action("suspend", "Suspend")
def suspend(instance_id: str) -> None:
    agent.current().suspend(instance_id)


@_action("resume", "Resume")
def resume(instance_id: str) -> None:
    agent.current().resume(instance_id)


@_action("snapshot", "Snapshot")
def snapshot(instance_id: str, image_id: str) -> None:
    agent.current().snapshot(instance_id, image_id)


@_action("backup", "Backup")
def backup(instance_id: str, image_id: str, backup_type: str, rotation: int) -> None:
    agent.current().backup(instance_id, image_id, backup_type, rotation)


@_action("shelve", "Shelve")
def shelve(instance_id: str, image_id: str = "") -> None:
    agent.current().shelve(instance_id, image_id)


@_action("shelve_offload", "Shelve offload")
def shelve_offload(instance_id: str) -> None:
    agent.current().shelve_offload(instance_id)


@_action("unshelve", "Unshelve")
def unshelve(instance_id: str) -> None:
    agent.current().unshelve(instance_id)


@_action("delete", "Delete")
def delete(instance_id: str) -> None:
    agent.current().delete(instance_id)


# --- resize, rebuild, rescue (instances.compute.disk_ops) ---------------------------------------


@_action("resize", "Resize")
def resize(instance_id: str) -> None:
    agent.current().resize(instance_id)


@_action("finish_resize", "Resize")
def finish_resize(instance_id: str, source_dir: str, files: dict | None = None) -> None:
    agent.current().finish_resize(instance_id, source_dir, files)


@_action("evacuate", "Evacuate")
def evacuate(instance_id: str) -> None:
    agent.current().evacuate(instance_id)


@shared_task(name="instances.confirm_resize", **_TASK)
def confirm_resize(instance_id: str) -> None:
    """Only removes the old disks: the instance itself was settled when the confirm was asked."""
    agent.current().confirm_resize(instance_id)


@_action("revert_resize", "Revert resize")
def revert_resize(instance_id: str) -> None:
    agent.current().revert_resize(instance_id)


@_action("finish_revert_resize", "Revert resize")
def finish_revert_resize(instance_id: str) -> None:
    agent.current().finish_revert_resize(instance_id)


@_action("rebuild", "Rebuild")
def rebuild(instance_id: str, preserve_ephemeral: bool = False) -> None:
    agent.current().rebuild(instance_id, preserve_ephemeral)


@_action("rescue", "Rescue")
def rescue(instance_id: str, image_id: str) -> None:
    agent.current().rescue(instance_id, image_id)


@_action("unrescue", "Unrescue")
def unrescue(instance_id: str) -> None:
    agent.current().unrescue(instance_id)


@shared_task(name="instances.console_output")
def console_output(instance_id: str, length: int | None, reply_to: str) -> None:
    """Answer the API's question on the reply list it waits on (see instances.compute.rpc)."""
    text = agent.current().console_output(instance_id, length)
    client = redis.Redis.from_url(settings.REDIS_URL)
    with client.pipeline() as pipe:
        pipe.rpush(reply_to, text.encode())
        pipe.expire(reply_to, 60)
        pipe.execute()


@shared_task(name="instances.host_uptime")
def host_uptime(reply_to: str) -> None:
    """Answer the hypervisor uptime question on the reply list the API waits on."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    with client.pipeline() as pipe:
        pipe.rpush(reply_to, agent.current().host_uptime().encode())
        pipe.expire(reply_to, 60)
        pipe.execute()


@shared_task(name="instances.console_log")
def console_log(instance_id: str, reply_to: str) -> None:
    """Stream the whole serial console log to the reply list the web server reads (rpc.stream)."""
    rpc.reply_stream(reply_to, agent.current().console_log(instance_id))


@shared_task(name="instances.sync_forwards", acks_late=True)
def sync_forwards() -> None:
    """On a host's queue: its nftables port forwards as the database has them (idempotent)."""
    agent.current().sync_forwards()


@shared_task(name="instances.sync_hosts", acks_late=True)
def sync_hosts() -> dict:
    """Beat, on the default queue: settle stuck instances, then ask every live host to sync."""
    counts = agent.sweep_stuck()
    counts["resizes_confirmed"] = confirm_expired()
    for host in ComputeHost.objects.up():
        enqueue("instances.sync_host", queue=host.queue)
    return counts


@shared_task(name="instances.sync_host", acks_late=True)
def sync_host() -> dict:
    manager = agent.current()
    changed = agent.sync_power_states(manager)
    offloaded = manager.offload_shelved()
    pruned = agent.prune_cache(manager)
    return {"power_state_changes": changed, "offloaded": offloaded, "pruned": pruned}


# --- volumes: on the host's queue (plugging into guests) and the default queue (files) ---------


@shared_task(name="instances.attach_volume", **_TASK)
def attach_volume(attachment_id: str) -> None:
    agent.current().attach_volume(attachment_id)


@shared_task(name="instances.detach_volume", **_TASK)
def detach_volume(attachment_id: str) -> None:
    agent.current().detach_volume(attachment_id)


@shared_task(name="instances.create_volume", **_TASK)
def create_volume(volume_id: str) -> bool:

    return volumes.populate(volume_id)


@shared_task(name="instances.extend_volume", **_TASK)
def extend_volume(volume_id: str) -> bool:

    return volumes.finish_extend(volume_id)


@shared_task(name="instances.upload_volume", **_TASK)
def upload_volume(volume_id: str) -> bool:

    return volume_images.finish_upload(volume_id)


@shared_task(name="instances.delete_volume", **_TASK)
def delete_volume(volume_id: str) -> bool:

    return volumes.finish_delete(volume_id)


@shared_task(name="instances.sweep_volumes", acks_late=True)
def sweep_volumes() -> dict:

    return volume_sweeper.sweep()


# --- live migration (instances.compute.live_migration) ------------------------------------------


@_action("check_live_migration_source", "Live migration")
def check_live_migration_source(instance_id: str) -> None:
    agent.current().check_live_migration_source(instance_id)


@_action("prepare_live_migration", "Live migration")
def prepare_live_migration(instance_id: str, layout: dict) -> None:
    agent.current().prepare_live_migration(instance_id, layout)


@_action("live_migrate", "Live migration")
def live_migrate(instance_id: str, endpoint: dict) -> None:
    agent.current().live_migrate(instance_id, endpoint)


@_action("finish_live_migration", "Live migration")
def finish_live_migration(instance_id: str, console_tail: str) -> None:
    agent.current().finish_live_migration(instance_id, console_tail)


@shared_task(name="instances.clean_up_live_migration_source", **_TASK)
def clean_up_live_migration_source(instance_id: str) -> None:
    agent.current().clean_up_live_migration_source(instance_id)


@shared_task(name="instances.abort_live_migration", **_TASK)
def abort_live_migration(instance_id: str) -> None:
    agent.current().abort_live_migration(instance_id)


@_action("resume_live_migration_source", "Live migration")
def resume_live_migration_source(instance_id: str, message: str) -> None:
    agent.current().resume_live_migration_source(instance_id, message)
