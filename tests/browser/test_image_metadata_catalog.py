"""Update Metadata on an image, driven by the metadata definitions catalog, in headless Chromium."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.test_images import make_qcow2
from tests.browser.test_login import sign_in
from tests.support.screenshots import screenshot

pytestmark = pytest.mark.browser


def test_a_property_picked_from_the_catalog_is_saved_on_the_image(
    page, credentials, openstack_demo, tmp_path
):
    name = f"catalog-{uuid.uuid4().hex[:6]}"
    disk = make_qcow2(tmp_path / "small.qcow2")
    image = openstack_demo.json(
        "image", "create", "--file", str(disk), "--disk-format", "qcow2", "--container-format", "bare", name
    )  # fmt: skip
    sign_in(page, "demo", credentials["demo"])
    expect(page.locator("[data-section=Project]")).to_be_visible()
    page.goto(f"/images/{image['id']}/metadata/")

    catalog = page.get_by_test_id("metadata-catalog")
    expect(catalog).to_contain_text("Virtual hardware")
    page.get_by_label("Filter known properties").fill("disk bus")
    add = catalog.get_by_role("button", name="Add hw_disk_bus")
    expect(add).to_be_visible()
    expect(catalog.get_by_role("button", name="Add hw_boot_menu")).to_be_hidden()  # same namespace
    expect(catalog.get_by_role("button", name="Add os_distro")).to_be_hidden()
    add.click()
    page.get_by_label("Value of hw_disk_bus").select_option("sata")
    page.get_by_label("New key 1").fill("stratus_note")  # a key the catalog does not know
    page.get_by_label("New value 1").fill("custom")
    screenshot(page, "image-metadata-catalog.png")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Metadata of image")

    page.goto(f"/images/{image['id']}/")
    props = page.get_by_test_id("properties")
    expect(props).to_contain_text("hw_disk_bus")
    expect(props).to_contain_text("sata")
    expect(props).to_contain_text("stratus_note")
    shown = openstack_demo.json("image", "show", image["id"])
    assert shown["properties"]["hw_disk_bus"] == "sata" and shown["properties"]["stratus_note"] == "custom"

    # Opened again, the known property is a list of the catalog's values with the saved one chosen.
    page.goto(f"/images/{image['id']}/metadata/")
    expect(page.get_by_label("Value of hw_disk_bus")).to_have_value("sata")
    openstack_demo.run("image", "delete", image["id"])


def test_a_flavor_extra_spec_picked_from_the_catalog_is_saved(page, credentials, openstack_admin):
    name = f"catalog-{uuid.uuid4().hex[:6]}"
    flavor = openstack_admin.json("flavor", "create", "--ram", "64", "--disk", "1", "--vcpus", "2", name)
    sign_in(page, "admin", credentials["admin"])
    expect(page.locator("[data-section=Admin]")).to_be_visible()
    page.goto(f"/admin/flavors/{flavor['id']}/metadata/")

    catalog = page.get_by_test_id("metadata-catalog")
    page.get_by_label("Filter known properties").fill("sockets")
    catalog.get_by_role("button", name="Add hw:cpu_sockets").click()
    page.get_by_label("Value of hw:cpu_sockets").fill("2")
    page.get_by_label("Filter known properties").fill("cpu policy")
    catalog.get_by_role("button", name="Add hw:cpu_policy").click()
    page.get_by_label("Value of hw:cpu_policy").select_option("dedicated")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text(f'Updated metadata of flavor "{name}"')

    shown = openstack_admin.json("flavor", "show", flavor["id"])
    assert shown["properties"] == {"hw:cpu_sockets": "2", "hw:cpu_policy": "dedicated"}
    openstack_admin.run("flavor", "delete", flavor["id"])
