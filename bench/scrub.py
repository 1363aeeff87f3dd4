"""Print what the scrubber costs: MB/s of re-hashing stored images (unthrottled, from disk and from
the page cache), hashlib's own SHA-512 speed on this CPU for comparison, the rate a throttled round
keeps, and the peak RSS of the process doing it (flat whatever the image size: the scrubber streams).

Four images of a quarter of the total each are uploaded through PUT /file into the filesystem
store (written with O_DIRECT, so the first pass reads them from the disk), then checked with the
scrubber's own code in a `manage.py shell` of the stack.

Usage: .venv/bin/python bench/scrub.py [total_mib] [throttle_mib_per_s]"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
from _stack import start, token

MIB = 1024 * 1024

SCRUB = """
import json, resource
from images import integrity
report = integrity.scrub(image_ids={ids!r}, throttle=integrity.Throttle({rate}))
print(json.dumps({{**report.as_dict(), "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}))
"""


def make_file(path: Path, size: int) -> None:
    block = os.urandom(8 * MIB)
    with open(path, "wb") as fh:
        for _ in range(size // len(block)):
            fh.write(block)


def upload(stack, tok: str, path: Path) -> str:
    headers = {"X-Auth-Token": tok}
    body = {"name": path.name, "disk_format": "raw", "container_format": "bare"}
    image = requests.post(f"{stack.url}/image/v2/images", json=body, headers=headers, timeout=30).json()
    address = urlsplit(stack.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=600)
    with open(path, "rb") as fh:
        connection.putrequest("PUT", f"/image/v2/images/{image['id']}/file")
        for name, value in {**headers, "Content-Type": "application/octet-stream",
                            "Content-Length": str(path.stat().st_size)}.items():  # fmt: skip
            connection.putheader(name, value)
        connection.endheaders()
        connection.sock.sendfile(fh)
        response = connection.getresponse()
        text = response.read()
    connection.close()
    assert response.status == 204, text
    return image["id"]


def scrub(stack, ids: list[str], rate: int) -> dict:
    report = json.loads(stack.shell(SCRUB.format(ids=ids, rate=rate)).splitlines()[-1])
    assert report["checked"] == len(ids) and not report["corrupt"], report
    return report


def sha512_speed() -> float:
    block = os.urandom(4 * MIB)
    digest = hashlib.sha512()
    t0 = time.perf_counter()
    for _ in range(64):
        digest.update(block)
    return 256 * MIB / 1e6 / (time.perf_counter() - t0)


def drop_page_cache(paths: list[Path]) -> None:
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def main() -> None:
    total = int(sys.argv[1]) * MIB if len(sys.argv) > 1 else 1024 * MIB
    throttle = int(sys.argv[2]) * MIB if len(sys.argv) > 2 else 32 * MIB
    work = Path(tempfile.mkdtemp(prefix="stratus-scrub-bench-"))
    source = work / "image.raw"
    make_file(source, total // 4)
    stack = start(STRATUS_IMAGE_QUOTA_BYTES=str(1 << 42), STRATUS_IMAGE_SCRUB_INTERVAL="0")
    try:
        tok = token(stack)
        ids = [upload(stack, tok, source) for _ in range(4)]
        source.unlink()
        stored = [stack.data_dir / "images" / image_id for image_id in ids]
        drop_page_cache(stored)
        cold = scrub(stack, ids, 0)
        warm = scrub(stack, ids, 0)
        throttled = scrub(stack, ids[:1], throttle)
        hashing = sha512_speed()
        load = os.getloadavg()[0]
    finally:
        stack.stop(remove=True)
        work.rmdir()
    for name, report in (("from disk", cold), ("from the page cache", warm)):
        mb = report["bytes"] / 1e6
        print(f"scrub of {report['bytes'] // MIB} MiB in 4 images, unthrottled, {name}: "
              f"{mb / report['seconds']:.0f} MB/s ({report['seconds']:.2f} s), "
              f"peak RSS {report['peak_rss_kib'] / 1024:.0f} MiB")  # fmt: skip
    kept = throttled["bytes"] / MIB / throttled["seconds"]
    print(f"scrub throttled to {throttle // MIB} MiB/s: {kept:.1f} MiB/s "
          f"over {throttled['bytes'] // MIB} MiB ({throttled['seconds']:.2f} s)")  # fmt: skip
    print(f"hashlib SHA-512 alone on this CPU: {hashing:.0f} MB/s; load average (1 min): {load:.1f}")


if __name__ == "__main__":
    main()
