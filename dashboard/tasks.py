from celery import shared_task
from celery.signals import worker_ready
from django.utils import timezone

from dashboard import bulk, outbox
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


@shared_task(
    name=bulk.TASK,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
    ignore_result=True,
)
def bulk_run(self, job_id: str) -> str:
    """Run a bulk job. Safe to run twice: the lease lets one run work at a time, and a run works
    only on items still pending. A redelivered message finds the dead run's lease and waits it out."""
    outcome = bulk.run_job(job_id)
    if outcome == "busy":
        raise self.retry(countdown=bulk.LEASE.total_seconds())
    return outcome


@shared_task(name="dashboard.bulk_resume", ignore_result=True)
def bulk_resume() -> int:
    """Send again the jobs whose worker died (beat runs this; workers run it when they start)."""
    return bulk.resume_stale()


@worker_ready.connect
def _resume_bulk_jobs_on_start(sender=None, **kwargs) -> None:
    bulk_resume.delay()
