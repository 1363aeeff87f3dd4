"""Time the Images panel with 10,000 images and the Instances panel with 1,000 instances: p50/p95
of the server's time per page and the number of SQL queries each page costs.

Three figures per page: the CPU time of the Django handler (thread CPU time: middleware, view,
SQLite queries and templates; unlike wall time it hardly moves when other processes compete for
the machine's cores), its wall time (in the stack's own environment through Django's test client,
no network), and the same page over HTTP from gunicorn on one keep-alive connection (what a browser
waits for, minus the network). The load average is printed: on a shared machine wall times grow
with it, CPU times much less.
The queries are counted on one extra request of each page, and the slowest one is printed so a
slow query shows up with its SQL. The trivial /healthz view is measured too, as the floor of the
machine at that moment (the development machine is shared).

Usage: .venv/bin/python bench/panels.py [--runs 100]"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import time
from pathlib import Path
from urllib.parse import urlsplit

from _stack import start

FILL = """
import uuid
from dashboard.models import Project
from flavors.models import Flavor
from images.models import Image, ImageMember
from instances.models import Instance
demo, admin = Project.objects.get(name="demo"), Project.objects.get(name="admin")
images = [Image(name=f"bench-{i:05d}", owner=demo.id, disk_format="qcow2", container_format="bare",
                status="active", size=1 << 20, visibility=("shared" if i % 10 == 0 else "private"),
                properties={"os_distro": "ubuntu", "architecture": "x86_64"}) for i in range(10000)]
Image.objects.bulk_create(images, batch_size=1000)
members = [ImageMember(image=img, member=admin.id) for img in images[::10]]
ImageMember.objects.bulk_create(members, batch_size=1000)
flavor = Flavor.objects.create(id="bench", name="m1.bench", vcpus=1, ram=128, disk=1)
rows = [Instance(id=uuid.uuid4(), name=f"vm-{n:04d}", project=demo, image_id=str(images[n % 50].pk),
                 flavor=flavor, flavor_ref=flavor.pk, flavor_name=flavor.name, vcpus=1, memory_mb=128,
                 root_gb=1, availability_zone="nova", vm_state="active", task_state="", power_state=1)
        for n in range(1000)]
Instance.objects.bulk_create(rows, batch_size=500)
print(Image.objects.count(), Instance.objects.count())
"""

# Run inside the stack's environment: the handler's own time and its queries, per page.
MEASURE = """
import json, statistics, time
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from dashboard.models import User
pages, runs = json.loads(PAGES), RUNS
out, cookies = {}, {}
for who, path in pages:
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username=who))
    cookies[who] = client.cookies["sessionid"].value
    for _ in range(5):
        assert client.get(path).status_code == 200, path
    timings, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.thread_time()
        response = client.get(path)
        timings.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
        assert response.status_code == 200, path
    timings.sort()
    cpu.sort()
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    slowest = max(queries.captured_queries, key=lambda q: float(q["time"]))
    out[path] = {"p50": statistics.median(timings), "p95": timings[int(len(timings) * 0.95) - 1],
                 "cpu50": statistics.median(cpu), "cpu95": cpu[int(len(cpu) * 0.95) - 1],
                 "queries": len(queries), "slowest_ms": float(slowest["time"]) * 1000,
                 "slowest_sql": slowest["sql"][:160]}
print(json.dumps({"pages": out, "cookies": cookies}))
"""

PAGES = [
    ("demo", "/images/"),
    ("demo", "/images/?page=200"),
    ("demo", "/images/?name=bench-09&sort=name"),
    ("demo", "/images/?per_page=100&sort=-size"),
    ("admin", "/admin/images/"),
    ("admin", "/images/?scope=shared"),
    ("demo", "/instances/"),
    ("demo", "/instances/?page=50"),
    ("demo", "/instances/?name=vm-09&status=ACTIVE"),
    ("admin", "/admin/instances/"),
]


def over_http(stack, cookies: dict, runs: int) -> dict:
    address = urlsplit(stack.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    out = {}
    for who, path in [("demo", "/healthz"), *PAGES]:
        headers = {"Cookie": f"sessionid={cookies[who]}"}
        timings = []
        for n in range(runs + 5):
            t0 = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            if n >= 5:  # the first five warm up
                timings.append((time.perf_counter() - t0) * 1000)
            assert response.status == 200, (path, response.status, body[:200])
        timings.sort()
        out[path] = (statistics.median(timings), timings[int(len(timings) * 0.95) - 1])
    connection.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    runs = parser.parse_args().runs
    load = Path("/proc/loadavg").read_text().split()[0]
    stack = start(STRATUS_IMAGE_QUOTA_COUNT="-1")
    try:
        print("images, instances:", stack.shell(FILL))
        code = MEASURE.replace("PAGES", repr(json.dumps(PAGES))).replace("RUNS", str(runs))
        measured = json.loads(stack.shell(code))
        http_times = over_http(stack, measured["cookies"], runs)
        floor = http_times["/healthz"]
        print(f"GET /healthz over HTTP (the machine's floor): p50 {floor[0]:.1f} ms, p95 {floor[1]:.1f} ms")
        print(f"load average before the run: {load}")
        print("| page | queries | handler CPU p50 / p95 ms | handler wall p50 / p95 ms | HTTP p50 / p95 ms |")
        print("|---|---:|---:|---:|---:|")
        for who, path in PAGES:
            m, (h50, h95) = measured["pages"][path], http_times[path]
            print(
                f"| `{path}` ({who}) | {m['queries']} | {m['cpu50']:.1f} / {m['cpu95']:.1f} "
                f"| {m['p50']:.1f} / {m['p95']:.1f} | {h50:.1f} / {h95:.1f} |"
            )
        print("Slowest query of each page:")
        for who, path in PAGES:
            m = measured["pages"][path]
            print(f"  {path} ({who}): {m['slowest_ms']:.1f} ms: {m['slowest_sql']}")
    finally:
        stack.stop(remove=True)


if __name__ == "__main__":
    main()
