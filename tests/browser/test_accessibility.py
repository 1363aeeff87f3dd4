"""Accessibility in headless Chromium against the live stack.

Every page these tests reach is checked with axe-core by the hook every browser test runs under
(tests/support/axe.py); here the dashboard is walked link by link, as an admin and as a member, so
that every page gets that check, and the Create Image dialog is driven with the keyboard alone.
Every list page is also opened at 1366 x 768, where no cell may end outside the window."""

from __future__ import annotations

import uuid
from collections import deque
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.browser.test_login import sign_in
from tests.instances.live import Cloud, token

pytestmark = [pytest.mark.browser, pytest.mark.live]

# Paths that are not pages: APIs, downloads, files, signing out, the full-window console.
NOT_PAGES = ("/static/", "/identity", "/compute", "/image/", "/volume/", "/auth/", "/healthz", "/console")
DOWNLOADS = ("openrc/", "clouds.yaml", ".pem", "/file", "/download")
MAX_PAGES = 80
PER_PATH = 2  # at most this many query strings of one path (tabs, sorting, filters)

LIST_PAGES = {
    "demo": [
        "/images/", "/instances/", "/flavors/", "/volumes/", "/keypairs/", "/server-groups/",
        "/api-access/",
    ],
    "admin": [
        "/admin/images/", "/admin/instances/", "/admin/flavors/",
        "/admin/projects/", "/admin/users/", "/images/", "/instances/", "/volumes/",
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def populated(live_stack, credentials, marker_image, compute_host, openstack_demo):
    """A little of everything, so that list pages have rows and detail pages exist: an image and a
    flavor (marker_image), an instance, a volume, a key pair, a server group."""
    demo = Cloud(live_stack, token(live_stack, "demo", credentials["demo"], "demo"))
    tag = uuid.uuid4().hex[:6]
    server_id = demo.create(f"a11y-{tag}", marker_image["id"], marker_image["flavor"])
    demo.wait_status(server_id, "ACTIVE")
    openstack_demo.run("volume", "create", "--size", "1", f"a11y-{tag}")
    openstack_demo.run("keypair", "create", f"a11y-{tag}")
    openstack_demo.run("server", "group", "create", "--policy", "anti-affinity", f"a11y-{tag}")
    yield tag
    openstack_demo.run("server", "delete", "--wait", server_id)


def _links(page) -> list[str]:
    return page.eval_on_selector_all("a[href]:not([download])", "els => els.map(e => e.getAttribute('href'))")


def crawl(page, start: str = "/") -> list[str]:
    """Every dashboard page reachable by links from ``start``; each is opened once."""
    origin = urlsplit(page.url)
    queue, seen, per_path, visited = deque([start]), {start}, {}, []
    while queue and len(visited) < MAX_PAGES:
        url = queue.popleft()
        try:
            response = page.goto(url)
        except PlaywrightError as exc:
            if "Download is starting" in str(exc):
                continue
            raise
        assert response is not None and response.status < 500, (
            f"{url} answered {response and response.status}"
        )
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        visited.append(url)
        for href in _links(page):
            target = urlsplit(urljoin(page.url, href))
            if (target.scheme, target.netloc) != (origin.scheme, origin.netloc) or not target.path:
                continue
            if target.path.startswith(NOT_PAGES) or any(d in target.path for d in DOWNLOADS):
                continue
            link = target.path + (f"?{target.query}" if target.query else "")
            if link in seen or per_path.get(target.path, 0) >= PER_PATH:
                continue
            seen.add(link)
            per_path[target.path] = per_path.get(target.path, 0) + 1
            queue.append(link)
    return visited


@pytest.mark.parametrize("user", ["admin", "demo"])
def test_every_page_of_the_dashboard_passes_axe(page, credentials, populated, axe_guard, user):
    sign_in(page, user, credentials[user])
    expect(page.get_by_role("link", name="API Access")).to_be_visible()
    visited = crawl(page)
    assert len(visited) >= 20, visited
    expected = {"/images/", "/instances/", "/volumes/", "/keypairs/", "/api-access/"}
    assert expected <= {urlsplit(u).path for u in visited}
    # The hook checked each page as it loaded (failures are reported by axe_guard at teardown).
    assert axe_guard.checked >= len(visited)


def test_the_create_image_dialog_works_with_the_keyboard_alone(page, credentials, axe_guard):
    sign_in(page, "demo", credentials["demo"])
    page.goto("/images/")
    opener = page.get_by_role("button", name="Create Image")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Create Image")
    expect(dialog).to_be_visible()
    checked_before = axe_guard.checked
    inside = "() => !!document.activeElement.closest('#create-image-modal')"
    page.wait_for_function(inside)
    # Focus stays in the dialog, forwards and backwards, past its last and first controls.
    for key in ["Tab"] * 40 + ["Shift+Tab"] * 40:
        page.keyboard.press(key)
        assert page.evaluate(inside), f"focus left the dialog after {key}"
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    # Focus is back on the button that opened it.
    page.wait_for_function("() => document.activeElement.matches('[data-bs-target=\"#create-image-modal\"]')")
    # The dialog was checked by axe-core when it opened.
    assert axe_guard.checked > checked_before


@pytest.mark.parametrize("user", ["demo", "admin"])
def test_every_list_page_fits_1366_by_768_without_a_cut_column(
    browser, live_stack, credentials, populated, user
):
    context = browser.new_context(base_url=live_stack.url, viewport={"width": 1366, "height": 768})
    try:
        page = context.new_page()
        sign_in(page, user, credentials[user])
        expect(page.locator("#current-project")).to_be_visible()
        for url in LIST_PAGES[user]:
            page.goto(url)
            expect(page.locator("table").first).to_be_visible()
            rows = page.locator("table tbody tr").count()
            assert rows > 0, f"{url} has no rows to check"
            cut = page.evaluate(
                """() => {
                  const width = document.documentElement.clientWidth;
                  const out = [];
                  for (const cell of document.querySelectorAll("table th, table td, table td .btn")) {
                    const box = cell.getBoundingClientRect();
                    if (box.width === 0) continue;  // folded away at this width
                    if (box.right > width + 0.5) out.push(cell.outerHTML.slice(0, 120));
                  }
                  for (const box of document.querySelectorAll(".table-responsive")) {
                    if (box.scrollWidth > box.clientWidth + 1) out.push("scrolls: " + box.className);
                  }
                  return out;
                }"""
            )
            assert not cut, f"{url} at 1366 px cuts: {cut}"
            assert page.evaluate("() => document.documentElement.scrollWidth") <= 1366, url
    finally:
        context.close()
