"""Fill 10,000 images and print p50/p95 latency of GET /image/v2/images?limit=25 and limit=1000.

Requests go over one keep-alive connection with the standard library's http.client, so the figure
is the server's: `requests` adds about 1.5 ms of its own per call on the development machine. The
trivial /image/versions view is measured in the same run as a reference for the machine's load
(the development machine is shared).

Usage: .venv/bin/python bench/list.py"""

from __future__ import annotations

import http.client
import statistics
import time
from urllib.parse import urlsplit

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


def measure(connection: http.client.HTTPConnection, path: str, headers: dict, runs: int):
    timings = []
    for _ in range(runs):
        t0 = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        timings.append((time.perf_counter() - t0) * 1000)
        assert response.status == 200, body
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1]


def main() -> None:
    stack = start(STRATUS_IMAGE_QUOTA_COUNT="-1")
    try:
        print("images:", stack.shell(FILL))
        address = urlsplit(stack.url)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        headers = {"X-Auth-Token": token(stack), "Accept": "application/json"}
        # The floor of this machine right now: a trivial unauthenticated view through the same stack.
        measure(connection, "/image/versions", headers, 5)
        p50, p95 = measure(connection, "/image/versions", headers, 200)
        print(f"GET /image/versions (reference floor): p50 {p50:.1f} ms, p95 {p95:.1f} ms (200 requests)")
        for limit, runs in ((25, 200), (1000, 40)):
            path = f"/image/v2/images?limit={limit}"
            measure(connection, path, headers, 5)  # warm up
            p50, p95 = measure(connection, path, headers, runs)
            print(f"GET {path}: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({runs} requests)")
        connection.close()
    finally:
        stack.stop(remove=True)


if __name__ == "__main__":
    main()
