"""Sections other apps add to the Project → Overview page (quota charts, usage), each rendered
by the app that owns the numbers."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest

Section = Callable[[HttpRequest], str]  # the section's HTML, or "" when it has nothing to show
_sections: dict[str, tuple[int, Section]] = {}


def register(name: str, order: int, section: Section) -> None:
    _sections[name] = (order, section)


def render_sections(request: HttpRequest) -> list[str]:
    ordered = sorted(_sections.values(), key=lambda item: item[0])
    return [html for _, section in ordered if (html := section(request))]
