from __future__ import annotations

import hashlib

import pytest

pytestmark = pytest.mark.django_db


def test_upload_show_download_patch_delete(member, qcow2, stores_dir):
    image = member.create(name="cirros", k="v")
    assert image["status"] == "queued" and image["visibility"] == "shared" and image["k"] == "v"
    assert member.upload(image["id"], qcow2).status_code == 204
    shown = member.get(f"/v2/images/{image['id']}").json()
    assert shown["status"] == "active"
    assert shown["checksum"] == hashlib.md5(qcow2).hexdigest()
    assert shown["os_hash_value"] == hashlib.sha512(qcow2).hexdigest()
    assert shown["size"] == len(qcow2) and shown["virtual_size"] == 16 * 1024 * 1024
    download = member.get(f"/v2/images/{image['id']}/file")
    assert download.status_code == 200 and b"".join(download.streaming_content) == qcow2
    patched = member.patch(f"/v2/images/{image['id']}", [{"op": "add", "path": "/k2", "value": "v2"}])
    assert patched.status_code == 200, patched.content
    assert patched.json()["k2"] == "v2"
    assert member.delete(f"/v2/images/{image['id']}").status_code == 204
    assert member.get(f"/v2/images/{image['id']}").status_code == 404
    assert not list((stores_dir / "store").iterdir())
