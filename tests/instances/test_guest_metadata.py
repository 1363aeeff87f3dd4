"""What reaches the guest: key pair, user data and config-drive choice at launch (with Nova's 400s
for bad input), and the metadata documents built from them (OpenStack and EC2 layouts)."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from dashboard.models import User
from instances.models import Instance, KeyPair
from instances.services.guest_metadata import document
from tests.instances.api.test_servers import create_body, launch
from tests.instances.virt.test_configdrive import read_back

pytestmark = pytest.mark.django_db
SCRIPT = b"#!/bin/sh\necho hello > /tmp/hello\n"


def public_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


@pytest.fixture
def keypair(world) -> KeyPair:
    owner = User.objects.get(username="mia")  # the member persona
    return KeyPair.objects.create(user=owner, name="laptop", public_key=public_key(), fingerprint="x")


def body_of(path: str, instance: Instance) -> bytes:
    found = document(instance, path)
    assert found is not None, path
    return found[1]


def test_the_key_user_data_and_config_drive_reach_the_metadata_documents(
    world, host, image, tiny, keypair, django_capture_on_commit_callbacks
):
    extra = {"key_name": "laptop", "user_data": base64.b64encode(SCRIPT).decode(), "config_drive": True}
    server_id = launch(world, host, image, tiny, django_capture_on_commit_callbacks, name="Web 1", **extra)
    instance = Instance.objects.get(pk=server_id)
    shown = world["member"].get(f"/servers/{server_id}", "2.96").json()["server"]
    assert (shown["key_name"], shown["config_drive"]) == ("laptop", "True")

    meta = json.loads(body_of("/openstack/latest/meta_data.json", instance))
    assert meta["uuid"] == server_id and meta["hostname"] == "web-1"
    assert meta["public_keys"] == {"laptop": keypair.public_key}
    assert meta["keys"] == [{"name": "laptop", "type": "ssh", "data": keypair.public_key}]
    assert body_of("/openstack/2013-10-17/user_data", instance) == SCRIPT
    listing = body_of("/openstack/latest", instance).decode().splitlines()
    assert listing == [
        "meta_data.json",
        "network_data.json",
        "user_data",
        "vendor_data.json",
        "vendor_data2.json",
    ]
    network = json.loads(body_of("/openstack/latest/network_data.json", instance))
    assert network["links"][0]["ethernet_mac_address"] == instance.mac_address
    assert network["networks"][0]["type"] == "ipv4_dhcp"
    # The EC2 layout cloud-init also reads.
    assert body_of("/latest/meta-data/local-ipv4", instance).decode() == instance.address
    assert body_of("/latest/meta-data/public-keys", instance) == b"0=laptop"
    assert body_of("/latest/meta-data/public-keys/0/openssh-key", instance).decode() == keypair.public_key
    assert body_of("/2009-04-04/user-data", instance) == SCRIPT
    assert "placement/" in body_of("/latest/meta-data/", instance).decode().splitlines()
    assert document(instance, "/openstack/latest/secrets.json") is None


def test_an_instance_without_key_or_user_data_has_neither_document(
    world, host, image, tiny, django_capture_on_commit_callbacks
):
    server_id = launch(world, host, image, tiny, django_capture_on_commit_callbacks)
    instance = Instance.objects.get(pk=server_id)
    assert "public_keys" not in json.loads(body_of("/openstack/latest/meta_data.json", instance))
    assert document(instance, "/openstack/latest/user_data") is None
    assert document(instance, "/latest/user-data") is None


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"user_data": "not base64!"}, "user_data"),
        ({"user_data": base64.b64encode(b"x" * 60000).decode()}, "user_data"),
        ({"config_drive": "maybe"}, "config_drive"),
        ({"key_name": "nobody-has-this"}, "key_name"),
    ],
)
def test_bad_guest_input_is_refused_naming_the_field_and_nothing_is_made(
    world, host, image, tiny, extra, field
):
    response = world["member"].post("/servers", create_body(image, tiny, **extra), "2.96")
    assert response.status_code == 400, response.content
    assert field in response.json()["badRequest"]["message"]
    assert not Instance.objects.exists()


def test_another_users_key_pair_cannot_be_used(world, host, image, tiny, keypair):
    response = world["admin"].post("/servers", create_body(image, tiny, key_name="laptop"), "2.96")
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == "Invalid key_name provided."
    assert not Instance.objects.exists()


def test_a_config_drive_carries_the_documents_when_asked_for_and_on_user_networking_hosts(
    world, host, image, tiny, keypair, django_capture_on_commit_callbacks
):
    # The fake host has no bridges: no metadata service reaches its guests, so every one gets a drive.
    encoded = base64.b64encode(SCRIPT).decode()
    server_id = launch(world, host, image, tiny, django_capture_on_commit_callbacks, key_name="laptop",
                       user_data=encoded)  # fmt: skip
    spec = host.driver.dirs.load_spec(server_id)
    assert spec.config_drive.endswith("/disk.config")
    on_drive = read_back(spec.config_drive)
    meta = json.loads(on_drive["openstack/latest/meta_data.json"])
    assert meta["uuid"] == server_id and meta["public_keys"] == {"laptop": keypair.public_key}
    assert on_drive["openstack/latest/user_data"] == SCRIPT
