"""Key pairs (Nova's os-keypairs): import a public key or generate a pair, fingerprint it, delete it.

Public keys are parsed by ``cryptography``, never by hand, and only keys worth trusting are kept:
ssh-ed25519, ECDSA on the NIST curves and RSA of at least 2048 bits. A generated pair is
ed25519: it is made in microseconds (RSA 2048 takes tens of milliseconds and more entropy), it is
OpenSSH's default since 9.5 and every guest OpenSSH since 6.5 (2014) accepts it. The private key is
handed back once, in OpenSSH's own format, and never stored. The quota counts a user's key pairs
under a lock on the user's row, so parallel imports never overshoot it.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import string
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from django.db import IntegrityError, transaction

from dashboard import quotas as project_quotas
from dashboard.exceptions import BadRequest, Conflict, Forbidden, NotFound
from dashboard.models import User
from instances.models import KeyPair, KeyPairType

MIN_RSA_BITS = 2048
# Nova's safe characters for a key pair's name; microversion 2.92 added "@" and ".".
NAME_CHARS_BEFORE_292 = frozenset("_- " + string.digits + string.ascii_letters)
NAME_CHARS = NAME_CHARS_BEFORE_292 | frozenset("@.")
GENERATED_COMMENT = "Generated-by-Stratus"
_ACCEPTED = "accepted are ssh-ed25519, ecdsa-sha2-nistp256/384/521 and ssh-rsa (2048 bits or more)."
_DSA = "DSA (ssh-dss) keys are not accepted; use ssh-ed25519, ECDSA or RSA."


class InvalidKeypair(BadRequest):
    """Nova's InvalidKeypair: "Keypair data is invalid: …"."""

    def __init__(self, reason: str):
        super().__init__(f"Keypair data is invalid: {reason}")


class KeypairExists(Conflict):
    def __init__(self, name: str):
        super().__init__(f"Key pair '{name}' already exists.")


class KeypairNotFound(NotFound):
    def __init__(self, name: str, user_id: str):
        super().__init__(f"Keypair {name} not found for user {user_id}")


class KeypairLimitExceeded(Forbidden):
    def __init__(self):
        super().__init__("Quota exceeded, too many key pairs.")


@dataclass(frozen=True)
class GeneratedKeyPair:
    keypair: KeyPair
    private_key: str


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def ssh_fingerprint(public_key: str) -> str:
    """Nova's fingerprint of an SSH public key: the MD5 of the key blob, as colon-separated hex.
    Raises InvalidKeypair naming what is wrong with a key Stratus does not accept."""
    text = public_key.strip()
    if "PRIVATE KEY" in text:
        raise InvalidKeypair("this is a private key; give the public key (the .pub file) instead.")
    # Refused before parsing: cryptography warns that it is about to drop DSA altogether.
    if text.startswith("ssh-dss "):
        raise InvalidKeypair(_DSA)
    try:
        key = serialization.load_ssh_public_key(text.encode())
    except UnsupportedAlgorithm as exc:
        raise InvalidKeypair(f"unsupported key type {text.split()[0]!r}; {_ACCEPTED}") from exc
    except ValueError as exc:
        raise InvalidKeypair(
            "failed to parse the public key; expected one line such as 'ssh-ed25519 AAAA… comment'."
        ) from exc
    if isinstance(key, dsa.DSAPublicKey):
        raise InvalidKeypair(_DSA)
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise InvalidKeypair(f"RSA keys must have at least {MIN_RSA_BITS} bits; this one has {key.key_size}.")
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)):
        raise InvalidKeypair(f"unsupported key type; {_ACCEPTED}")
    blob = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).split()[1]
    return _colon_hex(hashlib.md5(base64.b64decode(blob), usedforsecurity=False).digest())


def x509_fingerprint(certificate: str) -> str:
    """Nova's fingerprint of an X.509 certificate: the SHA-1 of its DER form, colon-separated hex."""
    try:
        cert = x509.load_pem_x509_certificate(certificate.strip().encode())
    except ValueError as exc:
        raise InvalidKeypair("failed to parse the X.509 certificate; expected PEM.") from exc
    return _colon_hex(cert.fingerprint(hashes.SHA1()))  # noqa: S303 - Nova's format, not a security check


def fingerprint(public_key: str, key_type: str) -> str:
    return x509_fingerprint(public_key) if key_type == KeyPairType.X509 else ssh_fingerprint(public_key)


def get_keypair(user_id: str, name: str) -> KeyPair:
    keypair = KeyPair.objects.filter(user_id=user_id, name=name).first()
    if keypair is None:
        raise KeypairNotFound(name, user_id)
    return keypair


def import_keypair(
    user: User, name: str, public_key: str, key_type: str = KeyPairType.SSH, *, project_id: str | None = None
) -> KeyPair:
    """Keep ``public_key`` under ``name`` for ``user``: 400 for a key not accepted, 409 for a name
    taken, 403 over quota. Key pairs are counted per user, against the ``key_pairs`` limit of the
    project the request works in (as Nova does), the default limit without one."""
    public_key = public_key.strip()
    keypair = KeyPair(
        user=user,
        name=name,
        type=key_type,
        public_key=public_key,
        fingerprint=fingerprint(public_key, key_type),
    )
    with transaction.atomic():
        list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk"))
        if KeyPair.objects.filter(user=user, name=name).exists():
            raise KeypairExists(name)
        limit = project_quotas.limits(project_id)["key_pairs"]
        if limit >= 0 and KeyPair.objects.filter(user=user).count() >= limit:
            raise KeypairLimitExceeded()
        try:
            with transaction.atomic():
                keypair.save()
        except IntegrityError as exc:
            raise KeypairExists(name) from exc
    return keypair


def _generate_ssh() -> tuple[str, str]:
    private = ed25519.Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private_pem, f"{public.decode()} {GENERATED_COMMENT}"


# How long a generated x509 certificate is valid (Nova's: ten years).
X509_VALIDITY = datetime.timedelta(days=3650)


def _generate_x509(user: User, name: str) -> tuple[str, str]:
    """An RSA 2048 key and a self-signed certificate for it, both PEM (Nova's x509 key pairs are
    certificates, used by Windows guests to log in with a certificate)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=MIN_RSA_BITS)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Stratus"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{user.username}-{name}"[:64]),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + X509_VALIDITY)
        .sign(private, hashes.SHA256())
    )
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return private_pem, certificate.public_bytes(serialization.Encoding.PEM).decode()


def create_keypair(
    user: User, name: str, key_type: str = KeyPairType.SSH, *, project_id: str | None = None
) -> GeneratedKeyPair:
    """Generate a pair, keep its public half and return the private half (once; it is not stored):
    an ed25519 SSH key, or an x509 certificate with its RSA key."""
    if key_type == KeyPairType.X509:
        private_key, public_key = _generate_x509(user, name)
    else:
        private_key, public_key = _generate_ssh()
    return GeneratedKeyPair(
        import_keypair(user, name, public_key, key_type, project_id=project_id), private_key
    )


def delete_keypair(user_id: str, name: str) -> None:
    deleted, _ = KeyPair.objects.filter(user_id=user_id, name=name).delete()
    if not deleted:
        raise KeypairNotFound(name, user_id)


def key_pairs_in_use(user_id: str) -> int:
    return KeyPair.objects.filter(user_id=user_id).count()
