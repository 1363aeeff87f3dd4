"""The axe-core hook that every browser context runs under (tests/support/axe.py) finds a serious
violation on a page the test leaves, on a dialog when it opens, and on the last page, and check()
raises on one; pages without any pass."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest

from tests.support import axe

pytestmark = pytest.mark.browser

GOOD = (
    '<!doctype html><html lang="en"><head><title>Good</title></head>'
    "<body><main><h1>Good</h1>{}</main></body></html>"
)
PAGES = {
    "good.html": GOOD.format('<a href="bad.html">Next</a>'),
    "bad.html": GOOD.format('<img src="missing.png"><a href="good.html">Back</a>'),
    "dialog.html": GOOD.format(
        '<div id="box" hidden><button type="button"></button></div>'
        "<script>document.addEventListener('open', () => { const box = document.getElementById('box');"
        " box.hidden = false; box.dispatchEvent(new Event('shown.bs.modal', {bubbles: true})); });</script>"
    ),
}


@pytest.fixture
def site(tmp_path):
    for name, text in PAGES.items():
        (tmp_path / name).write_text(text)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_the_hook_reports_a_violation_on_each_page_and_dialog_and_check_raises(browser, site, axe_guard):
    context = browser.new_context(base_url=site)
    try:
        page = context.new_page()
        page.goto("/good.html")
        page.get_by_role("link", name="Next").click()
        page.wait_for_url("**/bad.html")
        page.get_by_role("link", name="Back").click()
        page.wait_for_url("**/good.html")
        with pytest.raises(axe.AccessibilityError):
            page.goto("/bad.html")
            axe.check(page)
        page.goto("/dialog.html")
        page.evaluate("() => document.dispatchEvent(new Event('open'))")
        page.wait_for_function("() => !document.getElementById('box').hidden")
        page.goto("/bad.html")
    finally:
        context.close()
    found = {
        (f.where.split(" ", 1)[0].rsplit("/", 1)[-1], v["id"])
        for f in axe_guard.findings
        for v in f.violations
    }
    assert ("bad.html", "image-alt") in found
    assert ("dialog.html", "button-name") in found
    assert all(not f.where.endswith("good.html") for f in axe_guard.findings)
    assert axe_guard.checked >= 6
    # These violations were made on purpose: they must not fail this test too.
    axe_guard.reset()
