"""Fetching image data from a URL without letting the URL reach inside the network.

http/https only, allowed ports only, every address the name resolves to must be public (or in an
operator allow-list), every redirect hop is checked the same way, and reads have timeouts: one per
read (a silent server) and one for the whole fetch (a server that trickles), which holds for every
read, including those of the TLS handshake and the response headers.

The name is resolved once per hop and the connection goes to an address that was checked (the
Host header and, for https, SNI and certificate checks keep the name). Resolving again at
connect time would let a hostile DNS server answer "public" to the check and "127.0.0.1" to the
connection (DNS rebinding)."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError

from images.pipeline.errors import TransferError


class FetchError(TransferError):
    pass


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in settings.IMAGE_IMPORT_ALLOWED_NETWORKS]


# NAT64 (RFC 6052, RFC 8215): the well-known prefix carries the IPv4 address in its last 32 bits;
# where the local-use prefix puts it is the operator's choice, so nothing outside can judge it.
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
# Deprecated forms that only ever name internal or unroutable hosts: site-local (RFC 3879) and
# IPv4-compatible (RFC 4291) addresses.
SITE_LOCAL = ipaddress.IPv6Network("fec0::/10")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _wrapped_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses that traffic to ``ip`` really reaches through a relay or translator, or
    None when ``ip`` wraps none."""
    if ip.ipv4_mapped:
        return [ip.ipv4_mapped]
    if ip.sixtofour:
        return [ip.sixtofour]
    if ip.teredo:
        return list(ip.teredo)  # the relay (server) and the client behind it
    if ip in NAT64_WELL_KNOWN:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return None


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if any(ip in net for net in _allowed_networks()):
        return True
    return ip.is_global and not (ip.is_multicast or ip.is_reserved)


def _address_ok(address: str) -> bool:
    """Whether a fetch may connect to ``address``: a public address, or one in the operator's
    allow-list. An IPv6 address that wraps an IPv4 one is judged by the IPv4 address only, since
    that is the host a relay or translator connects to (so allowing a relay prefix lets nothing
    internal through)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv4Address):
        return _public(ip)
    wrapped = _wrapped_ipv4(ip)
    if wrapped is not None:
        return all(_public(inner) for inner in wrapped)
    if ip in SITE_LOCAL or ip in IPV4_COMPATIBLE or ip in NAT64_LOCAL_USE:
        return any(ip in net for net in _allowed_networks())
    return _public(ip)


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


class Deadline:
    """The wall-clock limit of one fetch, from the first connection to the last byte.

    A read timeout alone does not bound a fetch: a server that sends a byte now and then never
    lets one read time out. So a timer shuts down every socket of the fetch when the limit is
    reached, and whichever read is waiting (in the TLS handshake, the headers or the body) returns
    at once. The timer holds its own duplicate of each socket, so it never touches a descriptor
    that was closed and reused meanwhile; ``cancel`` closes the duplicates."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._ends = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.expired = self._cancelled = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def left(self) -> float:
        return self._ends - time.monotonic()

    def check(self) -> None:
        if self.expired or self.left() <= 0:
            raise self.error()

    def error(self) -> FetchError:
        return FetchError(f"The download took longer than the allowed {self.seconds:g} seconds.")

    # Cutting and closing the duplicates both happen under the lock: a duplicate is never shut
    # down while (or after) it is closed, when its descriptor number could already be reused.
    def watch(self, sock: socket.socket) -> None:
        duplicate = sock.dup()
        with self._lock:
            if self._cancelled:
                duplicate.close()
                return
            self._sockets.append(duplicate)
            if self.expired:
                _cut(duplicate)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _cut(sock)

    def cancel(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._cancelled = True
            for sock in self._sockets:
                sock.close()
            self._sockets = []


def _cut(sock: socket.socket) -> None:
    """End the connection for every holder of the socket: a read waiting on it returns."""
    with contextlib.suppress(OSError):  # closed already (by cancel, or the peer)
        sock.shutdown(socket.SHUT_RDWR)


class _Watched:
    """A urllib3 connection whose socket its fetch's deadline watches from the moment it exists."""

    def __init__(self, *args, deadline: Deadline, **kwargs):
        super().__init__(*args, **kwargs)
        self._deadline = deadline

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        self._deadline.watch(sock)
        return sock


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class Download:
    def __init__(self, response, pool, deadline: Deadline):
        self.response, self._pool, self._deadline = response, pool, deadline
        length = response.headers.get("Content-Length")
        self.length = int(length) if length and length.isdigit() else None

    def chunks(self) -> Chunks:
        return Chunks(self._read(), self.close)

    def _read(self) -> Iterator[bytes]:
        try:
            for chunk in self.response.stream(settings.IMAGE_CHUNK_SIZE, decode_content=False):
                self._deadline.check()
                yield chunk
        except (HTTPError, OSError) as exc:
            if self._deadline.expired:
                raise self._deadline.error() from exc
            raise FetchError(f"The download failed: {type(exc).__name__}.") from exc
        finally:
            self.close()

    def close(self) -> None:
        self._deadline.cancel()
        self.response.release_conn()
        self._pool.close()


class Chunks:
    """The body as an iterator whose ``close`` frees the connection even when nobody ever asked
    for a chunk (closing a generator that never started runs none of its cleanup)."""

    def __init__(self, chunks: Iterator[bytes], on_close):
        self._chunks, self._on_close = chunks, on_close

    def __iter__(self) -> Chunks:
        return self

    def __next__(self) -> bytes:
        return next(self._chunks)

    def close(self) -> None:
        self._chunks.close()
        self._on_close()


def _connect(target: Target, headers: dict, deadline: Deadline):
    """One GET to the checked address; no redirects, no retries, no proxies from the environment."""
    kwargs = {"timeout": _timeout(deadline), "retries": False, "maxsize": 1, "deadline": deadline}
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
        pool.ConnectionCls = _WatchedHTTPSConnection
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, **kwargs)
        pool.ConnectionCls = _WatchedHTTPConnection
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
        if deadline.expired:
            raise deadline.error() from exc
        raise FetchError(f"The URL could not be fetched: {type(exc).__name__}.") from exc
    if deadline.expired:
        # Cut in the middle of the headers: what was parsed of them is not the server's answer.
        response.release_conn()
        pool.close()
        raise deadline.error()
    return response, pool


def open_url(url: str, headers: dict | None = None) -> Download:
    """The response to a GET of ``url`` (after checked redirects), ready to stream. The whole
    fetch, streaming included, must end within IMAGE_IMPORT_TOTAL_TIMEOUT."""
    deadline = Deadline(settings.IMAGE_IMPORT_TOTAL_TIMEOUT)
    try:
        for _hop in range(settings.IMAGE_IMPORT_MAX_REDIRECTS + 1):
            deadline.check()
            target = check_url(url)
            response, pool = _connect(target, headers or {}, deadline)
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
            return Download(response, pool, deadline)
        raise FetchError("Too many redirects.")
    except BaseException:
        deadline.cancel()
        raise


def _timeout(deadline: Deadline) -> urllib3.Timeout:
    """Per-operation timeouts, never longer than what is left of the whole fetch."""
    left = max(deadline.left(), 0.001)
    return urllib3.Timeout(
        connect=min(settings.IMAGE_IMPORT_CONNECT_TIMEOUT, left),
        read=min(settings.IMAGE_IMPORT_READ_TIMEOUT, left),
    )
