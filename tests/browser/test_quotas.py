"""Quotas in headless Chromium against the live stack: an administrator changes a project's
instance quota in Admin → Projects → Modify Quotas (refused below the usage, with the usage shown),
and the member's Launch form shows the new limit; the project's usage and its CSV."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.test_login import sign_in
from tests.instances.live import Cloud, token
from tests.support.screenshots import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_admin_cannot_go_below_the_usage_and_the_member_sees_the_new_limit(
    page, browser, live_stack, credentials, compute_host, marker_image
):
    project = f"quota-{uuid.uuid4().hex[:6]}"
    live_stack.shell(
        "from dashboard.models import Project, Role, RoleAssignment, User\n"
        f"p = Project.objects.create(name='{project}')\n"
        "RoleAssignment.objects.create(user=User.objects.get(username='demo'), project=p,"
        " role=Role.objects.get(name='member'))\n"
    )
    cloud = Cloud(live_stack, token(live_stack, "demo", credentials["demo"], project))
    image = cloud.upload_image("marker-quota", marker_image["path"])
    servers = [cloud.create(f"q{n}", image, marker_image["flavor"]) for n in range(2)]
    try:
        for server in servers:
            cloud.wait_status(server, "ACTIVE")

        sign_in(page, "admin", credentials["admin"])
        page.get_by_role("link", name="Projects").click()
        page.get_by_role("link", name=f"Modify Quotas of {project}").click()
        form = page.get_by_test_id("quota-form")
        expect(form.locator("#usage-instances")).to_contain_text("In use: 2 of 10")
        form.get_by_label("Instances", exact=True).fill("1")
        form.get_by_role("button", name="Save").click()
        expect(page.get_by_role("alert").first).to_contain_text(
            "Quota limit 1 for instances must be greater than or equal to already used and reserved 2."
        )
        expect(page.get_by_test_id("quota-error")).to_have_text(
            "Instances cannot be lower than the current usage: 2 in use."
        )
        screenshot(page, "modify-quotas.png", full_page=True)

        form.get_by_label("Instances", exact=True).fill("3")
        form.get_by_role("button", name="Save").click()
        expect(page.get_by_role("alert").first).to_contain_text(f"Quotas of {project} updated.")
        assert cloud.get("/limits").json()["limits"]["absolute"]["maxTotalInstances"] == 3
        page.goto("/admin/usage/")
        expect(page.locator(f'tr[data-usage-project="{project}"]')).to_be_visible()
        screenshot(page, "admin-usage.png", full_page=True)

        # The member, in a browser of their own, sees the new limit on the Launch form.
        context = browser.new_context(base_url=live_stack.url, viewport={"width": 1366, "height": 768})
        context.set_default_timeout(15_000)
        member = context.new_page()
        try:
            sign_in(member, "demo", credentials["demo"])
            member.get_by_test_id("project-switcher").get_by_role("button").first.click()
            member.get_by_role("button", name=project).click()
            expect(member.locator("#current-project")).to_have_text(project)
            member.goto(f"/instances/launch/?image={image}")
            instances = member.locator('[data-quota="instances"]')
            expect(instances).to_contain_text("of 3")
            expect(instances).to_contain_text("1  left")

            # Project → Usage lists the two instances, with the CSV download.
            member.get_by_role("link", name="Usage", exact=True).click()
            table = member.get_by_test_id("usage-table")
            expect(table.locator("tr[data-usage-instance]")).to_have_count(2)
            expect(table.locator('tr[data-usage-instance="q0"]')).to_contain_text("t.marker")
            screenshot(member, "usage.png", full_page=True)
            with member.expect_download() as download:
                member.get_by_test_id("usage-csv").click()
            lines = download.value.path().read_text().splitlines()
            assert lines[0].startswith(f"Usage of project,{project},")
            assert sorted(line.split(",")[0] for line in lines[3:-1]) == ["q0", "q1"]
        finally:
            context.close()
    finally:
        for server in servers:
            cloud.delete(f"/servers/{server}")
        for server in servers:
            cloud.wait_deleted(server)
