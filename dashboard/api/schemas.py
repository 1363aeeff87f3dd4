"""Checks shared by the compute and block-storage request bodies, in Nova's wording: every error is a
400 that names the field."""

from __future__ import annotations

import re
from typing import Any

from dashboard.exceptions import BadRequest

# Nova stores sizes in signed 32-bit columns; clients and the API both use this bound.
MAX_INT = 2147483647

_DIGITS = re.compile(r"^[0-9]+$")
_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f"}


def invalid(field: str, value: Any, reason: str) -> BadRequest:
    return BadRequest(f"Invalid input for field/attribute {field}. Value: {value}. {reason}")


def required_object(body: Any, key: str) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise BadRequest(f"Invalid input for field/attribute {key}. '{key}' is a required property")
    return body[key]


def integer(
    data: dict, field: str, minimum: int, *, default: int | None = None, blank_ok: bool = False
) -> int:
    if field not in data:
        if default is None:
            raise BadRequest(f"Invalid input for field/attribute {field}. '{field}' is a required property")
        return default
    value = data[field]
    if blank_ok and value == "":
        return 0
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and _DIGITS.match(value))
    ):
        raise invalid(field, value, f"{value!r} is not an integer")
    number = int(value)
    if number < minimum:
        raise invalid(field, value, f"{number} is less than the minimum of {minimum}")
    if number > MAX_INT:
        raise invalid(field, value, f"{number} is greater than the maximum of {MAX_INT}")
    return number


def resource_name(data: dict) -> str:
    name = data.get("name")
    if not isinstance(name, str):
        raise BadRequest("Invalid input for field/attribute name. 'name' is a required property and a string")
    if not 1 <= len(name) <= 255 or name != name.strip() or not name.isprintable():
        raise invalid(
            "name", name, "It must be 1-255 printable characters without leading or trailing whitespace."
        )
    return name


def boolean(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise invalid(field, value, f"{value!r} is not a boolean")
