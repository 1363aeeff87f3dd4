"""python-openstackclient's `image metadef namespace` commands against the live server."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.live


def test_the_catalog_through_the_openstack_client(openstack_admin, openstack_demo):
    listed = openstack_demo.json("image", "metadef", "namespace", "list")
    assert "OS::Compute::LibvirtImage" in [row["namespace"] for row in listed]

    shown = openstack_demo.json("image", "metadef", "namespace", "show", "OS::OperatingSystem")
    assert shown["namespace"] == "OS::OperatingSystem" and shown["protected"] is True

    openstack_admin.run(
        "image", "metadef", "namespace", "create", "--private",
        "--description", "From the CLI", "Stratus::CLI",
    )  # fmt: skip
    assert openstack_admin.json("image", "metadef", "namespace", "show", "Stratus::CLI")["description"] == (
        "From the CLI"
    )
    refused = openstack_demo.run("image", "metadef", "namespace", "create", "Stratus::Demo", check=False)
    assert refused.returncode != 0
    hidden = openstack_demo.run("image", "metadef", "namespace", "show", "Stratus::CLI", check=False)
    assert hidden.returncode != 0

    openstack_admin.run("image", "metadef", "namespace", "delete", "Stratus::CLI")
    gone = openstack_admin.run("image", "metadef", "namespace", "show", "Stratus::CLI", check=False)
    assert gone.returncode != 0
