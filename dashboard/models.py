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

    objects = UserManager()

    class Meta:
        ordering = ["username"]

    def projects(self) -> models.QuerySet[Project]:
        """Enabled projects on which this user holds at least one role."""
        return Project.objects.filter(assignments__user=self, enabled=True).distinct()


class Role(models.Model):
    """The three Keystone default roles. admin implies member, which implies reader."""

    ADMIN = "admin"
    MEMBER = "member"
    READER = "reader"
    IMPLIES = {ADMIN: (ADMIN, MEMBER, READER), MEMBER: (MEMBER, READER), READER: (READER,)}

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
