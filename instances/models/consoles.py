"""Console tokens: the short-lived credential of a browser console (noVNC) of one instance."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from instances.models.servers import Instance


class ConsoleTokenQuerySet(models.QuerySet):
    def expired(self) -> ConsoleTokenQuerySet:
        return self.filter(expires_at__lte=timezone.now())


class ConsoleToken(models.Model):
    """A console URL's token, kept only as its SHA-256 digest: the database never holds anything
    that would open a console. It opens the console of its instance, nothing else, until it
    expires or is revoked (the instance stops, is suspended or deleted)."""

    digest = models.CharField(max_length=64, unique=True)
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="console_tokens")
    console_type = models.CharField(max_length=16, default="novnc")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    objects = ConsoleTokenQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")),
                name="console_token_expires_after_creation",
                violation_error_message="A console token must expire after it is made.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.console_type} console of {self.instance_id}"
