"""The metadata definitions catalog: Glance's shapes, codes and policies, and our data files."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from images.metadefs import catalog
from images.models import MetadefNamespace
from tests.factories import make_project
from tests.images.conftest import api_for

pytestmark = pytest.mark.django_db
NS = "/v2/metadefs/namespaces"


@pytest.fixture
def admin_project():
    return make_project()


@pytest.fixture
def cloud_admin(admin_project):
    return api_for(admin_project, "admin")


def new_namespace(api, name="Stratus::Test", **fields):
    body = {"namespace": name, "display_name": "Test", "visibility": "public", **fields}
    response = api.post(NS, body)
    assert response.status_code == 201, response.content
    return response.json()


def test_the_data_files_fit_the_namespace_format_and_are_loaded():
    files = catalog.data_files()
    assert len(files) >= 5
    names = {catalog.read(path)["namespace"] for path in files}
    assert names == set(MetadefNamespace.objects.values_list("namespace", flat=True))


def test_a_data_file_with_a_property_of_an_unknown_type_is_refused(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"namespace": "X", "properties": {"p": {"title": "P", "type": "text"}}}')
    with pytest.raises(ValueError, match="bad.json: properties/p/type"):
        catalog.read(bad)


def test_the_hardware_namespace_lists_what_the_cloud_supports(member):
    body = member.get(f"{NS}/OS::Compute::LibvirtImage").json()
    assert body["properties"]["hw_disk_bus"]["enum"] == ["virtio", "scsi", "sata", "ide"]
    assert body["properties"]["hw_firmware_type"]["enum"] == ["bios", "uefi"]
    assert body["resource_type_associations"][0]["name"] == "OS::Glance::Image"
    assert body["protected"] is True and body["visibility"] == "public"
    assert body["self"] == f"{NS}/OS::Compute::LibvirtImage"
    assert body["schema"] == "/v2/schemas/metadefs/namespace"


def test_a_namespace_shown_for_a_resource_type_names_its_properties_with_that_prefix(member):
    flavor = member.get(f"{NS}/OS::Compute::VirtCPUTopology?resource_type=OS::Nova::Flavor").json()
    image = member.get(f"{NS}/OS::Compute::VirtCPUTopology?resource_type=OS::Glance::Image").json()
    assert "hw:cpu_sockets" in flavor["properties"] and "hw_cpu_sockets" in image["properties"]
    prop = member.get(
        f"{NS}/OS::Compute::VirtCPUTopology/properties/hw:cpu_cores?resource_type=OS::Nova::Flavor"
    )
    assert prop.status_code == 200 and prop.json()["name"] == "hw:cpu_cores"


def test_list_filters_by_resource_type_and_visibility_and_pages(member):
    def names(query):
        response = member.get(f"{NS}?{query}")
        assert response.status_code == 200, response.content
        return [n["namespace"] for n in response.json()["namespaces"]]

    assert "OS::Compute::VirtCPUTopology" in names("resource_types=OS::Nova::Flavor")
    assert "OS::Compute::LibvirtImage" not in names("resource_types=OS::Nova::Flavor")
    assert names("visibility=private") == []
    first = member.get(f"{NS}?limit=2&sort_key=namespace&sort_dir=asc").json()
    assert len(first["namespaces"]) == 2 and first["next"].startswith(f"{NS}?marker=")
    rest = names(first["next"].split("?", 1)[1])
    assert first["namespaces"][1]["namespace"] < rest[0]
    assert member.get(f"{NS}?marker=Nope").status_code == 404


def test_an_admin_creates_shows_updates_and_deletes_a_namespace_with_its_contents(cloud_admin):
    created = new_namespace(
        cloud_admin,
        protected=True,
        resource_type_associations=[{"name": "OS::Glance::Image", "prefix": "x_"}],
        properties={"speed": {"title": "Speed", "type": "integer", "minimum": 1}},
        objects=[{"name": "Box", "properties": {"size": {"title": "Size", "type": "string"}}}],
        tags=[{"name": "fast"}],
    )
    assert created["properties"]["speed"]["minimum"] == 1
    assert created["objects"][0]["name"] == "Box" and created["tags"] == [{"name": "fast"}]
    assert created["resource_type_associations"][0]["prefix"] == "x_"
    assert cloud_admin.post(NS, {"namespace": "Stratus::Test"}).status_code == 409
    path = f"{NS}/Stratus::Test"
    updated = cloud_admin.client.put(
        f"/image{path}",
        '{"namespace": "Stratus::Test", "description": "Changed", "protected": true}',
        content_type="application/json",
        HTTP_X_AUTH_TOKEN=cloud_admin.token,
    )
    assert updated.status_code == 200 and updated.json()["description"] == "Changed"
    assert cloud_admin.delete(path).status_code == 403  # protected
    cloud_admin.client.put(
        f"/image{path}",
        '{"namespace": "Stratus::Test", "protected": false}',
        content_type="application/json",
        HTTP_X_AUTH_TOKEN=cloud_admin.token,
    )
    assert cloud_admin.delete(f"{path}/objects").status_code == 204
    assert cloud_admin.get(f"{path}/objects").json()["objects"] == []
    assert cloud_admin.delete(path).status_code == 204
    assert cloud_admin.get(path).status_code == 404


def test_objects_properties_and_tags_have_their_own_resources(cloud_admin):
    new_namespace(cloud_admin)
    path = f"{NS}/Stratus::Test"
    obj = cloud_admin.post(f"{path}/objects", {"name": "Disk", "required": ["bus"], "properties": {}})
    assert obj.status_code == 201 and obj.json()["self"] == f"{path}/objects/Disk"
    assert cloud_admin.post(f"{path}/objects", {"name": "Disk"}).status_code == 409
    assert cloud_admin.get(f"{path}/objects/Disk").json()["required"] == ["bus"]
    prop = cloud_admin.post(
        f"{path}/properties", {"name": "p", "title": "P", "type": "string", "enum": ["a"]}
    )
    assert prop.status_code == 201 and prop.json() == {
        "name": "p",
        "title": "P",
        "type": "string",
        "enum": ["a"],
    }
    assert (
        cloud_admin.post(f"{path}/properties", {"name": "p", "title": "P", "type": "string"}).status_code
        == 409
    )
    assert cloud_admin.post(f"{path}/properties", {"name": "q", "type": "string"}).status_code == 400
    assert cloud_admin.get(f"{path}/properties").json()["properties"]["p"]["enum"] == ["a"]
    assert cloud_admin.delete(f"{path}/properties/p").status_code == 204
    assert cloud_admin.get(f"{path}/properties/p").status_code == 404

    bulk = cloud_admin.post(f"{path}/tags", {"tags": [{"name": "a"}, {"name": "b"}]})
    assert bulk.status_code == 201 and [t["name"] for t in bulk.json()["tags"]] == ["a", "b"]
    assert cloud_admin.post(f"{path}/tags/c").status_code == 201
    assert cloud_admin.post(f"{path}/tags/c").status_code == 409
    appended = cloud_admin.post(f"{path}/tags", {"tags": [{"name": "d"}]}, HTTP_X_OPENSTACK_APPEND="True")
    assert appended.status_code == 201
    assert [t["name"] for t in cloud_admin.get(f"{path}/tags").json()["tags"]] == ["a", "b", "c", "d"]
    replaced = cloud_admin.post(f"{path}/tags", {"tags": [{"name": "z"}]})
    assert [t["name"] for t in replaced.json()["tags"]] == ["z"]
    assert cloud_admin.post(f"{path}/tags", {"tags": [{"name": "y"}, {"name": "y"}]}).status_code == 409
    assert cloud_admin.get(f"{path}/tags/z").json()["name"] == "z"
    assert cloud_admin.delete(f"{path}/tags").status_code == 204
    assert cloud_admin.get(f"{path}/tags").json() == {"tags": []}


def test_resource_type_associations_are_listed_created_and_removed(cloud_admin, member):
    types = [t["name"] for t in member.get("/v2/metadefs/resource_types").json()["resource_types"]]
    assert {"OS::Glance::Image", "OS::Nova::Flavor", "OS::Nova::Server"} <= set(types)
    new_namespace(cloud_admin)
    path = f"{NS}/Stratus::Test/resource_types"
    made = cloud_admin.post(path, {"name": "OS::Nova::Flavor", "prefix": "t:"})
    assert made.status_code == 201 and made.json()["prefix"] == "t:"
    assert cloud_admin.post(path, {"name": "OS::Nova::Flavor"}).status_code == 409
    assert cloud_admin.post(path, {"name": "OS::Nowhere::Thing"}).status_code == 404
    listed = member.get(path).json()["resource_type_associations"]
    assert [a["name"] for a in listed] == ["OS::Nova::Flavor"]
    assert member.delete(f"{path}/OS::Nova::Flavor").status_code == 403
    assert cloud_admin.delete(f"{path}/OS::Nova::Flavor").status_code == 204
    assert cloud_admin.delete(f"{path}/OS::Nova::Flavor").status_code == 404


def test_a_member_may_read_but_not_change_the_catalog(member, cloud_admin):
    new_namespace(cloud_admin)
    path = f"{NS}/Stratus::Test"
    assert member.get(path).status_code == 200
    assert member.post(NS, {"namespace": "Mine"}).status_code == 403
    assert member.delete(path).status_code == 403
    assert member.post(f"{path}/objects", {"name": "O"}).status_code == 403
    assert member.post(f"{path}/properties", {"name": "p", "title": "P", "type": "string"}).status_code == 403
    assert member.post(f"{path}/tags/t").status_code == 403
    assert member.post(f"{path}/tags", {"tags": []}).status_code == 403
    assert member.delete(f"{path}/tags").status_code == 403


def test_a_private_namespace_is_invisible_to_other_projects(cloud_admin, admin_project, other):
    new_namespace(cloud_admin, name="Stratus::Private", visibility="private")
    assert cloud_admin.get(f"{NS}/Stratus::Private").json()["owner"] == str(admin_project.pk)
    assert other.get(f"{NS}/Stratus::Private").status_code == 404
    assert other.get(f"{NS}/Stratus::Private/properties").status_code == 404
    assert "Stratus::Private" not in [n["namespace"] for n in other.get(NS).json()["namespaces"]]
    owner_reader = api_for(admin_project, "reader")
    assert owner_reader.get(f"{NS}/Stratus::Private").status_code == 200


def test_a_bad_namespace_document_is_a_400(cloud_admin):
    assert cloud_admin.post(NS, {"namespace": "X", "visibility": "secret"}).status_code == 400
    assert cloud_admin.post(NS, {"display_name": "no name"}).status_code == 400


@pytest.mark.parametrize(
    "name, title",
    [
        ("namespace", "namespace"),
        ("namespaces", "namespaces"),
        ("object", "object"),
        ("objects", "objects"),
        ("property", "property"),
        ("properties", "properties"),
        ("tag", "tag"),
        ("tags", "tags"),
        ("resource_type", "resource_type_association"),
        ("resource_types", "resource_type_associations"),
    ],
)
def test_each_metadefs_schema_is_served_under_its_name(member, name, title):
    response = member.get(f"/v2/schemas/metadefs/{name}")
    assert response.status_code == 200 and response.json()["name"] == title


def test_the_namespace_list_costs_the_same_queries_for_more_namespaces(cloud_admin):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert cloud_admin.get(NS).status_code == 200
        return len(captured)

    queries()  # the first request also reads the token
    before = queries()
    for n in range(3):
        new_namespace(
            cloud_admin, name=f"Stratus::More{n}", resource_type_associations=[{"name": "OS::Nova::Flavor"}]
        )
    assert queries() == before
