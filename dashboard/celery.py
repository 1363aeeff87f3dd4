import os
from functools import partial

from celery import Celery
from django.db import transaction

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("stratus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def enqueue(task_name: str, *args, queue: str | None = None) -> None:
    """Send the task registered as ``task_name`` once the surrounding transaction commits (at once
    outside a transaction), so that a worker never reads rows the request has not committed yet.
    Tasks are named, not imported: a service that enqueues work needs no import of the tasks module
    (which imports the services). Without ``queue``, CELERY_TASK_ROUTES picks it."""
    transaction.on_commit(partial(app.send_task, task_name, args=list(args), queue=queue))
