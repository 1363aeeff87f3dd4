"""Creates the roles, the admin and demo projects and users. Safe to run again."""

from __future__ import annotations

import os
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from dashboard.identity.service import COMPUTE_USER, ServiceIdentityConflict, service_identity
from dashboard.models import Project, Role, RoleAssignment, User

ACCOUNTS = (
    # user, env var, project, roles
    ("admin", "STRATUS_ADMIN_PASSWORD", "admin", (("admin", Role.ADMIN), ("demo", Role.ADMIN))),
    ("demo", "STRATUS_DEMO_PASSWORD", "demo", (("demo", Role.MEMBER),)),
)


class Command(BaseCommand):
    help = (
        "Create the default roles, projects (admin, demo) and users (admin, demo), and the service "
        "identity of the compute agents. Idempotent."
    )

    def handle(self, *args, **options) -> None:
        generated: list[tuple[str, str]] = []
        with transaction.atomic():
            roles = {name: Role.objects.get_or_create(name=name)[0] for name in Role.DEFAULTS}
            projects = {
                "admin": Project.objects.get_or_create(
                    name="admin", defaults={"description": "Cloud administration"}
                )[0],
                "demo": Project.objects.get_or_create(
                    name="demo", defaults={"description": "Demonstration project"}
                )[0],
            }
            for username, env_var, home, grants in ACCOUNTS:
                user, created = User.objects.get_or_create(
                    username=username, defaults={"default_project": projects[home]}
                )
                password = os.environ.get(env_var)
                if password:
                    if created or not user.check_password(password):
                        user.set_password(password)
                        user.save()
                elif created:
                    password = secrets.token_urlsafe(12)
                    user.set_password(password)
                    user.save()
                    generated.append((username, password))
                for project, role in grants:
                    RoleAssignment.objects.get_or_create(
                        user=user, project=projects[project], role=roles[role]
                    )
            # The compute agents' identity (marked, no password), in the service project.
            try:
                service_identity(COMPUTE_USER)
            except ServiceIdentityConflict as exc:
                raise CommandError(str(exc)) from exc
        if generated:
            path = settings.DATA_DIR / "initial-credentials.txt"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a") as fh:
                for username, password in generated:
                    fh.write(f"{username} {password}\n")
            self.stdout.write(self.style.WARNING(f"Generated passwords (shown once; also stored in {path}):"))
            for username, password in generated:
                self.stdout.write(f"    {username}: {password}")
        self.stdout.write(self.style.SUCCESS("Bootstrap complete: projects admin, demo; users admin, demo."))
