"""The outbox relay: sends again the task messages the broker could not take when their state
change committed (see dashboard.celery.enqueue)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dashboard.celery import deliver
from dashboard.models import OutboxMessage


def relay(limit: int = 500) -> dict[str, int]:
    """Send the messages older than the grace period, oldest first. A message younger than that
    is normally being sent right now by the process that committed it. Rows are claimed with
    SKIP LOCKED (PostgreSQL), so two relays never send the same message at once; a relay that dies
    after sending and before deleting sends it again next time, which the tasks tolerate."""
    cutoff = timezone.now() - timedelta(seconds=settings.OUTBOX_RELAY_GRACE)
    sent = failed = 0
    with transaction.atomic():
        batch = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(created_at__lte=cutoff)
            .order_by("created_at", "pk")[:limit]
        )
        for message in batch:
            ok = deliver(
                message.task_name, args=message.args, queue=message.queue or None, message_id=message.pk
            )
            if ok:
                sent += 1
            else:
                failed += 1
                break  # the broker is still away: the rest wait for the next round
    return {"sent": sent, "failed": failed, "waiting": OutboxMessage.objects.count()}
