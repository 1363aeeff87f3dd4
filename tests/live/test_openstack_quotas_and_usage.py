"""python-openstackclient, unmodified: project quotas (refused below the usage) and usage."""

from __future__ import annotations

import uuid

import pytest

from tests.instances.live import Cloud, token
from tests.support.openstackcli import OpenStackCLI

pytestmark = pytest.mark.live


@pytest.fixture
def busy_project(live_stack, credentials, openstack_admin, compute_host, marker_image):
    """A project of its own where demo is a member and runs two instances of the marker image."""
    name = f"cliq-{uuid.uuid4().hex[:6]}"
    openstack_admin.run("project", "create", name)
    openstack_admin.run("role", "add", "--user", "demo", "--project", name, "member")
    cloud = Cloud(live_stack, token(live_stack, "demo", credentials["demo"], name))
    image = cloud.upload_image("marker-cli-quota", marker_image["path"])
    servers = [cloud.create(f"u{n}", image, marker_image["flavor"]) for n in range(2)]
    try:
        for server in servers:
            cloud.wait_status(server, "ACTIVE")
        yield {"name": name, "servers": servers, "cloud": cloud}
    finally:
        for server in servers:
            cloud.delete(f"/servers/{server}")
        for server in servers:
            cloud.wait_deleted(server)


def test_quota_set_is_refused_below_the_usage_and_quota_show_reports_it(openstack_admin, busy_project):
    cli, project = openstack_admin, busy_project["name"]
    refused = cli.run("quota", "set", "--instances", "1", project, check=False)
    assert refused.returncode != 0
    assert "must be greater than or equal to already used and reserved 2" in refused.stderr
    cli.run("quota", "set", "--instances", "3", "--volumes", "4", project)
    limits = {row["Resource"]: row["Limit"] for row in cli.json("quota", "show", project)}
    assert (limits["instances"], limits["volumes"], limits["cores"]) == (3, 4, 20)
    used = cli.json("quota", "show", "--usage", project)
    rows = {row["Resource"]: row for row in used}
    assert (rows["instances"]["Limit"], rows["instances"]["In Use"]) == (3, 2)


def test_usage_list_and_usage_show(openstack_admin, live_stack, credentials, busy_project):
    project = busy_project["name"]
    project_id = openstack_admin.json("project", "show", project)["id"]
    listed = openstack_admin.json("usage", "list")
    (row,) = [r for r in listed if r["Project"] == project_id]
    assert sorted(s["name"] for s in row["Servers"]) == ["u0", "u1"]
    # Each marker instance: 1 vCPU, 128 MB, so RAM MB-hours are 128 times the CPU hours.
    assert row["CPU Hours"] > 0 and abs(row["RAM MB-Hours"] - 128 * row["CPU Hours"]) < 1e-6
    member = OpenStackCLI(live_stack.url, "demo", credentials["demo"], project)
    shown = member.json("usage", "show")
    assert len(shown["Servers"]) == 2 and shown["Project"] == project_id
    refused = member.run("usage", "list", check=False)
    assert refused.returncode != 0 and "403" in refused.stderr


def test_the_default_quotas_through_the_quota_class(openstack_admin):
    cli = openstack_admin
    try:
        cli.run("quota", "set", "--class", "--key-pairs", "77", "default")
        defaults = {row["Resource"]: row["Limit"] for row in cli.json("quota", "show", "--default")}
        assert defaults["key-pairs"] == 77
    finally:
        cli.run("quota", "set", "--class", "--key-pairs", "100", "default")
