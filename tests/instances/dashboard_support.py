"""Helpers for the dashboard tests of instances: signed-in browsers of the `world` personas,
launches through the Launch Instance page, and instance rows made in bulk."""

from __future__ import annotations

import uuid

from django.test import Client

from dashboard.models import User
from instances.choices import PowerState, TaskState, VmState
from instances.models import Instance
from tests.instances.conftest import Deliver

PERSONAS = {"admin": "root", "member": "mia", "reader": "rita", "outsider": "xavier"}


def browser_for(who: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=PERSONAS[who]))
    return client


def launch_form(image, flavor, name: str = "web", count: int = 1, **extra) -> dict:
    data = {
        "name": name,
        "description": "",
        "availability_zone": "",
        "count": str(count),
        "source_type": "image",
        "image": str(image.pk),
        "flavor": flavor.pk,
    }
    data.update(extra)
    return data


def launch_in_dashboard(client, host, image, flavor, capture, **form) -> list[Instance]:
    """POST the Launch Instance form and let the fake host build what it enqueued."""
    before = set(Instance.objects.values_list("pk", flat=True))
    with capture() as callbacks:
        response = client.post("/instances/launch/", launch_form(image, flavor, **form))
    assert response.status_code == 302, response.content.decode()[:3000]
    Deliver(host)(callbacks)
    return list(Instance.objects.exclude(pk__in=before).order_by("launch_index"))


def bulk_instances(project, count: int, *, host=None, flavor=None, image_id: str = "", **fields) -> None:
    """``count`` active instances as rows only (no guests): for query-count tests."""
    values = {
        "project": project,
        "image_id": image_id,
        "flavor": flavor,
        "flavor_ref": flavor.pk if flavor else "f",
        "flavor_name": flavor.name if flavor else "f",
        "vcpus": 1,
        "memory_mb": 128,
        "root_gb": 1,
        "host": host,
        "availability_zone": "nova",
        "vm_state": VmState.ACTIVE,
        "task_state": TaskState.NONE,
        "power_state": PowerState.RUNNING,
        **fields,
    }
    start = Instance.objects.filter(project=project).count()
    rows = [Instance(id=uuid.uuid4(), name=f"bulk-{start + n:04d}", **values) for n in range(count)]
    Instance.objects.bulk_create(rows, batch_size=250)
