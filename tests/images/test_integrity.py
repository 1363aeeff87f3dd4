"""Stored data that changes after the image became active: the scrubber finds it and marks the
image corrupt, downloads refuse it (409), the Images panel shows it; data served from an HTTP
location is hashed while it streams and a mismatch cuts the transfer."""

from __future__ import annotations

import hashlib
import io
import json
import os
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from images import integrity, services, tasks
from images.models import Image, ImageLocation
from tests.factories import PASSWORD, make_project
from tests.images.conftest import api_for
from tests.images.live_support import RemoteFiles

pytestmark = pytest.mark.django_db

DATA = os.urandom(3 * 65536 + 123)


def stored_image(api, stores_dir, data: bytes = DATA, **fields) -> Image:
    image = api.create(disk_format="raw", **fields)
    assert api.upload(image["id"], data).status_code == 204
    row = Image.objects.get(pk=image["id"])
    assert row.status == "active"
    return row


def store_file(stores_dir, image: Image):
    return stores_dir / "store" / str(image.pk)


def flip_a_byte(path, offset: int = 1000) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))


@pytest.fixture
def unthrottled(settings):
    settings.IMAGE_SCRUB_BYTES_PER_SECOND = 0


def test_a_stored_file_changed_after_it_became_active_is_marked_corrupt_and_no_longer_served(
    member, stores_dir, unthrottled
):
    image = stored_image(member, stores_dir)
    flip_a_byte(store_file(stores_dir, image))  # same size, one bit pattern changed

    report = tasks.scrub()

    assert report["corrupt"] == [str(image.pk)]
    image.refresh_from_db()
    assert image.corrupt_at is not None and image.status == "active"  # Glance's status is kept
    assert image.scrub_error == "The data in store 'file' does not match the image's sha512 os_hash_value."
    response = member.get(f"/v2/images/{image.pk}/file")
    assert response.status_code == 409
    assert "failed an integrity check" in response.json()["message"]
    assert not hasattr(response, "streaming_content")  # not a byte of it was sent


def test_an_intact_image_is_checked_once_per_age_and_left_alone(member, stores_dir, unthrottled, settings):
    image = stored_image(member, stores_dir)
    assert tasks.scrub()["checked"] == 1
    image.refresh_from_db()
    assert image.scrubbed_at is not None and image.corrupt_at is None and image.scrub_error == ""
    updated_at = image.updated_at
    assert tasks.scrub()["checked"] == 0  # checked within IMAGE_SCRUB_AGE: not due yet
    Image.objects.filter(pk=image.pk).update(
        scrubbed_at=timezone.now() - timedelta(seconds=settings.IMAGE_SCRUB_AGE + 1)
    )
    assert tasks.scrub()["checked"] == 1
    image.refresh_from_db()
    assert image.updated_at == updated_at  # a check changes nothing the user set
    assert member.get(f"/v2/images/{image.pk}/file").status_code == 200


def test_a_round_takes_the_images_checked_longest_ago_first_and_at_most_its_share(
    member, stores_dir, unthrottled, settings
):
    settings.IMAGE_SCRUB_IMAGES_PER_RUN = 2
    images = [stored_image(member, stores_dir, os.urandom(1000)) for _ in range(3)]
    old = timezone.now() - timedelta(seconds=settings.IMAGE_SCRUB_AGE + 10)
    Image.objects.filter(pk=images[0].pk).update(scrubbed_at=old)
    Image.objects.filter(pk=images[1].pk).update(scrubbed_at=old - timedelta(days=1))
    report = tasks.scrub()
    assert report["checked"] == 2
    checked = set(Image.objects.filter(scrubbed_at__gt=old).values_list("pk", flat=True))
    assert checked == {images[2].pk, images[1].pk}  # never checked, then the oldest check
    assert tasks.scrub()["checked"] == 1 and not Image.objects.filter(scrubbed_at__lte=old).exists()


@pytest.mark.parametrize(
    ("damage", "found"),
    [
        (lambda path: path.unlink(), "The data is missing from store 'file'."),
        (lambda path: os.truncate(path, 1000), f"is 1000 bytes; the image's size is {len(DATA)} bytes."),
        (lambda path: path.open("ab").write(b"x"), "is longer than the image's"),
    ],
    ids=["deleted", "truncated", "grown"],
)
def test_missing_or_resized_data_marks_the_image_corrupt(member, stores_dir, unthrottled, damage, found):
    image = stored_image(member, stores_dir)
    damage(store_file(stores_dir, image))
    tasks.scrub()
    image.refresh_from_db()
    assert image.corrupt_at is not None and found in image.scrub_error


def test_marking_is_done_once_and_restored_data_clears_the_mark(member, stores_dir, unthrottled):
    image = stored_image(member, stores_dir)
    path = store_file(stores_dir, image)
    flip_a_byte(path)
    tasks.scrub()
    first = Image.objects.get(pk=image.pk).corrupt_at
    report = integrity.scrub(image_ids=[str(image.pk)])  # checked again on demand: still corrupt
    assert report.corrupt == [str(image.pk)]
    assert Image.objects.get(pk=image.pk).corrupt_at == first  # the first finding's date stays
    flip_a_byte(path)  # an administrator restores the file
    report = integrity.scrub(image_ids=[str(image.pk)])
    assert report.restored == [str(image.pk)]
    image.refresh_from_db()
    assert image.corrupt_at is None and image.scrub_error == ""
    download = member.get(f"/v2/images/{image.pk}/file")
    assert download.status_code == 200 and b"".join(download.streaming_content) == DATA


def test_a_round_skips_an_image_another_round_took_meanwhile(member, stores_dir, unthrottled):
    image = stored_image(member, stores_dir)
    assert services.claim_scrub(image.pk, None)  # another worker's round took it first
    assert not services.claim_scrub(image.pk, None)
    assert tasks.scrub()["checked"] == 0


def test_the_scrubber_reads_in_chunks_never_a_whole_image(member, stores_dir, unthrottled, settings):
    settings.IMAGE_CHUNK_SIZE = 64 * 1024
    image = stored_image(member, stores_dir)
    reads = []

    class Recording(integrity.Throttle):
        def __call__(self, count: int) -> None:
            reads.append(count)
            super().__call__(count)

    integrity.scrub(image_ids=[str(image.pk)], throttle=Recording(0))
    assert sum(reads) == len(DATA) and max(reads) <= 64 * 1024 and len(reads) == 4


def test_the_throttle_keeps_the_reading_rate():
    now = [100.0]
    slept = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    throttle = integrity.Throttle(1000, clock=lambda: now[0], sleep=sleep)
    throttle(500)  # half a second's worth, at once: wait half a second
    now[0] += 0.2  # reading the next 500 took 0.2 s: 0.3 s left to wait
    throttle(500)
    now[0] += 5  # a slow stretch leaves credit; the next reads do not wait
    throttle(1000)
    assert slept == pytest.approx([0.5, 0.3])
    unlimited = integrity.Throttle(0, clock=lambda: now[0], sleep=sleep)
    unlimited(10**9)
    assert len(slept) == 2


def test_images_whose_data_stays_at_a_url_are_not_fetched_by_the_scrubber(member, stores_dir, unthrottled):
    image = stored_image(member, stores_dir)
    ImageLocation.objects.filter(image=image).update(store="http", url="http://192.0.2.1/never-fetched")
    assert tasks.scrub()["checked"] == 0


def test_the_scrub_round_is_a_periodic_task(settings):
    assert settings.CELERY_BEAT_SCHEDULE["images-scrub"] == {
        "task": "images.scrub",
        "schedule": settings.IMAGE_SCRUB_INTERVAL,
    }
    assert tasks.scrub.name == "images.scrub"


# --- what users and administrators see -------------------------------------------------------------


@pytest.fixture
def corrupt(member, stores_dir, unthrottled) -> Image:
    image = stored_image(member, stores_dir, name="damaged")
    flip_a_byte(store_file(stores_dir, image))
    tasks.scrub()
    image.refresh_from_db()
    assert image.is_corrupt
    return image


def browser(api) -> Client:
    client = Client()
    assert (
        client.post(reverse("login"), {"username": api.user.username, "password": PASSWORD}).status_code
        == 302
    )
    return client


def test_admins_see_the_corrupt_image_and_what_was_found_in_the_images_panel(corrupt, admin):
    page = browser(admin).get(reverse("admin-images")).content.decode()
    row = page[page.index(f'id="image-row-{corrupt.pk}"') :].split("</tr>", 1)[0]
    assert 'data-testid="corrupt"' in row and "Corrupt" in row
    assert escape(corrupt.scrub_error) in row
    detail = browser(admin).get(reverse("image-detail", args=[corrupt.pk])).content.decode()
    assert 'data-testid="corrupt-reason"' in detail and escape(corrupt.scrub_error) in detail


def test_the_owner_is_offered_neither_launch_nor_download_and_the_download_url_refuses(
    corrupt, member, stores_dir
):
    client = browser(member)
    page = client.get(reverse("images")).content.decode()
    row = page[page.index(f'id="image-row-{corrupt.pk}"') :].split("</tr>", 1)[0]
    assert 'data-testid="corrupt"' in row
    assert escape(corrupt.scrub_error) not in row  # the details are for administrators
    assert f"/image/v2/images/{corrupt.pk}/file" not in row and "Launch" not in row
    intact = stored_image(member, stores_dir, name="fine")
    page = client.get(reverse("images")).content.decode()
    row = page[page.index(f'id="image-row-{intact.pk}"') :].split("</tr>", 1)[0]
    assert f'href="/image/v2/images/{intact.pk}/file"' in row
    assert client.get(f"/image/v2/images/{intact.pk}/file").status_code == 200
    # The dashboard's download link is the image API's: with the session it refuses the same way.
    response = client.get(f"/image/v2/images/{corrupt.pk}/file")
    assert response.status_code == 409 and "failed an integrity check" in response.json()["message"]


def test_every_project_that_sees_the_image_is_refused_too(corrupt, member):
    ops = [{"op": "replace", "path": "/visibility", "value": "community"}]
    assert member.patch(f"/v2/images/{corrupt.pk}", ops).status_code == 200
    other = api_for(make_project(), "member")
    response = other.get(f"/v2/images/{corrupt.pk}/file")
    assert response.status_code == 409 and "failed an integrity check" in response.json()["message"]


# --- HTTP locations: verified while streaming ------------------------------------------------------


@pytest.fixture
def remote(tmp_path, settings):
    (tmp_path / "remote").mkdir()
    server = RemoteFiles(tmp_path / "remote")
    settings.IMAGE_IMPORT_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.IMAGE_IMPORT_ALLOWED_PORTS = [server.port]
    settings.IMAGE_CHUNK_SIZE = 64 * 1024  # several chunks, so a cut stream has had some of them
    yield server
    server.stop()


def location_image(member, remote, data: bytes) -> Image:
    (remote.root / "disk.raw").write_bytes(data)
    image = member.create(disk_format="raw")
    validation = {"os_hash_algo": "sha512", "os_hash_value": hashlib.sha512(data).hexdigest()}
    response = member.post(
        f"/v2/images/{image['id']}/locations", {"url": remote.url("disk.raw"), "validation_data": validation}
    )
    assert response.status_code == 202
    tasks.import_image(image["id"])
    row = Image.objects.get(pk=image["id"])
    assert row.status == "active", row.reason
    return row


def receive(response) -> tuple[bytes, Exception | None]:
    received = bytearray()
    try:
        for chunk in response.streaming_content:
            received += chunk
    except integrity.CorruptData as exc:
        return bytes(received), exc
    return bytes(received), None


def test_an_intact_http_location_streams_in_full_and_stays_unmarked(member, stores_dir, remote):
    image = location_image(member, remote, DATA)
    received, error = receive(member.get(f"/v2/images/{image.pk}/file"))
    assert error is None and received == DATA
    assert not Image.objects.get(pk=image.pk).is_corrupt


@pytest.mark.parametrize(
    "changed",
    [
        bytes([DATA[0] ^ 1]) + DATA[1:],  # same size, first byte differs
        DATA[:-1] + bytes([DATA[-1] ^ 1]),  # same size, last byte differs
        DATA[:-100],  # shorter
        DATA + b"more",  # longer
    ],
    ids=["first-byte", "last-byte", "shorter", "longer"],
)
def test_a_changed_http_location_is_cut_short_and_the_image_marked(member, stores_dir, remote, changed):
    image = location_image(member, remote, DATA)
    (remote.root / "disk.raw").write_bytes(changed)
    response = member.get(f"/v2/images/{image.pk}/file")
    assert response.status_code == 200 and response["Content-Length"] == str(len(DATA))
    received, error = receive(response)
    assert isinstance(error, integrity.CorruptData)
    assert len(received) < len(DATA)  # a broken transfer, never a complete wrong file
    image.refresh_from_db()
    assert image.is_corrupt and "HTTP location" in image.scrub_error
    assert member.get(f"/v2/images/{image.pk}/file").status_code == 409


def test_a_range_of_a_changed_http_location_is_cut_as_well(member, stores_dir, remote):
    image = location_image(member, remote, DATA)
    (remote.root / "disk.raw").write_bytes(DATA[:-1] + bytes([DATA[-1] ^ 1]))
    response = member.get(f"/v2/images/{image.pk}/file", HTTP_RANGE="bytes=0-99")
    assert response.status_code == 206
    received, error = receive(response)
    assert isinstance(error, integrity.CorruptData) and received == b""  # the only piece was held back
    assert Image.objects.get(pk=image.pk).is_corrupt


def test_a_range_of_an_intact_http_location_is_served_after_the_whole_was_verified(
    member, stores_dir, remote
):
    image = location_image(member, remote, DATA)
    response = member.get(f"/v2/images/{image.pk}/file", HTTP_RANGE="bytes=70000-140000")
    assert response.status_code == 206
    received, error = receive(response)
    assert error is None and received == DATA[70000:140001]


def test_an_administrator_can_check_images_at_once_from_the_command_line(member, stores_dir):
    image = stored_image(member, stores_dir)
    assert tasks.scrub()["checked"] == 1  # checked: not due again for a week
    flip_a_byte(store_file(stores_dir, image))
    out = io.StringIO()
    call_command("scrub_images", str(image.pk), "--rate", "0", stdout=out)
    report = json.loads(out.getvalue())
    assert report["checked"] == 1 and report["corrupt"] == [str(image.pk)]
    assert Image.objects.get(pk=image.pk).is_corrupt
