"""The service catalog: every API this server offers, at this server's own URL."""

from __future__ import annotations

import uuid

from django.conf import settings

from dashboard.api.urls import base_url

_NS = uuid.UUID("5a0b7e3c-2f43-4f5e-9a55-6b0d4c1e8a21")

SERVICES = (
    # (type, name, path template)
    ("identity", "keystone", "/identity"),
    ("image", "glance", "/image"),
    ("compute", "nova", "/compute/v2.1"),
    ("volumev3", "cinderv3", "/volume/v3/{project_id}"),
    ("block-storage", "cinder", "/volume/v3/{project_id}"),
)


def _id(*parts: str) -> str:
    return uuid.uuid5(_NS, "/".join(parts)).hex


def catalog(request, project_id: str | None) -> list[dict]:
    if project_id is None:
        return []
    base = base_url(request)
    region = settings.REGION_NAME
    entries = []
    for service_type, name, path in SERVICES:
        url = base + path.format(project_id=project_id)
        endpoints = [
            {
                "id": _id(service_type, interface),
                "interface": interface,
                "region": region,
                "region_id": region,
                "url": url,
            }
            for interface in ("public", "internal", "admin")
        ]
        entries.append({"type": service_type, "name": name, "id": _id(service_type), "endpoints": endpoints})
    return entries
