"""Identity: users, projects, roles per project, and API tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


def new_id() -> str:
    """A Keystone-style id: 32 lowercase hex characters."""
    return uuid.uuid4().hex


class ProjectQuerySet(models.QuerySet):
    def lock(self, project_id: str | None) -> None:
        """Serialise the quota checks of one project until the transaction ends: a row lock on
        PostgreSQL (SQLite's IMMEDIATE transactions serialise every writer anyway). Call it inside
        the transaction that counts the usage and then adds to it."""
        if project_id:
            list(self.select_for_update().filter(pk=project_id).values_list("pk"))


class Project(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    name = models.CharField(max_length=64)
    description = models.TextField(blank=True, max_length=1024)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The project of the cloud's own service identities (dashboard.identity.service): never a
    # tenant's, and no name an administrator can give.
    service = models.BooleanField(default=False, editable=False)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="project_name_unique",
                violation_error_message="A project with this name already exists.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ProjectOwnedQuerySet(models.QuerySet):
    """Rows that belong to a project and are kept, flagged ``deleted``, after deletion (instances,
    volumes): who sees which, written once."""

    def alive(self):
        return self.filter(deleted=False)

    def for_project(self, project_id: str | None):
        return self.alive().filter(project_id=project_id)

    def visible_to(self, ctx, all_projects: bool = False):
        """What a caller lists: its project's rows; every project's for an admin who asks."""
        if all_projects and ctx.is_admin:
            return self.alive()
        return self.for_project(ctx.project_id)

    def accessible_to(self, ctx):
        """The rows a caller may reach by id: any for an admin, else its project's. Anything else
        answers 404, never 403, so that ids of other projects do not leak."""
        return self.alive() if ctx.is_admin else self.for_project(ctx.project_id)


class User(AbstractUser):
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    default_project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Display settings the user chooses (dashboard.preferences): empty means the defaults.
    items_per_page = models.PositiveSmallIntegerField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, blank=True, default="")
    # An identity of one of the cloud's own processes (dashboard.identity.service): it has no
    # password, cannot sign in with one, and the identity administration leaves it alone.
    service = models.BooleanField(default=False, editable=False)
    # Keystone keeps attributes of a user it has no column for ("extra") and shows them with it.
    extra = models.JSONField(default=dict, blank=True)

    objects = UserManager()

    class Meta:
        ordering = ["username"]

    def projects(self) -> models.QuerySet[Project]:
        """Enabled projects on which this user holds at least one role."""
        return Project.objects.filter(assignments__user=self, enabled=True).distinct()


class Role(models.Model):
    """Keystone's default roles: admin implies manager, which implies member, which implies
    reader. No default policy asks for manager itself (a manager may do what a member may); it is
    there for policy files that give project managers more, as Keystone's bootstrap makes it."""

    ADMIN = "admin"
    MANAGER = "manager"
    MEMBER = "member"
    READER = "reader"
    DEFAULTS = (ADMIN, MANAGER, MEMBER, READER)
    IMPLIES = {
        ADMIN: (ADMIN, MANAGER, MEMBER, READER),
        MANAGER: (MANAGER, MEMBER, READER),
        MEMBER: (MEMBER, READER),
        READER: (READER,),
    }

    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    name = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RoleAssignment(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="assignments")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="assignments")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="assignments")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "project", "role"],
                name="assignment_unique",
                violation_error_message="This user already has this role on the project.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} on {self.project}"


def effective_roles(role_names) -> frozenset[str]:
    """Expand assigned role names with the roles they imply."""
    out: set[str] = set()
    for name in role_names:
        out.update(Role.IMPLIES.get(name, (name,)))
    return frozenset(out)


class ApplicationCredential(models.Model):
    """A user's credential for scripts: scoped to one project, carrying a subset of the user's roles
    there, until it expires or is deleted. Only a salted hash of the secret is stored; the secret
    itself is shown once, when the credential is created."""

    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="application_credentials")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="application_credentials")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, max_length=1024)
    secret_hash = models.CharField(max_length=255)
    roles = models.ManyToManyField(Role, related_name="application_credentials")
    unrestricted = models.BooleanField(default=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"],
                name="application_credential_name_unique",
                violation_error_message="You already have an application credential with this name.",
            ),
        ]

    def __str__(self) -> str:
        return f"application credential {self.name} of {self.user_id}"

    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class TokenQuerySet(models.QuerySet):
    def live(self) -> TokenQuerySet:
        return self.filter(expires_at__gt=timezone.now(), user__is_active=True)


class Token(models.Model):
    """An API token. Only the SHA-256 of the token is stored; the token itself is shown once."""

    id = models.CharField(primary_key=True, max_length=64, help_text="sha256 of the token")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="tokens")
    project = models.ForeignKey(Project, null=True, on_delete=models.CASCADE, related_name="tokens")
    methods = models.JSONField(default=list)
    audit_id = models.CharField(max_length=32)
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    # A token issued for an application credential ends with it (and carries only its roles).
    application_credential = models.ForeignKey(
        ApplicationCredential, null=True, blank=True, on_delete=models.CASCADE, related_name="tokens"
    )

    objects = TokenQuerySet.as_manager()

    def __str__(self) -> str:
        return f"token {self.audit_id} of {self.user_id}"

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(
        cls,
        user: User,
        project: Project | None,
        methods: list[str],
        expires_at=None,
        application_credential: ApplicationCredential | None = None,
    ) -> tuple[str, Token]:

        # A fixed prefix: never a leading "-" that a command line would take for an option.
        raw = "st" + secrets.token_urlsafe(40)
        now = timezone.now()
        token = cls.objects.create(
            id=cls.digest(raw),
            user=user,
            project=project,
            methods=methods,
            audit_id=secrets.token_urlsafe(16)[:22],
            issued_at=now,
            expires_at=expires_at or now + settings.TOKEN_EXPIRATION,
            application_credential=application_credential,
        )
        return raw, token

    @classmethod
    def lookup(cls, raw: str) -> Token | None:
        if not raw or len(raw) > 512:
            return None
        return (
            cls.objects.live()
            .select_related("user", "project", "application_credential")
            .filter(id=cls.digest(raw))
            .first()
        )


class RevocationGeneration(models.Model):
    """One row: a random value written anew whenever a token's standing may have changed (see
    dashboard.token_cache). Processes trust the tokens they validated only under the current value."""

    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"revocation generation {self.value}"


class QuotaLimit(models.Model):
    """A limit set by an administrator: a project's own (``project`` set) or the default every
    project without its own gets (``project`` null). Without either, the setting's value holds.
    The resources are the ones the apps register in ``dashboard.quotas``."""

    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="quota_limits"
    )
    resource = models.CharField(max_length=64)
    limit = models.BigIntegerField(help_text="-1: unlimited")

    class Meta:
        ordering = ["resource"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "resource"],
                name="quota_limit_unique",
                violation_error_message="This project already has a limit for this resource.",
            ),
            models.UniqueConstraint(
                fields=["resource"],
                condition=models.Q(project__isnull=True),
                name="quota_default_unique",
                violation_error_message="There is already a default for this resource.",
            ),
            models.CheckConstraint(
                condition=models.Q(limit__gte=-1),
                name="quota_limit_valid",
                violation_error_message="A quota limit is -1 (unlimited) or more.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource} = {self.limit} for {self.project_id or 'every project'}"


class OutboxMessage(models.Model):
    """A task written in the same transaction as the state change that calls for it (see
    dashboard.celery.enqueue). It is sent once that transaction commits and removed once the broker
    took it; a message the broker could not take then (Redis down or restarting) stays here and the
    relay (dashboard.tasks.relay_outbox) sends it again. Delivery is at least once: every task is
    safe to run twice."""

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    # Empty: the task routes (CELERY_TASK_ROUTES) pick the queue.
    queue = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="outbox_created_idx")]

    def __str__(self) -> str:
        return f"{self.task_name} ({self.queue or 'routed'})"


class BulkJobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Finished"


class BulkItemStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    REFUSED = "refused", "Refused"
    FAILED = "failed", "Failed"


class BulkJob(models.Model):
    """One action over many rows of a panel (delete 60 images, stop 200 instances), run by a worker.

    The items are fixed when the job is made (the rows matching the filter at that moment); the
    worker that holds the lease works through the pending ones, so a job resumed after a crash
    never acts twice on an item that is already settled."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=32)  # "images", "instances": the registry of actions
    action = models.CharField(max_length=32)
    label = models.CharField(max_length=128)  # "Delete images", for the progress page
    params = models.JSONField(default=dict, blank=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="bulk_jobs")
    project = models.ForeignKey(Project, null=True, on_delete=models.CASCADE, related_name="bulk_jobs")
    back_url = models.CharField(max_length=2048, blank=True, default="")
    status = models.CharField(max_length=16, choices=BulkJobStatus.choices, default=BulkJobStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "lease_until"], name="bulkjob_status_lease")]

    def __str__(self) -> str:
        return f"{self.label} ({self.total})"


class BulkJobItem(models.Model):
    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    target_id = models.CharField(max_length=64)
    name = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=16, choices=BulkItemStatus.choices, default=BulkItemStatus.PENDING)
    message = models.TextField(blank=True, default="")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "target_id"],
                name="bulkjobitem_once_per_job",
                violation_error_message="A job acts on each row once.",
            ),
        ]
        indexes = [models.Index(fields=["job", "status", "position"], name="bulkjobitem_job_status")]

    def __str__(self) -> str:
        return f"{self.name or self.target_id}: {self.status}"
