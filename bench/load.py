"""Load with faults: uploads, launches and list traffic while processes die, then what was lost.

Starts a private stack as `make run` has it (Redis with its append-only file, gunicorn, a Celery
worker, beat, one compute agent with QEMU), uploads the marker image the launches boot, and runs
locust (bench/locustfile.py) in its own process: --uploads users uploading images of --upload-mib
MiB over and over (that many uploads at once), --launches launches spread over the first half of
the run, and --listers users polling the Images and Servers lists. Meanwhile a
chaos loop, at random moments of the run, SIGKILLs a gunicorn worker (the master starts another), the
Celery worker and the compute agent (each started again two seconds later, as a service manager
would), and restarts Redis once (a graceful stop: its append-only file keeps the queues; what is
asked for while it is down waits in the outbox).

Then it waits for the system to settle (the sweepers reclaim stalled uploads and lapsed imports; the
settings below shorten their timeouts so that this takes a minute, not an hour), and prints:
  * requests answered and failed, the failures by error (a killed web worker's in-flight requests
    are dropped connections: that is the only loss expected),
  * images that ended active / killed / queued, and any still in a transitional state (stuck),
  * instances ACTIVE / ERROR / still building,
  * orphaned files: store files no image location names, staging files of no image in flight,
  * tasks lost: outbox messages never sent, and work that never ran,
  * leaked QEMU processes after every instance is deleted.

    .venv/bin/python bench/load.py [--uploads 50] [--launches 20] [--listers 5] [--upload-mib 4]
                                   [--run-time 90] [--seed N]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._stack import web_worker_pids  # noqa: E402
from tests.instances.bootimage import build_boot_image  # noqa: E402
from tests.instances.live import Cloud  # noqa: E402
from tests.support.processes import ADMIN_PASSWORD, BIN, DEMO_PASSWORD, LiveStack  # noqa: E402

FLAVOR = {"name": "load.tiny", "ram": 64, "vcpus": 1, "disk": 1, "OS-FLV-EXT-DATA:ephemeral": 0}
HOST = "load1"
# Shorter than the defaults so that recovery happens within the bench, not within the hour.
ENV = {
    "STRATUS_CPU_ALLOCATION_RATIO": "16",
    "STRATUS_IMAGE_UPLOAD_STALL_TIMEOUT": "30",
    "STRATUS_IMAGE_IMPORT_LEASE": "30",
    "STRATUS_IMAGE_SWEEP_INTERVAL": "5",
    "STRATUS_OUTBOX_RELAY_INTERVAL": "2",
    "STRATUS_OUTBOX_RELAY_GRACE": "2",
    "STRATUS_COMPUTE_BUILD_TIMEOUT": "120",
    "STRATUS_WEB_WORKERS": "3",
}
TRANSITIONAL_IMAGES = ("saving", "uploading", "importing")
SETTLED_SERVERS = ("ACTIVE", "ERROR", "SHUTOFF")

# Counts from the stack's own database and directories, run inside it (manage.py shell).
AUDIT = """
import json
from pathlib import Path
from django.conf import settings
from dashboard.models import OutboxMessage
from images.models import Image, ImageLocation
from instances.models import Instance
images = {}
for status in Image.objects.values_list("status", flat=True):
    images[status] = images.get(status, 0) + 1
instances = {}
for state in Instance.objects.values_list("vm_state", flat=True):
    instances[state] = instances.get(state, 0) + 1
from images.stores import all_stores
located = {(n, str(i)) for n, i in ImageLocation.objects.values_list("store", "image_id")}
orphans = []
for store in all_stores().values():
    for key in store.keys():
        stem = key.rsplit("/", 1)[-1].split(".", 1)[0]
        if (store.name, stem) not in located:
            orphans.append(f"{store.name}:{key}")
flight = Image.objects.filter(status__in=("saving", "uploading", "importing"))
in_flight = {str(pk) for pk in flight.values_list("pk", flat=True)}
staging = settings.IMAGE_STAGING_DIR
staged = [p for p in staging.rglob("*") if p.is_file()] if staging.exists() else []
stray = [str(p) for p in staged if not any(part in in_flight for part in p.relative_to(staging).parts)]
print(json.dumps({
    "images": images, "instances": instances, "orphaned_store_files": orphans,
    "stray_staging_files": stray, "outbox": OutboxMessage.objects.count(),
}))
"""


class Chaos(threading.Thread):
    """Kills processes at random moments of the run; each event is logged with its time."""

    def __init__(self, stack: LiveStack, run_time: float, rng: random.Random):
        super().__init__(daemon=True)
        self.stack, self.rng = stack, rng
        events = ["web worker", "celery worker", "compute agent", "redis"]
        # Spread over the middle of the run, in random order, at random moments.
        moments = sorted(rng.uniform(0.15, 0.8) * run_time for _ in events)
        rng.shuffle(events)
        self.plan = list(zip(moments, events, strict=True))
        self.log: list[str] = []
        self.started = 0.0

    def run(self) -> None:
        self.started = time.monotonic()
        for moment, event in self.plan:
            delay = self.started + moment - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # the plan is a schedule of moments, not a wait for a condition
            try:
                getattr(self, event.replace(" ", "_"))()
                self.log.append(f"{time.monotonic() - self.started:6.1f} s  {event}")
            except Exception as error:  # noqa: BLE001 - reported, the run goes on
                self.log.append(f"{time.monotonic() - self.started:6.1f} s  {event}: FAILED {error}")

    def web_worker(self) -> None:
        os.kill(self.rng.choice(web_worker_pids(self.stack)), signal.SIGKILL)

    def celery_worker(self) -> None:
        self.stack.services["worker"].kill()
        self.stack.services["worker"].stop()
        time.sleep(2)  # a service manager's restart delay
        self.stack.start_worker()

    def compute_agent(self) -> None:
        name = f"compute-{HOST}"
        self.stack.services[name].kill()
        self.stack.services[name].stop()
        time.sleep(2)
        self.stack.start_compute_agent(HOST, None, "nova", "--concurrency", "8")

    def redis(self) -> None:
        self.stack.restart_redis()


def run_locust(stack: LiveStack, env: dict, args: argparse.Namespace, out: Path) -> None:
    users = args.uploads + args.launches + args.listers
    subprocess.run(
        [
            str(BIN / "locust"),
            "-f",
            str(ROOT / "bench" / "locustfile.py"),
            "--headless",
            "--host",
            stack.url,
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--run-time",
            f"{args.run_time}s",
            "--csv",
            str(out / "locust"),
            "--only-summary",
            # At the end, users finish the upload or launch they are in rather than cut it off.
            "--stop-timeout",
            "120",
            "--loglevel",
            "WARNING",
        ],
        env={**os.environ, **env},
        check=False,  # locust exits 1 when any request failed: the figures say which
        timeout=args.run_time + 300,
    )


def read_stats(out: Path) -> tuple[int, int, list[tuple[str, str, int]]]:
    answered = failed = 0
    with open(out / "locust_stats.csv") as fh:
        for row in csv.DictReader(fh):
            if row["Name"] == "Aggregated":
                answered, failed = int(row["Request Count"]), int(row["Failure Count"])
    failures = []
    with open(out / "locust_failures.csv") as fh:
        for row in csv.DictReader(fh):
            failures.append((row["Name"], row["Error"], int(row["Occurrences"])))
    return answered, failed, failures


def settle(stack: LiveStack, demo: Cloud, timeout: float) -> float:
    """Wait until no image and no server is in a transitional state; the time it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        audit = json.loads(stack.shell(AUDIT))
        servers = demo.get("/servers/detail?limit=1000").json()["servers"]
        busy = any(status in audit["images"] for status in TRANSITIONAL_IMAGES)
        busy = busy or any(s["status"] not in SETTLED_SERVERS for s in servers) or audit["outbox"]
        if not busy:
            return time.monotonic() - start
        time.sleep(2)  # polling a whole system's state; each round reads it all
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--launches", type=int, default=20)
    parser.add_argument("--listers", type=int, default=5)
    parser.add_argument("--upload-mib", type=int, default=4)
    parser.add_argument("--run-time", type=int, default=90)
    parser.add_argument("--settle-timeout", type=int, default=300)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    os.environ.pop("DATABASE_URL", None)
    root = Path(tempfile.mkdtemp(prefix="stratus-load-"))
    stack = None
    try:
        quotas = {
            "STRATUS_IMAGE_QUOTA_UPLOADS": str(args.uploads + 5),
            "STRATUS_IMAGE_QUOTA_COUNT": "100000",
        }
        stack = LiveStack(
            root / f"load-{uuid.uuid4().hex[:6]}", extra_env={**ENV, **quotas}, persistent_redis=True
        )
        stack.start()
        stack.start_beat()
        stack.start_compute_agent(HOST, None, "nova", "--concurrency", "8")
        demo = Cloud(stack, stack.token("demo", DEMO_PASSWORD, "demo"))
        admin = Cloud(stack, stack.token("admin", ADMIN_PASSWORD, "admin"))
        project = stack.shell(
            "from dashboard.models import Project; print(Project.objects.get(name='demo').pk)"
        )
        admin.put(
            f"/os-quota-sets/{project}",
            {"quota_set": {"instances": args.launches + 5, "cores": args.launches + 5, "ram": 64 * 1024}},
        )
        flavor = admin.ensure_flavor(FLAVOR)
        image = demo.upload_image("load-boot", build_boot_image(root / "boot.raw", "LOAD"))
        upload_file = root / "upload.raw"
        with open(upload_file, "wb") as fh:
            block = rng.randbytes(1 << 20)
            for _ in range(args.upload_mib):
                fh.write(block)
        env = {
            "STRATUS_LOAD_TOKEN": demo.tok,
            "STRATUS_LOAD_IMAGE": image,
            "STRATUS_LOAD_FLAVOR": flavor,
            "STRATUS_LOAD_UPLOAD_FILE": str(upload_file),
            "STRATUS_LOAD_UPLOADS": str(args.uploads),
            "STRATUS_LOAD_LAUNCHES": str(args.launches),
            "STRATUS_LOAD_LISTERS": str(args.listers),
            "STRATUS_LOAD_LAUNCH_SPREAD": str(args.run_time / 2),
        }
        chaos = Chaos(stack, args.run_time, rng)
        chaos.start()
        run_locust(stack, env, args, root)
        chaos.join()
        settled = settle(stack, demo, args.settle_timeout)
        answered, failed, failures = read_stats(root)
        audit = json.loads(stack.shell(AUDIT))
        servers = demo.get("/servers/detail?limit=1000").json()["servers"]
        by_status: dict[str, int] = {}
        for server in servers:
            by_status[server["status"]] = by_status.get(server["status"], 0) + 1
        for server in servers:
            demo.delete(f"/servers/{server['id']}")
        for server in servers:
            demo.wait_deleted(server["id"], timeout=120)
        leaked = stack.guest_pids()

        bench_image = 1  # the boot image uploaded before the run
        print(
            f"seed {seed}; {args.uploads} uploads of {args.upload_mib} MiB, {args.launches} launches, "
            f"{args.listers} listers for {args.run_time} s"
        )
        print("chaos:")
        for line in chaos.log:
            print(f"  {line}")
        print(f"requests answered: {answered - failed}, failed: {failed}")
        for name, error, count in failures:
            print(f"  {count:4d}  {name}: {error}")
        images = dict(audit["images"])
        images["active"] = images.get("active", 0) - bench_image
        stuck = {s: images[s] for s in TRANSITIONAL_IMAGES if images.get(s)}
        print(
            f"images: active {images.get('active', 0)}, killed {images.get('killed', 0)}, "
            f"queued {images.get('queued', 0)}, stuck {sum(stuck.values())} {stuck or ''}"
        )
        building = sum(n for s, n in by_status.items() if s not in SETTLED_SERVERS)
        print(
            f"instances: ACTIVE {by_status.get('ACTIVE', 0)}, ERROR {by_status.get('ERROR', 0)}, "
            f"still building {building} (of {len(servers)} created)"
        )
        for server in servers:
            if server["status"] == "ERROR":
                print(f"  ERROR {server['id']}: {server.get('fault', {}).get('message', '(no fault)')}")
        print(f"settled {settled:.0f} s after the run")
        print(
            f"orphaned files: {len(audit['orphaned_store_files'])} in the store, "
            f"{len(audit['stray_staging_files'])} in staging"
        )
        unfinished = sum(stuck.values()) + building
        print(f"tasks lost: {audit['outbox']} never sent (outbox), {unfinished} never finished")
        print(f"leaked QEMU processes: {len(leaked)}")
    finally:
        if stack is not None:
            stack.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
