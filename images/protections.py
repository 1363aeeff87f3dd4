"""Property protections with Glance's semantics (security-cases §2).

An INI file of regex sections, tried in file order (first ``re.search`` match wins), each with
create/read/update/delete. ``roles`` format: comma-separated roles, ``@`` everyone, ``!`` nobody.
``policies`` format: one policy rule name per operation. No matching section: denied. Without a
file nothing is enforced. Any defect in the file stops start-up."""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from dashboard import policy

OPERATIONS = ("create", "read", "update", "delete")


@dataclass(frozen=True)
class Section:
    pattern: re.Pattern
    rules: dict[str, list[str]]


class PropertyProtections:
    def __init__(self, path: str, rule_format: str):
        self.format = rule_format
        if rule_format not in ("roles", "policies"):
            raise ImproperlyConfigured(f"Unknown property protection rule format {rule_format!r}.")
        file = Path(path)
        if not file.is_file():
            raise ImproperlyConfigured(f"Property protection file {path!r} does not exist or is unreadable.")
        parser = configparser.RawConfigParser(default_section="\x00none")
        parser.optionxform = str
        try:
            with open(file) as fh:
                parser.read_file(fh)
        except (OSError, configparser.Error) as exc:
            raise ImproperlyConfigured(f"Property protection file {path!r} is invalid: {exc}") from exc
        # Glance reserves os_glance*: always open to the service, never configurable.
        self.sections = [Section(re.compile(r"^os_glance"), dict.fromkeys(OPERATIONS, ["@"]))]
        for name in parser.sections():
            if name.startswith("os_glance"):
                continue
            try:
                pattern = re.compile(name)
            except re.error as exc:
                raise ImproperlyConfigured(
                    f"Property protection section [{name}] is not a regex: {exc}"
                ) from exc
            rules = {}
            for op in OPERATIONS:
                if not parser.has_option(name, op):
                    raise ImproperlyConfigured(f"Property protection section [{name}] lacks {op!r}.")
                rules[op] = self._parse(name, op, parser.get(name, op))
            self.sections.append(Section(pattern, rules))

    def _parse(self, section: str, op: str, value: str) -> list[str]:
        items = [v.strip() for v in value.split(",") if v.strip()]
        if self.format == "policies":
            if len(items) > 1:
                raise ImproperlyConfigured(f"[{section}] {op}: one policy per operation in policies format.")
            if items:
                check = items[0] if items[0] in ("@", "!") else f"rule:{items[0]}"
                policy.register_defaults([policy.RuleDefault(f"{section}:{op}", check)])
            return items
        if "@" in items and "!" in items:
            raise ImproperlyConfigured(f"[{section}] {op}: '@' and '!' cannot be combined.")
        return [i if i in ("@", "!") else i.lower() for i in items]

    def allowed(self, ctx, prop: str, op: str) -> bool:
        for section in self.sections:
            if section.pattern.search(prop):
                rule = section.rules[op]
                if not rule:
                    return False  # an empty value disables the operation for everyone
                if self.format == "policies":
                    return policy.can(ctx, f"{section.pattern.pattern}:{op}")
                if "!" in rule:
                    return False
                if "@" in rule:
                    return True
                return bool(set(rule) & set(ctx.roles))
        return False


_loaded: PropertyProtections | None = None


def load(path: str, rule_format: str) -> PropertyProtections | None:
    global _loaded
    _loaded = PropertyProtections(path, rule_format) if path else None
    return _loaded


def active() -> PropertyProtections | None:
    return _loaded
