"""Compute API microversions: parsing the request headers, the supported range, and the
headers every response carries. Later compute resources (servers …) use the same base view."""

from __future__ import annotations

import re
from functools import total_ordering

from django.utils.cache import patch_vary_headers

from dashboard.exceptions import BadRequest, StratusError


@total_ordering
class APIVersion:
    __slots__ = ("major", "minor")

    def __init__(self, major: int, minor: int):
        self.major, self.minor = major, minor

    @classmethod
    def parse(cls, text: str) -> APIVersion:
        match = re.fullmatch(r"\s*(\d+)\.(\d+)\s*", text)
        if not match:
            raise BadRequest(
                f"API Version String {text} is of invalid format. Must be of format MajorNum.MinorNum."
            )
        return cls(int(match[1]), int(match[2]))

    def _key(self) -> tuple[int, int]:
        return (self.major, self.minor)

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = APIVersion.parse(other)
        return isinstance(other, APIVersion) and self._key() == other._key()

    def __lt__(self, other) -> bool:
        if isinstance(other, str):
            other = APIVersion.parse(other)
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    __repr__ = __str__

    def matches(self, minimum: str, maximum: str | None = None) -> bool:
        return self >= minimum and (maximum is None or self <= maximum)


MIN_VERSION = APIVersion(2, 1)
# The newest Nova microversion whose flavor behaviour Stratus follows (Nova 2025.1 "Epoxy" is 2.96).
MAX_VERSION = APIVersion(2, 96)

HEADER = "OpenStack-API-Version"
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
SERVICE = "compute"


class VersionNotAcceptable(StratusError):
    status = 406
    title = "Not Acceptable"


def requested_version(headers) -> APIVersion:
    """The microversion a request asks for. ``OpenStack-API-Version: compute X.Y`` wins over the
    legacy Nova header; no header means the minimum, ``latest`` the maximum."""
    value = None
    for item in (headers.get(HEADER) or "").split(","):
        service, _, version = item.strip().partition(" ")
        if service.lower() == SERVICE and version.strip():
            value = version.strip()
    if value is None:
        value = headers.get(LEGACY_HEADER)
    if value is None or not value.strip():
        return MIN_VERSION
    if value.strip().lower() == "latest":
        return MAX_VERSION
    version = APIVersion.parse(value)
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise VersionNotAcceptable(
            f"Version {version} is not supported by the API. "
            f"Minimum is {MIN_VERSION} and maximum is {MAX_VERSION}."
        )
    return version


def set_headers(response, version: APIVersion | None) -> None:
    if version is not None:
        response[HEADER] = f"{SERVICE} {version}"
        response[LEGACY_HEADER] = str(version)
    patch_vary_headers(response, (HEADER, LEGACY_HEADER))
