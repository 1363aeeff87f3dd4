"""Fill 10,000 images and print p50/p95 latency of GET /image/v2/images?limit=25 and limit=1000.

The trivial /image/versions view is measured in the same run as a reference for the machine's
load (the development machine is shared).

Usage: .venv/bin/python bench/list.py"""

from __future__ import annotations

import statistics
import time

import requests
from _stack import start, token

FILL = """
import uuid
from dashboard.models import Project
from images.models import Image, ImageTag
owner = Project.objects.get(name="demo").id
images = [Image(name=f"bench-{i:05d}", owner=owner, disk_format="qcow2", container_format="bare",
                properties={"os_distro": "ubuntu", "architecture": "x86_64"}) for i in range(10000)]
Image.objects.bulk_create(images, batch_size=1000)
ImageTag.objects.bulk_create([ImageTag(image=img, value="bench") for img in images], batch_size=1000)
print(Image.objects.count())
"""


def measure(session, url: str, runs: int) -> tuple[float, float]:
    timings = []
    for _ in range(runs):
        t0 = time.perf_counter()
        response = session.get(url, timeout=30)
        timings.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.text
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1]


def main() -> None:
    stack = start(STRATUS_IMAGE_QUOTA_COUNT="-1")
    try:
        print("images:", stack.shell(FILL))
        session = requests.Session()
        session.headers["X-Auth-Token"] = token(stack)
        # The floor of this machine right now: a trivial unauthenticated view through the same stack.
        floor = f"{stack.url}/image/versions"
        measure(session, floor, 5)
        p50, p95 = measure(session, floor, 200)
        print(f"GET /image/versions (reference floor): p50 {p50:.1f} ms, p95 {p95:.1f} ms (200 requests)")
        for limit, runs in ((25, 200), (1000, 40)):
            url = f"{stack.url}/image/v2/images?limit={limit}"
            measure(session, url, 5)  # warm up
            p50, p95 = measure(session, url, runs)
            print(f"GET /image/v2/images?limit={limit}: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({runs} requests)")
    finally:
        stack.stop(remove=True)


if __name__ == "__main__":
    main()
