"""Every state change of an image, written once: the API, the dashboard and the tasks call these.

A transition is one conditional UPDATE on the expected status; when it matches no row somebody
else moved the image first, and the caller gets a Conflict (409)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from dashboard.celery import enqueue
from dashboard.exceptions import BadRequest, Conflict, Forbidden, NotFound, StratusError
from dashboard.models import Project
from images import import_tasks, quotas
from images.choices import ImageStatus, ImportMethod, MemberStatus, Visibility
from images.models import Image, ImageLocation, ImageMember, ImageTag
from images.staging import staging_path
from images.stores import StoreError, get_store

log = logging.getLogger(__name__)
HAS_DATA = (ImageStatus.ACTIVE, ImageStatus.DEACTIVATED)


class Gone(StratusError):
    status = 410
    title = "Gone"


def transition(image_id, expected, to: str, **fields) -> None:
    """Move the image from one of ``expected`` to ``to`` with ``fields``, or raise Conflict."""
    expected = (expected,) if isinstance(expected, str) else tuple(expected)
    updated = Image.objects.filter(pk=image_id, status__in=expected).update(
        status=to, updated_at=timezone.now(), **fields
    )
    if updated != 1:
        current = Image.objects.filter(pk=image_id).values_list("status", flat=True).first()
        if current is None or current == ImageStatus.DELETED:
            raise Gone("The image was deleted.")
        raise Conflict(f"Image status is {current}; this needs {' or '.join(expected)}.")


# --- records -----------------------------------------------------------------------------------


def create_image(owner: str | None, fields: dict, properties: dict, tags: list[str]) -> Image:
    with transaction.atomic():
        Project.objects.lock(owner)
        quotas.check_image_count(owner)
        image = Image(owner=owner, properties=properties, **fields)
        image.full_clean(exclude=["properties"])
        image.save(force_insert=True)
        ImageTag.objects.bulk_create([ImageTag(image=image, value=t) for t in dict.fromkeys(tags)])
    return image


def update_image(image: Image, fields: dict, properties: dict) -> Image:
    """Save changed metadata. Only non-status fields; the status never changes here."""
    for name, value in fields.items():
        setattr(image, name, value)
    image.properties = properties
    image.full_clean(exclude=["properties"])
    updated = (
        Image.objects.filter(pk=image.pk)
        .exclude(status=ImageStatus.DELETED)
        .update(properties=properties, updated_at=timezone.now(), **fields)
    )
    if not updated:
        raise NotFound("No image found.")
    image.refresh_from_db()
    return image


def set_tags(image: Image, tags: list[str]) -> None:
    with transaction.atomic():
        ImageTag.objects.filter(image=image).exclude(value__in=tags).delete()
        have = set(ImageTag.objects.filter(image=image).values_list("value", flat=True))
        ImageTag.objects.bulk_create(
            [ImageTag(image=image, value=t) for t in dict.fromkeys(tags) if t not in have]
        )


def delete_image(image: Image) -> None:
    if image.protected:
        raise Forbidden("Image is protected and cannot be deleted.")
    with transaction.atomic():
        updated = (
            Image.objects.filter(pk=image.pk, protected=False)
            .exclude(status=ImageStatus.DELETED)
            .update(status=ImageStatus.DELETED, reserved_bytes=0, lease_owner="", updated_at=timezone.now())
        )
        if not updated:
            raise NotFound("No image found.")
        locations = list(ImageLocation.objects.filter(image=image))
        ImageLocation.objects.filter(image=image).delete()
        ImageMember.objects.filter(image=image).delete()
        import_tasks.failed(image.pk, "Import cancelled: the image was deleted.")
    remove_data(image.pk, locations)


def remove_data(image_id, locations: list[ImageLocation]) -> None:
    for location in locations:
        try:
            get_store(location.store).delete(location.key or str(image_id))
        except StoreError:
            # The sweeper compares store contents with the database and retries later.
            log.warning("Could not remove data of image %s from store %s", image_id, location.store)
    staging_path(image_id).unlink(missing_ok=True)


def deactivate(image: Image) -> None:
    if image.status == ImageStatus.DEACTIVATED:
        return
    transition(image.pk, ImageStatus.ACTIVE, ImageStatus.DEACTIVATED)


def reactivate(image: Image) -> None:
    if image.status == ImageStatus.ACTIVE:
        return
    transition(image.pk, ImageStatus.DEACTIVATED, ImageStatus.ACTIVE)


# --- data: synchronous upload (PUT /file) ---------------------------------------------------------


def begin_upload(image: Image, to: str = ImageStatus.SAVING) -> None:
    """queued → saving (upload) or uploading (staging), within the project's in-flight limit."""
    with transaction.atomic():
        Project.objects.lock(image.owner)
        quotas.check_uploads_in_flight(image.owner)
        transition(image.pk, ImageStatus.QUEUED, to, reason="", reserved_bytes=0)


def finish_upload(image: Image, result, store: str, key: str, virtual_size: int, *, from_status=None) -> None:
    with transaction.atomic():
        transition(
            image.pk,
            from_status or ImageStatus.SAVING,
            ImageStatus.ACTIVE,
            size=result.size,
            checksum=result.checksum,
            os_hash_algo=result.os_hash_algo,
            os_hash_value=result.os_hash_value,
            virtual_size=virtual_size or None,
            reserved_bytes=0,
            lease_owner="",
            lease_expires_at=None,
            import_method="",
            reason="",
        )
        ImageLocation.objects.update_or_create(image=image, store=store, defaults={"key": key})


def fail_upload(image_id, reason: str, expected=ImageStatus.SAVING, *, unchanged_since=None) -> int:
    """A failed upload returns the image to queued, as Glance v2 does, so it can be retried.
    ``unchanged_since`` (the sweeper's cutoff) only matches an image nobody touched since.
    Returns 1 when this call moved the image, 0 when it was no longer in ``expected``."""
    qs = Image.objects.filter(pk=image_id, status__in=_as_tuple(expected))
    if unchanged_since is not None:
        qs = qs.filter(updated_at__lt=unchanged_since)
    return qs.update(
        status=ImageStatus.QUEUED,
        reason=reason[:2000],
        reserved_bytes=0,
        size=None,
        checksum=None,
        os_hash_algo=None,
        os_hash_value=None,
        lease_owner="",
        lease_expires_at=None,
        import_method="",
        updated_at=timezone.now(),
    )


def _as_tuple(value) -> tuple:
    return (value,) if isinstance(value, str) else tuple(value)


# --- imports (Celery) ------------------------------------------------------------------------------


def start_import(
    image: Image,
    method: str,
    uri: str = "",
    stores: list[str] | None = None,
    expected_hash: tuple[str, str] | None = None,
    *,
    task: TaskOrigin | None = None,
) -> None:
    """Record the import and its task, and hand it to a worker once the transaction commits."""
    fields = _import_fields(method, uri, expected_hash)
    origin = task or TaskOrigin()
    with transaction.atomic():
        import_tasks.record(
            image.pk,
            origin.type or ("location_import" if method == ImportMethod.LOCATION else "api_image_import"),
            origin.input or {"image_id": str(image.pk), "import_req": {"method": {"name": method}}},
            owner=image.owner,
            user_id=origin.user_id,
            request_id=origin.request_id,
        )
        if method == "glance-direct":
            transition(image.pk, ImageStatus.UPLOADING, ImageStatus.IMPORTING, **fields)
        elif method in ("web-download", "location"):
            Project.objects.lock(image.owner)
            quotas.check_uploads_in_flight(image.owner)
            transition(image.pk, ImageStatus.QUEUED, ImageStatus.IMPORTING, **fields)
        else:  # copy-image: the image stays active; the import fields act as its lock
            updated = Image.objects.filter(pk=image.pk, status=ImageStatus.ACTIVE, import_method="").update(
                **fields, import_stores=stores or []
            )
            if not updated:
                raise Conflict("The image is not active or another import is running.")
        enqueue_import(str(image.pk))


def finish_empty_copy(image: Image, task: TaskOrigin | None = None) -> None:
    """A copy-image with nothing to copy: report it done in Glance's import properties (no store
    left to import to, none failed), which is what clients poll, and in its task."""
    origin = task or TaskOrigin()
    with transaction.atomic():
        import_tasks.record(
            image.pk, "api_image_import", origin.input, owner=image.owner,
            user_id=origin.user_id, request_id=origin.request_id,
        )  # fmt: skip
        import_tasks.succeeded(image.pk)
        row = Image.objects.select_for_update().get(pk=image.pk)
        properties = {**row.properties, "os_glance_importing_to_stores": "", "os_glance_failed_import": ""}
        Image.objects.filter(pk=image.pk).update(properties=properties, updated_at=timezone.now())


def enqueue_import(image_id: str) -> None:
    enqueue("images.import_image", image_id)


@dataclass
class TaskOrigin:
    """Who asked for an import and how, for its task record."""

    input: dict = field(default_factory=dict)
    user_id: str = ""
    request_id: str = ""
    type: str = ""  # "" says it by the method (api_image_import or location_import)


def _import_fields(method: str, uri: str, expected_hash: tuple[str, str] | None = None) -> dict:
    algo, value = expected_hash or ("", "")
    return {
        "import_method": method,
        "import_uri": uri,
        "import_attempts": 0,
        "import_hash_algo": algo,
        "import_hash_value": value,
        "lease_owner": "",
        "reason": "",
    }


def claim_import(image_id: str) -> tuple[str, int] | None:
    """Take the import lease if nobody holds a live one. Returns (lease owner, attempt) or None."""
    owner = uuid.uuid4().hex
    now = timezone.now()
    held = Q(lease_owner="") | Q(lease_expires_at__lt=now)
    updated = (
        Image.objects.filter(pk=image_id, import_method__gt="")
        .filter(held)
        .exclude(status=ImageStatus.DELETED)
        .update(
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=settings.IMAGE_IMPORT_LEASE),
            import_attempts=F("import_attempts") + 1,
        )
    )
    if updated != 1:
        return None
    return owner, Image.objects.filter(pk=image_id).values_list("import_attempts", flat=True).get()


def finish_import(
    image: Image,
    owner: str,
    result,
    store: str,
    key: str,
    virtual_size: int,
    disk_format: str,
    *,
    container_format: str | None = None,
    url: str = "",
    properties: dict[str, str] | None = None,
) -> None:
    """importing → active, only for the worker that still holds the lease. ``url`` is set for a
    location in the read-only HTTP store; ``container_format`` changes when an OVA's disk was
    taken out of it; ``properties`` are added (the source format of a converted image)."""
    with transaction.atomic():
        if properties:
            current = (
                Image.objects.select_for_update().filter(pk=image.pk).values_list("properties", flat=True)
            )
            merged = {**(current.first() or {}), **properties}
        updated = Image.objects.filter(pk=image.pk, status=ImageStatus.IMPORTING, lease_owner=owner).update(
            **({"properties": merged} if properties else {}),
            status=ImageStatus.ACTIVE,
            size=result.size,
            checksum=result.checksum,
            os_hash_algo=result.os_hash_algo,
            os_hash_value=result.os_hash_value,
            virtual_size=virtual_size or None,
            disk_format=disk_format,
            container_format=container_format or image.container_format,
            reserved_bytes=0,
            lease_owner="",
            lease_expires_at=None,
            import_method="",
            import_hash_algo="",
            import_hash_value="",
            reason="",
            updated_at=timezone.now(),
        )
        if updated != 1:
            raise Conflict("The import lost its lease or the image changed.")
        ImageLocation.objects.update_or_create(image=image, store=store, defaults={"key": key, "url": url})
        import_tasks.succeeded(image.pk)


def finish_copy(image: Image, owner: str, stores: list[str], key: str) -> None:
    with transaction.atomic():
        updated = Image.objects.filter(pk=image.pk, status=ImageStatus.ACTIVE, lease_owner=owner).update(
            lease_owner="", lease_expires_at=None, import_method="", import_stores=[], reason=""
        )
        if updated != 1:
            raise Conflict("The copy lost its lease or the image changed.")
        for store in stores:
            ImageLocation.objects.update_or_create(image=image, store=store, defaults={"key": key})
        import_tasks.succeeded(image.pk)


def heartbeat(image_id: str, owner: str) -> bool:
    """Extend the lease; False when it was lost (image deleted, or taken over after expiry)."""
    return bool(
        Image.objects.filter(pk=image_id, lease_owner=owner)
        .exclude(status=ImageStatus.DELETED)
        .update(lease_expires_at=timezone.now() + timedelta(seconds=settings.IMAGE_IMPORT_LEASE))
    )


def holds_lease(image_id: str, owner: str) -> bool:
    """Whether the import is still this worker's (an abort or a delete takes the lease away)."""
    return Image.objects.filter(pk=image_id, lease_owner=owner).exclude(status=ImageStatus.DELETED).exists()


def abort_processing(image: Image, reason: str) -> None:
    """Stop a running import (download, verification, conversion) or copy: importing → queued with
    the reason and no reservation, in one UPDATE. The worker notices the lost lease within a second,
    stops and removes its temporary files. Conflict when nothing is running."""
    qs = Image.objects.filter(pk=image.pk, import_method__gt="")
    importing = qs.filter(status=ImageStatus.IMPORTING).update(
        status=ImageStatus.QUEUED,
        reason=reason[:2000],
        reserved_bytes=0,
        size=None,
        checksum=None,
        os_hash_algo=None,
        os_hash_value=None,
        lease_owner="",
        lease_expires_at=None,
        import_method="",
        import_hash_algo="",
        import_hash_value="",
        updated_at=timezone.now(),
    )
    copying = qs.filter(status=ImageStatus.ACTIVE).update(
        reason=reason[:2000], lease_owner="", lease_expires_at=None, import_method="", import_stores=[]
    )
    if not (importing or copying):
        raise Conflict("Nothing is being processed for this image.")


def fail_import(image_id: str, owner: str | None, reason: str, *, kill: bool = False) -> None:
    """An import that cannot finish: back to queued (retryable) or killed, with the reason."""
    qs = Image.objects.filter(pk=image_id)
    if owner is not None:
        qs = qs.filter(lease_owner=owner)
    common = {
        "reason": reason[:2000],
        "lease_owner": "",
        "lease_expires_at": None,
        "import_method": "",
        "import_hash_algo": "",
        "import_hash_value": "",
    }
    # A failed copy-image leaves the active image as it was.
    ended = qs.filter(status=ImageStatus.ACTIVE).update(**common)
    ended += qs.filter(status=ImageStatus.IMPORTING).update(
        status=ImageStatus.KILLED if kill else ImageStatus.QUEUED,
        reserved_bytes=0,
        size=None,
        checksum=None,
        os_hash_algo=None,
        os_hash_value=None,
        updated_at=timezone.now(),
        **common,
    )
    if ended:
        import_tasks.failed(image_id, reason)


# --- integrity of stored data (images.integrity) -----------------------------------------------


def claim_scrub(image_id, last_scrubbed_at) -> bool:
    """Take the image for a check, unless another run took it since ``last_scrubbed_at`` was read.
    Does not touch updated_at: a check changes nothing a user set."""
    return bool(
        Image.objects.filter(pk=image_id, scrubbed_at=last_scrubbed_at, status__in=HAS_DATA).update(
            scrubbed_at=timezone.now()
        )
    )


def mark_corrupt(image_id, os_hash_value: str, problem: str) -> bool:
    """Record that the image's data is damaged; from now on downloads and launches refuse it.
    Only for the data that was checked (the same hash), and only once: a second finding keeps the
    first date. Returns whether this call marked it."""
    return bool(
        Image.objects.filter(pk=image_id, os_hash_value=os_hash_value, corrupt_at__isnull=True)
        .exclude(status=ImageStatus.DELETED)
        .update(corrupt_at=timezone.now(), scrub_error=problem[:2000])
    )


def mark_intact(image_id, os_hash_value: str) -> bool:
    """A check found the data matching again (restored by an administrator): clear the mark."""
    return bool(
        Image.objects.filter(pk=image_id, os_hash_value=os_hash_value, corrupt_at__isnull=False).update(
            corrupt_at=None, scrub_error=""
        )
    )


def check_intact(image: Image) -> None:
    """Refuse to hand out data known to be damaged (409: the image's state forbids it)."""
    if image.is_corrupt:
        raise Conflict(image.corrupt_reason)


# --- members -------------------------------------------------------------------------------------


def add_member(image: Image, member: str) -> ImageMember:
    if image.visibility != Visibility.SHARED:
        raise Forbidden("Only shared images have members.")
    with transaction.atomic():
        if ImageMember.objects.filter(image=image).count() >= settings.IMAGE_MEMBER_QUOTA:
            raise quotas.OverQuota("The image has the maximum number of members.")
        if ImageMember.objects.filter(image=image, member=member).exists():
            raise Conflict(f"Project {member} is already a member of the image.")
        return ImageMember.objects.create(image=image, member=member)


def set_member_status(membership: ImageMember, status: str) -> ImageMember:
    if status not in MemberStatus.values:
        raise BadRequest(f"Member status must be one of {', '.join(MemberStatus.values)}.")
    ImageMember.objects.filter(pk=membership.pk).update(status=status, updated_at=timezone.now())
    membership.refresh_from_db()
    return membership


def project_usage(project) -> list[str]:
    """The images a project owns (deleted ones are gone): a project is not deleted from under them."""
    count = Image.objects.alive().filter(owner=project.pk).count()
    return [f"{count} image{'s' if count != 1 else ''}"] if count else []
