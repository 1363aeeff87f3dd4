"""One filterset for image lists: the Images panel and GET /v2/images filter with the same classes,
a shared parameter means the same in both, and the API's list query still compiles once per query
string with the caller's project as a bound value."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dashboard.prepared import _Compiled
from images.api.views import PAGE_QUERIES
from images.choices import ImageStatus
from images.filters import GlanceImageFilterSet, ImageFilterSet, ValueListFilter
from images.models import Image
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def panel(client, member):
    response = client.post(reverse("login"), {"username": member.user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def shown_in_panel(client, query: str) -> set[str]:
    page = client.get(f"{reverse('images')}?{query}").content.decode()
    return {name for name in ("up", "waiting", "broken") if f'data-image="{name}"' in page}


def listed_by_api(api, query: str) -> set[str]:
    response = api.get(f"/v2/images?{query}")
    assert response.status_code == 200, response.content
    return {i["name"] for i in response.json()["images"]}


@pytest.fixture
def three(member):
    owner = member.project.id
    common = {"owner": owner, "disk_format": "qcow2", "container_format": "bare"}
    Image.objects.create(name="up", status=ImageStatus.ACTIVE, size=1, protected=True, **common)
    Image.objects.create(name="waiting", status=ImageStatus.QUEUED, **common)
    Image.objects.create(name="broken", status=ImageStatus.KILLED, **{**common, "disk_format": "raw"})


def test_the_api_filterset_is_the_panels_with_glances_parameters():
    assert issubclass(GlanceImageFilterSet, ImageFilterSet)
    panel, api = ImageFilterSet.base_filters, GlanceImageFilterSet.base_filters
    assert api["protected"] is panel["protected"]
    for name in ("status", "disk_format"):
        assert type(api[name]) is type(panel[name]) is ValueListFilter
    assert {"scope", "type"}.isdisjoint(api)  # the panel's own parameters are image properties there


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=active", {"up"}),
        ("status=in:active,queued", {"up", "waiting"}),
        ("disk_format=raw", {"broken"}),
        ("protected=yes", {"up"}),
        ("protected=false", {"waiting", "broken"}),
        ("visibility=shared", {"up", "waiting", "broken"}),
    ],
)
def test_a_shared_parameter_lists_the_same_images_in_panel_and_api(panel, member, three, query, expected):
    assert shown_in_panel(panel, query) == expected
    assert listed_by_api(member, query) == expected


def test_a_bad_value_is_left_out_by_the_panel_and_refused_by_the_api(panel, member, three):
    assert shown_in_panel(panel, "protected=maybe&status=bogus") == {"up", "waiting", "broken"}
    response = member.get("/v2/images?protected=maybe")
    assert response.status_code == 400
    assert response.json()["message"] == "protected must be true or false."
    # The API compares a status as sent: one that does not exist matches nothing.
    assert listed_by_api(member, "status=bogus") == set()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("size_min=big", "size_min must be an integer."),
        ("size_max=", "size_max must be an integer."),
        ("os_hidden=maybe", "os_hidden must be true or false."),
        ("created_at=after:2024-01-01T00:00:00Z", "created_at must be like gte:2024-01-01T00:00:00Z."),
        ("created_at=gte:2024-13-01T00:00:00Z", "created_at must be like gte:2024-01-01T00:00:00Z."),
        ("member_status=maybe", "member_status must be pending, accepted, rejected or all."),
        # The first bad parameter in Glance's order is the one reported.
        ("updated_at=x&protected=x&size_max=x", "size_max must be an integer."),
        ("size_min=x&member_status=x", "member_status must be pending, accepted, rejected or all."),
    ],
)
def test_the_api_refuses_a_malformed_filter_with_its_message(member, query, message):
    response = member.get(f"/v2/images?{query}")
    assert response.status_code == 400
    assert response.json()["message"] == message


def test_a_bad_member_status_is_reported_before_an_unknown_marker(member):
    response = member.get("/v2/images?member_status=maybe&marker=00000000-0000-0000-0000-000000000000")
    assert response.json()["message"] == "member_status must be pending, accepted, rejected or all."


def test_the_list_query_compiles_once_per_query_string_with_the_project_bound(member, other, three):
    query = "limit=7&status=in:active,queued&sort_key=name&sort_dir=asc"
    before = set(PAGE_QUERIES._compiled)
    assert listed_by_api(member, query) == {"up", "waiting"}
    assert listed_by_api(other, query) == set()
    shapes = set(PAGE_QUERIES._compiled) - before
    assert len(shapes) == 1
    assert isinstance(PAGE_QUERIES._compiled[shapes.pop()], _Compiled)
