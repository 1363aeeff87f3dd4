"""Launch timings on one real compute host (QEMU, KVM when a probe guest runs under it, else TCG).

Starts a private stack (Redis, worker, gunicorn, one compute agent; vCPU allocation ratio 16 so
that 20 one-vCPU guests fit a 2-core host), uploads the tiny marker image, then prints:
  * launch → ACTIVE p50 for a cached image (sequential launches, each deleted afterwards),
  * the wall time for 20 parallel launches on the host to all be ACTIVE.

With ``--ssh-runs N`` (N > 0) it also times getting into a real guest, the Linux test guest of
tests/support/linuxguest.py with its SSH server, acting as a cloud image (``stratus.cloudinit=1``):
  * Stratus: launch → SSH login. A second compute agent with bridge networking (bridges, dnsmasq,
    nftables) runs in a throwaway network namespace, as the test suite's ``bridged_agent`` does;
    the guest is an AKI/ARI/AMI triple, the server gets a key pair and a config drive, and a port
    forward to its port 22 once ACTIVE. Timed from ``POST /servers`` until a paramiko login with
    the key pair's private key has run ``hostname``.
  * bare QEMU: the same kernel, initramfs and command line started by ``qemu-system-x86_64`` on
    the same host, with the accelerator, CPU model, RAM and vCPUs that the agent gives the Stratus
    guest, a virtio NIC on QEMU user networking with ``hostfwd`` to port 22, and the key on a config
    drive written by the product's own builder (instances/virt/configdrive.py), attached as a
    virtio disk as Stratus attaches it. So both guests do the same work (DHCP, mount the drive,
    install the key, start dropbear). No root disk, VGA, VNC or QMP: what one starts by hand.
    Timed from the process start until the same login has run ``hostname``.
  * Stratus again without a config drive: the guest reads its key from the metadata service, as
    a cloud image does by default (one HTTP request more, through the agent's metadata server).
  * the overhead of Stratus over bare QEMU, (stratus - bare) / bare on the medians, for each; the
    config drive series is the like-for-like one.
The kinds of run alternate, after one untimed run of each (image cache, page cache), so that load
from elsewhere on the machine spreads over all of them. Both logins retry every 0.1 s, each attempt
bounded to 1 s. Each run also shows where its time went: for Stratus, when the server was ACTIVE
and when its QEMU process started; for both, the guest's own uptime when its network was up
(``ready``). Whatever happens, the namespace, its processes and the guests are removed at the end.

    .venv/bin/python bench/launch.py [--runs 10] [--parallel 20] [--ssh-runs 0] [--skip-marker]
                                     [--accel auto|kvm|tcg]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from instances.virt import configdrive  # noqa: E402
from tests.instances.bootimage import build_boot_image  # noqa: E402
from tests.instances.live import Cloud, qemu_pids, token  # noqa: E402
from tests.support.guestssh import login, run  # noqa: E402
from tests.support.linuxguest import (  # noqa: E402
    BASE_CMDLINE,
    DEFAULT_MAC,
    LinuxGuest,
    build_guest,
    console_fields,
    console_lines,
    guest_cmdline,
)
from tests.support.netlab import Lab  # noqa: E402
from tests.support.processes import ADMIN_PASSWORD, DEMO_PASSWORD, LiveStack, free_port, require  # noqa: E402

FLAVOR = {"name": "bench.tiny", "ram": 64, "vcpus": 1, "disk": 1, "OS-FLV-EXT-DATA:ephemeral": 0}
GUEST_FLAVOR = {"name": "bench.guest", "ram": 256, "vcpus": 1, "disk": 1, "OS-FLV-EXT-DATA:ephemeral": 0}
GUEST_ZONE = "benchlab"
LABELS = {"drive": "config drive", "metadata": "metadata service"}
MARKER = "BENCHGUEST"
CMDLINE = f"{BASE_CMDLINE} {guest_cmdline(marker=MARKER, cloudinit=True)}"
LOGIN = {"timeout": 300, "interval": 0.1, "attempt_timeout": 1}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def launch_and_wait(
    cloud: Cloud, image: str, flavor: str, name: str, poll: float = 0.05
) -> tuple[str, float]:
    start = time.monotonic()
    server_id = cloud.create(name, image, flavor)
    cloud.wait_status(server_id, "ACTIVE", timeout=300, interval=poll)
    return server_id, time.monotonic() - start


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})"


def marker_figures(demo: Cloud, admin: Cloud, root: Path, args: argparse.Namespace) -> None:
    flavor = admin.ensure_flavor(FLAVOR)
    image = demo.upload_image("bench", build_boot_image(root / "bench.raw", "BENCH"))
    accel = admin.hypervisor("bench1")["hypervisor_type"]
    warm, _ = launch_and_wait(demo, image, flavor, "warm")  # fills the image cache
    demo.delete(f"/servers/{warm}")
    demo.wait_deleted(warm)
    times = []
    for i in range(args.runs):
        server_id, took = launch_and_wait(demo, image, flavor, f"seq-{i}")
        times.append(took)
        demo.delete(f"/servers/{server_id}")
        demo.wait_deleted(server_id)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        done = list(
            pool.map(lambda i: launch_and_wait(demo, image, flavor, f"par-{i}", 0.5), range(args.parallel))
        )
    parallel = time.monotonic() - start
    print(f"hypervisor: {accel}")
    print(f"launch -> ACTIVE p50 (cached image, {args.runs} runs): {spread(times)}")
    print(f"{args.parallel} parallel launches -> all ACTIVE: {parallel:.2f} s", flush=True)
    for server_id, _ in done:
        demo.delete(f"/servers/{server_id}")
    for server_id, _ in done:
        demo.wait_deleted(server_id, timeout=120)


# -- getting into the Linux guest ------------------------------------------------------------------


def started_at(pid: int) -> float:
    """When the process started, on the CLOCK_BOOTTIME scale (field 22 of /proc/PID/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[19]) / CLOCK_TICKS


def ready_uptime(console: str) -> float | None:
    """The guest's uptime when it printed ``ready`` (its network configured), from its console."""
    for line in console_lines(console, MARKER):
        if line.startswith("error"):
            raise RuntimeError(f"the guest failed: {line}\n{console[-3000:]}")
        if line.startswith("ready "):
            return float(console_fields(line)["uptime"])
    return None


def log_in(port: int, pem: str, name: str, netns: str | None = None) -> None:
    client = login(port, pem, netns=netns, **LOGIN)
    try:
        got = run(client, "hostname")
    finally:
        client.close()
    if got != name:
        raise RuntimeError(f"logged in to {got!r}, not to {name!r}")


def stratus_run(
    demo: Cloud, image: str, flavor: str, pem: str, netns: str, name: str, config_drive: bool = True
) -> dict:
    """One launch → SSH login; the server is deleted afterwards. Without ``config_drive`` the guest
    reads its key from the metadata service."""
    start, boot_clock = time.monotonic(), time.clock_gettime(time.CLOCK_BOOTTIME)
    server_id = demo.create(
        name, image, flavor, networks="auto", key_name="bench", config_drive=config_drive,
        availability_zone=GUEST_ZONE,
    )  # fmt: skip
    try:
        demo.wait_status(server_id, "ACTIVE", timeout=300, interval=0.05)
        active = time.monotonic() - start
        pids = qemu_pids(server_id)
        qemu = started_at(pids[0]) - boot_clock if pids else float("nan")
        made = demo.post(f"/servers/{server_id}/os-port-forwards", {"port_forward": {"guest_port": 22}})
        if made.status_code != 201:
            raise RuntimeError(f"port forward: {made.status_code} {made.text}")
        log_in(made.json()["port_forward"]["host_port"], pem, name, netns)
        took = time.monotonic() - start
        console = demo.action(server_id, {"os-getConsoleOutput": {}}).json()["output"]  # all of it
        ready = ready_uptime(console)
    finally:
        demo.delete(f"/servers/{server_id}")
        demo.wait_deleted(server_id, timeout=120)
    return {"login": took, "active": active, "qemu": qemu, "ready": ready}


def bare_argv(guest: LinuxGuest, accel: str, drive: Path, serial: Path, port: int) -> list[str]:
    """The guest as one would start it by hand, with the machine, CPU model, RAM and vCPUs of the
    Stratus guest (instances/virt/argv.py: ``-cpu host`` only under KVM)."""
    argv = [
        require("qemu-system-x86_64"), "-machine", f"q35,accel={accel}",
        "-m", str(GUEST_FLAVOR["ram"]), "-smp", str(GUEST_FLAVOR["vcpus"]),
    ]  # fmt: skip
    if accel == "kvm":
        argv += ["-cpu", "host"]
    return argv + [
        "-nodefaults", "-no-user-config", "-display", "none",
        "-serial", f"file:{serial}",
        "-kernel", str(guest.kernel), "-initrd", str(guest.initrd), "-append", CMDLINE,
        "-drive", f"file={drive},format=raw,if=virtio,readonly=on",
        "-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:22",
        "-device", f"virtio-net-pci,netdev=net0,mac={DEFAULT_MAC},romfile=",
    ]  # fmt: skip


def bare_run(guest: LinuxGuest, accel: str, public_key: str, pem: str, work: Path, name: str) -> dict:
    """One bare QEMU boot → SSH login; QEMU is stopped afterwards."""
    meta = {"uuid": str(uuid.uuid4()), "name": name, "hostname": name, "public_keys": {"bench": public_key}}
    meta["keys"] = [{"name": "bench", "type": "ssh", "data": public_key}]
    drive = configdrive.write(
        work / f"{name}.config",
        {
            "openstack/latest/meta_data.json": json.dumps(meta).encode(),
            "openstack/latest/network_data.json": b'{"links": [], "networks": [], "services": []}',
            "openstack/latest/vendor_data.json": b"{}",
        },
    )
    serial, port = work / f"{name}.console", free_port()
    argv = bare_argv(guest, accel, drive, serial, port)
    start = time.monotonic()
    qemu = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        log_in(port, pem, name)
        took = time.monotonic() - start
        ready = ready_uptime(serial.read_text(errors="replace"))
    finally:
        qemu.kill()
        _, stderr = qemu.communicate(timeout=30)
    if qemu.returncode not in (0, -signal.SIGKILL):
        raise RuntimeError(f"QEMU exited with {qemu.returncode}: {stderr.decode(errors='replace')}")
    return {"login": took, "ready": ready}


def new_key() -> tuple[str, str]:
    """An ed25519 key pair (private key in OpenSSH PEM, public key line), as ssh-keygen makes one:
    the bare guest's key, since a Stratus key pair's private key is only shown at creation."""
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return pem.decode(), public.decode()


def upload_guest(demo: Cloud, guest: LinuxGuest, root: Path) -> str:
    """The guest as an AKI/ARI/AMI triple (a blank 1 MiB root disk); returns the AMI."""
    kernel = demo.upload_image("bench-kernel", guest.kernel, "aki", container_format="aki")
    ramdisk = demo.upload_image("bench-ramdisk", guest.initrd, "ari", container_format="ari")
    disk = root / "root.img"
    disk.write_bytes(bytes(1024 * 1024))
    links = {"kernel_id": kernel, "ramdisk_id": ramdisk, "os_command_line": CMDLINE}
    return demo.upload_image("bench-guest", disk, "ami", container_format="ami", **links)


def ssh_figures(
    stack: LiveStack, demo: Cloud, admin: Cloud, root: Path, lab: Lab, args: argparse.Namespace
) -> None:
    for tool in ("ip", "nft", "dnsmasq", "qemu-system-x86_64"):
        require(tool)
    guest = build_guest(root / "linux-guest", ssh=True)
    netns = lab.namespace("host")
    host = f"benchnet-{lab.tag}"
    env = {"STRATUS_COMPUTE_NETWORKING": "bridge"}
    stack.start_compute_agent(host, None, GUEST_ZONE, "--concurrency", "4", env=env, netns=netns)
    hypervisor = admin.hypervisor(host)
    cpu = hypervisor["cpu_info"]
    accel = cpu.get("accelerator") or ("kvm" if hypervisor["hypervisor_type"] == "KVM" else "tcg")
    flavor = admin.ensure_flavor(GUEST_FLAVOR)
    image = upload_guest(demo, guest, root)
    made = demo.post("/os-keypairs", {"keypair": {"name": "bench"}}, "2.1")
    if made.status_code != 200:
        raise RuntimeError(f"key pair: {made.status_code} {made.text}")
    pem = made.json()["keypair"]["private_key"]
    bare_pem, bare_public = new_key()
    work = root / "bare"
    work.mkdir()
    for path in (guest.kernel, guest.initrd):  # the page cache, as the untimed runs fill the image cache
        path.read_bytes()
    reason = (cpu.get("accelerator_reason") or "reason not reported").splitlines()[0]
    print(
        f"Linux guest ({GUEST_FLAVOR['ram']} MB, {GUEST_FLAVOR['vcpus']} vCPU, kernel {guest.version}), "
        f"accelerator {accel} ({reason}); Stratus networking: {cpu.get('networking', '?')}",
        flush=True,
    )
    stratus_run(demo, image, flavor, pem, netns, "warm-stratus")
    bare_run(guest, accel, bare_public, bare_pem, work, "warm-bare")
    series: dict[str, list[dict]] = {"bare": [], "drive": [], "metadata": []}
    for i in range(args.ssh_runs):
        bare = bare_run(guest, accel, bare_public, bare_pem, work, f"bare-{i}")
        series["bare"].append(bare)
        print(f"  run {i + 1} bare QEMU: {bare['login']:.2f} s (guest ready at uptime {bare['ready']} s)")
        for kind, config_drive in (("drive", True), ("metadata", False)):
            got = stratus_run(demo, image, flavor, pem, netns, f"ssh-{kind}-{i}", config_drive)
            series[kind].append(got)
            print(
                f"  run {i + 1} Stratus, key from the {LABELS[kind]}: {got['login']:.2f} s "
                f"(ACTIVE at {got['active']:.2f} s, QEMU started at {got['qemu']:.2f} s, "
                f"guest ready at uptime {got['ready']} s)",
                flush=True,
            )
    p50 = {kind: statistics.median(r["login"] for r in runs) for kind, runs in series.items()}
    n = args.ssh_runs
    bare_spread = spread([r["login"] for r in series["bare"]])
    print(f"bare QEMU boot -> SSH login p50 ({n} runs, key from a config drive): {bare_spread}")
    for kind in ("drive", "metadata"):
        overhead = (p50[kind] - p50["bare"]) / p50["bare"]
        print(
            f"Stratus launch -> SSH login p50 ({n} runs, key from the {LABELS[kind]}): "
            f"{spread([r['login'] for r in series[kind]])}; overhead over bare QEMU under {accel}: "
            f"{100 * overhead:+.0f} % ({p50[kind] - p50['bare']:+.2f} s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=20)
    parser.add_argument("--accel", default="auto", choices=["auto", "kvm", "tcg"])
    parser.add_argument("--ssh-runs", type=int, default=0, help="launch → SSH login runs (0: none)")
    parser.add_argument("--skip-marker", action="store_true", help="without the marker image figures")
    args = parser.parse_args()
    # A SIGTERM unwinds like Ctrl-C, through the clean-up below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    # The login attempts before the guest listens fail by design: no tracebacks from paramiko's thread.
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    root = Path(tempfile.mkdtemp(prefix="stratus-bench-"))
    os.environ.pop("DATABASE_URL", None)
    lab = Lab(tag=f"bench{secrets.token_hex(2)}", tmp=root)
    stack = None
    try:
        stack = LiveStack(
            root / f"bench-{uuid.uuid4().hex[:6]}",
            extra_env={"STRATUS_QEMU_ACCEL": args.accel, "STRATUS_CPU_ALLOCATION_RATIO": "16"},
        )
        stack.start()
        stack.start_compute_agent("bench1", None, "nova", "--concurrency", "8")
        demo = Cloud(stack, token(stack, "demo", DEMO_PASSWORD, "demo"))
        admin = Cloud(stack, token(stack, "admin", ADMIN_PASSWORD, "admin"))
        admin.put(
            "/os-quota-sets/"
            + stack.shell("from dashboard.models import Project; print(Project.objects.get(name='demo').pk)"),
            {"quota_set": {"instances": args.parallel + 5, "cores": args.parallel + 5}},
        )
        if not args.skip_marker:
            marker_figures(demo, admin, root, args)
        if args.ssh_runs > 0:
            ssh_figures(stack, demo, admin, root, lab, args)
    finally:
        if stack is not None:
            stack.stop()  # the agents (the bridged one first: started last), Redis, the stack's guests
        lab.destroy()  # whatever still runs in the namespace (dnsmasq), then the namespace
        with contextlib.suppress(OSError):
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
