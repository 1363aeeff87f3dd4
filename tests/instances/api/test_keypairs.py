"""os-keypairs through the real URLs: generate and import across microversions, the keys Stratus
refuses, names, ownership, user_id for administrators, the quota, paging, and the quota views."""

from __future__ import annotations

import base64
import datetime
import hashlib
import warnings

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard.models import User
from instances.models import KeyPair

OPENSSH = (serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)


def public_line(private_key) -> str:
    return private_key.public_key().public_bytes(*OPENSSH).decode()


def md5_fingerprint(line: str) -> str:
    digest = hashlib.md5(base64.b64decode(line.split()[1]), usedforsecurity=False).digest()
    return ":".join(f"{b:02x}" for b in digest)


@pytest.fixture(scope="module")
def ed25519_line() -> str:
    return public_line(ed25519.Ed25519PrivateKey.generate()) + " me@laptop"


@pytest.fixture(scope="module")
def rsa_line() -> str:
    return public_line(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def user(name: str) -> User:
    return User.objects.get(username=name)


def create(world, who: str, version: str, **keypair):
    return world[who].post("/os-keypairs", {"keypair": keypair}, version)


# -- create -------------------------------------------------------------------------------------


def test_a_generated_pair_at_2_1_answers_200_with_a_usable_private_key_shown_once(world):
    response = create(world, "member", "2.1", name="k1")
    assert response.status_code == 200, response.content
    body = response.json()["keypair"]
    assert set(body) == {"name", "public_key", "fingerprint", "user_id", "private_key"}
    assert body["user_id"] == user("mia").pk
    assert body["private_key"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    private = serialization.load_ssh_private_key(body["private_key"].encode(), password=None)
    assert public_line(private) == " ".join(body["public_key"].split()[:2])
    assert body["fingerprint"] == md5_fingerprint(body["public_key"])

    stored = KeyPair.objects.get(user=user("mia"), name="k1")
    assert stored.public_key == body["public_key"]
    assert stored.type == "ssh"
    shown = world["member"].get("/os-keypairs/k1", "2.1").json()["keypair"]
    assert "private_key" not in shown
    assert "BEGIN" not in str(KeyPair.objects.values().get(pk=stored.pk))


def test_a_generated_pair_at_2_2_answers_201_with_its_type(world):
    response = create(world, "member", "2.2", name="k2")
    assert response.status_code == 201
    body = response.json()["keypair"]
    assert body["type"] == "ssh"
    assert "private_key" in body


def test_an_imported_ed25519_key_is_kept_with_nova_s_fingerprint(world, ed25519_line):
    response = create(world, "member", "2.2", name="laptop", public_key=ed25519_line)
    assert response.status_code == 201
    body = response.json()["keypair"]
    assert set(body) == {"name", "public_key", "fingerprint", "user_id", "type"}
    assert body["public_key"] == ed25519_line
    assert body["fingerprint"] == md5_fingerprint(ed25519_line)
    assert len(body["fingerprint"].split(":")) == 16


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()])
def test_ecdsa_keys_on_the_nist_curves_are_accepted(world, curve):
    line = public_line(ec.generate_private_key(curve))
    response = create(world, "member", "2.10", name="ec", public_key=line)
    assert response.status_code == 201, response.content
    assert response.json()["keypair"]["fingerprint"] == md5_fingerprint(line)


def test_rsa_2048_is_accepted_at_2_92_where_a_public_key_is_required(world, rsa_line):
    assert create(world, "member", "2.92", name="gen").status_code == 400
    response = create(world, "member", "2.92", name="rsa@laptop.home", public_key=rsa_line)
    assert response.status_code == 201, response.content
    assert "private_key" not in response.json()["keypair"]
    assert list(KeyPair.objects.values_list("name", flat=True)) == ["rsa@laptop.home"]


def test_names_follow_nova_s_characters_per_microversion(world, ed25519_line):
    assert create(world, "member", "2.91", name="a@b", public_key=ed25519_line).status_code == 400
    assert create(world, "member", "2.91", name="a.b", public_key=ed25519_line).status_code == 400
    assert create(world, "member", "2.91", name="my key_1-x", public_key=ed25519_line).status_code == 201
    assert create(world, "member", "2.92", name="a/b", public_key=ed25519_line).status_code == 400
    assert create(world, "member", "2.92", name="x" * 256, public_key=ed25519_line).status_code == 400
    assert create(world, "member", "2.92", name="", public_key=ed25519_line).status_code == 400
    assert list(KeyPair.objects.values_list("name", flat=True)) == ["my key_1-x"]


def test_fields_of_later_microversions_are_refused_earlier(world):
    response = create(world, "member", "2.1", name="k", type="ssh")
    assert response.status_code == 400
    assert "'type' was unexpected" in response.json()["badRequest"]["message"]
    assert create(world, "member", "2.9", name="k", user_id=user("mia").pk).status_code == 400
    assert create(world, "member", "2.2", name="k", type="pgp").status_code == 400
    assert not KeyPair.objects.exists()


def _dsa_line() -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return public_line(dsa.generate_private_key(key_size=1024))


def _private_pem() -> str:
    return (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        )
        .decode()
    )


@pytest.mark.parametrize(
    ("make_key", "problem"),
    [
        (lambda: public_line(rsa.generate_private_key(65537, 1024)), "at least 2048 bits; this one has 1024"),
        (_dsa_line, "DSA (ssh-dss) keys are not accepted"),
        (lambda: "this is not a key", "unsupported key type 'this'"),
        (lambda: "ssh-ed25519 AAAAnotbase64!!", "failed to parse the public key"),
        (_private_pem, "this is a private key"),
    ],
    ids=["rsa-1024", "dsa", "garbage", "bad-base64", "private-key"],
)
def test_a_key_stratus_does_not_accept_is_a_400_naming_the_problem(world, make_key, problem):
    response = create(world, "member", "2.2", name="bad", public_key=make_key())
    assert response.status_code == 400
    message = response.json()["badRequest"]["message"]
    assert message.startswith("Keypair data is invalid: ")
    assert problem in message
    assert not KeyPair.objects.exists()


def test_an_x509_certificate_is_imported_with_its_sha1_fingerprint(world):
    # A self-signed certificate; the SHA-1 of its DER form is Nova's x509 fingerprint.
    from_test = _certificate()
    response = create(world, "member", "2.2", name="cert", type="x509", public_key=from_test["pem"])
    assert response.status_code == 201, response.content
    assert response.json()["keypair"]["fingerprint"] == from_test["fingerprint"]
    assert response.json()["keypair"]["type"] == "x509"
    assert create(world, "member", "2.2", name="c2", type="x509", public_key="junk").status_code == 400


def _certificate() -> dict:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mia")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return {
        "pem": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "fingerprint": ":".join(f"{b:02x}" for b in cert.fingerprint(hashes.SHA1())),
    }


def test_a_duplicate_name_is_a_409_and_the_first_key_stays(world, ed25519_line, rsa_line):
    assert create(world, "member", "2.2", name="dup", public_key=ed25519_line).status_code == 201
    response = create(world, "member", "2.2", name="dup", public_key=rsa_line)
    assert response.status_code == 409
    assert response.json()["conflictingRequest"]["message"] == "Key pair 'dup' already exists."
    assert KeyPair.objects.get(name="dup").public_key == ed25519_line
    # Names are per user: another user may take the same one.
    assert create(world, "outsider", "2.2", name="dup", public_key=rsa_line).status_code == 201


def test_the_quota_is_per_user_and_answers_403_in_nova_s_words(world, settings, ed25519_line):
    settings.COMPUTE_QUOTA_KEY_PAIRS = 2
    assert create(world, "member", "2.2", name="a", public_key=ed25519_line).status_code == 201
    assert create(world, "member", "2.2", name="b").status_code == 201
    response = create(world, "member", "2.2", name="c", public_key=ed25519_line)
    assert response.status_code == 403
    assert response.json()["forbidden"]["message"] == "Quota exceeded, too many key pairs."
    assert KeyPair.objects.filter(user=user("mia")).count() == 2
    assert create(world, "reader", "2.2", name="c", public_key=ed25519_line).status_code == 201


def test_the_quota_is_reported_in_limits_and_quota_sets(world, settings, ed25519_line):
    settings.COMPUTE_QUOTA_KEY_PAIRS = 7
    create(world, "member", "2.2", name="a", public_key=ed25519_line)
    limits = world["member"].get("/limits").json()["limits"]["absolute"]
    assert limits["maxTotalKeypairs"] == 7
    home = world["home"].pk
    assert world["member"].get(f"/os-quota-sets/{home}").json()["quota_set"]["key_pairs"] == 7
    detail = world["member"].get(f"/os-quota-sets/{home}/detail").json()["quota_set"]
    assert detail["key_pairs"] == {"limit": 7, "in_use": 1, "reserved": 0}
    assert world["member"].get(f"/os-quota-sets/{home}/defaults").json()["quota_set"]["key_pairs"] == 7


# -- show, delete, ownership --------------------------------------------------------------------


def test_show_has_nova_s_fields_and_delete_answers_202_then_204(world, ed25519_line):
    create(world, "member", "2.2", name="k", public_key=ed25519_line)
    create(world, "member", "2.2", name="k2", public_key=ed25519_line)
    shown = world["member"].get("/os-keypairs/k", "2.2").json()["keypair"]
    assert set(shown) == {
        "name", "public_key", "fingerprint", "type", "user_id", "id",
        "created_at", "updated_at", "deleted", "deleted_at",
    }  # fmt: skip
    assert shown["deleted"] is False and shown["user_id"] == user("mia").pk
    assert world["member"].delete("/os-keypairs/k", "2.1").status_code == 202
    assert world["member"].delete("/os-keypairs/k2", "2.2").status_code == 204
    assert not KeyPair.objects.exists()
    assert world["member"].get("/os-keypairs/k", "2.2").status_code == 404


def test_another_user_s_key_pair_is_a_404_for_show_and_delete(world, ed25519_line):
    create(world, "member", "2.2", name="mine", public_key=ed25519_line)
    for who in ("reader", "outsider", "admin"):
        response = world[who].get("/os-keypairs/mine", "2.2")
        assert response.status_code == 404
        assert response.json()["itemNotFound"]["message"].startswith("Keypair mine not found for user ")
        assert world[who].delete("/os-keypairs/mine", "2.2").status_code == 404
        assert world[who].get("/os-keypairs", "2.2").json() == {"keypairs": []}
    assert KeyPair.objects.filter(name="mine").exists()


def test_only_an_administrator_may_name_another_user_from_2_10(world, ed25519_line):
    mia = user("mia").pk
    created = world["admin"].post(
        "/os-keypairs", {"keypair": {"name": "ops", "public_key": ed25519_line, "user_id": mia}}, "2.10"
    )
    assert created.status_code == 201
    assert created.json()["keypair"]["user_id"] == mia
    assert KeyPair.objects.get(name="ops").user_id == mia
    listed = world["admin"].get(f"/os-keypairs?user_id={mia}", "2.10").json()["keypairs"]
    assert [k["keypair"]["name"] for k in listed] == ["ops"]
    assert world["admin"].get(f"/os-keypairs/ops?user_id={mia}", "2.10").status_code == 200
    # Below 2.10 user_id is ignored: the admin's own namespace.
    assert world["admin"].get(f"/os-keypairs/ops?user_id={mia}", "2.9").status_code == 404

    for path in (f"/os-keypairs?user_id={mia}", f"/os-keypairs/ops?user_id={mia}"):
        assert world["outsider"].get(path, "2.10").status_code == 403
    assert world["outsider"].delete(f"/os-keypairs/ops?user_id={mia}", "2.10").status_code == 403
    denied = world["outsider"].post(
        "/os-keypairs", {"keypair": {"name": "x", "public_key": ed25519_line, "user_id": mia}}, "2.10"
    )
    assert denied.status_code == 403
    # A user may name themselves.
    assert world["member"].get(f"/os-keypairs/ops?user_id={mia}", "2.10").status_code == 200

    assert world["admin"].delete(f"/os-keypairs/ops?user_id={mia}", "2.10").status_code == 204
    assert not KeyPair.objects.exists()


# -- list ---------------------------------------------------------------------------------------


def test_the_list_shape_follows_the_microversion(world, ed25519_line):
    create(world, "member", "2.2", name="k", public_key=ed25519_line)
    old = world["member"].get("/os-keypairs", "2.1").json()["keypairs"][0]["keypair"]
    assert set(old) == {"name", "public_key", "fingerprint"}
    new = world["member"].get("/os-keypairs", "2.2").json()["keypairs"][0]["keypair"]
    assert set(new) == {"name", "public_key", "fingerprint", "type"}


def test_the_list_pages_with_limit_and_marker_from_2_35(world, ed25519_line):
    for name in ("c", "a", "b"):
        create(world, "member", "2.2", name=name, public_key=ed25519_line)
    first = world["member"].get("/os-keypairs?limit=2", "2.35").json()
    assert [k["keypair"]["name"] for k in first["keypairs"]] == ["c", "a"]
    link = first["keypairs_links"][0]
    assert link["rel"] == "next" and "marker=a" in link["href"] and "limit=2" in link["href"]
    rest = world["member"].get("/os-keypairs?limit=2&marker=a", "2.35").json()
    assert [k["keypair"]["name"] for k in rest["keypairs"]] == ["b"]
    assert "keypairs_links" not in rest
    assert world["member"].get("/os-keypairs?marker=nope", "2.35").status_code == 400
    assert world["member"].get("/os-keypairs?limit=-1", "2.35").status_code == 400
    # Before 2.35 paging parameters are ignored.
    assert len(world["member"].get("/os-keypairs?limit=1", "2.34").json()["keypairs"]) == 3


def test_the_list_costs_the_same_queries_for_one_key_or_twenty(world, ed25519_line):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert world["member"].get("/os-keypairs", "2.35").status_code == 200
        return len(queries)

    create(world, "member", "2.2", name="k0", public_key=ed25519_line)
    one = count()
    for i in range(1, 20):
        create(world, "member", "2.2", name=f"k{i}", public_key=ed25519_line)
    assert count() == one
    assert one <= 6


def test_a_generated_x509_pair_is_a_certificate_and_its_matching_private_key(world):
    response = create(world, "member", "2.2", name="win", type="x509")
    assert response.status_code == 201, response.content
    body = response.json()["keypair"]
    certificate = x509.load_pem_x509_certificate(body["public_key"].encode())
    private = serialization.load_pem_private_key(body["private_key"].encode(), password=None)
    assert certificate.public_key().public_numbers() == private.public_key().public_numbers()
    fingerprint = ":".join(f"{b:02x}" for b in certificate.fingerprint(hashes.SHA1()))
    assert body["type"] == "x509" and body["fingerprint"] == fingerprint
    kept = KeyPair.objects.get(name="win")
    assert kept.public_key == body["public_key"] and "PRIVATE" not in kept.public_key
    shown = world["member"].get("/os-keypairs/win", "2.2").json()["keypair"]
    assert shown["type"] == "x509" and "private_key" not in shown
