"""Named image stores from settings: several at once, one default, plus read-only HTTP."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from images.stores.base import ImageStore, ReadOnlyStore, StoreError
from images.stores.filesystem import FilesystemStore
from images.stores.http import HttpStore

__all__ = ["ImageStore", "ReadOnlyStore", "StoreError", "all_stores", "default_store", "get_store"]


def _build(name: str, conf: dict) -> ImageStore:
    conf = dict(conf)
    kind = conf.pop("type", None)
    if kind == "filesystem":
        return FilesystemStore(name, **conf)
    if kind == "s3":
        # boto3 costs tens of MiB per process: only processes with an S3 store load it.
        from images.stores.s3 import S3Store

        return S3Store(name, **conf)
    raise ImproperlyConfigured(f"Image store {name!r} has an unknown type {kind!r}.")


@cache
def all_stores() -> dict[str, ImageStore]:
    stores = {name: _build(name, conf) for name, conf in settings.IMAGE_STORES.items()}
    stores["http"] = HttpStore()
    return stores


def get_store(name: str) -> ImageStore:
    try:
        return all_stores()[name]
    except KeyError as exc:
        raise StoreError(f"Unknown store {name!r}.") from exc


def default_store() -> ImageStore:
    return get_store(settings.IMAGE_DEFAULT_STORE)
