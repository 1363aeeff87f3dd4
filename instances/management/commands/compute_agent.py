"""Run the compute agent of one host: register it, heal what a crash left, send heartbeats, and
consume the host's queue ``compute.<host>`` with a threaded Celery worker."""

from __future__ import annotations

import logging
import socket
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dashboard.celery import app
from dashboard.identity.service import COMPUTE_USER, ServiceIdentityConflict, service_identity
from instances.compute import agent, networking
from instances.compute.manager import ComputeManager
from instances.compute.metadata import MetadataServer
from instances.compute.transfer import TransferServer
from instances.compute.vnc_relay import VncRelay
from instances.virt import VirtError, get_driver

log = logging.getLogger("instances.compute.agent")


class Command(BaseCommand):
    help = "Run the compute agent for one hypervisor host (a Celery worker on compute.<host>)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=socket.gethostname().split(".")[0], help="Host name.")
        parser.add_argument("--availability-zone", default="nova")
        parser.add_argument(
            "--state-dir", default=None, help="Instance dirs and image cache (default: <compute dir>/<host>)."
        )
        parser.add_argument("--concurrency", type=int, default=settings.COMPUTE_AGENT_CONCURRENCY)
        parser.add_argument("--vcpus", type=int, default=0, help="Offer at most this many vCPUs.")
        parser.add_argument("--memory-mb", type=int, default=0, help="Offer at most this much RAM.")
        parser.add_argument("--disk-gb", type=int, default=0, help="Offer at most this much disk.")
        parser.add_argument("--loglevel", default="INFO")
        parser.add_argument(
            "--stop-guests",
            action="store_true",
            help="Do not run: power off the host's guests, record them SHUTOFF, remove all host networking.",
        )

    def handle(self, *args, **opts) -> None:
        host = opts["host"]
        if not host or any(c in host for c in " /:"):
            raise CommandError(f"Invalid host name {host!r}.")
        if settings.CONTROLLER_URL:
            # A host that joins a controller from another machine: fail now, not at its first launch.
            try:
                with urllib.request.urlopen(f"{settings.CONTROLLER_URL}/healthz", timeout=10):
                    pass
            except (urllib.error.URLError, OSError) as exc:
                raise CommandError(
                    f"The controller's API at STRATUS_CONTROLLER_URL={settings.CONTROLLER_URL} "
                    f"cannot be reached: {exc}"
                ) from exc
            # Its image data comes through the image API as the compute service identity.
            try:
                service_identity(COMPUTE_USER)
            except ServiceIdentityConflict as exc:
                raise CommandError(str(exc)) from exc
        state_dir = agent.state_dir_for(host, opts["state_dir"])
        try:
            driver = get_driver(state_dir=state_dir)
        except VirtError as exc:
            raise CommandError(str(exc)) from exc
        try:
            network, mode = networking.choose(state_dir)
        except networking.NetworkingUnavailable as exc:
            raise CommandError(str(exc)) from exc
        manager = ComputeManager(host, driver, state_dir, network=network, network_mode=mode)
        if opts["stop_guests"]:
            stopped = agent.stop_guests(manager)
            manager.sync_networks()
            self.stdout.write(f"compute host {host}: stopped {stopped} guests; host networking removed")
            return
        agent.configure(manager)
        # Cold migration to hosts that share no file system fetch the disks from here.
        transfer_server = TransferServer(
            host, settings.COMPUTE_TRANSFER_LISTEN, state_dir / "resize", settings.COMPUTE_TRANSFER_ADDRESS
        ).start()
        manager.transfer_url = transfer_server.url
        if settings.CONTROLLER_URL and transfer_server.address.startswith(("127.", "localhost")):
            log.warning(
                "the disk transfer endpoint %s is reachable from this machine only: set "
                "STRATUS_COMPUTE_TRANSFER_LISTEN (and _ADDRESS) for migrations to other machines",
                transfer_server.url,
            )
        row = agent.register(
            manager,
            opts["availability_zone"],
            {"vcpus": opts["vcpus"], "memory_mb": opts["memory_mb"], "disk_gb": opts["disk_gb"]},
        )
        counts = agent.heal(manager)
        counts["network"] = manager.sync_networks()
        self.stdout.write(
            f"compute host {host} ({row.hypervisor_type}, {row.vcpus} vCPU, {row.memory_mb} MB, "
            f"{row.local_gb} GB) in zone {row.availability_zone}; healed {counts}"
        )
        heartbeat = agent.Heartbeat(host, settings.COMPUTE_HEARTBEAT_INTERVAL)
        heartbeat.start()
        # Bridge mode: guests' requests to 169.254.169.254 arrive on their gateway's metadata port.
        metadata = MetadataServer(host, settings.METADATA_PORT).start() if manager.networks else None
        # Console proxies on other machines reach the guests' screens through the VNC relay.
        socket_dir = driver.vnc_socket_dir()
        relay = None
        if settings.CONSOLE_VNC_LISTEN and socket_dir is not None:
            relay = VncRelay(host, settings.CONSOLE_VNC_LISTEN, socket_dir).start()

        worker = app.Worker(
            queues=[f"compute.{host}"],
            pool="threads",
            concurrency=opts["concurrency"],
            hostname=f"compute@{host}",
            loglevel=opts["loglevel"],
            without_mingle=True,
            without_gossip=True,
        )
        try:
            worker.start()
        finally:
            heartbeat.stopped.set()
            transfer_server.stop()
            if metadata is not None:
                metadata.stop()
            if relay is not None:
                relay.stop()
            # Guests outlive the agent, and so does their networking; the rest goes.
            manager.sync_networks()
        raise SystemExit(worker.exitcode)
