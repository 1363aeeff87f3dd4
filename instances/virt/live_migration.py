"""Live migration of a running QEMU guest to another host, with its local disks copied.

The two QEMU processes talk to each other directly; the agents only set the stage over QMP:

1. Destination (``prepare_incoming``): a QEMU started with ``-incoming defer -S`` on disks the
   caller created; an NBD server on a socket we opened (so its port is known without a race),
   each writable disk exported through it, and ``migrate-incoming`` on port 0 of the migration
   address (QEMU reports the port it got). The answer is an ``IncomingEndpoint``.
2. Source (``migrate_to``): each exported disk gets an NBD client node and a ``blockdev-mirror``
   onto it; once every mirror is ready (in sync, and kept in sync by ``write-blocking``), the
   RAM goes with ``migrate``. When that completes the source's vCPUs are stopped, so nothing
   writes any more: the mirrors are cancelled, which ends a ready mirror without a pivot and
   leaves the target identical to the source. The source stays paused (``postmigrate``) until
   the destination runs, so a failure up to that point can still go back to it.
3. Destination (``finish_incoming``): the NBD server stops and the vCPUs start (``-S`` kept
   them stopped until the copies were complete: the guest never runs on a disk still being
   written).

Any failure before step 3 leaves the source running (``migrate_cancel``, the mirrors forced to
stop, ``cont`` if the migration had stopped it: QEMU re-activates the source's images then) and
``resume_source`` does the same for a destination that failed in step 3; the caller destroys the
destination guest and its disks.

Disks that are qcow2 overlays on a cached base image are mirrored with ``sync=top``: only the
clusters the guest wrote travel, and the destination's disk is a new overlay (created by the
caller) on its own cached copy of the same base image, which its agent fetches and verifies
against the image's hash as for a build. This is what Nova does with its image-backed disks, and
it keeps the layout every other action expects (an overlay on ``_base``, rebased by resize).
Copying the whole virtual disk into a flat image (``sync=full``) would send gigabytes of the base
image the destination can read from its cache anyway, and the flat disk would differ from every
other instance's. Blank disks (ephemeral, swap, an ISO guest's root) have no backing file, so
``top`` copies all of them. Read-only disks (the config drive, the ISO) are not copied: the
destination has its own identical copies.

The NBD export and the migration stream are plain TCP without authentication, as libvirt's
defaults are: the migration address must be on a network only compute hosts can reach.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from instances.virt.base import GuestSpec, IncomingEndpoint, VirtError
from instances.virt.qmp import QMPError

if TYPE_CHECKING:
    from instances.virt.qemu import QemuDriver

TIMEOUT = 600.0  # mirrors getting in sync, then the RAM copy converging
POLL = 0.05
NBD_LISTEN_FD = "migration-nbd"
# QEMU 7.2 sends RAM at 32 MiB/s unless told otherwise; compute hosts are on a fast network.
MAX_BANDWIDTH = 1024**3
DOWNTIME_LIMIT_MS = 300


def _uri_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _check_address(address: str) -> None:
    try:
        ipaddress.ip_address(address)
    except ValueError as exc:
        raise VirtError(f"the migration address {address!r} must be an IP address") from exc


def _wait(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            raise VirtError(f"{what} did not happen within {timeout:.0f}s")
        time.sleep(POLL)


# -- destination ---------------------------------------------------------------------------------


def prepare_incoming(
    driver: QemuDriver, spec: GuestSpec, address: str, shared: tuple[str, ...] = ()
) -> IncomingEndpoint:
    """Start the destination guest waiting for the migration (see the module's step 1). The disks
    named in ``shared`` are files both hosts reach (volumes): they are not copied; QEMU opens them
    here without taking their locks until the guest arrives. On any failure the destination QEMU
    is stopped and its runtime files removed; the disks are the caller's."""
    _check_address(address)
    uuid = spec.uuid
    if driver._pid(uuid) is not None:
        raise VirtError(f"guest {uuid} already runs on this host")
    driver.dirs.save_spec(spec)
    try:
        driver._start(spec, incoming=True, paused=True)
        listener = socket.create_server((address, 0), family=_family(address))
        try:
            nbd_port = listener.getsockname()[1]
            with driver._qmp(uuid, timeout=30) as qmp:
                qmp.execute("getfd", fds=[listener.fileno()], fdname=NBD_LISTEN_FD)
                qmp.execute("nbd-server-start", addr={"type": "fd", "data": {"str": NBD_LISTEN_FD}})
        finally:
            listener.close()  # QEMU holds its own copy of the listening socket now
        exports = tuple(
            d.target
            for d in sorted(spec.disks, key=lambda d: d.target)
            if not d.readonly and d.target not in shared
        )
        with driver._qmp(uuid, timeout=30) as qmp:
            for target in exports:
                export = {"id": f"migration-{target}", "node-name": f"fmt-{target}", "name": target}
                qmp.execute("block-export-add", type="nbd", writable=True, **export)
            qmp.execute("migrate-incoming", uri=f"tcp:{_uri_host(address)}:0")
            listening = (qmp.execute("query-migrate") or {}).get("socket-address") or []
        ports = [int(a["port"]) for a in listening if a.get("type") == "inet"]
        if not ports:
            raise VirtError(f"QEMU did not say where guest {uuid} waits for its migration: {listening}")
        return IncomingEndpoint(address, nbd_port, ports[0], exports)
    except (VirtError, OSError) as exc:
        driver._kill(uuid)
        driver.dirs.remove(uuid)
        if isinstance(exc, OSError):
            raise VirtError(f"could not prepare guest {uuid} for its migration: {exc}") from exc
        raise


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET


def finish_incoming(driver: QemuDriver, uuid: str, running: bool = True, console_before: str = "") -> None:
    """The migration is complete and the source's mirrors have ended: stop exporting the disks and
    start the vCPUs (a guest that was paused on the source stays paused). ``console_before`` goes
    into the console log first: QEMU appends to it, and the guest has written nothing here yet."""
    if console_before:
        log = driver.dirs.dir(uuid) / "console.log"
        if not log.exists() or log.stat().st_size == 0:  # not again on a second delivery
            with open(log, "ab") as fh:
                fh.write(console_before.encode())
    with driver._qmp(uuid, timeout=30) as qmp:
        status = qmp.execute("query-migrate") or {}
        if status.get("status") != "completed":
            raise VirtError(f"the migration of guest {uuid} is not complete here ({status.get('status')})")
        qmp.execute("nbd-server-stop")
        if running:
            qmp.execute("cont")
            state = qmp.execute("query-status")["status"]
            if state != "running":
                raise VirtError(f"guest {uuid} is {state} after the migration, not running")


# -- source --------------------------------------------------------------------------------------


def migrate_to(
    driver: QemuDriver,
    uuid: str,
    endpoint: IncomingEndpoint,
    timeout: float = TIMEOUT,
    shared: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Copy the disks (all writable ones but those in ``shared``) and the memory to the prepared
    destination (the module's step 2). Returns with the source paused and complete on the
    destination, with QEMU's figures of the memory copy (``query-migrate``: total-time and
    downtime in ms, ram bytes); raises VirtError with the source running as before."""
    driver._running_pid(uuid)
    spec = driver.dirs.load_spec(uuid)
    for target in endpoint.exports:
        disk = spec.disk(target)
        if disk is None or disk.readonly:
            raise VirtError(f"guest {uuid} has no writable disk {target} to copy")
    missing = [
        d.target for d in spec.disks if not d.readonly and d.target not in (*endpoint.exports, *shared)
    ]
    if missing:
        raise VirtError(f"the destination has no disk for {', '.join(missing)} of guest {uuid}")
    qmp = _Session(driver, uuid)
    was_running = qmp("query-status")["status"] == "running"
    jobs: list[str] = []
    nodes: list[str] = []
    try:
        for target in endpoint.exports:
            node = f"migration-nbd-{target}"
            server = {"type": "inet", "host": endpoint.address, "port": str(endpoint.nbd_port)}
            qmp("blockdev-add", driver="nbd", **{"node-name": node}, server=server, export=target)
            nodes.append(node)
            job = f"migration-{target}"
            qmp(
                "blockdev-mirror", **{"job-id": job, "copy-mode": "write-blocking", "auto-dismiss": False},
                device=f"fmt-{target}", target=node, sync="top",
            )  # fmt: skip
            jobs.append(job)
        deadline = time.monotonic() + timeout
        _wait(f"the disk copies of guest {uuid} getting in sync", lambda: _jobs_ready(qmp, jobs), timeout)
        qmp("migrate-set-parameters", **{"max-bandwidth": MAX_BANDWIDTH, "downtime-limit": DOWNTIME_LIMIT_MS})
        qmp("migrate", uri=f"tcp:{_uri_host(endpoint.address)}:{endpoint.migration_port}")
        _wait(
            f"the memory copy of guest {uuid}",
            lambda: _migration_done(qmp),
            max(1.0, deadline - time.monotonic()),
        )
        figures = qmp("query-migrate") or {}
        for job in jobs:
            # A ready mirror that is cancelled completes without a pivot: the source keeps its disk.
            qmp("block-job-cancel", device=job)
        _wait(f"the disk copies of guest {uuid} ending", lambda: _jobs_concluded(qmp, jobs), 60)
        jobs.clear()
        for node in reversed(nodes):
            qmp("blockdev-del", **{"node-name": node})
        nodes.clear()
    except VirtError:
        _roll_back(qmp, jobs, nodes, was_running)
        raise
    return figures


def resume_source(driver: QemuDriver, uuid: str) -> None:
    """The destination failed after the memory copy: the source (paused since) runs again."""
    driver._running_pid(uuid)
    with driver._qmp(uuid, timeout=30) as qmp:
        if qmp.execute("query-status")["status"] in ("postmigrate", "paused", "finish-migrate"):
            qmp.execute("cont")


class _Session:
    """One short QMP connection per command: QEMU serves one QMP client at a time, and a migration
    takes long enough that a held connection would shut out the agent's other work on the guest."""

    def __init__(self, driver: QemuDriver, uuid: str):
        self.driver, self.uuid = driver, uuid

    def __call__(self, command: str, **arguments: Any) -> Any:
        with self.driver._qmp(self.uuid, timeout=30) as qmp:
            return qmp.execute(command, **arguments)


def _jobs(qmp: _Session, names: list[str]) -> dict[str, dict]:
    found = {job["device"]: job for job in qmp("query-block-jobs")}
    for name in names:
        job = found.get(name)
        if job is None:
            raise VirtError(f"disk copy {name} ended unexpectedly")
        if job.get("status") == "concluded" and job.get("error"):
            raise VirtError(f"disk copy {name} failed: {job['error']}")
    return found


def _jobs_ready(qmp: _Session, names: list[str]) -> bool:
    found = _jobs(qmp, names)
    for name in names:
        if found[name].get("status") == "concluded":
            raise VirtError(f"disk copy {name} ended before it was in sync")
    return all(found[name].get("ready") for name in names)


def _jobs_concluded(qmp: _Session, names: list[str]) -> bool:
    found = _jobs(qmp, names)
    if not all(found[name].get("status") == "concluded" for name in names):
        return False
    for name in names:
        qmp("job-dismiss", id=name)
    return True


def _migration_done(qmp: _Session) -> bool:
    info = qmp("query-migrate") or {}
    status = info.get("status", "")
    if status == "completed":
        return True
    if status in ("failed", "cancelled"):
        raise VirtError(f"the memory copy {status}: {info.get('error-desc', 'no reason given')}")
    return False


def _roll_back(qmp: _Session, jobs: list[str], nodes: list[str], was_running: bool) -> None:
    """Undo what migrate_to started on the source; every step is tried whatever the others did."""
    steps: list[tuple[str, dict]] = [("migrate_cancel", {})]
    steps += [("block-job-cancel", {"device": job, "force": True}) for job in jobs]
    for command, arguments in steps:
        try:
            qmp(command, **arguments)
        except QMPError:
            continue  # nothing of that kind was running any more
    for job in jobs:
        try:
            _wait(f"disk copy {job} stopping", lambda job=job: _job_gone_or_concluded(qmp, job), 30)
            qmp("job-dismiss", id=job)
        except QMPError:
            continue
    for node in reversed(nodes):
        try:
            qmp("blockdev-del", **{"node-name": node})
        except QMPError:
            continue
    _wait("the cancelled migration settling", lambda: _migration_settled(qmp), 30)
    if was_running and qmp("query-status")["status"] != "running":
        qmp("cont")


def _job_gone_or_concluded(qmp: _Session, name: str) -> bool:
    job = next((j for j in qmp("query-block-jobs") if j["device"] == name), None)
    if job is None:
        raise QMPError(f"disk copy {name} is gone")  # nothing left to dismiss
    return job.get("status") == "concluded"


def _migration_settled(qmp: _Session) -> bool:
    return (qmp("query-migrate") or {}).get("status", "") not in ("active", "cancelling", "setup", "device")
