"""Browser consoles of instances (noVNC through the console proxy), written once: issuing a console
token, checking it when a websocket arrives, finding the guest's VNC server, and what closes an
open console. Shared by the Compute API (remote-consoles, os-getVNCConsole), the dashboard's
Console tab, the proxy (instances/compute/console_proxy.py) and the agents' VNC relay
(instances/compute/vnc_relay.py).

A console URL carries a random token; the database keeps only its SHA-256 digest, the instance it
opens and when it expires (STRATUS_CONSOLE_TOKEN_TTL). A websocket is accepted only with a token
that is known, unexpired and bound to the instance the websocket names, of an instance that runs.
Stopping, suspending or deleting the instance revokes its tokens, and the proxy re-checks every
open console (STRATUS_CONSOLE_RECHECK_INTERVAL), so those consoles close.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from dashboard.api.urls import base_url
from dashboard.exceptions import BadRequest, Conflict, StratusError
from instances.choices import TaskState, VmState
from instances.models import ComputeHost, ConsoleToken, Instance
from instances.virt import vnc

# Nova's console protocols and the types of each; Stratus serves vnc/novnc.
PROTOCOL_TYPES = {
    "vnc": ("novnc", "xvpvnc"),
    "spice": ("spice-html5", "spice-direct"),
    "rdp": ("rdp-html5",),
    "serial": ("serial",),
    "mks": ("webmks",),
}
SUPPORTED = {("vnc", "novnc")}
# The vm_states whose guest has a live QEMU process, hence a screen.
RUNNING = (VmState.ACTIVE, VmState.PAUSED)
# Task states after which the guest will not run (its consoles close at once).
ENDING = {
    TaskState.DELETING: "The instance is being deleted.",
    TaskState.POWERING_OFF: "The instance is being stopped.",
    TaskState.SUSPENDING: "The instance is being suspended.",
}


class ConsoleTypeUnavailable(BadRequest):
    """Nova's 400 for a console type the cloud does not offer."""


class ConsoleUnavailable(Conflict):
    """Nova's 409 (InstanceNotReady): the instance has no console now."""


class ConsoleRefused(StratusError):
    """The proxy (or a host's relay) turns a websocket away; the message says why."""

    status = 403
    title = "Forbidden"


@dataclass(frozen=True)
class Endpoint:
    """Where the proxy finds a guest's VNC server: its unix socket when the guest's host is this
    machine, else the VNC relay of the host's agent."""

    socket: Path | None = None
    relay: tuple[str, int] | None = None


@dataclass(frozen=True)
class Grant:
    """What a checked token opens: the console of one instance on one host."""

    token_id: int
    instance_id: str
    host: ComputeHost


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@functools.cache
def this_machine() -> str:
    """What tells this machine from others: STRATUS_MACHINE_ID, else /etc/machine-id and the host
    name (containers of one image share a machine-id, not a host name)."""
    if settings.MACHINE_ID:
        return settings.MACHINE_ID
    try:
        machine_id = Path("/etc/machine-id").read_text().strip()
    except OSError:
        machine_id = ""
    return f"{machine_id}/{socket.gethostname()}"


def host_console(socket_dir: Path | None) -> dict[str, str]:
    """What a compute agent records in its host's capabilities for the proxies: its machine, the
    dir of its guests' VNC sockets (empty: its guests have no screen) and its VNC relay's address."""
    return {
        "machine": this_machine(),
        "sockets": str(socket_dir) if socket_dir is not None else "",
        "relay": settings.CONSOLE_VNC_ADDRESS,
    }


def unavailable_reason(instance: Instance, *, check_host: bool = True) -> str:
    """Why the instance cannot have a console now, or "" when it can."""
    if instance.deleted or instance.vm_state == VmState.DELETED:
        return "The instance was deleted."
    if instance.task_state in ENDING:
        return ENDING[instance.task_state]
    if instance.vm_state not in RUNNING:
        return f"The instance is not running (it is {instance.status})."
    if check_host and (instance.host is None or not instance.host.is_up):
        return "The instance's compute host is not available."
    return ""


# --- issuing and revoking ----------------------------------------------------------------------


def check_type(protocol: str, console_type: str) -> None:
    if (protocol, console_type) not in SUPPORTED:
        raise ConsoleTypeUnavailable(f"Unavailable console type {console_type}.")


def issue(user, instance: Instance, console_type: str = "novnc") -> str:
    """A new console token for the instance (its digest stored); ConsoleUnavailable if it does
    not run. Expired tokens of every instance are cleared on the way."""
    reason = unavailable_reason(instance)
    if reason:
        raise ConsoleUnavailable(f"Instance {instance.pk} is not ready: {reason}")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    ConsoleToken.objects.expired().delete()
    ConsoleToken.objects.create(
        digest=digest(token),
        instance=instance,
        console_type=console_type,
        user=user,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.CONSOLE_TOKEN_TTL),
    )
    return token


def revoke(instance_id) -> int:
    """Forget every console token of the instance: no new console connects with them, and the
    proxy closes the open ones at its next check."""
    deleted, _ = ConsoleToken.objects.filter(instance_id=instance_id).delete()
    return deleted


# --- checking, at the proxy and at a host's relay ----------------------------------------------


def lookup(token: str) -> ConsoleToken:
    """The unexpired token row (with its instance and host), or ConsoleRefused."""
    found = ConsoleToken.objects.select_related("instance", "instance__host").filter(digest=digest(token))
    row = found.first()
    if row is None:
        raise ConsoleRefused("The console token is not valid.")
    if row.expires_at <= timezone.now():
        raise ConsoleRefused("The console token has expired.")
    return row


def check(token: str | None, instance_id: str | None, *, host_name: str | None = None) -> Grant:
    """The grant of ``token`` for ``instance_id``, or ConsoleRefused saying why not. With
    ``host_name`` (a host's relay), the instance must also be on that host."""
    if not token:
        raise ConsoleRefused("The console URL carries no token.")
    try:
        wanted = str(uuid.UUID(instance_id or ""))
    except ValueError as exc:
        raise ConsoleRefused("The console URL names no instance.") from exc
    row = lookup(token)
    if str(row.instance_id) != wanted:
        raise ConsoleRefused("The console token is not valid for this instance.")
    instance = row.instance
    reason = unavailable_reason(instance)
    if reason:
        raise ConsoleRefused(reason)
    if host_name is not None and instance.host.name != host_name:
        raise ConsoleRefused(f"The instance is not on host {host_name}.")
    return Grant(token_id=row.pk, instance_id=wanted, host=instance.host)


def endpoint(grant: Grant) -> Endpoint:
    """Where this machine reaches the guest's VNC server, from what the host's agent recorded."""
    console = grant.host.capabilities.get("console") or {}
    if not console.get("sockets"):
        raise ConsoleRefused(f"The guests of compute host {grant.host.name} have no screen.")
    if console.get("machine") == this_machine():
        return Endpoint(socket=vnc.socket_path(console["sockets"], grant.instance_id))
    relay = console.get("relay") or ""
    address, _, port = relay.rpartition(":")
    if not (address and port.isdigit()):
        raise ConsoleRefused(
            f"Compute host {grant.host.name} is another machine and serves no VNC relay "
            "(set STRATUS_CONSOLE_VNC_LISTEN on it)."
        )
    return Endpoint(relay=(address.strip("[]"), int(port)))


def closing_reason(grant: Grant) -> str:
    """Why an open console must close now ("" while it may stay open): its instance no longer
    runs, or its token was revoked. An expired token does not end a console that is open, and
    neither does a missed heartbeat of the host (the guest may well run on)."""
    instance = Instance.objects.filter(pk=grant.instance_id).first()
    if instance is None:
        return "The instance was deleted."
    reason = unavailable_reason(instance, check_host=False)
    if reason:
        return reason
    if not ConsoleToken.objects.filter(pk=grant.token_id).exists():
        return "The console was revoked."
    return ""


# --- URLs ------------------------------------------------------------------------------------


def page_url(request, token: str) -> str:
    """The console page a token opens (the URL the Compute API hands out)."""
    return f"{base_url(request)}{reverse('console-page')}?{urlencode({'token': token})}"


def websocket_url(request) -> str:
    """Where browsers reach the console proxy: STRATUS_CONSOLE_PUBLIC_URL, else the proxy's port on
    the host the page was served from."""
    if settings.CONSOLE_PUBLIC_URL:
        return settings.CONSOLE_PUBLIC_URL
    host = urlsplit(f"//{request.get_host()}").hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{host}:{settings.CONSOLE_PROXY_PORT}/"


def websocket_origin(url: str) -> str:
    """The scheme, host and port of a websocket URL: what the page's CSP connect-src names."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
