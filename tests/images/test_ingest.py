"""The one pass over the bytes: reused buffers must never mix up data, and the cap stops reading."""

from __future__ import annotations

import hashlib
import os

import pytest

from images.pipeline.errors import TooLarge, TransferError
from images.pipeline.ingest import Ingest
from images.pipeline.source import FileReader


@pytest.fixture(autouse=True)
def small_chunks(settings):
    settings.IMAGE_CHUNK_SIZE = 64 * 1024
    settings.IMAGE_PIPELINE_BUFFERS = 2


def uneven_chunks(data: bytes):
    sizes = [1, 7000, 65536, 65537, 200_000, 3]
    pos, i = 0, 0
    while pos < len(data):
        size = sizes[i % len(sizes)]
        yield data[pos : pos + size]
        pos, i = pos + size, i + 1


def test_hashes_and_forwarded_bytes_match_the_input_through_reused_buffers():
    data = os.urandom(3_000_000)
    received = bytearray()
    ingest = Ingest(uneven_chunks(data), max_bytes=1 << 30)
    for chunk in ingest:
        received += chunk
    assert bytes(received) == data
    assert ingest.result.size == len(data)
    assert ingest.result.checksum == hashlib.md5(data).hexdigest()
    assert ingest.result.os_hash_value == hashlib.sha512(data).hexdigest()
    assert [str(i) for i in ingest.result.inspectors] == ["raw"]


def test_a_file_reader_fills_the_buffers_directly(tmp_path):
    path = tmp_path / "f"
    data = os.urandom(1_000_003)
    path.write_bytes(data)
    result = Ingest(FileReader(path), max_bytes=1 << 30, inspect=False).consume()
    assert result.os_hash_value == hashlib.sha512(data).hexdigest() and result.inspectors == []


def test_the_cap_stops_reading_one_byte_past_it():
    asked = []

    class Endless:
        def readinto(self, buffer):
            asked.append(len(buffer))
            buffer[:] = b"\0" * len(buffer)
            return len(buffer)

    with pytest.raises(TooLarge):
        Ingest(Endless(), max_bytes=100_000).consume()
    assert sum(asked) == 100_001


def test_a_short_body_is_a_transfer_error():
    with pytest.raises(TransferError, match="declared size"):
        Ingest(iter([b"x" * 10]), max_bytes=1000, expected_size=20).consume()


def test_a_qcow2_followed_by_megabytes_is_recognised_and_hashed_whole(qcow2):
    class Reader:
        def __init__(self, data):
            self.data, self.pos = data, 0

        def readinto(self, buffer):
            n = min(len(buffer), len(self.data) - self.pos)
            buffer[:n] = self.data[self.pos : self.pos + n]
            self.pos += n
            return n

    data = qcow2 + b"\0" * (4 << 20)
    ingest = Ingest(Reader(data), max_bytes=1 << 30)
    ingest.consume()
    assert [str(i) for i in ingest.result.inspectors] == ["qcow2"]
    assert ingest.result.os_hash_value == hashlib.sha512(data).hexdigest()
