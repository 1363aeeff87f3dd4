"""Image data for a compute host that does not share the image store: streamed from the
controller's image API (``GET /image/v2/images/{id}/file`` at STRATUS_CONTROLLER_URL).

The agent authenticates as the ``compute`` service identity (dashboard.identity.service: a marked
user of the marked ``service`` project, created by ``bootstrap`` or on first use, never an existing
ordinary user; it has no password and nobody signs in as it), with a short-lived
token it issues itself through the database it shares with the controller. The body goes straight
to the image cache's temporary file, which hashes it with sha512 on the way; the md5 of the
image's ``checksum`` is compared here too, and the cache compares the sha512 with
``os_hash_value`` before the file is renamed into place (never buffered whole in memory).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import urllib.error
import urllib.request
from datetime import timedelta
from typing import BinaryIO

from django.conf import settings
from django.utils import timezone

from dashboard.identity.service import COMPUTE_USER, ServiceIdentityConflict, service_identity
from dashboard.models import Token
from instances.virt.base import VirtError

CHUNK = 4 * 1024 * 1024
TOKEN_LIFETIME = timedelta(hours=1)


class ImageFetchFailed(VirtError):
    """The image API refused the image, or its bytes were not the image's."""


_token_lock = threading.Lock()
_token: tuple[str, object] | None = None  # (raw token, its expiry)


def service_token(renew: bool = False) -> str:
    """A token of the compute service user, issued again when it has less than a quarter of its
    lifetime left (or ``renew``: the API refused it, e.g. it was revoked)."""
    global _token
    with _token_lock:
        if renew or _token is None or _token[1] - timezone.now() < TOKEN_LIFETIME / 4:
            try:
                user, project = service_identity(COMPUTE_USER)
            except ServiceIdentityConflict as exc:
                raise ImageFetchFailed(str(exc)) from exc
            raw, token = Token.issue(user, project, ["token"], expires_at=timezone.now() + TOKEN_LIFETIME)
            _token = (raw, token.expires_at)
        return _token[0]


def _open(url: str):
    """The response to an authenticated GET; a refused token is renewed once."""
    timeout = settings.COMPUTE_RPC_TIMEOUT
    try:
        return urllib.request.urlopen(_request(url, service_token()), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code != 401:
            raise
    return urllib.request.urlopen(_request(url, service_token(renew=True)), timeout=timeout)


def _request(url: str, token: str) -> urllib.request.Request:
    return urllib.request.Request(url, headers={"X-Auth-Token": token})


def fetcher(image_id: str, checksum: str):
    """A function that writes the image's data, streamed from the image API, to a file object."""

    def fetch(fh: BinaryIO) -> None:
        url = f"{settings.CONTROLLER_URL}/image/v2/images/{image_id}/file"
        md5 = hashlib.md5(usedforsecurity=False)
        try:
            with _open(url) as response:
                if response.status != 200:
                    raise ImageFetchFailed(f"image {image_id}: the image API answered {response.status}")
                while chunk := response.read(CHUNK):
                    md5.update(chunk)
                    fh.write(chunk)
        except urllib.error.HTTPError as exc:
            raise ImageFetchFailed(
                f"image {image_id}: the image API answered {exc.code} {exc.reason}"
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ImageFetchFailed(
                f"image {image_id} could not be fetched from the image API: {exc}"
            ) from exc
        if checksum and not hmac.compare_digest(md5.hexdigest(), checksum.lower()):
            raise ImageFetchFailed(
                f"image {image_id} data does not match its checksum (got md5 {md5.hexdigest()})"
            )

    return fetch
