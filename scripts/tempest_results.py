"""Count a Tempest subunit v2 stream per area: passed, failed, skipped, and the skip reasons.

Run with the Tempest venv's Python (it has python-subunit):
``.tempest-venv/bin/python scripts/tempest_results.py image=var/tempest/…/image.subunit …``;
``area=stream@regex`` counts only the test ids the regex matches (a narrower view of a run).
A class that fails or skips in ``setUpClass`` is one entry in the stream, and its tests appear only
as enumerated ("exists"): each of them is counted as failed or skipped with the class's reason.
tearDownClass failures are reported apart, as the tests themselves ran.
"""

from __future__ import annotations

import collections
import re
import sys

import subunit
import testtools


def results(path: str) -> dict[str, dict]:
    tests: dict[str, dict] = {}
    with open(path, "rb") as fh:
        stream = subunit.ByteStreamToStreamResult(fh, non_subunit_name="stdout")
        result = testtools.StreamToDict(lambda test: tests.__setitem__(test["id"], test))
        result.startTestRun()
        try:
            stream.run(result)
        finally:
            result.stopTestRun()
    return tests


def reason(test: dict) -> str:
    details = test.get("details") or {}
    text = details.get("reason")
    value = "".join(text.iter_text()) if text is not None else "(no reason given)"
    return re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", value.strip())[:160]


def class_of(test_id: str) -> str:
    """``tempest.api.x.Class`` of a test id, or of ``setUpClass (tempest.api.x.Class)``."""
    if " (" in test_id:
        return test_id.split(" (", 1)[1].rstrip(")")
    return test_id.split("[", 1)[0].rsplit(".", 1)[0]


def main(args: list[str]) -> int:
    print()
    print(f"{'area':10} {'run':>5} {'pass':>5} {'fail':>5} {'skip':>5}  pass/run   (+ teardown errors)")
    failures: dict[str, list[str]] = {}
    skips: dict[str, collections.Counter] = {}
    for arg in args:
        area, path = arg.split("=", 1)
        path, _, only = path.partition("@")
        counts = collections.Counter()
        failures[area], skips[area] = [], collections.Counter()
        tests = results(path)
        if only:
            tests = {
                k: v for k, v in tests.items() if re.search(only, class_of(k) + "." + k.rsplit(".", 1)[-1])
            }
        class_outcome: dict[str, tuple[str, dict]] = {}
        not_run: list[str] = []
        for test_id, test in sorted(tests.items()):
            status = test["status"]
            if test_id.startswith("tearDownClass ("):
                if status in ("fail", "uxsuccess"):
                    counts["teardown"] += 1
                    failures[area].append(test_id)
                continue
            if test_id.startswith("setUpClass ("):
                class_outcome[class_of(test_id)] = (status, test)
                if status in ("fail", "uxsuccess"):
                    failures[area].append(test_id)
                continue
            if status == "exists":  # enumerated, never run: its class's setUpClass decided
                not_run.append(test_id)
                continue
            if status in ("success", "xfail"):
                counts["pass"] += 1
            elif status in ("fail", "uxsuccess"):
                counts["fail"] += 1
                failures[area].append(test_id)
            elif status == "skip":
                counts["skip"] += 1
                skips[area][reason(test)] += 1
        for test_id in not_run:
            status, test = class_outcome.get(class_of(test_id), ("missing", {}))
            if status == "skip":
                counts["skip"] += 1
                skips[area][reason(test)] += 1
            elif status == "missing":  # its worker stopped before it ran: shown apart
                counts["unfinished"] += 1
            else:  # its class failed in setUpClass
                counts["fail"] += 1
        run = counts["pass"] + counts["fail"]
        share = f"{100 * counts['pass'] / run:.0f} %" if run else "-"
        extra = f"   (+{counts['teardown']})" if counts["teardown"] else ""
        if counts["unfinished"]:
            extra += f"   {counts['unfinished']} never ran (worker stopped)"
        print(
            f"{area:10} {run:5} {counts['pass']:5} {counts['fail']:5} {counts['skip']:5}  {share:>8}{extra}"
        )
    for area in failures:
        if failures[area]:
            print(f"\n{area}: failed")
            for test_id in failures[area]:
                print(f"  {test_id}")
        if skips[area]:
            print(f"\n{area}: skip reasons")
            for text, count in skips[area].most_common():
                print(f"  {count:4}  {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
