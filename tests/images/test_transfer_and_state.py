"""Security cases B (transfer, integrity) and D (state machine, interruption, concurrency)."""

from __future__ import annotations

import errno
import hashlib
import mmap
import os
import uuid
from unittest import mock

import pytest

from dashboard.exceptions import Conflict
from images import housekeeping, services
from images.models import Image
from images.pipeline import upload as uploads
from images.pipeline.errors import TooLarge
from images.staging import staging_path
from images.stores import filesystem
from images.stores.filesystem import write_file

pytestmark = pytest.mark.django_db


def store_files(stores_dir):
    return list((stores_dir / "store").iterdir())


def test_a_declared_size_that_does_not_match_the_body_is_refused(member, stores_dir):
    image = member.create(disk_format="raw")
    response = member.upload(image["id"], b"x" * 50, HTTP_X_OPENSTACK_IMAGE_SIZE="100")
    assert response.status_code == 400 and "declared size" in response.json()["message"]
    assert Image.objects.get(pk=image["id"]).status == "queued"
    assert store_files(stores_dir) == []


def test_an_upload_over_the_cap_stops_at_the_cap_not_at_the_end(member, stores_dir, settings):
    settings.IMAGE_MAX_SIZE = 10_000
    image = Image.objects.get(pk=member.create(disk_format="raw")["id"])
    sent = []

    def endless():
        while True:
            sent.append(4096)
            yield b"\0" * 4096

    with pytest.raises(TooLarge):
        uploads.upload(image, endless(), None)
    assert sum(sent) <= 10_000 + 4096
    image.refresh_from_db()
    assert image.status == "queued" and image.reserved_bytes == 0
    assert store_files(stores_dir) == []


def test_an_upload_over_the_cap_is_a_413(member, stores_dir, settings):
    settings.IMAGE_MAX_SIZE = 1000
    image = member.create(disk_format="raw")
    response = member.upload(image["id"], b"x" * 5000)
    assert response.status_code == 413
    assert Image.objects.get(pk=image["id"]).status == "queued"
    assert store_files(stores_dir) == []


@pytest.mark.parametrize(
    "field",
    ["status", "checksum", "os_hash_value", "size", "virtual_size", "direct_url", "locations", "os_glance_x"],
)
def test_clients_cannot_set_read_only_or_reserved_fields(member, stores_dir, field):
    response = member.post("/v2/images", {"name": "x", field: "file:///etc/passwd"})
    assert response.status_code == 403
    assert not Image.objects.filter(name="x").exists()
    image = member.create()
    response = member.patch(f"/v2/images/{image['id']}", [{"op": "add", "path": f"/{field}", "value": "1"}])
    assert response.status_code == 403


def test_active_data_is_immutable(member, stores_dir, qcow2):
    image = member.create()
    assert member.upload(image["id"], qcow2).status_code == 204
    assert member.upload(image["id"], qcow2).status_code == 409
    assert member.put(f"/v2/images/{image['id']}/stage", qcow2).status_code == 409


def test_a_client_that_goes_away_mid_upload_leaves_the_image_queued_and_no_data(member, stores_dir):
    image = Image.objects.get(pk=member.create(disk_format="raw")["id"])

    def dropped():
        yield b"\0" * 65536
        raise OSError("client disconnected")

    with pytest.raises(OSError):
        uploads.upload(image, dropped(), None)
    image.refresh_from_db()
    assert image.status == "queued" and "interrupted" in image.reason
    assert store_files(stores_dir) == []


def test_only_one_of_two_uploads_to_one_image_wins(member, stores_dir):
    image = Image.objects.get(pk=member.create(disk_format="raw")["id"])
    services.begin_upload(image)
    with pytest.raises(Conflict):
        services.begin_upload(image)
    assert member.upload(str(image.pk), b"x").status_code == 409


def test_deleting_an_image_while_it_uploads_ends_the_upload_with_410(member, stores_dir):
    image = Image.objects.get(pk=member.create(disk_format="raw")["id"])

    def chunks():
        yield b"\0" * 65536
        services.delete_image(Image.objects.get(pk=image.pk))
        yield b"\0" * 65536

    with pytest.raises(services.Gone):
        uploads.upload(image, chunks(), None)
    assert Image.objects.get(pk=image.pk).status == "deleted"
    assert store_files(stores_dir) == []


def test_a_protected_image_cannot_be_deleted_by_owner_or_admin(member, admin, stores_dir):
    image = member.create(protected=True)
    assert member.delete(f"/v2/images/{image['id']}").status_code == 403
    assert admin.delete(f"/v2/images/{image['id']}").status_code == 403
    member.patch(f"/v2/images/{image['id']}", [{"op": "replace", "path": "/protected", "value": False}])
    assert member.delete(f"/v2/images/{image['id']}").status_code == 204
    assert member.get(f"/v2/images/{image['id']}").status_code == 404


def test_the_owner_deactivates_its_image_and_only_admins_download_it_meanwhile(
    member, reader, other, admin, stores_dir, qcow2
):
    image = member.create(visibility="community")
    path = f"/v2/images/{image['id']}"
    assert member.post(f"{path}/actions/deactivate").status_code == 409  # queued: nothing to deactivate
    member.upload(image["id"], qcow2)
    assert reader.post(f"{path}/actions/deactivate").status_code == 403
    assert other.post(f"{path}/actions/deactivate").status_code == 403
    assert member.post(f"{path}/actions/deactivate").status_code == 204
    assert member.get(f"{path}/file").status_code == 403
    assert admin.get(f"{path}/file").status_code == 200
    assert other.post(f"{path}/actions/reactivate").status_code == 403
    assert member.post(f"{path}/actions/reactivate").status_code == 204
    assert member.get(f"{path}/file").status_code == 200


def test_the_sweeper_removes_orphaned_staging_files_and_keeps_live_ones(member, stores_dir):
    live = Image.objects.get(pk=member.create(disk_format="raw")["id"])
    Image.objects.filter(pk=live.pk).update(status="uploading")
    gone = Image.objects.get(pk=member.create(disk_format="raw")["id"])
    Image.objects.filter(pk=gone.pk).update(status="deleted")
    missing = uuid.uuid4()
    for image_id in (live.pk, gone.pk, missing):
        staging_path(image_id).write_bytes(b"x")
    foreign = staging_path("not-an-image")
    foreign.write_bytes(b"x")
    housekeeping.clean_staging()
    assert staging_path(live.pk).exists() and foreign.exists()
    assert not staging_path(gone.pk).exists() and not staging_path(missing).exists()


def test_the_sweeper_removes_store_objects_no_image_accounts_for(member, stores_dir, qcow2):
    kept = member.create()
    member.upload(kept["id"], qcow2)
    orphan = stores_dir / "store" / str(uuid.uuid4())
    orphan.write_bytes(b"x")
    housekeeping.clean_stores()
    assert not orphan.exists()
    assert (stores_dir / "store" / kept["id"]).exists()


def test_a_stalled_upload_is_returned_to_queued(member, stores_dir, settings):
    settings.IMAGE_UPLOAD_STALL_TIMEOUT = 0
    image = Image.objects.get(pk=member.create(disk_format="raw")["id"])
    services.begin_upload(image)
    (stores_dir / "store" / str(image.pk)).write_bytes(b"partial")
    assert housekeeping.recover_stalled_uploads() == 1
    assert Image.objects.get(pk=image.pk).status == "queued"
    assert store_files(stores_dir) == []


def _age(image_id, path=None, seconds: int = 7200) -> None:
    """Make an upload look untouched for ``seconds``: the row and (if given) its staging file."""
    import os
    from datetime import timedelta

    from django.utils import timezone

    then = timezone.now() - timedelta(seconds=seconds)
    Image.objects.filter(pk=image_id).update(updated_at=then)
    if path is not None:
        os.utime(path, (then.timestamp(), then.timestamp()))


def test_a_staging_upload_whose_web_process_died_is_requeued_and_its_partial_file_removed(
    member, stores_dir, settings
):
    settings.IMAGE_UPLOAD_STALL_TIMEOUT = 3600
    image = Image.objects.get(pk=member.create(disk_format="raw")["id"])
    # What a web process killed in the middle of PUT /stage leaves: status uploading, part of a file.
    services.begin_upload(image, to="uploading")
    partial = staging_path(image.pk)
    partial.write_bytes(b"\0" * 4096)
    assert housekeeping.recover_stalled_uploads() == 0  # not stalled yet
    assert partial.exists() and Image.objects.get(pk=image.pk).status == "uploading"
    _age(image.pk, partial)
    assert housekeeping.recover_stalled_uploads() == 1
    row = Image.objects.get(pk=image.pk)
    assert row.status == "queued" and "stalled" in row.reason and row.reserved_bytes == 0
    assert not partial.exists()
    # Retryable: the image can be staged again.
    assert member.put(f"/v2/images/{image.pk}/stage", b"\1" * 1024).status_code == 204
    assert Image.objects.get(pk=image.pk).status == "uploading" and partial.stat().st_size == 1024


def test_a_slow_staging_upload_that_still_writes_is_left_alone(member, stores_dir, settings):
    settings.IMAGE_UPLOAD_STALL_TIMEOUT = 3600
    image = Image.objects.get(pk=member.create(disk_format="raw")["id"])
    services.begin_upload(image, to="uploading")
    partial = staging_path(image.pk)
    partial.write_bytes(b"\0" * 4096)
    _age(image.pk)  # the row is old, but bytes reached the file just now
    assert housekeeping.recover_stalled_uploads() == 0
    assert partial.exists() and Image.objects.get(pk=image.pk).status == "uploading"


def test_the_sweeper_keeps_the_staged_file_of_an_image_that_moved_on(member, stores_dir, settings):
    settings.IMAGE_UPLOAD_STALL_TIMEOUT = 3600
    image = Image.objects.get(pk=member.create(disk_format="raw")["id"])
    services.begin_upload(image, to="uploading")
    staged = staging_path(image.pk)
    staged.write_bytes(b"\0" * 4096)
    _age(image.pk, staged)
    # The row moved on (an import claimed it) after it went quiet: no longer the sweeper's business.
    Image.objects.filter(pk=image.pk).update(status="importing")
    assert housekeeping.recover_stalled_uploads() == 0
    assert staged.exists() and Image.objects.get(pk=image.pk).status == "importing"
    # And the conditional UPDATE itself refuses a row touched after the cutoff.
    from datetime import timedelta

    from django.utils import timezone

    Image.objects.filter(pk=image.pk).update(status="uploading", updated_at=timezone.now())
    cutoff = timezone.now() - timedelta(hours=1)
    assert services.fail_upload(image.pk, "x", expected="uploading", unchanged_since=cutoff) == 0


def test_a_stage_that_the_sweeper_gave_up_on_ends_in_409_without_a_file(member, stores_dir):
    image = Image.objects.get(pk=member.create(disk_format="raw")["id"])

    def chunks():
        yield b"\0" * 65536
        services.fail_upload(image.pk, "Staging failed: the transfer stalled.", expected="uploading")
        yield b"\0" * 65536

    with pytest.raises(Conflict):
        uploads.stage(image, chunks(), None)
    assert Image.objects.get(pk=image.pk).status == "queued"
    assert not staging_path(image.pk).exists()


def _aligned_chunks(count: int, size: int, tail: int) -> list:
    """Page-aligned buffers, as the pipeline hands them out, and an unaligned last chunk."""
    chunks = []
    for _ in range(count):
        buffer = mmap.mmap(-1, size)
        buffer[:] = os.urandom(size)
        chunks.append(memoryview(buffer))
    chunks.append(memoryview(chunks[0])[:tail])
    return chunks


def _digest(chunks) -> str:
    expected = hashlib.sha256()
    for chunk in chunks:
        expected.update(chunk)
    return expected.hexdigest()


@pytest.mark.parametrize(
    ("direct", "aligned", "odirect_supported"),
    [(True, True, True), (True, False, True), (True, True, False), (False, True, True), (False, False, True)],
)
def test_a_store_file_has_every_byte_however_it_is_written(tmp_path, direct, aligned, odirect_supported):
    """O_DIRECT for aligned buffers (the tail and unaligned chunks through the page cache), drop-behind
    windows for what goes through the cache, and a filesystem that refuses O_DIRECT."""
    if aligned:
        chunks = _aligned_chunks(count=20, size=4 * 1024 * 1024, tail=12345)  # 80 MiB and a tail
    else:
        block = os.urandom(3 * 1024 * 1024 + 17)
        chunks = [block] * 30  # about 90 MiB in uneven chunks: several writeback windows
    path = tmp_path / "image"
    real_open = os.open

    def open_without_odirect(file, flags, *args):
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "O_DIRECT not supported")
        return real_open(file, flags, *args)

    opener = real_open if odirect_supported else open_without_odirect
    with (
        mock.patch("images.stores.filesystem.os.open", opener),
        mock.patch.object(filesystem, "_through_page_cache", wraps=filesystem._through_page_cache) as switch,
    ):
        written = write_file(path, iter(chunks), direct=direct, drop_behind=True)
    # O_DIRECT on, then off once: for the unaligned tail, or at the first unaligned chunk.
    assert switch.call_count == (1 if direct and odirect_supported else 0)
    assert written == sum(len(c) for c in chunks) == path.stat().st_size
    with open(path, "rb") as fh:
        assert hashlib.file_digest(fh, "sha256").hexdigest() == _digest(chunks)
