"""Bulk actions: one action over many rows of a panel, run by a worker with a result per row.

The apps register what their panels offer (``register(BulkAction(...))`` from ``AppConfig.ready``:
images delete, deactivate …; instances stop, start …). A job is made in the web request with its
items fixed, handed to the worker by task name, and run by whichever worker holds its lease:
policy is checked per item with the user's roles as they are when the item runs, each item is
settled once (done, refused with the reason, failed), and a run that died is resumed by the next
one from the first pending item."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from dashboard.celery import enqueue
from dashboard.context import RequestContext
from dashboard.exceptions import StratusError
from dashboard.models import (
    BulkItemStatus,
    BulkJob,
    BulkJobItem,
    BulkJobStatus,
    RoleAssignment,
    User,
    effective_roles,
)

log = logging.getLogger(__name__)

# A worker renews its lease with every item; one that stopped renewing this long ago is dead.
LEASE = timedelta(seconds=60)
TASK = "dashboard.bulk_run"


class Refused(StratusError):
    """The item was not acted on, for a reason the user can read (policy, protection, state)."""

    status = 409
    title = "Refused"


# Errors that mean "not acted on, on purpose" rather than "went wrong".
REFUSING_STATUSES = {400, 403, 404, 409, 410}


@dataclass(frozen=True)
class BulkAction:
    """``run(ctx, target_id, params)`` acts on one row. It returns a note ("already stopped") or "",
    raises Refused (or a 4xx StratusError) for a refusal; anything else is a failure. It must be
    safe to call again for a row it already acted on (a resumed job may repeat the last item)."""

    kind: str
    name: str
    label: str
    run: Callable[[RequestContext, str, dict], str]
    params: dict = field(default_factory=dict)


_actions: dict[tuple[str, str], BulkAction] = {}


def register(action: BulkAction) -> None:
    _actions[(action.kind, action.name)] = action


def action_for(kind: str, name: str) -> BulkAction:
    return _actions[(kind, name)]


# --- making a job (web request) ------------------------------------------------------------------


def start_job(
    ctx: RequestContext,
    kind: str,
    action: str,
    targets: Iterable[tuple[str, str]],
    *,
    label: str,
    params: dict | None = None,
    back_url: str = "",
) -> BulkJob:
    """Record the job and its items ((id, name) pairs, in order) and hand it to a worker."""
    action_for(kind, action)  # an unknown action fails here, in the request, not in the worker
    targets = list(dict(targets).items())  # one item per row, first position wins
    with transaction.atomic():
        job = BulkJob.objects.create(
            kind=kind,
            action=action,
            label=label,
            params=params or {},
            user=ctx.user,
            project=ctx.project,
            back_url=back_url,
            total=len(targets),
        )
        BulkJobItem.objects.bulk_create(
            [
                BulkJobItem(job=job, position=n, target_id=str(target_id), name=name[:255])
                for n, (target_id, name) in enumerate(targets)
            ],
            batch_size=500,
        )
        enqueue(TASK, str(job.pk))
    return job


def jobs_visible_to(ctx):
    """A job is its user's; an admin sees every job."""
    qs = BulkJob.objects.all()
    return qs if ctx.is_admin else qs.filter(user=ctx.user)


def counts(job: BulkJob) -> dict[str, int]:
    rows = job.items.values("status").annotate(n=Count("id")).order_by()
    out = {s.value: 0 for s in BulkItemStatus}
    out.update({r["status"]: r["n"] for r in rows})
    return out


# --- running a job (worker) ----------------------------------------------------------------------


def claim(job_id: str, owner: str) -> bool:
    """Take the job's lease if nobody holds a live one; False if another run holds it or it is done."""
    now = timezone.now()
    return bool(
        BulkJob.objects.filter(pk=job_id, status__in=[BulkJobStatus.QUEUED, BulkJobStatus.RUNNING])
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=owner))
        .update(status=BulkJobStatus.RUNNING, lease_owner=owner, lease_until=now + LEASE)
    )


def _renew(job_id, owner: str) -> bool:
    return bool(
        BulkJob.objects.filter(pk=job_id, lease_owner=owner, status=BulkJobStatus.RUNNING).update(
            lease_until=timezone.now() + LEASE
        )
    )


def run_one(
    action: BulkAction, ctx: RequestContext | None, item: BulkJobItem, params: dict
) -> tuple[str, str]:
    """(status, message) of one item."""
    if ctx is None:
        return BulkItemStatus.REFUSED, "The user who started the job no longer exists or has no access."
    try:
        note = action.run(ctx, item.target_id, params)
    except StratusError as exc:
        status = BulkItemStatus.REFUSED if exc.status in REFUSING_STATUSES else BulkItemStatus.FAILED
        return status, exc.message
    except Exception as exc:
        # Recorded as this item's failure (with the traceback in the log) so one broken row does not
        # stop the rest of the job or leave it running forever.
        log.exception("Bulk %s of %s failed", action.name, item.target_id)
        return BulkItemStatus.FAILED, f"Internal error: {exc.__class__.__name__}."
    return BulkItemStatus.DONE, note


def _context(job: BulkJob) -> RequestContext | None:
    """The job's user as they stand now (None: disabled, project disabled, or no longer a member),
    read again before every item so a user demoted or removed mid-run stops acting at the next one.
    It costs one small indexed query per item: the user's role names in the job's project, joined
    with the user's and the project's enabled flags (without a project, whether the user is active)."""
    if job.project_id is None:
        if not User.objects.filter(pk=job.user_id, is_active=True).exists():
            return None
        return RequestContext(user=job.user, project=None)
    names = list(
        RoleAssignment.objects.filter(
            user_id=job.user_id, project_id=job.project_id, user__is_active=True, project__enabled=True
        ).values_list("role__name", flat=True)
    )
    if not names:
        return None
    return RequestContext(user=job.user, project=job.project, roles=effective_roles(names))


def run_job(job_id: str, owner: str | None = None) -> str:
    """Work through the job's pending items. Returns "done", "busy" (another live run holds the
    lease: try again later) or "lost" (the lease was taken over; the new holder carries on)."""
    owner = owner or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
    if not claim(job_id, owner):
        job = BulkJob.objects.filter(pk=job_id).first()
        return "done" if job is None or job.status == BulkJobStatus.DONE else "busy"
    job = BulkJob.objects.select_related("user", "project").get(pk=job_id)
    action = action_for(job.kind, job.action)
    pending = BulkJobItem.objects.filter(job=job, status=BulkItemStatus.PENDING).order_by("position")
    for item in pending.iterator(chunk_size=200):
        if not _renew(job.pk, owner):
            return "lost"
        status, message = run_one(action, _context(job), item, job.params)
        BulkJobItem.objects.filter(pk=item.pk, status=BulkItemStatus.PENDING).update(
            status=status, message=message[:2000], finished_at=timezone.now()
        )
    BulkJob.objects.filter(pk=job.pk, lease_owner=owner).update(
        status=BulkJobStatus.DONE, lease_owner="", lease_until=None, finished_at=timezone.now()
    )
    return "done"


def stale_jobs() -> list[str]:
    """Jobs whose run died (lease expired, or never started after a lost message)."""
    now = timezone.now()
    qs = BulkJob.objects.filter(
        Q(status=BulkJobStatus.RUNNING, lease_until__lt=now)
        | Q(status=BulkJobStatus.QUEUED, created_at__lt=now - LEASE)
    )
    return [str(pk) for pk in qs.values_list("pk", flat=True)]


def resume_stale() -> int:
    ids = stale_jobs()
    for job_id in ids:
        enqueue(TASK, job_id)
    return len(ids)
