from celery import shared_task
from django.utils import timezone

from dashboard import outbox
from dashboard.models import Token


@shared_task(name="dashboard.tasks.purge_expired_tokens")
def purge_expired_tokens() -> int:
    """Drop tokens past their expiry; they no longer authenticate anyway."""
    deleted, _ = Token.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


@shared_task(name="dashboard.tasks.relay_outbox")
def relay_outbox() -> dict:
    """Send again what the broker could not take when it was enqueued (Redis down or restarting)."""
    return outbox.relay()
