"""Known flavor extra spec keys: offered in the dashboard, and checked like Nova checks them
(API microversion 2.86 and later, and always in the dashboard). Other keys are allowed freely."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from dashboard.exceptions import BadRequest
from flavors.models import EXTRA_SPEC_KEY_RE

_KEY = re.compile(EXTRA_SPEC_KEY_RE)
_PAGE_SIZE = re.compile(r"^(small|large|any|\d+([KkMmGg][Bb]?)?)$")


def _choice(*values: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value in values else f"must be one of {', '.join(values)}"

    return check


def _integer(minimum: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if not re.fullmatch(r"-?\d+", value) or int(value) < minimum:
            return f"must be an integer of at least {minimum}"
        return None

    return check


def _page_size(value: str) -> str | None:
    return None if _PAGE_SIZE.match(value) else "must be small, large, any or a page size such as 2048 or 1GB"


@dataclass(frozen=True)
class KnownSpec:
    key: str
    description: str
    check: Callable[[str], str | None]
    choices: tuple[str, ...] = ()


KNOWN_SPECS: dict[str, KnownSpec] = {
    spec.key: spec
    for spec in (
        KnownSpec(
            "hw:cpu_policy",
            "CPU pinning: dedicated, shared or mixed.",
            _choice("dedicated", "shared", "mixed"),
            ("dedicated", "shared", "mixed"),
        ),
        KnownSpec(
            "hw:cpu_thread_policy",
            "How pinned vCPUs use SMT siblings.",
            _choice("prefer", "isolate", "require"),
            ("prefer", "isolate", "require"),
        ),
        KnownSpec(
            "hw:mem_page_size",
            "Guest memory page size: small, large, any, or a size in KiB (2048) or with a unit (1GB).",
            _page_size,
            ("small", "large", "any", "2048", "1GB"),
        ),
        KnownSpec("hw:numa_nodes", "Number of guest NUMA nodes.", _integer(1)),
        KnownSpec(
            "hw:watchdog_action",
            "Watchdog action.",
            _choice("disabled", "reset", "poweroff", "pause", "none"),
        ),
        KnownSpec(
            "hw_rng:allowed",
            "Allow a random number generator device.",
            _choice("true", "false", "True", "False"),
        ),
        KnownSpec("quota:cpu_shares", "Relative CPU weight.", _integer(0)),
        KnownSpec("quota:cpu_period", "CPU enforcement period (µs).", _integer(0)),
        KnownSpec("quota:cpu_quota", "Maximum CPU time per period (µs); -1 for none.", _integer(-1)),
        KnownSpec("quota:disk_read_bytes_sec", "Disk read limit (bytes/s).", _integer(0)),
        KnownSpec("quota:disk_write_bytes_sec", "Disk write limit (bytes/s).", _integer(0)),
        KnownSpec("quota:disk_total_bytes_sec", "Disk total throughput limit (bytes/s).", _integer(0)),
        KnownSpec("quota:disk_read_iops_sec", "Disk read IOPS limit.", _integer(0)),
        KnownSpec("quota:disk_write_iops_sec", "Disk write IOPS limit.", _integer(0)),
        KnownSpec("quota:disk_total_iops_sec", "Disk total IOPS limit.", _integer(0)),
        KnownSpec("quota:vif_inbound_average", "Inbound network average (KB/s).", _integer(0)),
        KnownSpec("quota:vif_outbound_average", "Outbound network average (KB/s).", _integer(0)),
    )
}


def normalise(specs: object, *, check_known: bool) -> dict[str, str]:
    """Validate an ``extra_specs`` mapping and return it with string values, or raise 400
    naming the key. Numbers and booleans become strings, as in Nova."""
    if not isinstance(specs, dict):
        raise BadRequest("Invalid input for field/attribute extra_specs. Value must be an object.")
    out: dict[str, str] = {}
    for key, value in specs.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise BadRequest(
                f"Invalid input for field/attribute extra_specs. Key {key!r} may contain only letters, "
                "digits, spaces and - _ : . (1-255 characters)."
            )
        if isinstance(value, bool | int | float):
            value = str(value)
        if not isinstance(value, str) or len(value) > 255:
            raise BadRequest(
                f"Invalid input for field/attribute {key}. Value must be a string of at most 255 characters."
            )
        known = KNOWN_SPECS.get(key)
        if check_known and known is not None:
            problem = known.check(value)
            if problem:
                raise BadRequest(f"Validation failed; extra spec {key}={value!r}: {problem}.")
        out[key] = value
    return out
