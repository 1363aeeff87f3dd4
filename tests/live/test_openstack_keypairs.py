"""python-openstackclient, unmodified, managing key pairs on the live server."""

from __future__ import annotations

import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

pytestmark = pytest.mark.live

OPENSSH = (serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)


def test_the_keypair_commands_of_the_openstack_cli(openstack_demo, tmp_path):
    cli = openstack_demo
    k1, k2 = f"k1-{uuid.uuid4().hex[:8]}", f"k2-{uuid.uuid4().hex[:8]}"

    # Without --public-key the private key is printed, as `openstack keypair create k1 > k1.pem` expects.
    pem = cli.run("keypair", "create", k1).stdout
    private = serialization.load_ssh_private_key(pem.encode(), password=None)
    generated = private.public_key().public_bytes(*OPENSSH).decode()

    mine = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(*OPENSSH).decode()
    key_file = tmp_path / "id_ed25519.pub"
    key_file.write_text(f"{mine} me@laptop\n")
    imported = cli.json("keypair", "create", "--public-key", str(key_file), k2)
    assert imported["name"] == k2

    listed = {row["Name"]: row for row in cli.json("keypair", "list")}
    assert {k1, k2} <= set(listed)
    assert listed[k2]["Fingerprint"] == imported["fingerprint"]

    shown = cli.json("keypair", "show", k2)
    assert shown["name"] == k2 and shown["fingerprint"] == imported["fingerprint"]
    assert shown["type"] == "ssh"
    public = cli.run("keypair", "show", "--public-key", k1).stdout
    assert public.split()[:2] == generated.split()

    cli.run("keypair", "delete", k1)
    names = [row["Name"] for row in cli.json("keypair", "list")]
    assert k1 not in names and k2 in names
    assert cli.run("keypair", "show", k1, check=False).returncode != 0
    cli.run("keypair", "delete", k2)
