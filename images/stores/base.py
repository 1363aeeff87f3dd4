"""The one interface every image store implements, and its one error type."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator


class StoreError(Exception):
    """A store could not do what was asked. The message never carries credentials or URLs with secrets."""


class ReadOnlyStore(StoreError):
    pass


class ImageStore(abc.ABC):
    name: str
    description: str = ""
    writable: bool = True

    @abc.abstractmethod
    def put(self, key: str, chunks: Iterable[bytes]) -> int:
        """Store the bytes under ``key``; return how many. Durable when it returns; on error
        nothing is left under ``key``."""

    @abc.abstractmethod
    def get(self, key: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Stream the stored bytes (a range of them when asked)."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the bytes; removing what is not there is not an error."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool: ...

    def keys(self) -> Iterator[str]:
        """Every key in the store (housekeeping compares this with the database)."""
        return iter(())
