"""Live migration of a running guest between two QEMU drivers on this machine (TCG), as the compute
agents do it: prints the time of each step, QEMU's own figures of the memory copy (total time,
the time the guest was stopped, bytes sent) and the disk data the mirrors carried.

    .venv/bin/python bench/live_migration.py [--memory-mb 256] [--written-mb 64] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from instances.virt import disks  # noqa: E402
from instances.virt.base import DiskSpec, GuestSpec  # noqa: E402
from instances.virt.bootsector import build_ticker_image  # noqa: E402
from instances.virt.qemu import QemuDriver  # noqa: E402
from instances.virt.qmp import QMPClient  # noqa: E402


def host(root: Path, image: Path) -> tuple[QemuDriver, Path]:
    base = root / "_base" / "ticker"
    base.parent.mkdir(parents=True)
    shutil.copyfile(image, base)
    return QemuDriver(root / "state", accel="tcg"), base


def guest_disks(root: Path, base: Path, guest: str) -> list[DiskSpec]:
    directory = root / "disks" / guest
    vda = disks.create_overlay(base, "raw", directory / "disk", 1)
    vdb = disks.create_blank(directory / "disk.eph0", size_gb=1)
    return [DiskSpec(str(vda), "qcow2", "vda"), DiskSpec(str(vdb), "qcow2", "vdb")]


def write(driver: QemuDriver, guest: str, megabytes: int) -> None:
    """``megabytes`` of data written into the running guest's root disk (the part a mirror copies)."""
    device = "/machine/peripheral/dev-vda/virtio-backend"
    with QMPClient(driver.dirs.dir(guest) / "qmp.sock", timeout=120) as qmp:
        for mb in range(megabytes):
            command = f'qemu-io -d {device} "write -P {mb % 251} {mb}m 1m"'
            qmp.execute("human-monitor-command", **{"command-line": command})


def one_run(work: Path, image: Path, memory_mb: int, written_mb: int) -> dict[str, float]:
    (src_driver, src_base), (dst_driver, dst_base) = host(work / "a", image), host(work / "b", image)
    guest = str(uuid.uuid4())
    spec = GuestSpec(guest, "bench", 1, memory_mb, guest_disks(work / "a", src_base, guest))
    src_driver.spawn(spec)
    try:
        write(src_driver, guest, written_mb)
        target = spec.with_disks(guest_disks(work / "b", dst_base, guest))
        started = time.monotonic()
        endpoint = dst_driver.prepare_incoming(target, "127.0.0.1")
        prepared = time.monotonic()
        figures = src_driver.migrate_to(guest, endpoint)
        copied = time.monotonic()
        dst_driver.finish_incoming(guest)
        running = time.monotonic()
        return {
            "prepare_s": prepared - started,
            "copy_s": copied - prepared,
            "start_s": running - copied,
            "total_s": running - started,
            "memory_total_ms": figures.get("total-time", 0),
            "downtime_ms": figures.get("downtime", 0),
            "ram_sent_mb": (figures.get("ram") or {}).get("transferred", 0) / 2**20,
        }
    finally:
        for driver in (src_driver, dst_driver):
            for defined in driver.list_defined():
                driver.destroy(defined)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-mb", type=int, default=256)
    parser.add_argument("--written-mb", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="stratus-bench-migration-"))
    try:
        image = build_ticker_image(work / "ticker.raw", "BENCH")
        runs = []
        for n in range(args.runs):
            run_dir = work / f"run{n}"
            run_dir.mkdir()
            runs.append(one_run(run_dir, image, args.memory_mb, args.written_mb))
        print(
            f"live migration, TCG guest of {args.memory_mb} MiB, {args.written_mb} MiB written to its disk:"
        )
        for key in runs[0]:
            values = [r[key] for r in runs]
            print(f"  {key:16} median {statistics.median(values):10.2f}   max {max(values):10.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
