"""Numbers people compare, as charts drawn on the server: donuts for quotas and bars for host
capacity (SVG and Bootstrap progress bars; no chart library)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.template.defaultfilters import filesizeformat

RADIUS = 48
CIRCUMFERENCE = 2 * math.pi * RADIUS
WARN_AT, FULL_AT = 75, 100


@dataclass(frozen=True)
class Gauge:
    key: str
    label: str
    used: float
    limit: float  # < 0: unlimited
    unit: str = ""
    bytes: bool = False

    @property
    def unlimited(self) -> bool:
        return self.limit < 0

    @property
    def percent(self) -> int:
        if self.unlimited:
            return 0
        if self.limit == 0:
            return 100 if self.used else 0
        return round(100 * self.used / self.limit)

    @property
    def dash(self) -> str:
        """stroke-dasharray of the used arc."""
        filled = CIRCUMFERENCE * min(self.percent, 100) / 100
        return f"{filled:.2f} {CIRCUMFERENCE:.2f}"

    @property
    def level(self) -> str:
        if self.percent >= FULL_AT:
            return "full"
        return "warn" if self.percent >= WARN_AT else ""

    @property
    def bar_class(self) -> str:
        return {"full": "bg-danger", "warn": "bg-warning"}.get(self.level, "bg-primary")

    def _fmt(self, value: float) -> str:
        if self.bytes:
            return filesizeformat(value)
        text = f"{value:g}" if isinstance(value, float) else str(value)
        return f"{text} {self.unit}".strip()

    @property
    def used_text(self) -> str:
        return self._fmt(self.used)

    @property
    def limit_text(self) -> str:
        return "unlimited" if self.unlimited else self._fmt(self.limit)

    @property
    def caption(self) -> str:
        return f"Used {self.used_text} of {self.limit_text}"
