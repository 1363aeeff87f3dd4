"""Instances in headless Chromium against the live stack with a real compute agent (QEMU, TCG):
launch, live status, console log, row actions, snapshot and delete; quota; hypervisor capacity."""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.test_login import sign_in
from tests.instances.live import Cloud, token
from tests.support.screenshots import screenshot
from tests.support.wait import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.live]

TINY_64 = {"name": "t.mini64", "ram": 64, "vcpus": 1, "disk": 1}


@pytest.fixture(scope="module")
def clouds(live_stack, credentials):
    demo = Cloud(live_stack, token(live_stack, "demo", credentials["demo"], "demo"))
    admin = Cloud(live_stack, token(live_stack, "admin", credentials["admin"], "admin"))
    return demo, admin


@pytest.fixture(scope="module")
def needy_image(clouds, marker_image) -> str:
    """The marker image again, declaring it needs 128 MB of RAM: a 64 MB flavor cannot boot it."""
    demo, admin = clouds
    admin.ensure_flavor(TINY_64)
    return demo.upload_image(f"needy-{uuid.uuid4().hex[:6]}", marker_image["path"], min_ram=128)


def row_of(page, name: str):
    return page.locator(f'tr[data-instance="{name}"]')


def row_action(page, name: str, label: str) -> None:
    row = row_of(page, name)
    row.get_by_role("button", name=f"Actions for {name}").click()
    row.get_by_role("button", name=label, exact=True).click()


def images_named(live_stack, tok: str, name: str) -> list[dict]:
    response = requests.get(
        f"{live_stack.url}/image/v2/images", params={"name": name}, headers={"X-Auth-Token": tok}, timeout=30
    )
    response.raise_for_status()
    return response.json()["images"]


def test_demo_launches_watches_it_boot_reads_the_log_powers_it_snapshots_and_deletes_it(
    page, live_stack, credentials, compute_host, marker_image, needy_image, clouds
):
    name = f"web-{uuid.uuid4().hex[:6]}"
    sign_in(page, "demo", credentials["demo"])
    # From the image's row in the Images panel, to the launch form with the image chosen.
    page.goto(f"/images/?name={needy_image}")
    page.locator(f'tr[data-image-id="{needy_image}"]').get_by_role("link", name="Launch").click()
    expect(page).to_have_url(re.compile(r"/instances/launch/\?image="))
    expect(page.locator(f'input[name=image][value="{needy_image}"]')).to_be_checked()

    small = page.get_by_test_id("flavors").locator('tr[data-flavor="t.mini64"]')
    expect(small.get_by_test_id("reason")).to_contain_text("The image needs at least 128 MB of RAM")
    expect(small.locator("input[name=flavor]")).to_be_disabled()

    page.get_by_label("Instance Name").fill(name)
    page.get_by_label("Use t.marker", exact=True).check()
    expect(page.get_by_test_id("will-use")).to_contain_text("1 × t.marker")
    expect(page.get_by_test_id("will-use")).to_contain_text("128 MB RAM")
    screenshot(page, "launch.png", full_page=True)

    navigations = []
    with page.expect_response(
        lambda r: r.url.endswith("/instances/") and r.request.method == "GET"
    ) as listed:
        page.get_by_role("button", name="Launch Instance").click()
    assert 'data-status="BUILD"' in listed.value.text()
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    expect(page.get_by_role("alert").first).to_contain_text(f"Launching {name}")
    row = row_of(page, name)
    expect(row).to_have_attribute("data-status", "ACTIVE", timeout=120_000)
    assert navigations == []  # BUILD → ACTIVE came by the row's own refresh
    expect(row.get_by_test_id("power")).to_have_text("Running")
    screenshot(page, "instances.png", full_page=True)
    page.goto("/")
    expect(page.get_by_test_id("quota-charts")).to_contain_text("Used 1 of 10")
    screenshot(page, "overview.png", full_page=True)

    # The Log tab shows the guest's serial console.
    page.goto("/instances/")
    row.get_by_role("link", name=name).click()
    page.get_by_role("link", name="Log", exact=True).click()

    def console_has_marker() -> bool:
        with page.expect_response(re.compile(r"/log/")):
            page.get_by_role("button", name="Refresh").click()
        return marker_image["marker"] in page.get_by_test_id("console").inner_text()

    wait_for(console_has_marker, timeout=90, interval=1, what="the marker on the console")

    # Stop and start from the row actions.
    page.goto("/instances/")
    row_action(page, name, "Shut Off")
    expect(row).to_have_attribute("data-status", "SHUTOFF", timeout=60_000)
    expect(row.get_by_test_id("power")).to_have_text("Shut Down")
    row_action(page, name, "Start")
    expect(row).to_have_attribute("data-status", "ACTIVE", timeout=60_000)

    # A snapshot, which becomes an active image of the project.
    snapshot = f"{name}-snap"
    row.get_by_role("link", name="Create Snapshot").click()
    page.get_by_label("Snapshot Name").fill(snapshot)
    page.get_by_role("button", name="Create Snapshot").click()
    expect(page.get_by_role("alert").first).to_contain_text(f'Snapshot "{snapshot}"')
    demo, _ = clouds
    image = wait_for(
        lambda: [i for i in images_named(live_stack, demo.tok, snapshot) if i["status"] == "active"],
        timeout=120,
        interval=0.5,
        what="the snapshot to become active",
    )[0]
    assert image["instance_uuid"] and image["image_type"] == "snapshot"
    expect(row).to_have_attribute("data-status", "ACTIVE", timeout=60_000)
    expect(row.get_by_test_id("task")).to_have_text("None", timeout=60_000)

    # Delete through the confirm dialog.
    row.get_by_role("button", name=f"Actions for {name}").click()
    row.get_by_role("link", name="Delete Instance").click()
    confirm = page.get_by_test_id("confirm")
    expect(confirm.locator(f'tr[data-instance="{name}"]')).to_contain_text("Delete")
    confirm.get_by_role("button", name="Delete").click()
    # A worker begins the deletion; the progress page shows it done, then the row leaves the panel.
    expect(page.get_by_test_id("bulk-job")).to_have_attribute("data-job-status", "done", timeout=60_000)
    expect(page.locator(f'tr[data-item="{name}"]')).to_have_attribute("data-result", "done")
    page.get_by_role("link", name="Back to the list").click()
    expect(row_of(page, name)).to_have_count(0, timeout=60_000)


def test_over_quota_the_form_says_so_and_the_server_refuses(
    page, live_stack, credentials, compute_host, marker_image
):
    project = f"quota-{uuid.uuid4().hex[:6]}"
    live_stack.shell(
        "from dashboard.models import Project, Role, RoleAssignment, User\n"
        "from instances.services import quotas\n"
        f"p = Project.objects.create(name='{project}')\n"
        "RoleAssignment.objects.create(user=User.objects.get(username='demo'), project=p,"
        " role=Role.objects.get(name='member'))\n"
        "quotas.set_limits(p, {'instances': 0})\n"
    )
    cloud = Cloud(live_stack, token(live_stack, "demo", credentials["demo"], project))
    image = cloud.upload_image("marker-q", marker_image["path"])

    sign_in(page, "demo", credentials["demo"])
    page.get_by_test_id("project-switcher").get_by_role("button").first.click()
    page.get_by_role("button", name=project).click()
    expect(page.locator("#current-project")).to_have_text(project)

    page.goto(f"/instances/launch/?image={image}")
    expect(page.get_by_test_id("quota-warning")).to_contain_text("Quota exceeded")
    flavor = page.get_by_test_id("flavors").locator('tr[data-flavor="t.marker"]')
    expect(flavor.get_by_test_id("reason")).to_contain_text("Over your quota of Instances: needs 1, 0 left.")
    expect(flavor.locator("input[name=flavor]")).to_be_disabled()

    # One instance allowed: the form lets it through; meanwhile the quota drops to 0 again.
    set_quota = (
        "from dashboard.models import Project\nfrom instances.services import quotas\n"
        f"quotas.set_limits(Project.objects.get(name='{project}'), {{'instances': %d}})"
    )
    live_stack.shell(set_quota % 1)
    page.reload()
    expect(page.get_by_test_id("quota-warning")).to_have_count(0)
    page.get_by_label("Instance Name").fill("too-many")
    page.get_by_label("Use t.marker", exact=True).check()
    live_stack.shell(set_quota % 0)
    page.get_by_role("button", name="Launch Instance").click()
    expect(page.get_by_role("alert").first).to_contain_text(
        "Could not launch too-many: Quota exceeded for instances"
    )
    count = live_stack.shell(
        "from instances.models import Instance\n"
        f"print(Instance.objects.filter(project__name='{project}').count())"
    )
    assert count == "0"


def test_admin_sees_host_usage_follow_a_launch_and_a_delete(
    page, live_stack, credentials, compute_host, marker_image, clouds
):
    demo, _ = clouds
    sign_in(page, "admin", credentials["admin"])
    page.get_by_role("link", name="Hypervisors").click()
    card = page.locator(f'[data-host="{compute_host}"]')
    expect(card.get_by_test_id("state")).to_have_text("Up")

    def used() -> tuple[int, int]:
        vcpus = card.get_by_test_id("vcpus-used").inner_text().split(" /")[0]
        ram = card.get_by_test_id("ram-used").inner_text().split(" MB")[0]
        return int(vcpus), int(ram)

    before = used()
    server = demo.create("hv-probe", marker_image["id"], marker_image["flavor"])
    demo.wait_status(server, "ACTIVE")
    page.reload()
    assert used() == (before[0] + 1, before[1] + 128)
    screenshot(page, "hypervisors.png", full_page=True)
    assert demo.delete(f"/servers/{server}").status_code == 204
    demo.wait_deleted(server)
    page.reload()
    assert used() == before
