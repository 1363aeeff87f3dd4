"""Microversions of the compute and block-storage APIs: parsing the request headers, the
supported ranges, and the headers every response carries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from django.utils.cache import patch_vary_headers
from rest_framework.views import APIView

from dashboard.api.responses import empty
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


HEADER = "OpenStack-API-Version"


class VersionNotAcceptable(StratusError):
    status = 406
    title = "Not Acceptable"


@dataclass(frozen=True)
class VersionRange:
    """The microversions one OpenStack API speaks, and how requests name them."""

    services: tuple[str, ...]  # names accepted in ``OpenStack-API-Version: <service> X.Y``
    minimum: APIVersion
    maximum: APIVersion
    legacy_header: str | None = None  # e.g. Nova's X-OpenStack-Nova-API-Version

    def requested(self, headers) -> APIVersion:
        """The version a request asks for: the standard header wins over the legacy one; none
        means the minimum, ``latest`` the maximum, anything outside the range is a 406."""
        value = None
        for item in (headers.get(HEADER) or "").split(","):
            service, _, version = item.strip().partition(" ")
            if service.lower() in self.services and version.strip():
                value = version.strip()
        if value is None and self.legacy_header:
            value = headers.get(self.legacy_header)
        if value is None or not value.strip():
            return self.minimum
        if value.strip().lower() == "latest":
            return self.maximum
        version = APIVersion.parse(value)
        if not self.minimum <= version <= self.maximum:
            raise VersionNotAcceptable(
                f"Version {version} is not supported by the API. "
                f"Minimum is {self.minimum} and maximum is {self.maximum}."
            )
        return version

    def set_headers(self, response, version: APIVersion | None) -> None:
        if version is not None:
            response[HEADER] = f"{self.services[0]} {version}"
            if self.legacy_header:
                response[self.legacy_header] = str(version)
        patch_vary_headers(response, (HEADER, self.legacy_header) if self.legacy_header else (HEADER,))


# The newest Nova microversion whose behaviour Stratus follows (Nova 2025.1 "Epoxy" is 2.96).
COMPUTE = VersionRange(("compute",), APIVersion(2, 1), APIVersion(2, 96), "X-OpenStack-Nova-API-Version")
VOLUME = VersionRange(("volume", "block-storage"), APIVersion(3, 0), APIVersion(3, 71))

MIN_VERSION, MAX_VERSION = COMPUTE.minimum, COMPUTE.maximum
LEGACY_HEADER = COMPUTE.legacy_header


def requested_version(headers) -> APIVersion:
    return COMPUTE.requested(headers)


def set_headers(response, version: APIVersion | None) -> None:
    COMPUTE.set_headers(response, version)


class MicroversionedView(APIView):
    """Negotiates ``request.api_version`` within ``versions`` and names it on every response,
    errors included."""

    versions: VersionRange
    empty = staticmethod(empty)

    def initial(self, request, *args, **kwargs) -> None:
        request.api_version = None
        super().initial(request, *args, **kwargs)
        request.api_version = self.versions.requested(request.headers)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        self.versions.set_headers(response, getattr(request, "api_version", None))
        return response
