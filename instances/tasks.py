"""Celery shells: they take ids and hand over to the compute manager of this agent process
(``instances.agent.current()``). All are idempotent (see instances.manager) and acked late, so
a killed agent gets them again and a second run does nothing twice."""

from __future__ import annotations

import logging

import redis
from celery import shared_task
from django.conf import settings

from . import agent

log = logging.getLogger(__name__)

_TASK = {"acks_late": True, "reject_on_worker_lost": True}


def _guarded(action: str, instance_id: str, run) -> None:
    """Run an agent action; if it dies with an error nobody expected, the instance is not left
    in its task state forever: it goes to ERROR with the error, and the error is re-raised."""
    from .services import servers

    try:
        run()
    except Exception as exc:
        log.exception("%s of instance %s failed", action, instance_id)
        servers.set_error(instance_id, f"{action} failed: {exc}")
        raise


@shared_task(name="instances.build", **_TASK)
def build(instance_id: str) -> None:
    _guarded("Build", instance_id, lambda: agent.current().build(instance_id))


@shared_task(name="instances.stop", **_TASK)
def stop(instance_id: str) -> None:
    _guarded("Stop", instance_id, lambda: agent.current().stop(instance_id))


@shared_task(name="instances.start", **_TASK)
def start(instance_id: str) -> None:
    _guarded("Start", instance_id, lambda: agent.current().start(instance_id))


@shared_task(name="instances.reboot", **_TASK)
def reboot(instance_id: str) -> None:
    _guarded("Reboot", instance_id, lambda: agent.current().reboot(instance_id))


@shared_task(name="instances.pause", **_TASK)
def pause(instance_id: str) -> None:
    _guarded("Pause", instance_id, lambda: agent.current().pause(instance_id))


@shared_task(name="instances.unpause", **_TASK)
def unpause(instance_id: str) -> None:
    _guarded("Unpause", instance_id, lambda: agent.current().unpause(instance_id))


@shared_task(name="instances.suspend", **_TASK)
def suspend(instance_id: str) -> None:
    _guarded("Suspend", instance_id, lambda: agent.current().suspend(instance_id))


@shared_task(name="instances.resume", **_TASK)
def resume(instance_id: str) -> None:
    _guarded("Resume", instance_id, lambda: agent.current().resume(instance_id))


@shared_task(name="instances.snapshot", **_TASK)
def snapshot(instance_id: str, image_id: str) -> None:
    _guarded("Snapshot", instance_id, lambda: agent.current().snapshot(instance_id, image_id))


@shared_task(name="instances.delete", **_TASK)
def delete(instance_id: str) -> None:
    _guarded("Delete", instance_id, lambda: agent.current().delete(instance_id))


@shared_task(name="instances.console_output")
def console_output(instance_id: str, length: int | None, reply_to: str) -> None:
    """Answer the API's question on the reply list it waits on (see instances.rpc)."""
    text = agent.current().console_output(instance_id, length)
    client = redis.Redis.from_url(settings.REDIS_URL)
    with client.pipeline() as pipe:
        pipe.rpush(reply_to, text.encode())
        pipe.expire(reply_to, 60)
        pipe.execute()


@shared_task(name="instances.sync_hosts", acks_late=True)
def sync_hosts() -> dict:
    """Beat, on the default queue: settle stuck instances, then ask every live host to sync."""
    from .models import ComputeHost
    from .services.servers import enqueue

    counts = agent.sweep_stuck()
    for host in ComputeHost.objects.up():
        enqueue("instances.sync_host", host)
    return counts


@shared_task(name="instances.sync_host", acks_late=True)
def sync_host() -> dict:
    manager = agent.current()
    changed = agent.sync_power_states(manager)
    pruned = agent.prune_cache(manager)
    return {"power_state_changes": changed, "pruned": pruned}


# --- volumes: on the host's queue (plugging into guests) and the default queue (files) ---------


@shared_task(name="instances.attach_volume", **_TASK)
def attach_volume(attachment_id: str) -> None:
    agent.current().attach_volume(attachment_id)


@shared_task(name="instances.detach_volume", **_TASK)
def detach_volume(attachment_id: str) -> None:
    agent.current().detach_volume(attachment_id)


@shared_task(name="instances.create_volume", **_TASK)
def create_volume(volume_id: str) -> bool:
    from .services import volumes

    return volumes.populate(volume_id)


@shared_task(name="instances.extend_volume", **_TASK)
def extend_volume(volume_id: str) -> bool:
    from .services import volumes

    return volumes.finish_extend(volume_id)


@shared_task(name="instances.upload_volume", **_TASK)
def upload_volume(volume_id: str) -> bool:
    from .services import volume_images

    return volume_images.finish_upload(volume_id)


@shared_task(name="instances.delete_volume", **_TASK)
def delete_volume(volume_id: str) -> bool:
    from .services import volumes

    return volumes.finish_delete(volume_id)


@shared_task(name="instances.sweep_volumes", acks_late=True)
def sweep_volumes() -> dict:
    from .services import volumes

    return volumes.sweep()
