"""The servers API on an in-process compute host with the fake driver: launch, shapes per
microversion, actions and their 409s, delete in every state, quotas, snapshots."""

from __future__ import annotations

import json
import os

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flavors import services
from images.models import Image
from instances.choices import TaskState, VmState
from instances.models import ComputeHost, Instance, InstanceAction
from tests.instances.conftest import Deliver, make_host, upload_image


def create_body(image, flavor, name="vm1", **extra) -> dict:
    server = {"name": name, "imageRef": str(image.pk), "flavorRef": flavor.pk, "networks": "none"}
    server.update(extra)
    return {"server": server}


def launch(world, host, image, flavor, django_capture_on_commit_callbacks, *, who="member", **extra):
    with django_capture_on_commit_callbacks() as callbacks:
        response = world[who].post("/servers", create_body(image, flavor, **extra), "2.96")
    assert response.status_code == 202, response.content
    Deliver(host)(callbacks)
    return response.json()["server"]["id"]


def act(world, host, server_id, body, capture, who="member", version="2.96"):
    with capture() as callbacks:
        response = world[who].post(f"/servers/{server_id}/action", body, version)
    Deliver(host)(callbacks)
    return response


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_a_launch_answers_202_and_the_agent_makes_it_active_with_an_address(
    world, host, image, tiny, capture
):
    with capture() as callbacks:
        response = world["member"].post("/servers", create_body(image, tiny), "2.96")
    assert response.status_code == 202
    server = response.json()["server"]
    assert set(server) == {"id", "links", "adminPass", "OS-DCF:diskConfig", "security_groups"}
    shown = world["member"].get(f"/servers/{server['id']}", "2.96").json()["server"]
    assert shown["status"] == "BUILD"
    assert shown["OS-EXT-STS:task_state"] == "spawning"

    assert Deliver(host)(callbacks) == ["instances.build"]
    shown = world["member"].get(f"/servers/{server['id']}", "2.96").json()["server"]
    assert shown["status"] == "ACTIVE"
    assert shown["OS-EXT-STS:power_state"] == 1
    (address,) = shown["addresses"]["private"]
    assert address["addr"] == "10.100.0.10"
    assert address["OS-EXT-IPS:type"] == "fixed"
    assert "OS-EXT-SRV-ATTR:host" not in shown  # members do not see hosts
    instance = Instance.objects.get(pk=server["id"])
    assert instance.launched_at is not None
    disks = host.disk_paths(server["id"])
    assert disks["vda"].is_file() and disks["vdb"].is_file() and disks["vdh"].is_file()
    assert host.cache.cached() == [str(image.pk)]
    row = ComputeHost.objects.get(name="host1")
    assert (row.vcpus_used, row.memory_mb_used, row.local_gb_used) == (1, 128, 2)
    assert InstanceAction.objects.get(instance=instance, action="create").result == "Success"


def test_shapes_follow_the_microversion(world, host, image, tiny, capture):
    server_id = launch(world, host, image, tiny, capture)
    old = world["member"].get(f"/servers/{server_id}").json()["server"]
    assert set(old["flavor"]) == {"id", "links"}
    assert old["image"]["id"] == str(image.pk)
    for newer in ("locked", "description", "tags", "pinned_availability_zone", "trusted_image_certificates"):
        assert newer not in old
    new = world["member"].get(f"/servers/{server_id}", "2.96").json()["server"]
    assert new["flavor"] == {
        "vcpus": 1,
        "ram": 128,
        "disk": 1,
        "ephemeral": 1,
        "swap": 16,
        "original_name": "t.tiny",
        "extra_specs": {},
    }
    assert new["locked"] is False and new["tags"] == [] and new["pinned_availability_zone"] is None
    admin = world["admin"].get(f"/servers/{server_id}", "2.96").json()["server"]
    assert admin["OS-EXT-SRV-ATTR:host"] == "host1"


def test_networks_is_required_from_2_37_and_strings_need_2_37(world, host, image, tiny):
    body = create_body(image, tiny)
    del body["server"]["networks"]
    assert world["member"].post("/servers", body, "2.37").status_code == 400
    assert world["member"].post("/servers", create_body(image, tiny), "2.36").status_code == 400


def test_osc_block_device_mapping_for_an_image_boots_from_it(world, host, image, tiny, capture):
    bdm = [{"uuid": str(image.pk), "boot_index": 0, "source_type": "image", "destination_type": "local",
            "delete_on_termination": True}]  # fmt: skip
    server_id = launch(world, host, image, tiny, capture, block_device_mapping_v2=bdm)
    assert Instance.objects.get(pk=server_id).vm_state == VmState.ACTIVE
    volume = [{"uuid": str(image.pk), "boot_index": 0, "source_type": "volume", "destination_type": "volume"}]
    response = world["member"].post(
        "/servers", create_body(image, tiny, block_device_mapping_v2=volume), "2.96"
    )
    assert response.status_code == 400


def test_a_flavor_smaller_than_the_image_is_refused(world, host, image, tiny):

    Image.objects.filter(pk=image.pk).update(min_disk=5)
    response = world["member"].post("/servers", create_body(image, tiny), "2.96")
    assert response.status_code == 400
    assert "Flavor's disk is too small" in response.json()["badRequest"]["message"]
    Image.objects.filter(pk=image.pk).update(min_disk=0, min_ram=1024)
    response = world["member"].post("/servers", create_body(image, tiny), "2.96")
    assert "memory is too small" in response.json()["badRequest"]["message"]
    Image.objects.filter(pk=image.pk).update(min_ram=0, virtual_size=3 * 1024**3)
    assert world["member"].post("/servers", create_body(image, tiny), "2.96").status_code == 400
    small = services.create_flavor(name="t.zero", vcpus=1, ram=64, disk=0)
    response = world["member"].post("/servers", create_body(image, small), "2.96")
    assert response.status_code == 403  # zero-disk flavors are for administrators
    assert not Instance.objects.exists()


def test_an_image_that_is_not_active_or_not_visible_is_refused(world, host, image, tiny, stores_dir):

    Image.objects.filter(pk=image.pk).update(status="deactivated")
    response = world["member"].post("/servers", create_body(image, tiny), "2.96")
    assert response.status_code == 400 and "is not active" in response.content.decode()
    private = upload_image(world["other"].pk, b"\0" * 512, visibility="private")
    response = world["member"].post("/servers", create_body(private, tiny), "2.96")
    assert response.status_code == 400 and "could not be found" in response.content.decode()


def test_no_valid_host_puts_the_instance_in_error_with_the_reason(world, host, image, tiny, capture):
    ComputeHost.objects.update(enabled=False)
    server_id = launch(world, host, image, tiny, capture)
    shown = world["member"].get(f"/servers/{server_id}", "2.96").json()["server"]
    assert shown["status"] == "ERROR"
    assert shown["fault"]["message"].startswith("No valid host was found. There are no enabled")
    assert shown["addresses"]  # the address is recorded even so; delete releases it


def test_count_launches_several_and_the_quota_is_checked_atomically(
    world, host, image, tiny, capture, settings
):
    settings.COMPUTE_QUOTA_INSTANCES = 3
    with capture() as callbacks:
        response = world["member"].post(
            "/servers", create_body(image, tiny, min_count=2, max_count=5, return_reservation_id=True), "2.96"
        )
    assert response.status_code == 202
    reservation = response.json()["reservation_id"]
    Deliver(host)(callbacks)
    names = sorted(Instance.objects.filter(reservation_id=reservation).values_list("name", flat=True))
    assert names == ["vm1-1", "vm1-2", "vm1-3"]
    addresses = set(Instance.objects.values_list("address", flat=True))
    assert addresses == {"10.100.0.10", "10.100.0.11", "10.100.0.12"}
    response = world["member"].post("/servers", create_body(image, tiny), "2.96")
    assert response.status_code == 403
    assert "Quota exceeded for instances" in response.json()["forbidden"]["message"]
    limits = world["member"].get("/limits").json()["limits"]["absolute"]
    assert (limits["maxTotalInstances"], limits["totalInstancesUsed"], limits["totalRAMUsed"]) == (3, 3, 384)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"os-start": None}, None),
        ({"unpause": None}, None),
        ({"resume": None}, None),
        ({"pause": None}, {"pause": None}),
        ({"os-stop": None}, {"os-stop": None}),
    ],
)
def test_an_action_in_the_wrong_state_is_409(world, host, image, tiny, capture, first, second):
    server_id = launch(world, host, image, tiny, capture)
    if second is None:
        assert world["member"].post(f"/servers/{server_id}/action", first).status_code == 409
        return
    # The first moves the task state; the second arrives before the agent finished: 409.
    assert world["member"].post(f"/servers/{server_id}/action", first).status_code == 202
    response = world["member"].post(f"/servers/{server_id}/action", second)
    assert response.status_code == 409
    assert "conflictingRequest" in response.json()


def test_power_actions_walk_the_state_machine(world, host, image, tiny, capture):
    server_id = launch(world, host, image, tiny, capture)

    def status():
        return world["member"].get(f"/servers/{server_id}", "2.96").json()["server"]["status"]

    steps = [
        ({"os-stop": None}, "SHUTOFF"),
        ({"os-start": None}, "ACTIVE"),
        ({"reboot": {"type": "SOFT"}}, "ACTIVE"),
        ({"pause": None}, "PAUSED"),
        ({"unpause": None}, "ACTIVE"),
        ({"suspend": None}, "SUSPENDED"),
        ({"resume": None}, "ACTIVE"),
        ({"reboot": {"type": "HARD"}}, "ACTIVE"),
    ]
    for body, expected in steps:
        response = act(world, host, server_id, body, capture)
        assert response.status_code == 202, (body, response.content)
        assert status() == expected, body
    actions = list(InstanceAction.objects.filter(instance_id=server_id).values_list("action", "result"))
    assert len(actions) == 9 and {r for _, r in actions} == {"Success"}


def test_a_task_delivered_twice_changes_nothing_the_second_time(world, host, image, tiny, capture):
    server_id = launch(world, host, image, tiny, capture)
    with capture() as callbacks:
        world["member"].post(f"/servers/{server_id}/action", {"os-stop": None})
    Deliver(host)(callbacks)
    Deliver(host)(callbacks)
    instance = Instance.objects.get(pk=server_id)
    assert (instance.vm_state, instance.task_state) == (VmState.STOPPED, TaskState.NONE)


@pytest.mark.parametrize("state", ["BUILD", "ACTIVE", "SHUTOFF", "PAUSED", "SUSPENDED", "ERROR"])
def test_delete_works_in_every_state_and_gives_everything_back(world, host, image, tiny, capture, state):
    with capture() as build:
        response = world["member"].post("/servers", create_body(image, tiny), "2.96")
    server_id = response.json()["server"]["id"]
    if state != "BUILD":
        Deliver(host)(build)
    to_state = {"SHUTOFF": {"os-stop": None}, "PAUSED": {"pause": None}, "SUSPENDED": {"suspend": None}}
    if state in to_state:
        act(world, host, server_id, to_state[state], capture)
    if state == "ERROR":
        Instance.objects.filter(pk=server_id).update(vm_state=VmState.ERROR)
    assert world["member"].get(f"/servers/{server_id}", "2.96").json()["server"]["status"] == state

    with capture() as callbacks:
        assert world["member"].delete(f"/servers/{server_id}").status_code == 204
    assert world["member"].delete(f"/servers/{server_id}").status_code == 409  # a second delete loses
    if state == "BUILD":
        Deliver(host)(build)  # the build runs after the delete was asked for: it must not win
    Deliver(host)(callbacks)
    assert world["member"].get(f"/servers/{server_id}").status_code == 404
    instance = Instance.objects.get(pk=server_id)
    assert (instance.deleted, instance.vm_state) == (True, VmState.DELETED)
    assert host.driver.list_defined() == []
    assert not host.disk_paths(server_id)["vda"].parent.exists()
    assert host.cache.cached() == [str(image.pk)] or state == "BUILD"
    row = ComputeHost.objects.get(name="host1")
    assert (row.vcpus_used, row.memory_mb_used, row.local_gb_used) == (0, 0, 0)
    assert world["member"].get("/limits").json()["limits"]["absolute"]["totalInstancesUsed"] == 0
    assert Image.objects.get(pk=image.pk).status == "active"


def test_delete_on_a_host_that_is_down_happens_in_the_database(world, host, image, tiny, capture):
    server_id = launch(world, host, image, tiny, capture)
    ComputeHost.objects.update(last_heartbeat=None)
    with capture() as callbacks:
        assert world["member"].delete(f"/servers/{server_id}").status_code == 204
    assert callbacks == []
    assert Instance.objects.get(pk=server_id).deleted
    assert ComputeHost.objects.get().memory_mb_used == 0


def test_create_image_below_2_45_answers_with_a_location_and_the_snapshot_becomes_active(
    world, host, image, tiny, capture
):
    server_id = launch(world, host, image, tiny, capture)
    response = act(world, host, server_id, {"createImage": {"name": "snap1"}}, capture, version="2.44")
    assert response.status_code == 202
    image_id = response["Location"].rsplit("/", 1)[1]
    assert response["Location"].endswith(f"/image/v2/images/{image_id}")
    snap = Image.objects.get(pk=image_id)
    assert snap.status == "active" and snap.disk_format == "qcow2"
    assert snap.owner == world["home"].pk
    assert snap.properties["instance_uuid"] == server_id
    assert snap.properties["image_type"] == "snapshot"
    assert snap.properties["base_image_ref"] == str(image.pk)
    shown = world["member"].get(f"/servers/{server_id}", "2.96").json()["server"]
    assert (shown["status"], shown["OS-EXT-STS:task_state"]) == ("ACTIVE", None)
    response = act(world, host, server_id, {"createImage": {"name": "snap2"}}, capture, version="2.45")
    assert Image.objects.get(pk=response.json()["image_id"]).status == "active"


def test_a_name_filter_that_is_no_regular_expression_is_matched_as_text_with_its_case(
    world, host, image, tiny, capture
):
    """Case counts, as in a regular expression, on every database (SQLite's LIKE ignores it)."""
    launch(world, host, image, tiny, capture, name="DB[x")
    launch(world, host, image, tiny, capture, name="db[x")

    def named(pattern: str) -> list[str]:
        return [s["name"] for s in world["member"].get(f"/servers?name={pattern}").json()["servers"]]

    assert named("B[x") == ["DB[x"]
    assert named("b[x") == ["db[x"]
    assert named("D") == ["DB[x"]


def test_list_filters_and_pages(world, host, image, tiny, capture):
    ids = [launch(world, host, image, tiny, capture, name=f"web-{i}") for i in range(3)]
    launch(world, host, image, tiny, capture, name="db")
    names = [s["name"] for s in world["member"].get("/servers/detail?name=^web").json()["servers"]]
    assert sorted(names) == ["web-0", "web-1", "web-2"]
    assert world["member"].get("/servers?name=nothing").json()["servers"] == []
    act(world, host, ids[0], {"os-stop": None}, capture)
    shutoff = world["member"].get("/servers/detail?status=SHUTOFF&deleted=False").json()["servers"]
    assert [s["id"] for s in shutoff] == [ids[0]]
    first = world["member"].get("/servers?limit=2").json()
    assert len(first["servers"]) == 2 and "servers_links" in first
    rest = world["member"].get(f"/servers?limit=2&marker={first['servers'][-1]['id']}").json()["servers"]
    assert len(rest) == 2
    every = [s["id"] for s in first["servers"] + rest]
    assert len(set(every)) == 4 and set(ids) <= set(every)


def test_list_takes_nova_filters_and_keeps_the_admin_ones_for_admins(world, host, image, tiny, capture):
    mine = launch(world, host, image, tiny, capture, name="web")
    member = world["member"]
    assert member.get("/servers?status=NO-SUCH-STATUS").json()["servers"] == []
    link = f"http://testserver/image/v2/images/{image.pk}"
    assert [s["id"] for s in member.get(f"/servers?image={link}").json()["servers"]] == [mine]
    assert [s["id"] for s in member.get(f"/servers?flavor={tiny.pk}").json()["servers"]] == [mine]
    # host and tenant_id narrow only an admin's list of all projects; a member's list ignores them.
    assert [s["id"] for s in member.get("/servers?host=elsewhere").json()["servers"]] == [mine]
    assert [s["id"] for s in member.get("/servers?tenant_id=nobody").json()["servers"]] == [mine]
    admin = world["admin"]
    assert admin.get("/servers?all_tenants=1&host=elsewhere").json()["servers"] == []
    assert admin.get(f"/servers?all_tenants=1&host={host.host_name}").json()["servers"][0]["id"] == mine
    home = world["home"].pk
    assert [s["id"] for s in admin.get(f"/servers?all_tenants=1&tenant_id={home}").json()["servers"]] == [
        mine
    ]
    assert admin.get(f"/servers?all_tenants=1&project_id={world['other'].pk}").json()["servers"] == []


def test_detail_costs_the_same_queries_for_one_server_or_many(world, host, image, tiny, capture):
    launch(world, host, image, tiny, capture)
    with CaptureQueriesContext(connection) as one:
        assert world["member"].get("/servers/detail", "2.96").status_code == 200
    for i in range(5):
        launch(world, host, image, tiny, capture, name=f"more-{i}")
    with CaptureQueriesContext(connection) as many:
        assert len(world["member"].get("/servers/detail", "2.96").json()["servers"]) == 6
    assert len(many) == len(one)


def test_hypervisors_zones_and_quota_sets(world, host, image, tiny, capture):
    launch(world, host, image, tiny, capture)
    assert world["member"].get("/os-hypervisors").status_code == 403
    detail = world["admin"].get("/os-hypervisors/detail", "2.87").json()["hypervisors"]
    assert [
        (h["hypervisor_hostname"], h["state"], h["running_vms"], h["memory_mb_used"]) for h in detail
    ] == [("host1", "up", 1, 128)]
    shown = world["admin"].get(f"/os-hypervisors/{detail[0]['id']}", "2.87").json()["hypervisor"]
    assert (shown["vcpus"], shown["memory_mb"]) == (min(8, os.cpu_count()), 4096)
    zones = world["member"].get("/os-availability-zone").json()["availabilityZoneInfo"]
    assert zones == [{"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}]
    assert world["member"].get("/os-availability-zone/detail").status_code == 403
    home = world["home"].pk
    quota = world["member"].get(f"/os-quota-sets/{home}?usage=True").json()["quota_set"]
    assert quota["instances"] == {"limit": 10, "in_use": 1, "reserved": 0}
    assert world["member"].get(f"/os-quota-sets/{world['other'].pk}").status_code == 403
    assert world["member"].put(f"/os-quota-sets/{home}", {"quota_set": {"cores": 1}}).status_code == 403
    response = world["admin"].put(f"/os-quota-sets/{home}", {"quota_set": {"cores": 1}})
    assert response.json()["quota_set"]["cores"] == 1
    response = world["member"].post("/servers", create_body(image, tiny), "2.96")
    assert response.status_code == 403 and "cores" in response.json()["forbidden"]["message"]


def test_a_quota_below_the_usage_is_refused_with_the_usage_unless_forced(world, host, image, tiny, capture):
    launch(world, host, image, tiny, capture)
    launch(world, host, image, tiny, capture)
    home = world["home"].pk
    response = world["admin"].put(f"/os-quota-sets/{home}", {"quota_set": {"instances": 1, "cores": 50}})
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == (
        "Quota limit 1 for instances must be greater than or equal to already used and reserved 2."
    )
    # Nothing of the refused request was kept, not even the valid cores.
    quota = world["admin"].get(f"/os-quota-sets/{home}/detail").json()["quota_set"]
    assert (quota["instances"]["limit"], quota["cores"]["limit"]) == (10, 20)
    assert world["admin"].put(f"/os-quota-sets/{home}", {"quota_set": {"instances": 2}}).status_code == 200
    forced = world["admin"].put(f"/os-quota-sets/{home}", {"quota_set": {"instances": 1, "force": True}})
    assert forced.status_code == 200 and forced.json()["quota_set"]["instances"] == 1
    unlimited = world["admin"].put(f"/os-quota-sets/{home}", {"quota_set": {"key_pairs": -1, "ram": -1}})
    assert (unlimited.json()["quota_set"]["key_pairs"], unlimited.json()["quota_set"]["ram"]) == (-1, -1)
    assert world["member"].get("/limits").json()["limits"]["absolute"]["maxTotalInstances"] == 1


def test_the_default_quota_class_is_the_editable_defaults(world, host):
    shown = world["admin"].get("/os-quota-class-sets/default").json()["quota_class_set"]
    assert (shown["id"], shown["instances"], shown["key_pairs"]) == ("default", 10, 100)
    changed = world["admin"].put("/os-quota-class-sets/default", {"quota_class_set": {"instances": 4}})
    assert changed.status_code == 200 and changed.json()["quota_class_set"]["instances"] == 4
    home = world["home"].pk
    assert world["member"].get(f"/os-quota-sets/{home}").json()["quota_set"]["instances"] == 4
    assert (
        world["member"].put("/os-quota-class-sets/default", {"quota_class_set": {"cores": 1}}).status_code
        == 403
    )
    assert world["admin"].get("/os-quota-class-sets/gold").status_code == 404
    bad = world["admin"].put("/os-quota-class-sets/default", {"quota_class_set": {"cores": -5}})
    assert bad.status_code == 400
    # Past what the database holds: a clear 400 naming the maximum, through both APIs, nothing kept.
    for path, key in (
        ("/os-quota-class-sets/default", "quota_class_set"),
        (f"/os-quota-sets/{home}", "quota_set"),
    ):
        huge = world["admin"].put(path, {key: {"ram": 10**19, "cores": 3}})
        assert huge.status_code == 400
        assert huge.json()["badRequest"]["message"] == (
            f"Quota limit {10**19} for ram must be at most {2**63 - 1}."
        )
    quota = world["admin"].get(f"/os-quota-sets/{home}").json()["quota_set"]
    assert quota["cores"] == 20 and quota["ram"] != 10**19


def test_the_services_list_has_the_keys_of_the_microversion_asked_for(world, host):
    keys = {"id", "binary", "host", "zone", "status", "state", "updated_at", "disabled_reason"}
    for version, expected in (("2.1", keys), ("2.10", keys), ("2.11", keys | {"forced_down"})):
        (service,) = world["admin"].get("/os-services", version).json()["services"]
        assert set(service) == expected, version
    (service,) = world["admin"].get("/os-services", "2.53").json()["services"]
    assert service["forced_down"] is False and isinstance(service["id"], str)


def test_admins_can_disable_a_host_and_force_one(world, host, image, tiny, capture, tmp_path):

    other = make_host(tmp_path, "host2", memory_mb=8192, vcpus=8, disk_gb=100)
    service = world["admin"].get("/os-services", "2.53").json()["services"][0]
    response = world["admin"].put(f"/os-services/{service['id']}", {"status": "disabled"}, "2.53")
    assert response.json()["service"]["status"] == "disabled"
    with capture() as callbacks:
        response = world["member"].post(
            "/servers", create_body(image, tiny, availability_zone="nova:host1"), "2.96"
        )
    assert response.status_code == 403  # forcing a host is for administrators
    with capture() as callbacks:
        response = world["admin"].post(
            "/servers", create_body(image, tiny, availability_zone="nova:host2"), "2.96"
        )
    assert response.status_code == 202
    Deliver(host, other)(callbacks)
    assert Instance.objects.get().host.name == "host2"


def test_hypervisor_statistics_search_and_servers_as_nova_had_them(world, host, image, tiny, capture):
    server = launch(world, host, image, tiny, capture)
    stats = world["admin"].get("/os-hypervisors/statistics", "2.1").json()["hypervisor_statistics"]
    assert (stats["count"], stats["running_vms"], stats["memory_mb_used"]) == (1, 1, 128)
    assert world["admin"].get("/os-hypervisors/statistics", "2.88").status_code == 404
    assert world["member"].get("/os-hypervisors/statistics", "2.1").status_code == 403
    found = world["admin"].get("/os-hypervisors/host/search", "2.1").json()["hypervisors"]
    assert [h["hypervisor_hostname"] for h in found] == ["host1"]
    # Host names ignore case (as DNS does), on every database.
    found = world["admin"].get("/os-hypervisors/HOST/search", "2.1").json()["hypervisors"]
    assert [h["hypervisor_hostname"] for h in found] == ["host1"]
    found = world["admin"].get("/os-hypervisors?hypervisor_hostname_pattern=Host", "2.53").json()
    assert [h["hypervisor_hostname"] for h in found["hypervisors"]] == ["host1"]
    assert world["admin"].get("/os-hypervisors/nohost/search", "2.1").status_code == 404
    assert world["admin"].get("/os-hypervisors/host/search", "2.53").status_code == 404
    (listed,) = world["admin"].get("/os-hypervisors/host1/servers", "2.1").json()["hypervisors"]
    assert [s["uuid"] for s in listed["servers"]] == [server]


def test_cpu_info_is_json_text_before_2_28_and_an_object_after(world, host):
    (old,) = world["admin"].get("/os-hypervisors/detail", "2.1").json()["hypervisors"]
    (new,) = world["admin"].get("/os-hypervisors/detail", "2.28").json()["hypervisors"]
    assert isinstance(old["cpu_info"], str) and json.loads(old["cpu_info"]) == new["cpu_info"]


def test_limits_and_quota_sets_carry_the_keys_of_the_microversion(world, host):
    def absolute(version):
        return world["member"].get("/limits", version).json()["limits"]["absolute"]

    old, mid, new = absolute("2.1"), absolute("2.38"), absolute("2.96")
    assert (old["maxSecurityGroupRules"], old["totalSecurityGroupsUsed"], old["maxImageMeta"]) == (20, 0, 128)
    assert "maxSecurityGroups" not in mid and mid["maxPersonality"] == 5
    assert not {"maxImageMeta", "maxPersonality", "maxPersonalitySize", "maxTotalFloatingIps"} & set(new)
    home = world["home"].pk
    legacy = world["member"].get(f"/os-quota-sets/{home}", "2.1").json()["quota_set"]
    assert (legacy["security_group_rules"], legacy["fixed_ips"], legacy["injected_files"]) == (20, -1, 5)
    current = world["member"].get(f"/os-quota-sets/{home}", "2.96").json()["quota_set"]
    assert not {"security_groups", "floating_ips", "injected_files"} & set(current)
