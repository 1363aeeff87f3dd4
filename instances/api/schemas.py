"""Request bodies of the flavor API, checked the way Nova's JSON schemas check them. Every error
is a 400 that names the field, in Nova's wording."""

from __future__ import annotations

import re
from typing import Any

from dashboard.exceptions import BadRequest

from ..models import FLAVOR_ID_RE, MAX_INT, MAX_RXTX
from .microversion import APIVersion

_DIGITS = re.compile(r"^[0-9]+$")
_NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_TRUE = {"true", "1", "yes", "on", "y", "t"}
_FALSE = {"false", "0", "no", "off", "n", "f"}


def invalid(field: str, value: Any, reason: str) -> BadRequest:
    return BadRequest(f"Invalid input for field/attribute {field}. Value: {value}. {reason}")


def _object(body: Any, key: str) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise BadRequest(f"Invalid input for field/attribute {key}. '{key}' is a required property")
    return body[key]


def _integer(
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


def _name(data: dict) -> str:
    name = data.get("name")
    if not isinstance(name, str):
        raise BadRequest("Invalid input for field/attribute name. 'name' is a required property and a string")
    if not 1 <= len(name) <= 255 or name != name.strip() or not name.isprintable():
        raise invalid(
            "name", name, "It must be 1-255 printable characters without leading or trailing whitespace."
        )
    return name


def _flavor_id(data: dict) -> str | None:
    value = data.get("id")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 1 <= len(value) <= 255 or not re.match(FLAVOR_ID_RE, value):
        raise invalid(
            "id",
            value,
            "It may contain only letters, digits, spaces, periods, dashes and underscores, "
            "without a leading or trailing space (1-255 characters).",
        )
    return value


def boolean(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise invalid(field, value, f"{value!r} is not a boolean")


def _rxtx(data: dict) -> float:
    value = data.get("rxtx_factor", 1.0)
    if isinstance(value, bool) or not (
        isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value))
    ):
        raise invalid("rxtx_factor", value, f"{value!r} is not a number")
    number = float(value)
    if not 0 < number <= MAX_RXTX:
        raise invalid("rxtx_factor", value, f"It must be greater than 0 and at most {MAX_RXTX}.")
    return number


def _description(data: dict) -> str:
    value = data.get("description")
    if value is None:
        return ""
    if (
        not isinstance(value, str)
        or len(value) > 65535
        or not all(c.isprintable() or c in "\r\n\t" for c in value)
    ):
        raise invalid("description", value, "It must be a string of at most 65535 printable characters.")
    return value


CREATE_FIELDS = {
    "name",
    "id",
    "ram",
    "vcpus",
    "disk",
    "swap",
    "rxtx_factor",
    "OS-FLV-EXT-DATA:ephemeral",
    "os-flavor-access:is_public",
}


def flavor_create(body: Any, version: APIVersion) -> dict:
    """The keyword arguments of ``services.create_flavor`` from a ``POST /flavors`` body."""
    data = _object(body, "flavor")
    allowed = CREATE_FIELDS | ({"description"} if version >= "2.55" else set())
    extra = sorted(set(data) - allowed)
    if extra:
        raise BadRequest(
            "Invalid input for field/attribute flavor. Additional properties are not allowed "
            f"({', '.join(repr(k) for k in extra)} {'was' if len(extra) == 1 else 'were'} unexpected)"
        )
    return {
        "name": _name(data),
        "flavor_id": _flavor_id(data),
        "ram": _integer(data, "ram", 1),
        "vcpus": _integer(data, "vcpus", 1),
        "disk": _integer(data, "disk", 0),
        "swap": _integer(data, "swap", 0, default=0, blank_ok=True),
        "ephemeral": _integer(data, "OS-FLV-EXT-DATA:ephemeral", 0, default=0),
        "rxtx_factor": _rxtx(data),
        "is_public": boolean("os-flavor-access:is_public", data.get("os-flavor-access:is_public", True)),
        "description": _description(data),
    }


def flavor_update(body: Any) -> str:
    data = _object(body, "flavor")
    if set(data) != {"description"}:
        raise BadRequest(
            "Invalid input for field/attribute flavor. Only 'description' can be updated and it is required."
        )
    return _description(data)


def tenant(body: Any, action: str) -> str:
    data = _object(body, action)
    value = data.get("tenant")
    if not isinstance(value, str) or not 1 <= len(value) <= 255:
        raise invalid("tenant", value, "'tenant' is a required string of 1-255 characters")
    return value
