"""`openstack console url show --novnc`, unmodified, against the live stack: the URL it prints opens
the server's console in Chromium without signing in, and a stopped server has none."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.test_console import CANVAS_COLOURS, VIEWPORT
from tests.support.wait import wait_for

pytestmark = [pytest.mark.live, pytest.mark.browser]


def test_the_console_url_the_cli_prints_opens_the_console_in_chromium(
    openstack_demo, live_stack, compute_host, marker_image, browser
):
    cli = openstack_demo
    name = f"cli-console-{uuid.uuid4().hex[:6]}"
    cli.json(
        "server",
        "create",
        "--image",
        marker_image["id"],
        "--flavor",
        "t.marker",
        "--nic",
        "none",
        "--wait",
        name,
    )
    try:
        shown = cli.json("console", "url", "show", "--novnc", name)
        assert (shown["protocol"], shown["type"]) == ("vnc", "novnc")
        assert shown["url"].startswith(f"{live_stack.url}/console/?token=")

        context = browser.new_context(viewport=VIEWPORT)  # nobody signed in: the URL is enough
        try:
            page = context.new_page()
            page.goto(shown["url"])
            expect(page.get_by_test_id("console-instance")).to_have_text(name)
            state = page.get_by_test_id("console-state")
            expect(state).to_have_attribute("data-state", "connected", timeout=60_000)
            wait_for(lambda: page.evaluate(CANVAS_COLOURS) > 1, timeout=30, interval=0.2, what="the screen")
        finally:
            context.close()

        cli.run("server", "stop", name)
        wait_for(
            lambda: cli.json("server", "show", name)["status"] == "SHUTOFF",
            timeout=90,
            interval=0.5,
            what="the server to stop",
        )
        refused = cli.run("console", "url", "show", "--novnc", name, check=False)
        assert refused.returncode != 0
        assert "is not running (it is SHUTOFF)" in refused.stderr
    finally:
        cli.run("server", "delete", "--wait", name)
