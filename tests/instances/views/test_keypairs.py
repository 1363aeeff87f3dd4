"""The Project → Key Pairs panel: Create Key Pair downloads the private key once, Import Public Key
shows the service's reason for a key it refuses, Delete asks first, and a user sees and deletes only
their own key pairs, in a number of queries that does not grow with them."""

from __future__ import annotations

import re

from cryptography.hazmat.primitives import serialization
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard.models import User
from instances.models import KeyPair
from instances.services import keypairs
from tests.instances.dashboard_support import PERSONAS, browser_for

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMDFzm7VH9nUOl6LYDG1lXQnUeFoKSZbR3OW5UAzh7Vy laptop"


def owner(who: str) -> User:
    return User.objects.get(username=PERSONAS[who])


def test_create_downloads_the_private_key_whose_public_half_is_kept(world):
    client = browser_for("member")
    assert b"Create Key Pair" in client.get("/keypairs/create/").content
    response = client.post("/keypairs/create/", {"name": "laptop"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-pem-file"
    assert response["Content-Disposition"] == 'attachment; filename="laptop.pem"'
    assert response["Cache-Control"] == "no-store"
    private = serialization.load_ssh_private_key(response.content, password=None)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    keypair = KeyPair.objects.get()
    assert keypair.user == owner("member") and keypair.name == "laptop"
    assert keypair.public_key.split()[:2] == public.decode().split()
    assert b"PRIVATE KEY" not in keypair.public_key.encode()
    page = client.get("/keypairs/").content.decode()
    assert 'data-keypair="laptop"' in page and keypair.fingerprint in page


def test_a_name_taken_is_refused_on_the_form_and_nothing_is_downloaded(world):
    keypairs.import_keypair(owner("member"), "laptop", ED25519)
    response = browser_for("member").post("/keypairs/create/", {"name": "laptop"})
    assert response["Content-Type"].startswith("text/html")
    assert "Key pair &#x27;laptop&#x27; already exists." in response.content.decode()
    assert KeyPair.objects.count() == 1


def test_a_name_with_unsafe_characters_is_refused(world):
    response = browser_for("member").post("/keypairs/create/", {"name": "../etc"})
    assert "may contain letters, digits, spaces" in response.content.decode()
    assert not KeyPair.objects.exists()


def test_import_keeps_the_public_key(world):
    client = browser_for("member")
    response = client.post("/keypairs/import/", {"name": "desk", "public_key": ED25519}, follow=True)
    assert "Imported key pair &quot;desk&quot;." in response.content.decode()
    keypair = KeyPair.objects.get(user=owner("member"))
    assert keypair.public_key == ED25519
    assert keypair.fingerprint == keypairs.ssh_fingerprint(ED25519)


def test_import_of_a_bad_key_shows_the_reason_and_creates_nothing(world):
    client = browser_for("member")
    response = client.post("/keypairs/import/", {"name": "bad", "public_key": "ssh-ed25519 not-a-key"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Keypair data is invalid: failed to parse the public key" in page
    dss = client.post("/keypairs/import/", {"name": "bad", "public_key": "ssh-dss AAAAB3NzaC1kc3M= old"})
    assert "DSA (ssh-dss) keys are not accepted" in dss.content.decode()
    assert not KeyPair.objects.exists()


def test_delete_asks_first_then_deletes(world):
    keypairs.import_keypair(owner("member"), "old key", ED25519)
    client = browser_for("member")
    list_page = client.get("/keypairs/").content.decode()
    assert 'href="/keypairs/old%20key/delete/"' in list_page
    confirm = client.get("/keypairs/old%20key/delete/").content.decode()
    assert "Delete Key Pair" in confirm and "This cannot be undone." in confirm
    assert KeyPair.objects.exists()
    response = client.post("/keypairs/old%20key/delete/", follow=True)
    assert "Deleted key pair &quot;old key&quot;." in response.content.decode()
    assert not KeyPair.objects.exists()


def test_another_users_key_pair_is_not_listed_and_cannot_be_deleted(world):
    keypairs.import_keypair(owner("outsider"), "theirs", ED25519)
    client = browser_for("member")
    assert 'data-keypair="theirs"' not in client.get("/keypairs/").content.decode()
    assert client.get("/keypairs/theirs/delete/").status_code == 404
    assert client.post("/keypairs/theirs/delete/").status_code == 404
    assert KeyPair.objects.filter(user=owner("outsider"), name="theirs").exists()


def test_the_panel_is_in_the_navigation_of_members_and_readers(world):
    for who in ("member", "reader"):
        keypairs.import_keypair(owner(who), "mine", ED25519)
        page = browser_for(who).get("/keypairs/").content.decode()
        assert re.search(r'<i class="bi bi-key me-2" aria-hidden="true"></i>Key Pairs', page)
        main = page.split("<main")[1]
        assert "bi-trash" in main and not re.search(r'<i class="bi [^"]*"(?! aria-hidden="true")>', main)


def test_the_list_takes_the_same_number_of_queries_for_1_or_10_key_pairs(world):
    client = browser_for("member")
    keypairs.create_keypair(owner("member"), "k0")
    client.get("/keypairs/")  # the first page of a session also loads the session and the user
    with CaptureQueriesContext(connection) as few:
        client.get("/keypairs/")
    for index in range(1, 10):
        keypairs.create_keypair(owner("member"), f"k{index}")
    with CaptureQueriesContext(connection) as many:
        page = client.get("/keypairs/")
    assert page.content.count(b"data-keypair=") == 10
    assert len(many) == len(few)
