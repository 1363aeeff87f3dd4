"""Nova's flavor API through the real URLs: versions, shapes per microversion, filters, RBAC."""

from __future__ import annotations

import uuid
from importlib import import_module

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.test.utils import CaptureQueriesContext

from flavors import services
from flavors.models import Flavor, FlavorExtraSpec
from tests.support.compute import flavor_body

pytestmark = pytest.mark.django_db

DEFAULTS = [
    ("1", "m1.tiny", 512, 1, 1),
    ("2", "m1.small", 2048, 20, 1),
    ("3", "m1.medium", 4096, 40, 2),
    ("4", "m1.large", 8192, 80, 4),
    ("5", "m1.xlarge", 16384, 160, 8),
]


def private_flavor(name: str | None = None, *projects) -> Flavor:
    return services.create_flavor(
        name=name or f"p-{uuid.uuid4().hex[:6]}", vcpus=1, ram=256, disk=1, is_public=False, projects=projects
    )


# --- Version discovery and microversions ---------------------------------------------------------


def test_the_compute_root_lists_v2_0_first_then_v2_1(client):
    response = client.get("/compute")
    assert response.status_code == 200
    versions = response.json()["versions"]
    assert [v["id"] for v in versions] == ["v2.0", "v2.1"]
    assert versions[1]["version"] == "2.96" and versions[1]["min_version"] == "2.1"
    assert client.get("/compute/").status_code == 200


@pytest.mark.parametrize("path", ["/compute/v2.1", "/compute/v2.1/"])
def test_the_v2_1_document_names_the_microversion_range_and_links_itself(client, path):
    version = client.get(path).json()["version"]
    assert version["id"] == "v2.1" and version["status"] == "CURRENT"
    assert (version["version"], version["min_version"]) == ("2.96", "2.1")
    assert version["links"] == [{"rel": "self", "href": "http://testserver/compute/v2.1/"}]


def test_without_a_header_the_api_answers_at_2_1_and_says_so(world):
    response = world["member"].get("/flavors/1")
    assert response.status_code == 200
    assert response["OpenStack-API-Version"] == "compute 2.1"
    assert response["X-OpenStack-Nova-API-Version"] == "2.1"
    assert "OpenStack-API-Version" in response["Vary"]
    flavor = response.json()["flavor"]
    assert "description" not in flavor and "extra_specs" not in flavor
    assert flavor["swap"] == ""


def test_the_legacy_header_is_honoured_and_echoed(world):
    response = world["member"].get("/flavors/1", HTTP_X_OPENSTACK_NOVA_API_VERSION="2.55")
    assert response["X-OpenStack-Nova-API-Version"] == "2.55"
    assert response.json()["flavor"]["description"] is None


def test_shapes_follow_the_microversion(world):
    FlavorExtraSpec.objects.create(flavor_id="1", key="hw:cpu_policy", value="shared")
    at_255 = world["member"].get("/flavors/1", "2.55").json()["flavor"]
    assert "description" in at_255 and "extra_specs" not in at_255
    at_261 = world["member"].get("/flavors/1", "2.61").json()["flavor"]
    assert at_261["extra_specs"] == {"hw:cpu_policy": "shared"} and at_261["swap"] == ""
    assert world["member"].get("/flavors/1", "2.75").json()["flavor"]["swap"] == 0


def test_latest_means_the_maximum(world):
    response = world["member"].get("/flavors", "latest")
    assert response["OpenStack-API-Version"] == "compute 2.96"


@pytest.mark.parametrize(("version", "status"), [("2.97", 406), ("3.0", 406), ("2.0", 406), ("two", 400)])
def test_an_unsupported_or_malformed_version_is_refused(world, version, status):
    response = world["member"].get("/flavors", version)
    assert response.status_code == status
    assert str(status) in response.content.decode()


# --- Listing and showing ---------------------------------------------------------------------------


def test_the_five_defaults_exist_with_ids_1_to_5(world):
    flavors = world["reader"].get("/flavors/detail").json()["flavors"]
    got = [(f["id"], f["name"], f["ram"], f["disk"], f["vcpus"]) for f in flavors]
    assert got == DEFAULTS
    assert all(f["os-flavor-access:is_public"] and f["OS-FLV-EXT-DATA:ephemeral"] == 0 for f in flavors)


def test_the_default_flavor_migration_can_run_again(world):
    node = ("instances", "0002_default_flavors")
    state = MigrationLoader(connection).project_state(node)
    import_module("instances.migrations.0002_default_flavors").create_defaults(state.apps, None)
    assert Flavor.objects.count() == 5


def test_the_summary_list_has_id_name_and_links(world):
    flavor = world["member"].get("/flavors", "2.61").json()["flavors"][0]
    assert set(flavor) == {"id", "name", "links", "description"}
    assert flavor["links"][0] == {"rel": "self", "href": "http://testserver/compute/v2.1/flavors/1"}


def test_a_name_or_unknown_id_is_a_404_in_nova_style(world):
    response = world["member"].get("/flavors/m1.tiny")
    assert response.status_code == 404
    assert response.json() == {"itemNotFound": {"code": 404, "message": "Flavor m1.tiny could not be found."}}


def test_anonymous_callers_get_401(client):
    assert client.get("/compute/v2.1/flavors").status_code == 401


def test_min_ram_min_disk_and_sorting_filter_the_list(world):
    caller = world["member"]
    ids = [f["id"] for f in caller.get("/flavors?minRam=4096&minDisk=50").json()["flavors"]]
    assert ids == ["4", "5"]
    ids = [f["id"] for f in caller.get("/flavors/detail?sort_key=memory_mb&sort_dir=desc").json()["flavors"]]
    assert ids == ["5", "4", "3", "2", "1"]
    assert caller.get("/flavors?sort_key=bogus").status_code == 400
    assert caller.get("/flavors?minRam=lots").status_code == 400


def test_limit_and_marker_page_through_the_list(world):
    caller = world["member"]
    first = caller.get("/flavors/detail?limit=2").json()
    assert [f["id"] for f in first["flavors"]] == ["1", "2"]
    assert first["flavors_links"][0]["rel"] == "next"
    assert "marker=2" in first["flavors_links"][0]["href"]
    second = caller.get("/flavors/detail?limit=2&marker=2").json()
    assert [f["id"] for f in second["flavors"]] == ["3", "4"]
    last = caller.get("/flavors/detail?limit=2&marker=4").json()
    assert [f["id"] for f in last["flavors"]] == ["5"] and "flavors_links" not in last
    assert caller.get("/flavors?marker=nope").status_code == 400


def test_admin_sees_private_flavors_only_with_is_public_none_or_false(world):
    flavor = private_flavor()
    admin = world["admin"]
    assert flavor.id not in [f["id"] for f in admin.get("/flavors").json()["flavors"]]
    assert flavor.id in [f["id"] for f in admin.get("/flavors?is_public=None").json()["flavors"]]
    assert [f["id"] for f in admin.get("/flavors?is_public=false").json()["flavors"]] == [flavor.id]
    assert admin.get("/flavors?is_public=maybe").status_code == 400
    shared = private_flavor(None, world["admin_home"])
    assert shared.id in [f["id"] for f in admin.get("/flavors").json()["flavors"]]


def test_disabled_flavors_are_hidden_from_project_lists_but_not_from_admins(world):
    Flavor.objects.filter(pk="2").update(disabled=True)
    assert "2" not in [f["id"] for f in world["member"].get("/flavors").json()["flavors"]]
    assert "2" in [f["id"] for f in world["admin"].get("/flavors").json()["flavors"]]


def test_the_detail_list_costs_the_same_queries_for_5_or_25_flavors(world):
    caller = world["member"]

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = caller.get("/flavors/detail", "2.61")
        assert response.status_code == 200
        return len(queries)

    count()  # the token's first use validates it; later calls find it kept
    few = count()
    for n in range(20):
        flavor = services.create_flavor(name=f"bulk-{n}", vcpus=1, ram=64, disk=0)
        services.set_extra_specs(flavor, {"hw:cpu_policy": "shared", "quota:cpu_shares": "10"})
    assert len(caller.get("/flavors/detail", "2.61").json()["flavors"]) == 25
    assert count() == few <= 6


# --- Private flavors and access -------------------------------------------------------------------


def test_a_private_flavor_is_a_404_until_access_is_granted(world):
    flavor = private_flavor()
    member, admin = world["member"], world["admin"]
    assert member.get(f"/flavors/{flavor.id}").status_code == 404
    assert flavor.id not in [f["id"] for f in member.get("/flavors/detail?is_public=None").json()["flavors"]]

    response = admin.post(f"/flavors/{flavor.id}/action", {"addTenantAccess": {"tenant": world["home"].id}})
    assert response.status_code == 200
    assert response.json() == {"flavor_access": [{"flavor_id": flavor.id, "tenant_id": world["home"].id}]}

    assert member.get(f"/flavors/{flavor.id}").status_code == 200
    assert flavor.id in [f["id"] for f in member.get("/flavors/detail").json()["flavors"]]
    assert world["outsider"].get(f"/flavors/{flavor.id}").status_code == 404
    assert world["outsider"].get(f"/flavors/{flavor.id}/os-extra_specs").status_code == 404

    admin.post(f"/flavors/{flavor.id}/action", {"removeTenantAccess": {"tenant": world["home"].id}})
    assert member.get(f"/flavors/{flavor.id}").status_code == 404


def test_the_access_list_is_for_admins_and_private_flavors(world):
    flavor = private_flavor(None, world["home"])
    admin = world["admin"]
    assert admin.get(f"/flavors/{flavor.id}/os-flavor-access").json()["flavor_access"] == [
        {"flavor_id": flavor.id, "tenant_id": world["home"].id}
    ]
    assert admin.get("/flavors/1/os-flavor-access").status_code == 404
    assert world["member"].get(f"/flavors/{flavor.id}/os-flavor-access").status_code == 403


@pytest.mark.parametrize(
    ("flavor_kind", "tenant", "status"),
    [("private", "home", 409), ("public", "other", 409), ("private", "nobody", 400)],
)
def test_adding_access_refuses_duplicates_public_flavors_and_unknown_projects(
    world, flavor_kind, tenant, status
):
    flavor = private_flavor(None, world["home"]) if flavor_kind == "private" else Flavor.objects.get(pk="1")
    tenant_id = world[tenant].id if tenant in ("home", "other") else "f" * 32
    response = world["admin"].post(f"/flavors/{flavor.id}/action", {"addTenantAccess": {"tenant": tenant_id}})
    assert response.status_code == status
    assert flavor.access.count() == (1 if flavor_kind == "private" else 0)


def test_removing_access_that_does_not_exist_is_a_404(world):
    flavor = private_flavor()
    response = world["admin"].post(
        f"/flavors/{flavor.id}/action", {"removeTenantAccess": {"tenant": world["home"].id}}
    )
    assert response.status_code == 404


@pytest.mark.parametrize("persona", ["member", "reader", "outsider"])
def test_only_admins_change_access(world, persona):
    flavor = private_flavor()
    response = world[persona].post(
        f"/flavors/{flavor.id}/action", {"addTenantAccess": {"tenant": world[persona].project.id}}
    )
    assert response.status_code == 403
    assert not flavor.access.exists()


# --- Creating, updating, deleting --------------------------------------------------------------------


def test_admin_creates_a_flavor_and_gets_200_with_a_generated_id(world):
    response = world["admin"].post(
        "/flavors",
        flavor_body("c1", swap=512, **{"OS-FLV-EXT-DATA:ephemeral": 5, "os-flavor-access:is_public": False}),
        "2.61",
    )
    assert response.status_code == 200, response.content
    flavor = response.json()["flavor"]
    assert uuid.UUID(flavor["id"])
    assert (flavor["vcpus"], flavor["ram"], flavor["disk"], flavor["swap"]) == (2, 1024, 10, 512)
    assert flavor["OS-FLV-EXT-DATA:ephemeral"] == 5 and flavor["os-flavor-access:is_public"] is False
    assert flavor["extra_specs"] == {} and flavor["description"] is None
    stored = Flavor.objects.get(pk=flavor["id"])
    assert (stored.name, stored.is_public, stored.rxtx_factor) == ("c1", False, 1.0)


def test_a_given_id_and_description_are_kept(world):
    response = world["admin"].post(
        "/flavors", flavor_body("c2", id="gp.small-1", description="General"), "2.55"
    )
    assert response.status_code == 200
    assert response.json()["flavor"]["id"] == "gp.small-1"
    assert Flavor.objects.get(pk="gp.small-1").description == "General"


def test_description_is_unknown_before_2_55(world):
    response = world["admin"].post("/flavors", flavor_body("c3", description="x"))
    assert response.status_code == 400 and "description" in response.json()["badRequest"]["message"]
    assert not Flavor.objects.filter(name="c3").exists()


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"vcpus": 0}, "vcpus"),
        ({"vcpus": -1}, "vcpus"),
        ({"ram": 0}, "ram"),
        ({"ram": -512}, "ram"),
        ({"disk": -1}, "disk"),
        ({"swap": "lots"}, "swap"),
        ({"swap": -1}, "swap"),
        ({"OS-FLV-EXT-DATA:ephemeral": -5}, "OS-FLV-EXT-DATA:ephemeral"),
        ({"id": "bad/id"}, "id"),
        ({"id": "café"}, "id"),
        ({"id": " lead"}, "id"),
        ({"name": " padded "}, "name"),
        ({"name": ""}, "name"),
        ({"rxtx_factor": 0}, "rxtx_factor"),
        ({"vcpus": "two"}, "vcpus"),
        ({"vcpus": True}, "vcpus"),
        ({"os-flavor-access:is_public": "perhaps"}, "os-flavor-access:is_public"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(world, fields, named):
    before = Flavor.objects.count()
    response = world["admin"].post("/flavors", flavor_body("bad-one", **fields))
    assert response.status_code == 400, response.content
    assert named in response.json()["badRequest"]["message"]
    assert Flavor.objects.count() == before


def test_swap_given_as_digits_or_empty_string_is_accepted_like_nova(world):
    admin = world["admin"]
    assert admin.post("/flavors", flavor_body("s1", swap="256")).json()["flavor"]["swap"] == 256
    assert admin.post("/flavors", flavor_body("s2", swap="")).json()["flavor"]["swap"] == ""


@pytest.mark.parametrize(
    ("fields", "named"), [({"name": "M1.TINY"}, "name M1.TINY"), ({"id": "3", "name": "fresh"}, "ID 3")]
)
def test_a_duplicate_name_or_id_is_a_409_naming_it(world, fields, named):
    response = world["admin"].post("/flavors", flavor_body(fields.pop("name", "fresh"), **fields))
    assert response.status_code == 409
    assert named in response.json()["conflictingRequest"]["message"]
    assert Flavor.objects.count() == 5


@pytest.mark.parametrize("persona", ["member", "reader", "outsider"])
def test_only_admins_create_update_or_delete(world, persona):
    caller = world[persona]
    assert caller.post("/flavors", flavor_body("nope")).status_code == 403
    assert caller.put("/flavors/1", {"flavor": {"description": "x"}}, "2.55").status_code == 403
    assert caller.delete("/flavors/1").status_code == 403
    assert Flavor.objects.count() == 5 and not Flavor.objects.filter(name="nope").exists()


def test_the_description_can_be_updated_from_2_55(world):
    admin = world["admin"]
    assert admin.put("/flavors/1", {"flavor": {"description": "tiny"}}).status_code == 404
    response = admin.put("/flavors/1", {"flavor": {"description": "tiny"}}, "2.55")
    assert response.status_code == 200 and response.json()["flavor"]["description"] == "tiny"
    assert admin.put("/flavors/1", {"flavor": {"ram": 1}}, "2.55").status_code == 400
    assert Flavor.objects.get(pk="1").ram == 512


def test_delete_is_a_bodiless_202_and_the_flavor_is_gone(world):
    flavor = private_flavor(None, world["home"])
    response = world["admin"].delete(f"/flavors/{flavor.id}")
    assert response.status_code == 202 and response.content == b""
    assert "Content-Type" not in response
    assert not Flavor.objects.filter(pk=flavor.id).exists()
    assert world["admin"].delete(f"/flavors/{flavor.id}").status_code == 404


# --- Extra specs ---------------------------------------------------------------------------------------


def test_extra_specs_crud(world):
    admin, member = world["admin"], world["member"]
    response = admin.post("/flavors/1/os-extra_specs", {"extra_specs": {"hw:cpu_policy": "shared", "k": 1}})
    assert response.status_code == 200
    assert response.json() == {"extra_specs": {"hw:cpu_policy": "shared", "k": "1"}}
    assert member.get("/flavors/1/os-extra_specs").json() == {
        "extra_specs": {"hw:cpu_policy": "shared", "k": "1"}
    }
    assert member.get("/flavors/1/os-extra_specs/k").json() == {"k": "1"}
    assert admin.put("/flavors/1/os-extra_specs/k", {"k": "2"}).json() == {"k": "2"}
    assert admin.put("/flavors/1/os-extra_specs/k", {"other": "2"}).status_code == 400
    delete = admin.delete("/flavors/1/os-extra_specs/k")
    assert delete.status_code == 200 and delete.content == b""
    assert member.get("/flavors/1/os-extra_specs/k").status_code == 404
    assert admin.delete("/flavors/1/os-extra_specs/k").status_code == 404
    assert dict(FlavorExtraSpec.objects.filter(flavor_id="1").values_list("key", "value")) == {
        "hw:cpu_policy": "shared"
    }


@pytest.mark.parametrize("persona", ["member", "reader", "outsider"])
def test_only_admins_write_extra_specs(world, persona):
    caller = world[persona]
    assert caller.get("/flavors/1/os-extra_specs").status_code == 200
    assert caller.post("/flavors/1/os-extra_specs", {"extra_specs": {"a": "b"}}).status_code == 403
    assert caller.put("/flavors/1/os-extra_specs/a", {"a": "b"}).status_code == 403
    assert caller.delete("/flavors/1/os-extra_specs/a").status_code == 403
    assert not FlavorExtraSpec.objects.exists()


def test_known_extra_specs_are_validated_from_2_86(world):
    admin = world["admin"]
    body = {"extra_specs": {"hw:cpu_policy": "sometimes"}}
    response = admin.post("/flavors/2/os-extra_specs", body, "2.86")
    assert response.status_code == 400 and "hw:cpu_policy" in response.json()["badRequest"]["message"]
    assert admin.post("/flavors/2/os-extra_specs", body, "2.61").status_code == 200
    assert admin.post("/flavors/2/os-extra_specs", {"extra_specs": {"bad key!": "x"}}).status_code == 400


# --- Model invariants ---------------------------------------------------------------------------------


def test_sizes_cannot_change_after_creation():

    flavor = Flavor.objects.get(pk="1")
    flavor.ram = 1024
    with pytest.raises(ValidationError):
        flavor.save()
    assert Flavor.objects.get(pk="1").ram == 512


def test_an_instance_can_keep_a_copy_of_the_sizes_that_outlives_the_flavor():
    flavor = Flavor.objects.get(pk="3")
    FlavorExtraSpec.objects.create(flavor=flavor, key="hw:cpu_policy", value="dedicated")
    copy = flavor.sizes()
    services.delete_flavors([flavor])
    assert copy == {
        "id": "3",
        "name": "m1.medium",
        "vcpus": 2,
        "ram": 4096,
        "disk": 40,
        "ephemeral": 0,
        "swap": 0,
        "rxtx_factor": 1.0,
        "extra_specs": {"hw:cpu_policy": "dedicated"},
    }


def test_names_are_unique_case_insensitively_in_the_database():

    with pytest.raises(IntegrityError), transaction.atomic():
        Flavor.objects.create(id="x", name="M1.Small", vcpus=1, ram=1, disk=0)
