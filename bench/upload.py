"""Upload 1 GiB through PUT /image/v2/images/{id}/file and print MB/s, a plain `sha512sum` MB/s for
comparison, and the web worker's peak RSS after a 256 MiB and after the 1 GiB upload (flat = good).

Every uploaded byte goes through SHA-512 and MD5 (os_hash_value and checksum). It also prints what
this CPU's hashlib (OpenSSL) does for each on its own, and the CPU time the web worker used: the
SHA-512 speed is the ceiling of one upload, whatever the rest of the pipeline does.

Usage: .venv/bin/python bench/upload.py [size_mib]"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
from _stack import peak_rss_mib, start, token, web_worker_pids

MIB = 1024 * 1024


def make_file(path: Path, size: int) -> None:
    block = os.urandom(8 * MIB)
    with open(path, "wb") as fh:
        for _ in range(size // len(block)):
            fh.write(block)


def upload(stack, tok: str, path: Path) -> float:
    headers = {"X-Auth-Token": tok}
    body = {"name": path.name, "disk_format": "raw", "container_format": "bare"}
    image = requests.post(f"{stack.url}/image/v2/images", json=body, headers=headers, timeout=30).json()
    address = urlsplit(stack.url)
    # The body goes out with sendfile(): the client and the server share this machine's cores, and
    # a client that copies the file through user space (requests: 16 KiB at a time) takes CPU the
    # server's hashes need.
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=600)
    start_at = time.perf_counter()
    with open(path, "rb") as fh:
        connection.putrequest("PUT", f"/image/v2/images/{image['id']}/file")
        for name, value in {**headers, "Content-Type": "application/octet-stream",
                            "Content-Length": str(path.stat().st_size)}.items():  # fmt: skip
            connection.putheader(name, value)
        connection.endheaders()
        connection.sock.sendfile(fh)
        response = connection.getresponse()
        text = response.read()
    elapsed = time.perf_counter() - start_at
    connection.close()
    assert response.status == 204, text
    return elapsed


def sha512sum(path: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(["sha512sum", str(path)], check=True, capture_output=True)
    return time.perf_counter() - t0


def hash_speed(name: str) -> float:
    """MB/s of one hashlib algorithm over 256 MiB in 4 MiB updates (the pipeline's chunk size)."""
    block = os.urandom(4 * MIB)
    digest = hashlib.new(name)
    t0 = time.perf_counter()
    for _ in range(64):
        digest.update(block)
    return 256 * MIB / 1e6 / (time.perf_counter() - t0)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    size = int(sys.argv[1]) * MIB if len(sys.argv) > 1 else 1024 * MIB
    work = Path(tempfile.mkdtemp(prefix="stratus-upload-bench-"))
    small, big = work / "small.raw", work / "big.raw"
    make_file(small, 256 * MIB)
    make_file(big, size)
    stack = start(STRATUS_WEB_WORKERS="1", STRATUS_IMAGE_QUOTA_BYTES=str(1 << 42))
    try:
        tok = token(stack)
        pid = web_worker_pids(stack)[0]
        base = peak_rss_mib(pid)
        upload(stack, tok, small)
        after_small = peak_rss_mib(pid)
        # The machine is shared: sha512sum runs right before and right after the upload, and the
        # load average is printed, so the figures can be compared under the same conditions.
        load_before = os.getloadavg()[0]
        sha_before = sha512sum(big)
        speeds = {name: hash_speed(name) for name in ("sha512", "md5")}
        cpu_before = cpu_seconds(pid)
        elapsed = upload(stack, tok, big)
        cpu = cpu_seconds(pid) - cpu_before
        sha_after = sha512sum(big)
        load_after = os.getloadavg()[0]
        after_big = peak_rss_mib(pid)
    finally:
        stack.stop(remove=True)
        shutil.rmtree(work, ignore_errors=True)  # the test files are 1.25 GiB
    mb = size / 1e6
    print(f"upload of {size // MIB} MiB through the API: {mb / elapsed:.0f} MB/s ({elapsed:.2f} s)")
    print(
        f"sha512sum of the same file:           {mb / sha_before:.0f} MB/s before, "
        f"{mb / sha_after:.0f} MB/s after ({sha_before:.2f} s, {sha_after:.2f} s)"
    )
    hashing = mb / speeds["sha512"] + mb / speeds["md5"]
    print(f"hashlib alone on this CPU: sha512 {speeds['sha512']:.0f} MB/s, md5 {speeds['md5']:.0f} MB/s "
          f"(both hashes of {size // MIB} MiB: {hashing:.2f} CPU s)")  # fmt: skip
    print(f"web worker CPU during the upload: {cpu:.2f} s over {elapsed:.2f} s ({os.cpu_count()} CPUs)")
    print(f"load average (1 min): {load_before:.1f} before, {load_after:.1f} after")
    print(f"web worker peak RSS: idle {base:.0f} MiB, after 256 MiB {after_small:.0f} MiB, "
          f"after {size // MIB} MiB {after_big:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
