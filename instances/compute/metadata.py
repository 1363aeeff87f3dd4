"""The metadata service at 169.254.169.254, as a compute host serves it in bridge mode.

A guest's request to 169.254.169.254:80 is redirected by the host's nftables to port
STRATUS_METADATA_PORT on its network's gateway (instances/virt/hostnet.py). The agent answers
there. Which instance asks is read from the connection alone, as Nova's metadata service does with
Neutron: the gateway address the request arrived on names the network, and the source address
names the instance on it. Nothing the guest sends (a header, a path, a query) can make it another
instance: the address is the instance's fixed address, and the host's rules keep one network's
traffic off the others.
"""

from __future__ import annotations

import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer

from django.db import close_old_connections, connection

from instances.models import Instance
from instances.services.guest_metadata import document

log = logging.getLogger(__name__)


def asking_instance(host_name: str, gateway: str, source: str) -> Instance | None:
    """The live instance of this host whose network has ``gateway`` and whose address is ``source``."""
    return (
        Instance.objects.alive()
        .select_related("network")
        .filter(host__name=host_name, network__gateway=gateway, address=source)
        .first()
    )


class MetadataServer:
    """A threaded HTTP server on ``port`` of every address of this host. It answers only requests
    that arrived on the gateway address of a network with an instance of this host; anything else
    (the host's other addresses, an address no instance holds) gets 404."""

    def __init__(self, host_name: str, port: int, address: str = "0.0.0.0", *, threaded: bool = True):
        """``threaded=False`` answers each request in the thread that calls ``handle_request`` (a
        test's, so that it sees the test's uncommitted rows)."""
        self.host_name = host_name
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "Stratus-Metadata"

            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                server.answer(self)

            def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
                log.debug("metadata %s: " + format, self.client_address[0], *args)

        self.httpd = (ThreadingHTTPServer if threaded else HTTPServer)((address, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="metadata", daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def start(self) -> MetadataServer:
        self.thread.start()
        log.info("metadata service on port %d", self.port)
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        gateway = request.connection.getsockname()[0]
        source = request.client_address[0]
        self._release_old_connections()
        try:
            instance = asking_instance(self.host_name, gateway, source)
            found = document(instance, request.path) if instance is not None else None
        finally:
            self._release_old_connections()
        if found is None:
            self._send(request, HTTPStatus.NOT_FOUND, "text/plain", b"Not Found\n")
            return
        self._send(request, HTTPStatus.OK, *found)

    @staticmethod
    def _release_old_connections() -> None:
        """Each request thread drops a connection that is broken or past its age. Not in the middle
        of a transaction, though: unthreaded, the request runs in the caller's thread, and its open
        transaction is not ours to end (closing it there kills the caller's connection)."""
        if not connection.in_atomic_block:
            close_old_connections()

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: HTTPStatus, content_type: str, body: bytes) -> None:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
