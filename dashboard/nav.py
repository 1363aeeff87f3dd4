"""The dashboard's panels. Each app registers its own; a panel shows only when policy allows it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from dashboard.policy import can


@dataclass(frozen=True)
class Panel:
    section: str  # "project" or "admin"
    label: str
    url_name: str
    icon: str
    rule: str | None
    order: int
    # What the rule is checked on: the current project unless the panel's rows are owned otherwise
    # (key pairs belong to a user): target(ctx) -> {"user_id": …}.
    target: Callable[[Any], dict] | None = None

    def allowed(self, ctx) -> bool:
        return self.rule is None or can(ctx, self.rule, self.target(ctx) if self.target else None)

    @property
    def url(self) -> str:
        return reverse(self.url_name)


SECTIONS = {"project": "Project", "admin": "Admin"}
PANELS: dict[str, Panel] = {}


def register(panel: Panel) -> None:
    PANELS[panel.url_name] = panel


def register_core_panels() -> None:
    register(Panel("project", "Overview", "overview", "speedometer2", None, 10))
    register(Panel("admin", "Overview", "admin-overview", "speedometer", "dashboard:admin_section", 10))
    register(
        Panel(
            "project",
            "API Access",
            "project-api-access",
            "terminal",
            "identity:list_application_credentials",
            90,
            lambda ctx: {"user_id": ctx.user.pk},
        )
    )
    register(Panel("admin", "Projects", "admin-projects", "folder2", "identity:list_projects", 80))
    register(Panel("admin", "Defaults", "admin-defaults", "sliders", "dashboard:update_quotas", 85))
    register(Panel("admin", "Users", "admin-users", "people", "identity:list_users", 90))


def visible_sections(ctx) -> list[tuple[str, list[Panel]]]:

    out = []
    for key, title in SECTIONS.items():
        panels = sorted(
            (p for p in PANELS.values() if p.section == key and p.allowed(ctx)),
            key=lambda p: p.order,
        )
        if key == "admin" and not can(ctx, "dashboard:admin_section"):
            panels = []
        if panels:
            out.append((title, panels))
    return out
