"""Accessibility checks with axe-core on every page and dialog the browser tests reach.

``watch(context)`` is applied by the ``browser`` fixture to every browser context the tests make,
so no test can leave it out. It puts axe-core (from node_modules, installed by npm at test time,
never committed) into every document, and runs it:

- on the page about to be left, whenever the page starts a new navigation (a link, a form, a
  redirect by script, a reload): the navigation waits until the check is done;
- on a Bootstrap dialog as soon as it is shown (``shown.bs.modal``);
- on every open page when the context is closed, so the last page of a test is checked too.

Serious and critical violations are collected per test; the autouse ``axe_guard`` fixture fails the
test that produced them, naming the page, the rule and the elements. ``check(page)`` runs the same
check at once and raises, for tests that want it at a precise moment.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

# Put into every document after axe-core itself: runs the check when the document has loaded and
# when a dialog opens, one run at a time, and reports to the bindings that watch() exposes.
_IN_PAGE = """(() => {
  let busy = Promise.resolve();
  const run = (selector) => {
    const next = busy.then(async () => {
      const root = selector ? document.querySelector(selector) : document;
      if (!root) return [];
      const result = await window.axe.run(root, { resultTypes: ["violations"] });
      return result.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => ({
          id: v.id, impact: v.impact, help: v.help,
          nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " :: "
            + (n.failureSummary || "").split("\\n").slice(1).join(" ").trim()),
        }));
    });
    busy = next.catch(() => null);
    return next;
  };
  window.__stratusAxe = run;
  const checked = async (where, selector) => {
    let violations;
    try {
      violations = await run(selector);
    } catch (error) {
      violations = [{ id: "axe-error", impact: "critical", help: String(error), nodes: [] }];
    }
    // Not awaited: the answer to a binding reaches the page by an evaluation, which waits while a
    // navigation is held for this very report.
    window.__stratusAxeReport(where, violations);
  };
  const wanted = () => window.top === window && location.protocol.startsWith("http")
    && document.contentType === "text/html" && window.axe && window.__stratusAxeReport;
  const onLoad = async () => {
    if (!wanted()) return;
    window.__stratusAxeStarted();
    await checked(location.href, null);
  };
  if (document.readyState === "complete") onLoad(); else window.addEventListener("load", onLoad);
  document.addEventListener("shown.bs.modal", (event) => {
    const id = event.target.id;
    if (wanted() && id) checked(location.href + " dialog #" + id, "#" + id);
  }, true);
})();"""


# The check at context close. A page that is still loading (the test's last click started a
# navigation) is checked once it has loaded: before that its stylesheets may not apply yet, and
# the colours axe reads are not the page's. One that does not load within LOAD_WAIT_MS is left
# to the check its own load event runs.
LOAD_WAIT_MS = 15_000
_AT_CLOSE = f"""async () => {{
  if (document.readyState !== "complete") {{
    const loaded = new Promise((resolve) =>
      window.addEventListener("load", () => resolve(true), {{ once: true }}));
    const late = new Promise((resolve) => setTimeout(() => resolve(false), {LOAD_WAIT_MS}));
    if (!(await Promise.race([loaded, late]))) return null;
  }}
  return window.__stratusAxe ? window.__stratusAxe(null) : null;
}}"""


class AccessibilityError(AssertionError):
    pass


@dataclass
class Finding:
    where: str
    violations: list[dict]

    def __str__(self) -> str:
        lines = [f"{self.where}:"]
        for v in self.violations:
            lines.append(f"  [{v['impact']}] {v['id']}: {v['help']}")
            lines.extend(f"      {node}" for node in v["nodes"])
        return "\n".join(lines)


@dataclass
class Recorder:
    """What the checks found since the current test began, and how many pages and dialogs they saw."""

    findings: list[Finding] = field(default_factory=list)
    checked: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.findings, self.checked = [], 0

    def report(self) -> str:
        return "\n".join(str(f) for f in self.findings)


RECORDER = Recorder()


def _record(where: str, violations: list[dict]) -> None:
    with RECORDER.lock:
        RECORDER.checked += 1
        known = {(f.where, v["id"]) for f in RECORDER.findings for v in f.violations}
        fresh = [v for v in violations if (where, v["id"]) not in known]
        if fresh:
            RECORDER.findings.append(Finding(where, fresh))


def check(page, selector: str | None = None) -> None:
    """Check the page (or the element ``selector``) now; raise on a serious or critical violation."""
    violations = page.evaluate("(s) => window.__stratusAxe ? window.__stratusAxe(s) : null", selector)
    if violations is None:
        raise AccessibilityError(f"axe-core is not loaded in {page.url}")
    with RECORDER.lock:
        RECORDER.checked += 1
    if violations:
        raise AccessibilityError(str(Finding(f"{page.url} {selector or ''}".strip(), violations)))


@dataclass
class _PageState:
    checking: bool = False
    parked: list = field(default_factory=list)


NOT_NAVIGATED = ("/static/", "/image/", "/compute/", "/volume/", "/identity/")


def _navigable(url: str) -> bool:
    return not urlsplit(url).path.startswith(NOT_NAVIGATED)


def watch(context, *, hold_navigations: bool = True) -> None:
    """Check every document of ``context`` when it has loaded (a navigation away from it waits for
    the check to finish), every dialog when it opens, and every open page when the context closes.

    Holding navigations needs a request route, and while a page has one Chromium hands every
    request of it to Playwright, bodies included: a test that streams hundreds of MiB from the page
    passes ``hold_navigations=False`` (its pages are still checked when they load, when a dialog
    opens and when the context closes; a page left before its check ends goes unchecked)."""
    if not AXE_JS.exists():
        raise AccessibilityError(f"{AXE_JS} is missing: run `npm ci` (make test does)")
    states: dict = {}

    def state(page) -> _PageState:
        return states.setdefault(page, _PageState())

    def started(source) -> None:
        state(source["page"]).checking = True

    def reported(source, where: str, violations: list[dict]) -> None:
        _record(where, violations)
        if where == source["page"].url:
            page_state = state(source["page"])
            page_state.checking = False
            parked, page_state.parked = page_state.parked, []
            for route in parked:
                route.continue_()

    def before_navigation(route, request) -> None:
        frame = request.frame
        if request.is_navigation_request() and frame.parent_frame is None:
            page_state = state(frame.page)
            if page_state.checking:
                # The document being left is still being checked: leave once it is done.
                page_state.parked.append(route)
                return
        route.continue_()

    context.add_init_script(path=str(AXE_JS))
    context.add_init_script(script=_IN_PAGE)
    context.expose_binding("__stratusAxeStarted", started)
    context.expose_binding("__stratusAxeReport", reported)

    def attach(page) -> None:
        # Only dashboard pages are navigated to; static files and the APIs never are, so their
        # requests are let through without a look.
        page.route(_navigable, before_navigation)

    if hold_navigations:
        for page in context.pages:
            attach(page)
        context.on("page", attach)

    close = context.close

    def close_after_checking(*args, **kwargs):
        for page in context.pages:
            if page.is_closed() or not page.url.startswith("http"):
                continue
            try:
                violations = page.evaluate(_AT_CLOSE)
            except Exception as exc:  # noqa: BLE001 - a page that is navigating or gone
                if "destroyed" in str(exc) or "closed" in str(exc):
                    continue
                raise
            if violations is not None:
                _record(page.url, violations)
        return close(*args, **kwargs)

    context.close = close_after_checking
