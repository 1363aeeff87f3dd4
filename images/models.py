"""Images, their members, tags and store locations (Glance v2 shapes)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Exists, Expression, OuterRef, Q

from images.choices import ContainerFormat, DiskFormat, ImageStatus, ImportMethod, MemberStatus, Visibility


class ImageQuerySet(models.QuerySet):
    def alive(self) -> ImageQuerySet:
        return self.exclude(status=ImageStatus.DELETED)

    def visible_to(self, ctx) -> ImageQuerySet:
        """Images the context may see at all: own, public, community, or shared with its project."""
        qs = self.alive()
        if ctx.is_admin:
            return qs
        member = ImageMember.objects.filter(image=OuterRef("pk"), member=ctx.project_id)
        return qs.filter(
            Q(owner=ctx.project_id)
            | Q(visibility__in=(Visibility.PUBLIC, Visibility.COMMUNITY))
            | Q(visibility=Visibility.SHARED, pk__in=member.values("image"))
        )

    def listed_for(
        self, project_id: str | None, is_admin: bool, visibility: str | None, member_status: str
    ) -> ImageQuerySet:
        """What GET /v2/images shows: Glance hides others' community images unless asked for them."""
        qs = self.alive()
        if visibility:
            qs = qs.filter(visibility=visibility)
        if is_admin or visibility == Visibility.COMMUNITY:
            return qs
        if visibility == Visibility.SHARED:
            members = ImageMember.objects.filter(image=OuterRef("pk"), member=project_id)
            if member_status != "all":
                members = members.filter(status=member_status)
            return qs.filter((Q(visibility=Visibility.SHARED) & Exists(members)) | Q(owner=project_id))
        return qs.filter(ListedFor(project_id, member_status))


class ListedFor(Expression):
    """The default list's visibility test, written as SQL: own, public, or shared with the project
    (with the member status asked for).

    The ORM spelling of the same test (a Case over OR'ed Q objects and an Exists) cost more to build
    and compile than the whole query takes to run. It stays wrapped in CASE, so the planner walks
    the (created_at, id) index in page order and stops after one page, instead of gathering every
    visible row through OR'ed indexes and sorting them."""

    conditional = True
    output_field = models.BooleanField()

    def __init__(self, project_id: str | None, member_status: str) -> None:
        super().__init__()
        self.project_id, self.member_status = project_id, member_status

    def as_sql(self, compiler, connection):
        quote = connection.ops.quote_name
        image = compiler.quote_name_unless_alias(compiler.query.get_initial_alias())
        member = quote(ImageMember._meta.db_table)
        status = "" if self.member_status == "all" else f" AND m.{quote('status')} = %s"
        sql = (
            f"CASE WHEN ({image}.{quote('owner')} = %s OR {image}.{quote('visibility')} = %s"
            f" OR ({image}.{quote('visibility')} = %s AND EXISTS(SELECT 1 FROM {member} m"
            f" WHERE m.{quote('image_id')} = {image}.{quote('id')} AND m.{quote('member')} = %s{status})))"
            " THEN 1 ELSE 0 END = 1"
        )
        params = [self.project_id, Visibility.PUBLIC.value, Visibility.SHARED.value, self.project_id]
        if status:
            params.append(self.member_status)
        return sql, params


class Image(models.Model):
    # Glance's API tells "not set" (null) apart from an empty string, so several text fields are nullable.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 - Glance reports unset as null
    status = models.CharField(max_length=16, choices=ImageStatus.choices, default=ImageStatus.QUEUED)
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.SHARED)
    protected = models.BooleanField(default=False)
    os_hidden = models.BooleanField(default=False)
    owner = models.CharField(max_length=64, null=True, db_index=True, help_text="project id")  # noqa: DJ001 - Glance reports unset as null
    checksum = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001 - Glance reports unset as null
    os_hash_algo = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 - Glance reports unset as null
    os_hash_value = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001 - Glance reports unset as null
    size = models.BigIntegerField(null=True, blank=True)
    virtual_size = models.BigIntegerField(null=True, blank=True)
    min_disk = models.PositiveIntegerField(default=0)
    min_ram = models.PositiveIntegerField(default=0)
    disk_format = models.CharField(max_length=16, choices=DiskFormat.choices, null=True, blank=True)  # noqa: DJ001 - Glance reports unset as null
    container_format = models.CharField(max_length=16, choices=ContainerFormat.choices, null=True, blank=True)  # noqa: DJ001 - Glance reports unset as null
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Additional properties: string keys to string values (architecture, os_distro, instance_uuid …).
    properties = models.JSONField(default=dict, blank=True)
    # Why the last upload or import failed, in words the user can act on.
    reason = models.TextField(blank=True, default="")
    # Bytes being written right now (upload, staging, import): counted against the storage quota.
    reserved_bytes = models.BigIntegerField(default=0)
    # Import bookkeeping: method, source, and a lease that a worker holds while it works.
    import_method = models.CharField(max_length=16, choices=ImportMethod.choices, blank=True, default="")
    import_uri = models.TextField(blank=True, default="")
    import_stores = models.JSONField(default=list, blank=True)
    import_attempts = models.PositiveSmallIntegerField(default=0)
    # The hash the user expects the fetched bytes to have (validation_data); checked before inspection.
    import_hash_algo = models.CharField(max_length=16, blank=True, default="")
    import_hash_value = models.CharField(max_length=128, blank=True, default="")
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Integrity of the stored data (images.integrity). Glance's statuses have no "corrupt": the
    # image keeps its status, and downloads and launches refuse it while corrupt_at is set.
    # scrubbed_at: when the scrubber last took the stored data to re-hash it. corrupt_at and
    # scrub_error: when the data was found missing, unreadable or not matching os_hash_value, and
    # what was found (for administrators); a later check that finds the data intact clears both.
    scrubbed_at = models.DateTimeField(null=True, blank=True)
    corrupt_at = models.DateTimeField(null=True, blank=True)
    scrub_error = models.TextField(blank=True, default="")

    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at", "id"], name="image_created_id"),
            models.Index(fields=["status", "updated_at"], name="image_status_updated"),
            models.Index(fields=["visibility", "owner"], name="image_visibility_owner"),
            models.Index(fields=["name"], name="image_name"),
            models.Index(fields=["scrubbed_at"], name="image_scrubbed"),
            # The Images panel's project tab: a page of the newest without sorting every image.
            models.Index(fields=["owner", "created_at", "id"], name="image_owner_created"),
            # The Create Image form's kernel and ramdisk choices (active aki/ari images).
            models.Index(fields=["disk_format", "status"], name="image_format_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(size__isnull=True) | Q(size__gte=0),
                name="image_size_not_negative",
                violation_error_message="An image size cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(reserved_bytes__gte=0),
                name="image_reserved_not_negative",
                violation_error_message="Reserved bytes cannot be negative.",
            ),
            models.CheckConstraint(
                condition=~Q(status=ImageStatus.ACTIVE) | Q(size__isnull=False),
                name="image_active_has_size",
                violation_error_message="An active image has a size.",
            ),
        ]

    def __str__(self) -> str:
        return self.name or str(self.id)

    @property
    def has_data(self) -> bool:
        return self.status in (ImageStatus.ACTIVE, ImageStatus.DEACTIVATED)

    @property
    def is_corrupt(self) -> bool:
        return self.corrupt_at is not None

    @property
    def corrupt_reason(self) -> str:
        """Why the image's data must not be used, in words for any user who may see the image
        (the details in scrub_error are for administrators); empty while it is intact."""
        if self.corrupt_at is None:
            return ""
        return (
            f"The data of image {self.pk} failed an integrity check on {self.corrupt_at:%Y-%m-%d %H:%M} "
            "UTC: it is missing, unreadable or no longer matches the image's checksum. An administrator "
            "must restore or replace it."
        )


class ImageUpload(models.Model):
    """A resumable (tus) upload into an image's staging area. ``offset`` is how many bytes of the
    staged file are known to be on disk (fsynced before the offset moves); anything past it in the
    file is a leftover of a cut request and is overwritten by the next one. ``received`` counts
    every byte read from request bodies, kept or not, so resends can be measured. A finished
    upload's record stays until it expires (its image went on to an import), then it is removed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    image = models.OneToOneField(Image, on_delete=models.CASCADE, related_name="resumable_upload")
    length = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    received = models.BigIntegerField(default=0)
    # Upload-Metadata as sent by the client (file name, the file's fingerprint, the import to run).
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(offset__gte=0) & Q(offset__lte=models.F("length")),
                name="image_upload_offset_in_range",
                violation_error_message="An upload offset lies between 0 and the upload length.",
            ),
        ]

    def __str__(self) -> str:
        return f"upload {self.pk} of image {self.image_id}"

    @property
    def complete(self) -> bool:
        return self.offset == self.length


class ImageTag(models.Model):
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="tag_set")
    value = models.CharField(max_length=255)

    class Meta:
        ordering = ["value"]
        constraints = [
            models.UniqueConstraint(
                fields=["image", "value"], name="image_tag_unique", violation_error_message="Duplicate tag."
            )
        ]

    def __str__(self) -> str:
        return self.value


class ImageMember(models.Model):
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="members")
    member = models.CharField(max_length=64, db_index=True, help_text="project id")
    status = models.CharField(max_length=16, choices=MemberStatus.choices, default=MemberStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["image", "member"],
                name="image_member_unique",
                violation_error_message="This project is already a member of the image.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.member} on {self.image_id}"


class ImageLocation(models.Model):
    """Where the bytes of an image live. Keys are derived from the image id, never from user input;
    only HTTP locations carry a URL, and they are read-only."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="locations")
    store = models.CharField(max_length=64)
    key = models.CharField(max_length=255, blank=True, default="")
    url = models.URLField(max_length=2048, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["image", "store"],
                name="image_location_store_unique",
                violation_error_message="The image already has data in this store.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.store}:{self.image_id}"

    @property
    def data_key(self) -> str:
        """What the store's get() takes: the URL for an HTTP location, else the storage key."""
        if self.store == "http":
            return self.url
        return self.key or str(self.image_id)


# The metadata definitions catalog (Glance "metadefs"): namespaces of known properties, objects
# and tags, and the resource types (images, flavors, servers) each namespace applies to.


class MetadefNamespaceQuerySet(models.QuerySet):
    def visible_to(self, ctx) -> MetadefNamespaceQuerySet:
        """Public namespaces, and private ones the caller's project owns (admins see all)."""
        if ctx.is_admin:
            return self
        return self.filter(Q(visibility="public") | Q(owner=ctx.project_id))


class MetadefNamespace(models.Model):
    namespace = models.CharField(max_length=80, unique=True)
    display_name = models.CharField(max_length=80, blank=True, default="")
    description = models.TextField(blank=True, default="")
    visibility = models.CharField(
        max_length=32, choices=[("public", "public"), ("private", "private")], default="private"
    )
    protected = models.BooleanField(default=False)
    owner = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MetadefNamespaceQuerySet.as_manager()

    class Meta:
        ordering = ["namespace"]

    def __str__(self) -> str:
        return self.namespace


class MetadefResourceType(models.Model):
    name = models.CharField(max_length=80, unique=True)
    protected = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MetadefResourceTypeAssociation(models.Model):
    namespace = models.ForeignKey(MetadefNamespace, on_delete=models.CASCADE, related_name="associations")
    resource_type = models.ForeignKey(
        MetadefResourceType, on_delete=models.CASCADE, related_name="associations"
    )
    prefix = models.CharField(max_length=80, blank=True, default="")
    properties_target = models.CharField(max_length=80, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["resource_type__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["namespace", "resource_type"],
                name="metadef_association_unique",
                violation_error_message="The namespace is already associated with this resource type.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.namespace_id}:{self.resource_type_id}"


class MetadefObject(models.Model):
    namespace = models.ForeignKey(MetadefNamespace, on_delete=models.CASCADE, related_name="objects_set")
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True, default="")
    required = models.JSONField(default=list, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["namespace", "name"],
                name="metadef_object_unique",
                violation_error_message="The namespace already has an object of this name.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class MetadefProperty(models.Model):
    namespace = models.ForeignKey(MetadefNamespace, on_delete=models.CASCADE, related_name="properties")
    name = models.CharField(max_length=255)
    schema = models.JSONField(default=dict, help_text="the property's JSON schema, without its name")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["namespace", "name"],
                name="metadef_property_unique",
                violation_error_message="The namespace already has a property of this name.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class MetadefTag(models.Model):
    namespace = models.ForeignKey(MetadefNamespace, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["namespace", "name"],
                name="metadef_tag_unique",
                violation_error_message="The namespace already has this tag.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class ImageTask(models.Model):
    """Glance's task record of an import: what was asked (``input``), how it is going
    (pending → processing → success | failure) and how it ended (``result`` or ``message``).
    Kept until ``expires_at`` (set when it ends), then the sweeper removes it."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSING = "processing"
        SUCCESS = "success"
        FAILURE = "failure"

    # api_image_import: an import through the API; location_import: a location being checked;
    # import: a task made with POST /v2/tasks (an image created and imported from a URL).
    TYPES = ("api_image_import", "location_import", "import")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    image_id = models.CharField(max_length=36, db_index=True, blank=True, default="")
    owner = models.CharField(max_length=64, db_index=True)
    user_id = models.CharField(max_length=64, blank=True, default="")
    request_id = models.CharField(max_length=64, blank=True, default="")
    input = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    message = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} task {self.pk} ({self.status})"
