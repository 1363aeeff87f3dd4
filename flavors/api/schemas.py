"""Request bodies of the flavor API, checked the way Nova's JSON schemas check them. Every error
is a 400 that names the field, in Nova's wording."""

from __future__ import annotations

import re
from typing import Any

from dashboard.api.microversion import APIVersion
from dashboard.api.schemas import boolean, integer, invalid, required_object, resource_name
from dashboard.exceptions import BadRequest
from flavors.models import FLAVOR_ID_RE, MAX_RXTX

_NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")


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
    data = required_object(body, "flavor")
    allowed = CREATE_FIELDS | ({"description"} if version >= "2.55" else set())
    extra = sorted(set(data) - allowed)
    if extra:
        raise BadRequest(
            "Invalid input for field/attribute flavor. Additional properties are not allowed "
            f"({', '.join(repr(k) for k in extra)} {'was' if len(extra) == 1 else 'were'} unexpected)"
        )
    return {
        "name": resource_name(data),
        "flavor_id": _flavor_id(data),
        "ram": integer(data, "ram", 1),
        "vcpus": integer(data, "vcpus", 1),
        "disk": integer(data, "disk", 0),
        "swap": integer(data, "swap", 0, default=0, blank_ok=True),
        "ephemeral": integer(data, "OS-FLV-EXT-DATA:ephemeral", 0, default=0),
        "rxtx_factor": _rxtx(data),
        "is_public": boolean("os-flavor-access:is_public", data.get("os-flavor-access:is_public", True)),
        "description": _description(data),
    }


def flavor_update(body: Any) -> str:
    data = required_object(body, "flavor")
    if set(data) != {"description"}:
        raise BadRequest(
            "Invalid input for field/attribute flavor. Only 'description' can be updated and it is required."
        )
    return _description(data)


def tenant(body: Any, action: str) -> str:
    data = required_object(body, action)
    value = data.get("tenant")
    if not isinstance(value, str) or not 1 <= len(value) <= 255:
        raise invalid("tenant", value, "'tenant' is a required string of 1-255 characters")
    return value
