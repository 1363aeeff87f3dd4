"""Querysets compiled to SQL once per shape, then run with each request's own values.

Building and compiling a queryset with a few filters costs the ORM about a millisecond here, often
more than the database takes to answer. A hot read path whose SQL depends on the request only
through a *shape* (which filters, which order, which limit) and a few *values* (the caller's project)
keeps the compiled SQL per shape, like SQLAlchemy's compiled cache:

- ``build(values)`` returns the queryset. It may branch on the shape, which is the key, never on
  the values.
- The first call of a shape builds it with a marker in place of each value and compiles it. The
  compiled form is kept only if each marker came out of the compiler untouched, as a parameter of
  its own; a marker transformed (wrapped in ``%`` by ``icontains``, JSON-encoded …) or written into
  the SQL text makes that shape uncacheable, and it is compiled on every call instead.
- Later calls put the values in the markers' places and run the same SQL.

Results are never cached: every call runs its query against the database.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet


class _Marker(str):
    """A value's stand-in while a shape compiles; recognised afterwards by identity."""

    __slots__ = ()


@dataclass(frozen=True)
class _Compiled:
    db: str
    sql: str
    # For each parameter: the name of the value to put there, or None to keep the constant.
    slots: tuple[str | None, ...]
    constants: tuple


_UNCACHEABLE, _EMPTY = object(), object()


class PreparedQueries:
    def __init__(self, maxsize: int = 512) -> None:
        self.maxsize = maxsize
        self._compiled: dict[Hashable, _Compiled | object] = {}
        self._lock = threading.Lock()

    def fetch(
        self, shape: Hashable | None, values: Mapping[str, str | None], build: Callable[[Mapping], QuerySet]
    ) -> list[tuple]:
        """The rows (as the database driver returns them) of ``build(values)``; a shape of None
        compiles on every call."""
        # None cannot take a marker's place: `= NULL` is not `IS NULL`.
        uncached = shape is None or None in values.values()
        compiled = _UNCACHEABLE if uncached else self._compiled.get(shape)
        if compiled is None:
            compiled = self._compile(shape, values, build)
        if compiled is _EMPTY:
            return []
        if compiled is _UNCACHEABLE:
            queryset = build(values)
            try:
                sql, params = queryset.query.get_compiler(queryset.db).as_sql()
            except EmptyResultSet:
                return []
            return _run(queryset.db, sql, params)
        slots = zip(compiled.slots, compiled.constants, strict=True)
        return _run(compiled.db, compiled.sql, [c if s is None else values[s] for s, c in slots])

    def _compile(self, shape, values, build) -> _Compiled | object:
        nonce = secrets.token_hex(8)
        markers = {name: _Marker(f"\x00{nonce}:{name}\x00") for name in values}
        queryset = build(markers)
        result: _Compiled | object = _UNCACHEABLE
        try:
            sql, params = queryset.query.get_compiler(queryset.db).as_sql()
        except EmptyResultSet:
            # The shape itself matches nothing (an id filter that is not a UUID …).
            sql, params, result = "", [], _EMPTY
        if result is not _EMPTY and nonce not in sql:
            by_id = {id(m): name for name, m in markers.items()}
            slots = tuple(by_id.get(id(p)) for p in params)
            # Refused: a marker inside another parameter (a LIKE pattern, an adapted JSON value …).
            pairs = list(zip(slots, params, strict=True))
            if not any(s is None and (nonce in str(p) or nonce in repr(p)) for s, p in pairs):
                constants = tuple(None if s is not None else p for s, p in pairs)
                result = _Compiled(queryset.db, sql, slots, constants)
        with self._lock:
            if len(self._compiled) >= self.maxsize:
                for key in list(self._compiled)[: self.maxsize // 4]:
                    self._compiled.pop(key, None)
            self._compiled[shape] = result
        return result


def _run(db: str, sql: str, params) -> list[tuple]:
    with connections[db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
