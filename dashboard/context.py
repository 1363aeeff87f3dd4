"""Who is asking, for which project, with which roles: the one object policy checks read."""

from __future__ import annotations

from dataclasses import dataclass, field

from dashboard.models import Project, RoleAssignment, Token, User, effective_roles


@dataclass(frozen=True)
class RequestContext:
    user: User
    project: Project | None
    roles: frozenset[str] = field(default_factory=frozenset)
    token: Token | None = None

    @property
    def project_id(self) -> str | None:
        return self.project.id if self.project else None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def creds(self) -> dict:
        return {
            "user_id": self.user.id,
            "project_id": self.project_id,
            "roles": sorted(self.roles),
            "is_admin": self.is_admin,
        }

    @classmethod
    def for_user(cls, user: User, project: Project | None, token: Token | None = None) -> RequestContext:
        roles: frozenset[str] = frozenset()
        if project is not None:
            names = RoleAssignment.objects.filter(user=user, project=project).values_list(
                "role__name", flat=True
            )
            roles = effective_roles(names)
            if token is not None and token.application_credential_id:
                # A credential's token carries only the credential's roles that the user still holds.
                granted = token.application_credential.roles.values_list("name", flat=True)
                roles = roles & effective_roles(granted)
        return cls(user=user, project=project, roles=roles, token=token)
