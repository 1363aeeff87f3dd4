"""Read-only HTTP locations: the bytes stay at a remote URL and downloads stream from it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from images.pipeline.fetch import FetchError, open_url
from images.stores.base import ImageStore, ReadOnlyStore, StoreError


class HttpStore(ImageStore):
    name = "http"
    description = "Read-only HTTP locations"
    writable = False

    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        raise ReadOnlyStore("The HTTP store is read-only.")

    def get(self, key: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        # For this store the key is the location URL, checked again on every fetch.
        headers = {}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            headers["Range"] = f"bytes={offset}-{end}"
        try:
            return open_url(key, headers=headers).chunks()
        except FetchError as exc:
            raise StoreError(str(exc)) from exc

    def delete(self, key: str) -> None:
        """Nothing to remove: the data belongs to the remote server."""

    def exists(self, key: str) -> bool:
        return True
