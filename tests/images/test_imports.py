"""Security cases C (URL import) and E (task delivery), and the import pipeline run in-process."""

from __future__ import annotations

import hashlib

import pytest

from images import housekeeping, services, tasks
from images.models import Image
from images.pipeline.fetch import FetchError, check_url
from images.staging import staging_path
from tests.images.conftest import qemu_img
from tests.images.live_support import RemoteFiles

pytestmark = pytest.mark.django_db


@pytest.fixture
def remote(tmp_path, settings):
    server = RemoteFiles(tmp_path / "remote")
    (tmp_path / "remote").mkdir()
    settings.IMAGE_IMPORT_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.IMAGE_IMPORT_ALLOWED_PORTS = [server.port]
    yield server
    server.stop()


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/x",
        "gopher://example.com/x",
        "s3://bucket/key",
        "http://example.com:6379/",
        "http://example.com:22/",
        "http://example.com:11211/",
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
        "http://user:pw@example.com/",
    ],
)
def test_url_imports_refuse_other_schemes_ports_and_internal_addresses(url):
    with pytest.raises(FetchError):
        check_url(url)


def test_the_import_api_refuses_an_internal_url_and_leaves_the_image_queued(member, stores_dir):
    image = member.create()
    response = member.post(
        f"/v2/images/{image['id']}/import",
        {"method": {"name": "web-download", "uri": "http://169.254.169.254/latest/meta-data/"}},
    )
    assert response.status_code == 400
    assert Image.objects.get(pk=image["id"]).status == "queued"


def run_web_download(member, url, **fields):
    image = member.create(**fields)
    image = Image.objects.get(pk=image["id"])
    services.start_import(image, "web-download", url)
    tasks.import_image(str(image.pk))
    image.refresh_from_db()
    return image


def test_a_redirect_to_an_internal_address_is_refused_at_that_hop(member, stores_dir, remote):
    image = run_web_download(member, remote.url("redirect"))
    assert image.status == "queued" and "not allowed" in image.reason
    assert remote.requests == ["/files/redirect"]


def test_an_endless_body_is_cut_at_the_size_cap_and_the_staging_file_removed(
    member, stores_dir, remote, settings
):
    settings.IMAGE_MAX_SIZE = 3 << 20
    (remote.root / "big").write_bytes(b"\0" * (8 << 20))
    image = run_web_download(member, remote.url("big"), disk_format="raw")
    assert image.status == "queued" and "larger than the limit" in image.reason
    assert not staging_path(image.pk).exists()
    assert list((stores_dir / "store").iterdir()) == []


def test_a_trickling_server_times_out(member, stores_dir, remote, settings):
    settings.IMAGE_IMPORT_READ_TIMEOUT = 0.5
    (remote.root / "slow").write_bytes(b"\0" * (2 << 20))
    image = run_web_download(member, remote.url("slow", hold=True), disk_format="raw")
    assert image.status == "queued" and "download failed" in image.reason
    assert not staging_path(image.pk).exists()


def test_a_raw_import_is_converted_to_qcow2_and_rechecked(member, stores_dir, remote):
    (remote.root / "disk.raw").write_bytes(b"\1" * (1 << 20))
    image = run_web_download(member, remote.url("disk.raw"), disk_format="raw")
    assert image.status == "active", image.reason
    assert image.disk_format == "qcow2" and image.virtual_size == 1 << 20
    stored = (stores_dir / "store" / str(image.pk)).read_bytes()
    assert stored[:4] == b"QFI\xfb" and image.os_hash_value == hashlib.sha512(stored).hexdigest()
    assert not staging_path(image.pk).exists()


def test_a_glance_direct_import_of_a_backing_file_qcow2_is_refused(member, stores_dir, tmp_path):
    canary = tmp_path / "canary"
    canary.write_bytes(b"secret")
    path = tmp_path / "b.qcow2"
    qemu_img("create", "-f", "qcow2", "-b", str(canary), "-F", "raw", str(path), "16M")
    image = member.create()
    assert member.put(f"/v2/images/{image['id']}/stage", path.read_bytes()).status_code == 204
    assert Image.objects.get(pk=image["id"]).status == "uploading"
    assert (
        member.post(f"/v2/images/{image['id']}/import", {"method": {"name": "glance-direct"}}).status_code
        == 202
    )
    assert (
        member.post(f"/v2/images/{image['id']}/import", {"method": {"name": "glance-direct"}}).status_code
        == 409
    )
    tasks.import_image(image["id"])
    row = Image.objects.get(pk=image["id"])
    assert row.status == "queued" and "backing_file" in row.reason
    assert not staging_path(row.pk).exists()
    assert list((stores_dir / "store").iterdir()) == []


def test_a_second_delivery_while_the_lease_is_held_does_nothing(member, stores_dir):
    image = Image.objects.get(pk=member.create()["id"])
    Image.objects.filter(pk=image.pk).update(status="uploading")
    staging_path(image.pk).write_bytes(b"x")
    services.start_import(image, "glance-direct")
    owner, attempt = services.claim_import(str(image.pk))
    tasks.import_image(str(image.pk))
    row = Image.objects.get(pk=image.pk)
    assert row.status == "importing" and row.lease_owner == owner and row.import_attempts == attempt


def test_a_poison_import_is_killed_after_the_attempt_limit(member, stores_dir, settings):
    image = Image.objects.get(pk=member.create()["id"])
    Image.objects.filter(pk=image.pk).update(status="uploading")
    services.start_import(image, "glance-direct")
    Image.objects.filter(pk=image.pk).update(import_attempts=settings.IMAGE_IMPORT_MAX_ATTEMPTS)
    tasks.import_image(str(image.pk))
    row = Image.objects.get(pk=image.pk)
    assert row.status == "killed" and "too many times" in row.reason


def test_the_sweeper_requeues_an_import_whose_lease_lapsed(
    member, stores_dir, settings, django_capture_on_commit_callbacks
):
    image = Image.objects.get(pk=member.create()["id"])
    Image.objects.filter(pk=image.pk).update(status="uploading")
    services.start_import(image, "glance-direct")
    services.claim_import(str(image.pk))
    settings.IMAGE_IMPORT_LEASE = -1
    Image.objects.filter(pk=image.pk).update(lease_expires_at="2000-01-01T00:00:00Z")
    with django_capture_on_commit_callbacks() as callbacks:
        assert housekeeping.recover_imports() == 1
    assert len(callbacks) == 1


def test_celery_accepts_json_only():
    from django.conf import settings

    assert settings.CELERY_ACCEPT_CONTENT == ["json"]
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST


def test_a_fetch_connects_to_the_address_that_was_checked_not_a_second_resolution(
    tmp_path, settings, monkeypatch
):
    """DNS rebinding: the name answers an allowed address to the check and loopback afterwards.
    The fetch must resolve once and connect to the checked address, sending the name as Host."""
    import socket

    from images.pipeline.fetch import open_url

    (tmp_path / "checked").mkdir()
    (tmp_path / "checked" / "disk").write_bytes(b"from the checked address")
    checked = RemoteFiles(tmp_path / "checked", host="127.0.0.2")
    (tmp_path / "rebound").mkdir()
    (tmp_path / "rebound" / "disk").write_bytes(b"from the rebound address")
    rebound = RemoteFiles(tmp_path / "rebound", port=checked.port)  # 127.0.0.1, same port
    settings.IMAGE_IMPORT_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    settings.IMAGE_IMPORT_ALLOWED_PORTS = [checked.port]
    real = socket.getaddrinfo
    answers = iter(["127.0.0.2", "127.0.0.1"])
    asked = []

    def rebinding_dns(host, port, *args, **kwargs):
        if host != "images.example.test":
            return real(host, port, *args, **kwargs)
        asked.append(host)
        address = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    try:
        download = open_url(f"http://images.example.test:{checked.port}/files/disk")
        assert b"".join(download.chunks()) == b"from the checked address"
        assert asked == ["images.example.test"]
        assert checked.requests == ["/files/disk"] and rebound.requests == []
        assert checked.hosts == [f"images.example.test:{checked.port}"]
        # The next fetch resolves (and checks) again: now the name points at loopback and is refused.
        with pytest.raises(FetchError, match="not allowed"):
            open_url(f"http://images.example.test:{checked.port}/files/disk")
        assert rebound.requests == []
    finally:
        checked.stop()
        rebound.stop()


def test_every_redirect_hop_is_resolved_and_checked_again(tmp_path, settings, monkeypatch):
    import socket

    from images.pipeline.fetch import open_url

    (tmp_path / "r").mkdir()
    server = RemoteFiles(tmp_path / "r", redirect_to="http://internal.example.test/x")
    settings.IMAGE_IMPORT_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.IMAGE_IMPORT_ALLOWED_PORTS = [server.port, 80]
    real = socket.getaddrinfo

    def dns(host, port, *args, **kwargs):
        if host == "internal.example.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", dns)
    try:
        with pytest.raises(FetchError, match="internal.example.test"):
            open_url(server.url("redirect"))
        assert server.requests == ["/files/redirect"]
    finally:
        server.stop()
