"""python-openstackclient, unmodified, against the live server's image API."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from tests.support.processes import require

pytestmark = pytest.mark.live


def test_the_image_lifecycle_with_the_openstack_client(openstack_demo, tmp_path):
    source = tmp_path / "cirros.qcow2"
    subprocess.run([require("qemu-img"), "create", "-f", "qcow2", str(source), "64M"], check=True)
    data = source.read_bytes()
    created = openstack_demo.json(
        "image", "create", "--file", str(source), "--disk-format", "qcow2", "--container-format", "bare",
        "--property", "k=v", "cli-cirros",
    )  # fmt: skip
    assert created["status"] == "active"

    listed = openstack_demo.json("image", "list")
    assert "cli-cirros" in [row["Name"] for row in listed]

    shown = openstack_demo.json("image", "show", "cli-cirros")
    assert shown["status"] == "active"
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["properties"]["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert shown["properties"]["k"] == "v"

    openstack_demo.run("image", "set", "--property", "k2=v2", "cli-cirros")
    assert openstack_demo.json("image", "show", "cli-cirros")["properties"]["k2"] == "v2"

    saved = tmp_path / "saved.qcow2"
    openstack_demo.run("image", "save", "--file", str(saved), "cli-cirros")
    assert saved.read_bytes() == data

    openstack_demo.run("image", "delete", "cli-cirros")
    result = openstack_demo.run("image", "show", "cli-cirros", check=False)
    assert result.returncode != 0 and "No Image found" in result.stderr


def test_a_clean_qcow2_claimed_as_raw_is_refused_through_the_client(openstack_demo, live_stack, tmp_path):
    source = tmp_path / "liar.qcow2"
    subprocess.run([require("qemu-img"), "create", "-f", "qcow2", str(source), "8M"], check=True)
    result = openstack_demo.run(
        "image", "create", "--file", str(source), "--disk-format", "raw", "--container-format", "bare",
        "cli-liar", check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Image content is qcow2 but disk_format is raw" in result.stderr
    # The SDK deletes the record after a failed upload; no image is active and no data stayed behind.
    check = (
        "from images.models import Image; from images.stores import default_store;"
        "ids = [str(i) for i in Image.objects.filter(name='cli-liar').values_list('pk', flat=True)];"
        "print(Image.objects.filter(name='cli-liar', status='active').count(),"
        " sum(default_store().exists(i) for i in ids))"
    )
    assert live_stack.shell(check) == "0 0"
