"""What still uses a resource, for delete dialogs: every use is found, but a user reads the name of
a use only in a project they may see; the rest are counted by kind.

The apps that own a resource keep a registry of providers (``images.usage``, ``flavors.usage``);
the apps above them register into it from ``AppConfig.ready``, so nothing imports upward."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from dashboard.models import Project


@dataclass(frozen=True)
class Use:
    """One thing that uses a resource: ``kind`` is "instance", "volume" or "snapshot"."""

    kind: str
    name: str
    project_id: str | None
    url: str = ""


@dataclass
class Usage:
    """The uses of one resource as a user may read them."""

    named: list[dict] = field(default_factory=list)  # {"kind", "name", "url", "project"}
    hidden: Counter = field(default_factory=Counter)  # kind → uses in projects the user may not see

    @property
    def total(self) -> int:
        return len(self.named) + sum(self.hidden.values())

    @property
    def hidden_summary(self) -> str:
        """ "2 instances, 1 volume in other projects", or ""."""
        parts = [f"{n} {kind}{'' if n == 1 else 's'}" for kind, n in sorted(self.hidden.items())]
        return f"{', '.join(parts)} in other projects" if parts else ""


Provider = Callable[[list[str]], dict[str, list[Use]]]


class UsageRegistry:
    """The providers of one kind of resource; ``collect`` runs each once for all the ids."""

    def __init__(self) -> None:
        self._providers: list[Provider] = []

    def register(self, provider: Provider) -> None:
        if provider not in self._providers:
            self._providers.append(provider)

    def collect(self, ctx, ids: Iterable[str]) -> dict[str, Usage]:
        ids = [str(i) for i in ids]
        found: dict[str, list[Use]] = {i: [] for i in ids}
        for provider in self._providers:
            for resource_id, uses in provider(ids).items():
                found.setdefault(resource_id, []).extend(uses)
        return split_by_visibility(ctx, found)


def visible_projects(ctx, project_ids: set[str]) -> dict[str, str]:
    """{project id: name} of the given projects that this user may see: all for an admin, else the
    projects on which the user holds a role."""
    qs = Project.objects.filter(id__in=project_ids)
    if not ctx.is_admin:
        qs = qs.filter(assignments__user=ctx.user)
    return dict(qs.values_list("id", "name").distinct())


def split_by_visibility(ctx, found: dict[str, list[Use]]) -> dict[str, Usage]:
    projects = {u.project_id for uses in found.values() for u in uses if u.project_id}
    names = visible_projects(ctx, projects) if projects else {}
    out: dict[str, Usage] = {}
    for resource_id, uses in found.items():
        usage = Usage()
        for use in sorted(uses, key=lambda u: (u.kind, u.name)):
            if use.project_id in names:
                # Detail pages show the current project's rows (an admin's: any), so only those link.
                linked = ctx.is_admin or use.project_id == ctx.project_id
                usage.named.append(
                    {
                        "kind": use.kind,
                        "name": use.name,
                        "url": use.url if linked else "",
                        "project": names[use.project_id],
                    }
                )
            else:
                usage.hidden[use.kind] += 1
        out[resource_id] = usage
    return out
