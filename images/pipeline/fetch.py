"""Fetching image data from a URL without letting the URL reach inside the network.

http/https only, allowed ports only, every address the name resolves to must be public (or in an
operator allow-list), every redirect hop is checked the same way, and reads have timeouts."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings

from .errors import TransferError


class FetchError(TransferError):
    pass


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in settings.IMAGE_IMPORT_ALLOWED_NETWORKS]


def _address_ok(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if any(ip in net for net in _allowed_networks()):
        return True
    return ip.is_global and not (ip.is_multicast or ip.is_reserved)


def check_url(url: str) -> None:
    """Refuse a URL whose scheme, port or any resolved address is not allowed."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchError("The URL is malformed.") from exc
    if parts.scheme not in settings.IMAGE_IMPORT_ALLOWED_SCHEMES:
        raise FetchError(f"URL scheme {parts.scheme!r} is not allowed (use http or https).")
    if not parts.hostname:
        raise FetchError("The URL has no host.")
    if parts.username or parts.password:
        raise FetchError("URLs with credentials are not allowed.")
    port = port or (443 if parts.scheme == "https" else 80)
    if settings.IMAGE_IMPORT_ALLOWED_PORTS and port not in settings.IMAGE_IMPORT_ALLOWED_PORTS:
        raise FetchError(f"Port {port} is not allowed for URL imports.")
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"The host {parts.hostname!r} could not be resolved.") from exc
    addresses = {info[4][0] for info in infos}
    if not addresses or not all(_address_ok(a) for a in addresses):
        raise FetchError(f"The host {parts.hostname!r} resolves to an address that is not allowed.")


class Download:
    def __init__(self, response: requests.Response):
        self.response = response
        self.length = (
            int(response.headers["Content-Length"]) if "Content-Length" in response.headers else None
        )

    def chunks(self) -> Iterator[bytes]:
        deadline = time.monotonic() + settings.IMAGE_IMPORT_TOTAL_TIMEOUT
        try:
            for chunk in self.response.iter_content(chunk_size=settings.IMAGE_CHUNK_SIZE):
                if time.monotonic() > deadline:
                    raise FetchError("The download took longer than allowed.")
                yield chunk
        except requests.RequestException as exc:
            raise FetchError(f"The download failed: {type(exc).__name__}.") from exc
        finally:
            self.response.close()


def open_url(url: str, headers: dict | None = None) -> Download:
    session = requests.Session()
    session.trust_env = False  # no proxies or netrc from the environment
    timeout = (settings.IMAGE_IMPORT_CONNECT_TIMEOUT, settings.IMAGE_IMPORT_READ_TIMEOUT)
    for _hop in range(settings.IMAGE_IMPORT_MAX_REDIRECTS + 1):
        check_url(url)
        try:
            response = session.get(
                url, headers=headers or {}, stream=True, timeout=timeout, allow_redirects=False
            )
        except requests.RequestException as exc:
            raise FetchError(f"The URL could not be fetched: {type(exc).__name__}.") from exc
        if response.is_redirect:
            location = response.headers.get("Location", "")
            response.close()
            url = urljoin(url, location)
            continue
        if response.status_code not in (200, 206):
            response.close()
            raise FetchError(f"The URL answered HTTP {response.status_code}.")
        return Download(response)
    raise FetchError("Too many redirects.")
