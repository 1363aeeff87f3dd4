"""The console proxy (``manage.py console_proxy``): browsers' websockets to the guests' VNC servers,
built on websockify.

Browsers connect to ``ws(s)://<proxy>/?instance=<id>&token=<console token>`` (the Console tab and
the console page build it; see consoles.websocket_url). The token plugin checks the token before
the websocket handshake, and a refusal is an HTTP 403 whose reason names what was wrong; nothing
else is served (a plain GET is 405). An accepted console is spliced to the guest's VNC server: its
unix socket when the guest's host is this machine, else the host agent's VNC relay
(instances/compute/vnc_relay.py), which checks the token again.

websockify runs each connection in a forked process. The listening process never opens a database
connection (a forked child must not share one); each child opens its own. While a console is open
a thread of its process re-checks every STRATUS_CONSOLE_RECHECK_INTERVAL seconds that the instance
still runs and the token still stands; when not, it ends the guest side and the browser's websocket
is closed with the reason.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db import DatabaseError, connections
from websockify.token_plugins import BasePlugin
from websockify.websocketproxy import ProxyRequestHandler, WebSocketProxy

from instances.compute import vnc_relay
from instances.services import consoles
from instances.virt import VirtError, vnc

log = logging.getLogger(__name__)

# A websocket close frame's reason is at most 123 bytes.
MAX_REASON = 120
# websockify wraps a connection that opens with a TLS hello using this certificate: one that can
# never exist turns TLS away (terminate TLS in front of the proxy, or set STRATUS_CONSOLE_PROXY_CERT).
NO_CERTIFICATE = "/dev/null/no-certificate"
_TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s'\"]+")


class ConsoleTokenPlugin(BasePlugin):
    """websockify's token plugin, backed by the console tokens in the database. ``lookup`` is
    websockify's interface (a token to a target); the handler below calls ``grant`` and
    ``endpoint`` so that it can refuse with a reason and keep checking the open console."""

    def __init__(self, src: str | None = None):
        super().__init__(src)  # websockify's plugins take a source; the database is ours

    def grant(self, token: str | None, instance_id: str | None) -> consoles.Grant:
        return consoles.check(token, instance_id)

    def endpoint(self, grant: consoles.Grant) -> consoles.Endpoint:
        return consoles.endpoint(grant)

    def lookup(self, token: str, instance_id: str | None = None):
        try:
            found = self.endpoint(self.grant(token, instance_id))
        except consoles.ConsoleRefused:
            return None
        if found.socket is not None:
            return ("unix_socket", str(found.socket))
        return found.relay


class ConsoleRequestHandler(ProxyRequestHandler):
    grant: consoles.Grant | None = None
    endpoint: consoles.Endpoint | None = None
    token: str = ""
    # Why the proxy itself ends the console (set by the watcher), sent as the close reason.
    close_reason: str = ""

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        # Console tokens never reach the log (websockify logs the request path).
        super().log_message("%s", _TOKEN_IN_TEXT.sub(r"\1…", format % args))

    def handle_upgrade(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        self.token = (query.get("token") or [""])[0]
        try:
            self.grant = self.server.token_plugin.grant(self.token, (query.get("instance") or [""])[0])
            self.endpoint = self.server.token_plugin.endpoint(self.grant)
        except consoles.ConsoleRefused as exc:
            self.log_message("console refused: %s", exc.message)
            self.send_error(HTTPStatus.FORBIDDEN, exc.message)
            self.close_connection = True
            return
        finally:
            connections.close_all()
        super().handle_upgrade()

    def validate_connection(self) -> None:
        """Checked in handle_upgrade already, where a refusal can still be an HTTP answer."""

    def new_websocket_client(self) -> None:
        try:
            guest = self._open_guest()
        except (VirtError, OSError, vnc_relay.RelayRefused) as exc:
            self.log_message("console of instance %s unreachable: %s", self.grant.instance_id, exc)
            raise self.CClose(1011, "The guest's screen cannot be reached.") from exc
        self.log_message("console of instance %s opened", self.grant.instance_id)
        stop = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(guest, stop), name="console-watch", daemon=True)
        watcher.start()
        try:
            self.do_proxy(guest)
        finally:
            stop.set()
            with contextlib.suppress(OSError):
                guest.shutdown(socket.SHUT_RDWR)
            guest.close()
            watcher.join(5)

    def _open_guest(self) -> socket.socket:
        if self.endpoint.socket is not None:
            return vnc.connect_unix(self.endpoint.socket)
        return vnc_relay.connect(self.endpoint.relay, self.token, self.grant.instance_id)

    def _watch(self, guest: socket.socket, stop: threading.Event) -> None:
        """Every interval: may the console stay open? If not, end the guest side; the proxy loop
        then closes the websocket (send_close gives the reason)."""
        try:
            while not stop.wait(settings.CONSOLE_RECHECK_INTERVAL):
                try:
                    reason = consoles.closing_reason(self.grant)
                except DatabaseError as exc:
                    log.warning("console of instance %s: check failed: %s", self.grant.instance_id, exc)
                    continue
                if reason:
                    self.close_reason = reason
                    self.log_message("closing the console of instance %s: %s", self.grant.instance_id, reason)
                    with contextlib.suppress(OSError):
                        guest.shutdown(socket.SHUT_RDWR)
                    return
        finally:
            connections.close_all()

    def send_close(self, code: int = 1000, reason: str = "") -> None:
        if self.close_reason:
            code, reason = 1000, self.close_reason
        elif reason == "Target closed" and self.grant is not None:
            # QEMU ended the stream: say why if the instance no longer runs.
            try:
                reason = consoles.closing_reason(self.grant) or "The guest's screen closed."
            except DatabaseError:
                reason = "The guest's screen closed."
            finally:
                connections.close_all()
        super().send_close(code, reason[:MAX_REASON])


class ConsoleProxy(WebSocketProxy):
    def __init__(self, host: str, port: int, *, cert: str = ""):
        super().__init__(
            RequestHandlerClass=ConsoleRequestHandler,
            listen_host=host,
            listen_port=port,
            token_plugin=ConsoleTokenPlugin(),
            cert=cert or NO_CERTIFICATE,
            # A ping now and then: a browser that vanished is noticed, its process ends.
            heartbeat=30,
        )
