"""Launch timings on one real compute host (QEMU, KVM when a probe guest runs under it, else TCG).

Starts a private stack (Redis, worker, gunicorn, one compute agent; vCPU allocation ratio 16 so
that 20 one-vCPU guests fit a 2-core host), uploads the tiny marker image, then prints:
  * launch → ACTIVE p50 for a cached image (sequential launches, each deleted afterwards),
  * the wall time for 20 parallel launches on the host to all be ACTIVE.

    .venv/bin/python bench/launch.py [--runs 10] [--parallel 20] [--accel auto|kvm|tcg]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.instances.bootimage import build_boot_image  # noqa: E402
from tests.instances.live import Cloud, token  # noqa: E402
from tests.support.processes import ADMIN_PASSWORD, DEMO_PASSWORD, LiveStack  # noqa: E402

FLAVOR = {"name": "bench.tiny", "ram": 64, "vcpus": 1, "disk": 1, "OS-FLV-EXT-DATA:ephemeral": 0}


def launch_and_wait(
    cloud: Cloud, image: str, flavor: str, name: str, poll: float = 0.05
) -> tuple[str, float]:
    start = time.monotonic()
    server_id = cloud.create(name, image, flavor)
    cloud.wait_status(server_id, "ACTIVE", timeout=300, interval=poll)
    return server_id, time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=20)
    parser.add_argument("--accel", default="auto", choices=["auto", "kvm", "tcg"])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="stratus-bench-"))
    os.environ.pop("DATABASE_URL", None)
    stack = LiveStack(
        root / f"bench-{uuid.uuid4().hex[:6]}",
        extra_env={"STRATUS_QEMU_ACCEL": args.accel, "STRATUS_CPU_ALLOCATION_RATIO": "16"},
    )
    try:
        stack.start()
        stack.start_compute_agent("bench1", None, "nova", "--concurrency", "8")
        demo = Cloud(stack, token(stack, "demo", DEMO_PASSWORD, "demo"))
        admin = Cloud(stack, token(stack, "admin", ADMIN_PASSWORD, "admin"))
        admin.put(
            "/os-quota-sets/"
            + stack.shell("from dashboard.models import Project; print(Project.objects.get(name='demo').pk)"),
            {"quota_set": {"instances": args.parallel + 5, "cores": args.parallel + 5}},
        )
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
                pool.map(
                    lambda i: launch_and_wait(demo, image, flavor, f"par-{i}", 0.5), range(args.parallel)
                )
            )
        parallel = time.monotonic() - start
        print(f"hypervisor: {accel}")
        print(
            f"launch -> ACTIVE p50 (cached image, {args.runs} runs): {statistics.median(times):.2f} s "
            f"(min {min(times):.2f}, max {max(times):.2f})"
        )
        print(f"{args.parallel} parallel launches -> all ACTIVE: {parallel:.2f} s")
        for server_id, _ in done:
            demo.delete(f"/servers/{server_id}")
        for server_id, _ in done:
            demo.wait_deleted(server_id, timeout=120)
    finally:
        stack.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
