"""os-server-groups through the compute API, and launches with ``--hint group=…`` on in-process
fake-driver hosts: shapes per microversion, policies, quota, and placement by the group's policy."""

from __future__ import annotations

import pytest

from instances.compute import scheduler
from instances.models import ComputeHost, Instance, ServerGroup, ServerGroupMember
from tests.instances.api.test_servers import create_body
from tests.instances.conftest import Deliver, make_host
from tests.instances.dashboard_support import bulk_instances


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def two_hosts(host, tmp_path):
    return host, make_host(tmp_path, "host2")


def make_group(world, policy="anti-affinity", who="member", version="2.64", rules=None, name="g") -> dict:
    body = {"name": name, "policy": policy}
    if rules is not None:
        body["rules"] = rules
    if version < "2.64":
        body = {"name": name, "policies": [policy]}
    response = world[who].post("/os-server-groups", {"server_group": body}, version)
    assert response.status_code == 200, response.content
    return response.json()["server_group"]


def launch_into(world, hosts, image, flavor, capture, group_id, name, **extra) -> Instance:
    body = create_body(image, flavor, name=name, **extra)
    body["os:scheduler_hints"] = {"group": group_id}
    with capture() as callbacks:
        response = world["member"].post("/servers", body, "2.96")
    assert response.status_code == 202, response.content
    Deliver(*hosts)(callbacks)
    return Instance.objects.select_related("host").get(pk=response.json()["server"]["id"])


def test_groups_are_created_listed_shown_and_deleted_in_each_microversions_shape(world, db):
    old = make_group(world, version="2.1")
    assert set(old) == {"id", "name", "policies", "members", "metadata"}
    assert old["policies"] == ["anti-affinity"] and old["members"] == []
    mid = world["member"].get(f"/os-server-groups/{old['id']}", "2.13").json()["server_group"]
    assert mid["project_id"] == world["home"].pk and mid["user_id"]
    new = make_group(world, rules={"max_server_per_host": 2}, name="g2")
    assert set(new) == {"id", "name", "policy", "rules", "members", "project_id", "user_id"}
    assert new["rules"] == {"max_server_per_host": 2}

    listed = world["reader"].get("/os-server-groups", "2.64").json()["server_groups"]
    assert [g["name"] for g in listed] == ["g", "g2"]
    assert world["outsider"].get("/os-server-groups").json()["server_groups"] == []
    assert world["outsider"].get(f"/os-server-groups/{new['id']}").status_code == 404
    assert world["member"].get("/os-server-groups?all_projects=True").status_code == 403
    everyone = world["admin"].get("/os-server-groups?all_projects=True").json()["server_groups"]
    assert len(everyone) == 2
    assert len(world["member"].get("/os-server-groups?limit=1&offset=1").json()["server_groups"]) == 1

    assert world["reader"].delete(f"/os-server-groups/{new['id']}").status_code == 403
    assert world["member"].delete(f"/os-server-groups/{new['id']}").status_code == 204
    assert world["member"].get(f"/os-server-groups/{new['id']}").status_code == 404


@pytest.mark.parametrize(
    ("version", "body", "message"),
    [
        ("2.14", {"name": "g", "policies": ["soft-affinity"]}, "policy"),
        ("2.15", {"name": "g", "policies": ["affinity", "anti-affinity"]}, "policies"),
        ("2.64", {"name": "g", "policies": ["affinity"]}, "Additional properties"),
        ("2.64", {"name": "g", "policy": "affinity", "rules": {"max_server_per_host": 2}}, "rules"),
        ("2.64", {"name": "g", "policy": "anti-affinity", "rules": {"max_server_per_host": 0}}, "max_server"),
        ("2.64", {"name": "g", "policy": "anti-affinity", "rules": {"other": 1}}, "Additional properties"),
        ("2.64", {"name": "", "policy": "affinity"}, "name"),
        ("2.64", {"name": "g", "policy": "spread"}, "policy"),
    ],
)
def test_bad_group_bodies_are_400s_naming_the_field(world, db, version, body, message):
    response = world["member"].post("/os-server-groups", {"server_group": body}, version)
    assert response.status_code == 400
    assert message in response.json()["badRequest"]["message"]
    assert not ServerGroup.objects.exists()


def test_soft_policies_need_2_15(world, db):
    assert make_group(world, "soft-anti-affinity", version="2.15")["policies"] == ["soft-anti-affinity"]


def test_readers_cannot_create_and_the_group_quota_is_enforced_and_reported(world, db, settings):
    response = world["reader"].post(
        "/os-server-groups", {"server_group": {"name": "g", "policies": ["affinity"]}}
    )
    assert response.status_code == 403
    settings.COMPUTE_QUOTA_SERVER_GROUPS = 2
    make_group(world, name="a")
    make_group(world, name="b")
    response = world["member"].post(
        "/os-server-groups", {"server_group": {"name": "c", "policy": "affinity"}}, "2.64"
    )
    assert response.status_code == 403
    assert "Quota exceeded" in response.json()["forbidden"]["message"]
    absolute = world["member"].get("/limits").json()["limits"]["absolute"]
    assert (absolute["maxServerGroups"], absolute["totalServerGroupsUsed"]) == (2, 2)
    assert absolute["maxServerGroupMembers"] == 10
    detail = world["member"].get(f"/os-quota-sets/{world['home'].pk}/detail").json()["quota_set"]
    assert detail["server_groups"] == {"limit": 2, "in_use": 2, "reserved": 0}
    assert detail["server_group_members"] == {"limit": 10, "in_use": 0, "reserved": 0}
    put = world["admin"].put(
        f"/os-quota-sets/{world['home'].pk}", {"quota_set": {"server_groups": 3, "server_group_members": 1}}
    )
    assert put.status_code == 200
    assert (put.json()["quota_set"]["server_groups"], put.json()["quota_set"]["server_group_members"]) == (
        3,
        1,
    )
    make_group(world, name="c")


def test_anti_affinity_places_members_apart_and_refuses_a_third_with_no_valid_host(
    world, two_hosts, image, tiny, capture
):
    group = make_group(world)
    first = launch_into(world, two_hosts, image, tiny, capture, group["id"], "a")
    second = launch_into(world, two_hosts, image, tiny, capture, group["id"], "b")
    third = launch_into(world, two_hosts, image, tiny, capture, group["id"], "c")
    assert first.status == second.status == "ACTIVE"
    assert {first.host.name, second.host.name} == {"host1", "host2"}
    assert third.status == "ERROR" and third.host is None
    assert third.fault_message.startswith("No valid host was found")
    shown = world["member"].get(f"/os-server-groups/{group['id']}", "2.64").json()["server_group"]
    assert sorted(shown["members"]) == sorted(str(i.pk) for i in (first, second, third))
    server = world["member"].get(f"/servers/{first.pk}", "2.71").json()["server"]
    assert server["server_groups"] == [group["id"]]
    assert "server_groups" not in world["member"].get(f"/servers/{first.pk}", "2.70").json()["server"]

    # Deleting a member frees its host for the group.
    with capture() as callbacks:
        assert world["member"].delete(f"/servers/{first.pk}").status_code == 204
    Deliver(*two_hosts)(callbacks)
    fourth = launch_into(world, two_hosts, image, tiny, capture, group["id"], "d")
    assert fourth.status == "ACTIVE" and fourth.host.name == first.host.name


def test_max_server_per_host_lets_that_many_share_a_host(world, two_hosts, image, tiny, capture):
    group = make_group(world, rules={"max_server_per_host": 2})
    placed = [launch_into(world, two_hosts, image, tiny, capture, group["id"], f"m{i}") for i in range(5)]
    hosts = sorted(i.host.name for i in placed if i.host is not None)
    assert hosts == ["host1", "host1", "host2", "host2"]
    assert placed[-1].status == "ERROR"


def test_affinity_keeps_members_together(world, two_hosts, image, tiny, capture):
    group = make_group(world, "affinity")
    placed = [launch_into(world, two_hosts, image, tiny, capture, group["id"], f"m{i}") for i in range(3)]
    assert len({i.host.name for i in placed}) == 1


def test_soft_policies_weigh_but_never_refuse(world, two_hosts, image, tiny, capture):
    spread = make_group(world, "soft-anti-affinity", name="spread")
    placed = [launch_into(world, two_hosts, image, tiny, capture, spread["id"], f"s{i}") for i in range(3)]
    assert all(i.status == "ACTIVE" for i in placed)
    assert sorted(i.host.name for i in placed).count("host1") in (1, 2)
    assert {placed[0].host.name, placed[1].host.name} == {"host1", "host2"}

    # soft-affinity: stay with the members while there is room, else go elsewhere.
    together = make_group(world, "soft-affinity", name="together")
    first = launch_into(world, two_hosts, image, tiny, capture, together["id"], "t0")
    ComputeHost.objects.filter(name="host1").update(memory_mb=4096)  # make the other host "better"
    second = launch_into(world, two_hosts, image, tiny, capture, together["id"], "t1")
    assert second.host == first.host


def test_a_hint_naming_no_group_of_the_caller_is_a_400_and_other_hints_are_refused(
    world, two_hosts, image, tiny, capture
):
    theirs = make_group(world, who="outsider")
    body = create_body(image, tiny)
    body["os:scheduler_hints"] = {"group": theirs["id"]}
    response = world["member"].post("/servers", body, "2.96")
    assert response.status_code == 400 and "Invalid server group" in response.json()["badRequest"]["message"]
    body["os:scheduler_hints"] = {"same_host": ["x"]}
    assert world["member"].post("/servers", body, "2.96").status_code == 400
    assert not Instance.objects.exists()


def test_the_member_quota_is_checked_at_launch(world, two_hosts, image, tiny, capture, settings):
    settings.COMPUTE_QUOTA_SERVER_GROUP_MEMBERS = 1
    group = make_group(world, "soft-affinity")
    launch_into(world, two_hosts, image, tiny, capture, group["id"], "one")
    body = create_body(image, tiny, name="two")
    body["os:scheduler_hints"] = {"group": group["id"]}
    response = world["member"].post("/servers", body, "2.96")
    assert response.status_code == 403
    assert response.json()["forbidden"]["message"] == "Quota exceeded, too many servers in group"


def test_anti_affinity_counts_live_members_with_a_host_only(world, two_hosts, db):
    """A member on host1 keeps the next one off host1; once it is offloaded (no host) or deleted,
    host1 is open again."""
    group = ServerGroup.objects.create(name="g", project=world["home"], policy="anti-affinity")
    host1 = ComputeHost.objects.get(name="host1")
    bulk_instances(world["home"], 1, host=host1)
    member = Instance.objects.get()
    ServerGroupMember.objects.create(group=group, instance=member)
    request = scheduler.Request(
        vcpus=1, memory_mb=128, disk_gb=1, image_properties={}, server_group_id=str(group.pk)
    )
    assert scheduler.group_hosts(group.pk) == {host1.pk: 1}
    assert [h.name for h in scheduler.candidates(request)[0]] == ["host2"]
    Instance.objects.filter(pk=member.pk).update(host=None, vm_state="shelved_offloaded")
    assert sorted(h.name for h in scheduler.candidates(request)[0]) == ["host1", "host2"]
    Instance.objects.filter(pk=member.pk).update(host=host1, vm_state="deleted", deleted=True)
    assert sorted(h.name for h in scheduler.candidates(request)[0]) == ["host1", "host2"]
