"""Public base URLs of this server, as the service catalog advertises them."""

from django.conf import settings


def base_url(request) -> str:
    return settings.PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")


def identity_url(request) -> str:
    return f"{base_url(request)}/identity"
