"""python-openstackclient, unmodified, managing flavors on the live server."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.live


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_flavor_list_shows_the_five_defaults(openstack_demo):
    rows = {row["Name"]: row for row in openstack_demo.json("flavor", "list")}
    defaults = {name: rows[name] for name in ("m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge")}
    assert [(r["ID"], r["RAM"], r["Disk"], r["VCPUs"], r["Is Public"]) for r in defaults.values()] == [
        ("1", 512, 1, 1, True),
        ("2", 2048, 20, 1, True),
        ("3", 4096, 40, 2, True),
        ("4", 8192, 80, 4, True),
        ("5", 16384, 160, 8, True),
    ]


def test_admin_creates_shares_describes_and_deletes_a_private_flavor(
    openstack_admin, openstack_demo, live_stack
):
    name = unique("x1")
    created = openstack_admin.json(
        "flavor", "create", "--vcpus", "2", "--ram", "1024", "--disk", "10",
        "--ephemeral", "5", "--swap", "512", "--private", name,
    )  # fmt: skip
    assert (created["vcpus"], created["ram"], created["disk"], created["swap"]) == (2, 1024, 10, 512)
    assert created["OS-FLV-EXT-DATA:ephemeral"] == 5 and created["os-flavor-access:is_public"] is False

    # Private and not shared yet: demo cannot see it, neither listed nor by name.
    assert name not in [r["Name"] for r in openstack_demo.json("flavor", "list", "--all")]
    assert openstack_demo.run("flavor", "show", name, check=False).returncode != 0

    openstack_admin.run("flavor", "set", "--project", "demo", name)
    openstack_admin.run("flavor", "set", "--property", "hw:cpu_policy=shared", name)

    shown = openstack_admin.json("flavor", "show", name)
    demo_id = live_stack.shell(
        "from dashboard.models import Project; print(Project.objects.get(name='demo').id)"
    )
    assert shown["properties"] == {"hw:cpu_policy": "shared"}
    assert shown["access_project_ids"] == [demo_id]
    assert shown["id"] == created["id"]

    # Shared with demo now: visible to its members in the list and by name.
    assert name in [r["Name"] for r in openstack_demo.json("flavor", "list", "--all")]
    assert openstack_demo.json("flavor", "show", name)["id"] == created["id"]

    openstack_admin.run("flavor", "delete", name)
    assert openstack_admin.run("flavor", "show", name, check=False).returncode != 0
    assert (
        live_stack.shell(
            f"from flavors.models import Flavor; print(Flavor.objects.filter(name={name!r}).count())"
        )
        == "0"
    )


def test_a_project_member_may_not_create_flavors(openstack_demo, live_stack):
    name = unique("nope")
    result = openstack_demo.run(
        "flavor", "create", "--vcpus", "1", "--ram", "64", "--disk", "1", name, check=False
    )
    assert result.returncode != 0 and "403" in result.stderr
    assert (
        live_stack.shell(
            f"from flavors.models import Flavor; print(Flavor.objects.filter(name={name!r}).count())"
        )
        == "0"
    )


def test_a_zero_vcpu_flavor_is_refused_with_the_field_named(openstack_admin):
    name = unique("zero")
    result = openstack_admin.run(
        "flavor", "create", "--vcpus", "0", "--ram", "64", "--disk", "1", name, check=False
    )
    assert result.returncode != 0 and "vcpus" in result.stderr
    assert openstack_admin.run("flavor", "show", name, check=False).returncode != 0
