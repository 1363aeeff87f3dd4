"""The Admin → Flavors panel and the project's launchable flavors, through the real URLs."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from flavors import services
from flavors.models import Flavor, FlavorAccess, FlavorExtraSpec
from tests.factories import PASSWORD, make_project, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    ops, home, other = make_project("ops"), make_project("home"), make_project("other")
    return {
        "ops": ops,
        "home": home,
        "other": other,
        "admin": make_user("boss", roles={ops: "admin"}),
        "member": make_user("mia", roles={home: "member"}),
        "outsider": make_user("xavier", roles={other: "member"}),
    }


def login(client, user) -> None:
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302


def create_form(name: str, projects=(), **fields) -> dict:
    data = {
        "info-name": name,
        "info-flavor_id": "auto",
        "info-vcpus": "2",
        "info-ram": "2048",
        "info-disk": "20",
        "info-ephemeral": "0",
        "info-swap": "0",
        "info-rxtx_factor": "1.0",
        "info-description": "",
        "access-projects": [p.id for p in projects],
    }
    data.update({f"info-{k}": v for k, v in fields.items()})
    return data


def test_the_table_shows_the_seed_columns_and_instance_counts(client, people):
    login(client, people["admin"])
    page = client.get(reverse("admin-flavors")).content.decode()
    columns = ("Memory_MB", "Disk", "Ephemeral", "Swap", "VCPUs", "RXTX_Factor", "Is_Public", "Instances")
    for column in columns:
        assert f">{column}<" in page
    assert page.count('name="id"') == 5 and "m1.xlarge" in page
    assert 'data-section="Admin"' in page and "bi-grid-3x3-gap" in page


def test_the_table_costs_the_same_queries_for_5_or_25_flavors(client, people):
    login(client, people["admin"])

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("admin-flavors")).status_code == 200
        return len(queries)

    services.create_flavor(name="seed", vcpus=1, ram=64, disk=0, is_public=False, projects=[people["home"]])
    count()  # the first page after login also touches the session
    few = count()
    for n in range(20):
        flavor = services.create_flavor(
            name=f"many-{n}", vcpus=1, ram=64, disk=0, is_public=False, projects=[people["home"]]
        )
        services.set_extra_specs(flavor, {"hw:cpu_policy": "shared"})
    assert count() == few <= 10


def test_members_cannot_reach_the_admin_panel(client, people):
    login(client, people["member"])
    assert client.get(reverse("admin-flavors")).status_code == 403
    assert client.post(reverse("admin-flavor-create"), create_form("sneaky")).status_code == 403
    assert client.post(reverse("admin-flavor-delete"), {"id": "1", "confirm": "1"}).status_code == 403
    assert Flavor.objects.count() == 5


def test_creating_without_projects_makes_a_public_flavor(client, people):
    login(client, people["admin"])
    response = client.post(reverse("admin-flavor-create"), create_form("gp.medium"))
    assert response.status_code == 302 and response["Location"] == reverse("admin-flavors")
    flavor = Flavor.objects.get(name="gp.medium")
    assert flavor.is_public and (flavor.vcpus, flavor.ram, flavor.disk) == (2, 2048, 20)


def test_creating_with_projects_makes_a_private_flavor_for_them(client, people):
    login(client, people["admin"])
    client.post(reverse("admin-flavor-create"), create_form("secret", [people["home"]], flavor_id="sec-1"))
    flavor = Flavor.objects.get(pk="sec-1")
    assert not flavor.is_public
    assert list(flavor.projects.all()) == [people["home"]]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"vcpus": "0"}, "vcpus", "greater than or equal to 1"),
        ({"ram": "-1"}, "ram", "greater than or equal to 1"),
        ({"swap": "big"}, "swap", "Enter a whole number"),
        ({"flavor_id": "no/slash"}, "flavor_id", "ID may contain only"),
        ({"flavor_id": "1"}, "flavor_id", 'The ID "1" is already used'),
        ({"name": "M1.Tiny"}, "name", 'The name "M1.Tiny" is already used'),
        ({"rxtx_factor": "0"}, "rxtx_factor", "greater than 0"),
    ],
)
def test_bad_input_is_shown_on_the_field_and_nothing_is_created(client, people, fields, field, message):
    login(client, people["admin"])
    name = fields.pop("name", "fresh")
    response = client.post(reverse("admin-flavor-create"), create_form(name, **fields))
    assert response.status_code == 200
    assert message in response.context["info"].errors[field][0]
    assert Flavor.objects.count() == 5


def test_modify_access_replaces_the_project_list(client, people):
    flavor = services.create_flavor(name="priv", vcpus=1, ram=64, disk=0, projects=[people["home"]])
    login(client, people["admin"])
    url = reverse("admin-flavor-access", args=[flavor.id])
    assert people["home"].name in client.get(url).content.decode()
    client.post(url, {"access-projects": [people["other"].id]})
    assert list(flavor.projects.all()) == [people["other"]]


def test_modify_access_is_refused_for_a_public_flavor(client, people):
    login(client, people["admin"])
    url = reverse("admin-flavor-access", args=["1"])
    response = client.post(url, {"access-projects": [people["home"].id]})
    assert response.status_code == 302
    assert not FlavorAccess.objects.exists()


def test_update_metadata_sets_changes_and_removes_keys(client, people):
    services.set_extra_specs(Flavor.objects.get(pk="2"), {"old": "x", "keep": "1"})
    login(client, people["admin"])
    url = reverse("admin-flavor-metadata", args=["2"])
    page = client.get(url).content.decode()
    for known in ("hw:cpu_policy", "hw:mem_page_size", "quota:cpu_shares"):
        assert f'<option value="{known}">' in page
    response = client.post(
        url, {"key": ["keep", "hw:cpu_policy", "custom:thing", ""], "value": ["2", "dedicated", "yes", ""]}
    )
    assert response.status_code == 302
    specs = dict(FlavorExtraSpec.objects.filter(flavor_id="2").values_list("key", "value"))
    assert specs == {"keep": "2", "hw:cpu_policy": "dedicated", "custom:thing": "yes"}


def test_update_metadata_checks_known_keys(client, people):
    login(client, people["admin"])
    url = reverse("admin-flavor-metadata", args=["2"])
    response = client.post(url, {"key": ["hw:mem_page_size"], "value": ["huge-ish"]})
    assert response.status_code == 200 and "hw:mem_page_size" in response.content.decode()
    assert not FlavorExtraSpec.objects.exists()


def test_bulk_delete_confirms_with_the_instance_count_then_deletes(client, people):
    login(client, people["admin"])
    url = reverse("admin-flavor-delete")
    confirm = client.get(url, {"id": ["4", "5"]})
    page = confirm.content.decode()
    assert "You have selected 2 flavors" in page and "No instance uses these flavors" in page
    assert Flavor.objects.filter(pk__in=["4", "5"]).count() == 2
    response = client.post(url, {"id": ["4", "5"], "confirm": "1"})
    assert response.status_code == 302
    assert set(Flavor.objects.values_list("pk", flat=True)) == {"1", "2", "3"}


def test_a_project_member_sees_public_flavors_and_those_shared_with_the_project(client, people):
    services.create_flavor(name="for-home", vcpus=1, ram=64, disk=0, projects=[people["home"]])
    services.create_flavor(name="for-other", vcpus=1, ram=64, disk=0, projects=[people["other"]])
    Flavor.objects.filter(pk="5").update(disabled=True)
    login(client, people["member"])
    page = client.get(reverse("project-flavors")).content.decode()
    assert 'data-flavor="for-home"' in page and 'data-flavor="m1.tiny"' in page
    assert 'data-flavor="for-other"' not in page and 'data-flavor="m1.xlarge"' not in page


def test_update_metadata_offers_the_catalog_with_the_flavor_prefix(client, people):
    services.set_extra_specs(Flavor.objects.get(pk="2"), {"hw:cpu_policy": "shared"})
    login(client, people["admin"])
    page = client.get(reverse("admin-flavor-metadata", args=["2"])).content.decode()
    assert 'data-testid="metadata-catalog"' in page
    assert 'data-key="hw:cpu_sockets"' in page and 'data-key="hw_cpu_sockets"' not in page
    assert 'data-key="hw_disk_bus"' not in page  # an image-only namespace
    assert '<option value="shared" selected>shared</option>' in page
    assert "onclick" not in page
