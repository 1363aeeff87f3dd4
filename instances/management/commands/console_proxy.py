"""Run the console proxy: browsers' noVNC websockets to the guests' VNC servers (see
instances/compute/console_proxy.py)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections

from instances.compute.console_proxy import ConsoleProxy


class Command(BaseCommand):
    help = "Run the console proxy (websockify) that connects browsers' consoles to the guests."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=settings.CONSOLE_PROXY_BIND, help="Address to listen on.")
        parser.add_argument(
            "--port", type=int, default=settings.CONSOLE_PROXY_PORT, help="Port to listen on."
        )

    def handle(self, *args, bind: str, port: int, **options) -> None:
        # Each console runs in a forked process with its own database connection; the listener
        # must hold none for them to inherit.
        connections.close_all()
        proxy = ConsoleProxy(bind, port, cert=settings.CONSOLE_PROXY_CERT)
        self.stdout.write(f"console proxy on {bind}:{port}, tokens valid {settings.CONSOLE_TOKEN_TTL} s")
        self.stdout.flush()
        proxy.start_server()
