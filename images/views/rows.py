"""What a row of the Images panel shows: owner names, kind, status style, polling, and the actions
the user may take, computed for a whole page with one query per kind."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from dashboard.models import Project
from dashboard.policy import can
from images import progress
from images.choices import ImageStatus, Visibility
from images.models import Image, ImageMember, ImageUpload
from images.policies import target

QUEUED_WATCH = timedelta(minutes=30)
TRANSITIONAL = (
    ImageStatus.QUEUED,
    ImageStatus.SAVING,
    ImageStatus.UPLOADING,
    ImageStatus.IMPORTING,
    ImageStatus.PENDING_DELETE,
)
STATUS_STYLE = {
    ImageStatus.ACTIVE: "success",
    ImageStatus.KILLED: "danger",
    ImageStatus.DEACTIVATED: "secondary",
    ImageStatus.QUEUED: "warning",
}


def decorate(images, ctx) -> None:
    """Attach what rows show and the policy checks need, with one query per kind for the whole page."""
    images = list(images)
    ids = [i.pk for i in images]
    members: dict = {}
    for m in ImageMember.objects.filter(image_id__in=ids):
        members.setdefault(m.image_id, []).append(m)
    owners = {i.owner for i in images if i.owner}
    names = dict(Project.objects.filter(id__in=owners).values_list("id", "name"))
    for image in images:
        # Fill Django's prefetch cache so policies.target() reads members without a query per row.
        image._prefetched_objects_cache = {"members": _Prefetched(members.get(image.pk, []))}
        image.my_member_status = next(
            (m.status for m in members.get(image.pk, []) if m.member == ctx.project_id), None
        )
        image.owner_name = names.get(image.owner, image.owner or "")
        image.kind = "snapshot" if image.properties.get("image_type") == "snapshot" else "image"
        image.server_uuid = image.properties.get("instance_uuid", "") if image.kind == "snapshot" else ""
        image.status_style = STATUS_STYLE.get(image.status, "info")
        image.transitional = is_transitional(image)
        image.row_actions = actions_for(ctx, image, target(ctx, image))
    _transfers(images, ctx)


MOVING = (ImageStatus.UPLOADING, ImageStatus.IMPORTING)


def _transfers(images: list[Image], ctx) -> None:
    """The job's progress bar (sending, then processing), and the Resume and Abort buttons, with
    one query for the page's resumable uploads and one cache read for the workers' progress."""
    # A copy-image runs on an active image: its import_method is set meanwhile.
    ids = [i.pk for i in images if i.status in MOVING or i.import_method]
    uploads = {u.image_id: u for u in ImageUpload.objects.filter(image_id__in=ids)} if ids else {}
    reports = progress.read_many(ids)
    for image in images:
        image.progress = image.resume_url = None
        if image.pk not in uploads and image.status not in MOVING and not image.import_method:
            continue
        upload = uploads.get(image.pk)
        if image.status == ImageStatus.UPLOADING and upload is not None and not upload.complete:
            image.progress = progress.Progress("sending", upload.offset, upload.length)
            image.resume_url = f"/image/v2/images/{image.pk}/uploads/{upload.pk}"
        else:
            image.progress = reports.get(str(image.pk))
        own = ctx.is_admin or image.owner == ctx.project_id
        image.row_actions["abort"] = own and can(ctx, "upload_image", target(ctx, image))


class _Prefetched(list):
    """Looks enough like a prefetched related manager result for ``image.members.all()``."""

    def all(self):
        return self


def actions_for(ctx, image: Image, policy_target: dict) -> dict[str, bool]:
    """Which actions this user may take on this image: the same rules the API enforces."""
    own = ctx.is_admin or image.owner == ctx.project_id
    status = image.status
    return {
        "edit": own and can(ctx, "modify_image", policy_target),
        "metadata": own and can(ctx, "modify_image", policy_target),
        "delete": own and can(ctx, "delete_image", policy_target),
        "upload": own and status == ImageStatus.QUEUED and can(ctx, "upload_image", policy_target),
        "deactivate": status == ImageStatus.ACTIVE and can(ctx, "deactivate", policy_target),
        "reactivate": status == ImageStatus.DEACTIVATED and can(ctx, "reactivate", policy_target),
        "members": own and image.visibility == Visibility.SHARED and can(ctx, "add_member", policy_target),
        # Launching is the compute service's decision: an active image and the right to create servers.
        "launch": status == ImageStatus.ACTIVE
        and not image.is_corrupt
        and can(ctx, "os_compute_api:servers:create", {"project_id": ctx.project_id}),
        # The link goes to the image API's GET /file, which refuses a corrupt image all the same.
        "download": (status == ImageStatus.ACTIVE or (status == ImageStatus.DEACTIVATED and ctx.is_admin))
        and not image.is_corrupt
        and can(ctx, "download_image", policy_target),
        "respond": (
            not own
            and image.visibility == Visibility.SHARED
            and getattr(image, "my_member_status", None) is not None
            and can(ctx, "modify_member", {**policy_target, "member_id": ctx.project_id})
        ),
    }


def next_delay(current: float | None) -> int:
    """Polling back-off for rows in a transitional state: 2 s, then ×1.5, capped at 30 s."""
    if not current:
        return 2
    return int(min(max(current * 1.5, 2), 30))


def is_transitional(image: Image) -> bool:
    """Rows that will change on their own soon. A queued record is worth watching only while an
    upload into it is likely (just created or just failed is settled: it waits for the user)."""
    if image.status != ImageStatus.QUEUED:
        return image.status in TRANSITIONAL
    return not image.reason and timezone.now() - image.updated_at < QUEUED_WATCH
