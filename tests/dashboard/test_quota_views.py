"""Admin → Projects → Modify Quotas and Admin → Defaults."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dashboard import quotas
from dashboard.models import QuotaLimit
from tests.dashboard.test_views import login
from tests.factories import make_project, make_user
from tests.instances.dashboard_support import bulk_instances

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    admin_p, demo = make_project("admin"), make_project("demo")
    make_user("boss", roles={admin_p: "admin"})
    make_user("alice", roles={demo: "member"})
    return {"demo": demo}


def form_data(page_limits: dict[str, int], **changes) -> dict:
    return {name: str(value) for name, value in {**page_limits, **changes}.items()}


def shown_limits(project=None) -> dict[str, int]:
    chosen = quotas.limits(project.pk) if project else quotas.defaults()
    return {
        r.name: chosen[r.name] if chosen[r.name] < 0 else chosen[r.name] // r.scale
        for r in quotas.resources()
    }


def test_the_form_shows_every_resource_with_its_usage(client, world):
    bulk_instances(world["demo"], 3)
    login(client, "boss")
    page = client.get(reverse("admin-project-quotas", args=[world["demo"].pk])).content.decode()
    for label in (
        "Instances",
        "vCPUs",
        "RAM (MiB)",
        "Key Pairs (per user)",
        "Server Groups",
        "Images",
        "Image Storage (GiB)",
        "Volumes",
        "Volume Storage (GiB)",
    ):
        assert f">{label}</label>" in page
    assert "In use: 3 of 10" in page and "In use: 384 of 51200" in page


def test_a_limit_below_the_usage_is_refused_with_the_usage_and_nothing_changes(client, world):
    bulk_instances(world["demo"], 3)
    login(client, "boss")
    url = reverse("admin-project-quotas", args=[world["demo"].pk])
    response = client.post(url, form_data(shown_limits(world["demo"]), instances=2, volumes=4))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Instances cannot be lower than the current usage: 3 in use." in page
    assert "Quota limit 2 for instances must be greater than or equal to already used and reserved 3." in page
    assert not QuotaLimit.objects.exists()

    response = client.post(url, form_data(shown_limits(world["demo"]), instances=3, image_storage=5))
    assert response.status_code == 302
    limits = quotas.limits(world["demo"].pk)
    assert (limits["instances"], limits["image_storage"], limits["volumes"]) == (3, 5 * 1024**3, 10)
    # Only what changed became the project's own; the rest still follows the defaults.
    assert set(QuotaLimit.objects.values_list("resource", flat=True)) == {"instances", "image_storage"}


def test_a_limit_too_large_to_keep_is_a_form_error_naming_the_maximum(client, world):
    login(client, "boss")
    most = (2**63 - 1) // 1024**3
    for url, project in (
        (reverse("admin-project-quotas", args=[world["demo"].pk]), world["demo"]),
        (reverse("admin-defaults"), None),
    ):
        data = form_data(shown_limits(project), image_storage=9_000_000_000, ram=10**19)
        response = client.post(url, data)
        assert response.status_code == 200
        page = response.content.decode()
        assert f"Ensure this value is less than or equal to {most}." in page
        assert f"Ensure this value is less than or equal to {2**63 - 1}." in page
    assert not QuotaLimit.objects.exists()
    # The largest limit itself is kept.
    response = client.post(reverse("admin-defaults"), form_data(shown_limits(), image_storage=most))
    assert response.status_code == 302 and quotas.defaults()["image_storage"] == most * 1024**3


def test_defaults_apply_to_projects_without_their_own(client, world, settings):
    other = make_project("other")
    quotas.set_limits(other, {"cores": 4})
    login(client, "boss")
    response = client.post(reverse("admin-defaults"), form_data(shown_limits(), cores=7, ram=-1))
    assert response.status_code == 302
    assert (quotas.limits(world["demo"].pk)["cores"], quotas.limits(world["demo"].pk)["ram"]) == (7, -1)
    assert quotas.limits(other.pk)["cores"] == 4
    settings.COMPUTE_QUOTA_INSTANCES = 33  # the setting still gives what nobody set
    assert quotas.limits(world["demo"].pk)["instances"] == 33


def test_members_cannot_reach_the_quota_pages(client, world):
    login(client, "alice")
    assert client.get(reverse("admin-defaults")).status_code == 403
    assert client.get(reverse("admin-project-quotas", args=[world["demo"].pk])).status_code == 403
