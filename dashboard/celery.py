import json
import logging
import os
from functools import partial

from celery import Celery
from django.apps import apps
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("stratus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

log = logging.getLogger(__name__)


def enqueue(task_name: str, *args, queue: str | None = None) -> None:
    """Send the task registered as ``task_name`` once the surrounding transaction commits (at once
    outside a transaction), so that a worker never reads rows the request has not committed yet.
    Tasks are named, not imported: a service that enqueues work needs no import of the tasks module
    (which imports the services). Without ``queue``, CELERY_TASK_ROUTES picks it.

    The message is first written to the outbox in the same transaction, so work whose state change
    committed is never lost when the broker cannot take it at that moment: the relay sends it later.
    (The model is looked up through the app registry: this module is loaded before the models are.)"""
    # The JSON the broker would carry, so a relayed message reads exactly as a direct one.
    payload = json.loads(json.dumps(list(args), cls=DjangoJSONEncoder))
    outbox = apps.get_model("dashboard", "OutboxMessage")
    message = outbox.objects.create(task_name=task_name, args=payload, queue=queue or "")
    transaction.on_commit(partial(deliver, task_name, args=payload, queue=queue, message_id=message.pk))


def deliver(task_name: str, *, args: list, queue: str | None, message_id: int) -> bool:
    """Hand one outbox message to the broker and drop it from the outbox; False (and the message
    kept, with the error) when the broker cannot take it. Never raises: the request that caused it
    has committed and must not fail for it."""
    outbox = apps.get_model("dashboard", "OutboxMessage")
    try:
        app.send_task(task_name, args=args, queue=queue or None, retry=False)
    except Exception as error:  # noqa: BLE001 - whatever the broker says, the relay retries
        log.warning("Task %s not sent (%s); the outbox relay will send it", task_name, error)
        outbox.objects.filter(pk=message_id).update(attempts=F("attempts") + 1, last_error=str(error)[:500])
        return False
    outbox.objects.filter(pk=message_id).delete()
    return True
