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


# Pale text until its stylesheet arrives, which the server holds back until RELEASE is set.
PAGES["styled.html"] = (
    '<!doctype html><html lang="en"><head><title>Styled</title><style>p { color: #eee }</style>'
    '<link rel="stylesheet" href="held.css"></head><body><main><h1>Styled</h1><p>Readable once styled</p>'
    "</main></body></html>"
)
RELEASE = threading.Event()


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/held.css"):
            RELEASE.wait(30)
            body = b"p { color: #000 }"
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def site(tmp_path):
    for name, text in PAGES.items():
        (tmp_path / name).write_text(text)
    handler = functools.partial(Handler, directory=str(tmp_path))
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


def test_a_page_still_loading_at_the_close_is_checked_once_its_stylesheets_apply(browser, site, axe_guard):
    """The last click of a test may start a navigation: checked before its stylesheet applied, the
    page would show colours it never has."""
    RELEASE.clear()
    context = browser.new_context(base_url=site)
    page = context.new_page()
    page.goto("/styled.html", wait_until="commit")
    page.wait_for_selector("p")
    assert page.evaluate("() => document.readyState") != "complete"
    threading.Timer(2.0, RELEASE.set).start()  # while the close waits for the page to load
    context.close()
    assert RELEASE.is_set()
    assert not axe_guard.findings, axe_guard.report()
    assert axe_guard.checked >= 1
