"""What a project still owns on the compute side, so that it is not deleted from under them."""

from __future__ import annotations

from dashboard.models import Project
from instances.models import Instance, Volume


def project_usage(project: Project) -> list[str]:
    owned = []
    instances = Instance.objects.alive().filter(project=project).count()
    volumes = Volume.objects.filter(project=project, deleted=False).count()
    if instances:
        owned.append(f"{instances} instance{'s' if instances != 1 else ''}")
    if volumes:
        owned.append(f"{volumes} volume{'s' if volumes != 1 else ''}")
    return owned
