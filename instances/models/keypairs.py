"""Key pairs: the public SSH keys a user hands to instances (Nova's os-keypairs). Each belongs to one
user, across projects; an instance keeps a copy of the key it was launched with."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class KeyPairType(models.TextChoices):
    SSH = "ssh", "SSH"
    X509 = "x509", "X.509"


class KeyPair(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="keypairs")
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=8, choices=KeyPairType.choices, default=KeyPairType.SSH)
    public_key = models.TextField()
    fingerprint = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"],
                name="keypair_name_unique",
                violation_error_message="You already have a key pair with this name.",
            ),
        ]

    def __str__(self) -> str:
        return self.name
