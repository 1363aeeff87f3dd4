"""Icon glyphs are decoration: every Bootstrap icon in a template is hidden from screen readers, so
that a link reads "Images", not a private-use character and "Images"."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ICON = re.compile(r"<i\b[^>]*\bclass=\"bi\b[^>]*>")


def test_every_icon_in_the_templates_is_aria_hidden():
    templates = [p for p in ROOT.rglob("*.html") if "node_modules" not in p.parts and ".venv" not in p.parts]
    assert len(templates) > 20
    bare = [
        f"{path.relative_to(ROOT)}: {tag}"
        for path in templates
        for tag in ICON.findall(path.read_text())
        if 'aria-hidden="true"' not in tag
    ]
    assert bare == []
