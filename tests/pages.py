"""Reading what a dashboard page gives the browser to post."""

from __future__ import annotations

import html
import re

FIELDSET = re.compile(r"<fieldset disabled data-matching-fields>(.*?)</fieldset>", re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)"')


def matching_fields(page: str) -> list[tuple[str, str]]:
    """The hidden inputs "Select all N matching" enables: what the batch form then posts."""
    found = FIELDSET.search(page)
    assert found, "the page has no select-all-matching fieldset"
    return [(html.unescape(k), html.unescape(v)) for k, v in HIDDEN.findall(found.group(1))]
