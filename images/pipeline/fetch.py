"""Fetching image data from a URL without letting the URL reach inside the network.

http/https only, allowed ports only, every address the name resolves to must be public (or in an
operator allow-list), every redirect hop is checked the same way, and reads have timeouts.

The name is resolved once per hop and the connection goes to an address that was checked (the
Host header and, for https, SNI and certificate checks keep the name). Resolving again at
connect time would let a hostile DNS server answer "public" to the check and "127.0.0.1" to the
connection (DNS rebinding)."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from django.conf import settings
from urllib3.exceptions import HTTPError

from images.pipeline.errors import TransferError


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


@dataclass(frozen=True)
class Target:
    """A URL that passed the checks, with the address it resolved to at that moment."""

    scheme: str
    hostname: str
    port: int
    address: str
    path: str  # path and query, as sent in the request line
    host_header: str


def check_url(url: str) -> Target:
    """Refuse a URL whose scheme, port or any resolved address is not allowed; else the target
    to connect to."""
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
    default_port = 443 if parts.scheme == "https" else 80
    port = port or default_port
    if settings.IMAGE_IMPORT_ALLOWED_PORTS and port not in settings.IMAGE_IMPORT_ALLOWED_PORTS:
        raise FetchError(f"Port {port} is not allowed for URL imports.")
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"The host {parts.hostname!r} could not be resolved.") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses or not all(_address_ok(a) for a in addresses):
        raise FetchError(f"The host {parts.hostname!r} resolves to an address that is not allowed.")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return Target(
        scheme=parts.scheme,
        hostname=parts.hostname,
        port=port,
        address=addresses[0],
        path=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
        host_header=host if port == default_port else f"{host}:{port}",
    )


class Download:
    def __init__(self, response, pool):
        self.response, self._pool = response, pool
        length = response.headers.get("Content-Length")
        self.length = int(length) if length and length.isdigit() else None

    def chunks(self) -> Iterator[bytes]:
        deadline = time.monotonic() + settings.IMAGE_IMPORT_TOTAL_TIMEOUT
        try:
            for chunk in self.response.stream(settings.IMAGE_CHUNK_SIZE, decode_content=False):
                if time.monotonic() > deadline:
                    raise FetchError("The download took longer than allowed.")
                yield chunk
        except (HTTPError, OSError) as exc:
            raise FetchError(f"The download failed: {type(exc).__name__}.") from exc
        finally:
            self.close()

    def close(self) -> None:
        self.response.release_conn()
        self._pool.close()


def _connect(target: Target, headers: dict, timeout):
    """One GET to the checked address; no redirects, no retries, no proxies from the environment."""
    kwargs = {"timeout": timeout, "retries": False, "maxsize": 1}
    if target.scheme == "https":
        # Connect to the address, but verify the certificate and send SNI for the name.
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            server_hostname=target.hostname,
            assert_hostname=target.hostname,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            **kwargs,
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, **kwargs)
    try:
        response = pool.urlopen(
            "GET",
            target.path,
            headers={"Host": target.host_header, "Accept-Encoding": "identity", **headers},
            redirect=False,
            preload_content=False,
            assert_same_host=False,
        )
    except (HTTPError, OSError) as exc:
        pool.close()
        raise FetchError(f"The URL could not be fetched: {type(exc).__name__}.") from exc
    return response, pool


def open_url(url: str, headers: dict | None = None) -> Download:
    timeout = _timeout()
    for _hop in range(settings.IMAGE_IMPORT_MAX_REDIRECTS + 1):
        target = check_url(url)
        response, pool = _connect(target, headers or {}, timeout)
        if response.status in (301, 302, 303, 307, 308):
            location = response.headers.get("Location", "")
            response.release_conn()
            pool.close()
            url = urljoin(url, location)
            continue
        if response.status not in (200, 206):
            response.release_conn()
            pool.close()
            raise FetchError(f"The URL answered HTTP {response.status}.")
        return Download(response, pool)
    raise FetchError("Too many redirects.")


def _timeout():
    return urllib3.Timeout(
        connect=settings.IMAGE_IMPORT_CONNECT_TIMEOUT, read=settings.IMAGE_IMPORT_READ_TIMEOUT
    )
