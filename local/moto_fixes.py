"""Corrections to moto where its behaviour differs from AWS in ways the stack would notice.

Cancelled transactions and the stream. moto rolls a cancelled TransactWriteItems back by
swapping each table for a deep copy taken before it started. The copy carries a copy of the
stream shard, so (1) records for writes that never happened stay in the shard object that open
shard iterators still read, and (2) every later record goes to the new shard, which those
iterators never see: one cancelled transaction leaves a consumer with a phantom event and then
deaf. DynamoDB emits nothing for a cancelled transaction, so the live shard is kept, trimmed
back to its length before the transaction.

Transaction cost. That deep copy is of whole tables, on every transaction, so a suite or a load
test slows down quadratically as tables grow. Only the items a transaction names can change,
so only those are copied, and a cancelled transaction puts exactly those back.

Query cost. moto answers every Query by sorting all of the table's items and filtering them
(the partition for a table query, the index key for an index query), so each Query costs
O(n log n) in the table's size with DynamoDB-typed comparisons: under the load suite it was
half of moto's time and grew with every message. The partition (table query) or the items
holding the index's hash key values (index query, compared without the typed machinery) are
handed to moto's own Query code instead of the whole table; moto still applies every
condition, sort, page and filter itself.

Both the local stack's moto server and the in-process test suites apply these fixes.
"""

from __future__ import annotations

import copy
import functools
import inspect
import threading
from types import ModuleType
from typing import Any

_APPLIED = False
_LOCK = threading.Lock()


class _TablesAreNotCopied:
    """Stands in for the `copy` module inside moto's transact_write_items, so its whole-table
    backup is skipped (the wrapper below backs up the named items instead)."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if isinstance(value, self._table_type):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _named_items(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(table, hash key, range key, deep copy of the current item or None) per named item."""
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415

    backups: list[tuple[Any, ...]] = []
    for entry in transact_items:
        try:
            op_type, op = next(iter(entry.items()))
            table = backend.tables[op["TableName"]]
            attrs = op["Item"] if op_type == "Put" else op["Key"]
            hash_key = DynamoType(attrs[table.hash_key_attr])
            range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
            current = table.get_item(hash_key, range_key)
        except Exception:  # noqa: S112 - malformed requests are moto's to reject
            continue
        backups.append((table, hash_key, range_key, copy.deepcopy(current)))
    return backups


def _restore(backups: list[tuple[Any, ...]]) -> None:
    for table, hash_key, range_key, item in reversed(backups):
        if range_key is not None:
            partition = table.items[hash_key]
            if item is None:
                partition.pop(range_key, None)
            else:
                partition[range_key] = item
            if not partition:
                table.items.pop(hash_key, None)
        elif item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item


_NARROWED = threading.local()
"""(table, items) while one Query runs on this thread: what `Table.all_items` returns to it."""


def _sorted_like_all_items(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def _query_candidates(table: Any, hash_key: Any, index_name: Any, conditions: Any) -> Any:
    """The items a Query can match, or None to let moto look at every item."""
    if not index_name:
        if hash_key is None:
            return None
        partition = table.items.get(hash_key)
        if partition is None:
            return []
        return _sorted_like_all_items(
            list(partition.values()) if table.range_key_attr else [partition]
        )
    if not conditions:
        return None
    wanted = [(name, value.type, value.value) for name, value in conditions]
    if any(kind not in ("S", "B") for _, kind, _ in wanted):
        return None  # numbers compare by value (1 == 1.0): leave them to moto
    found = []
    for hash_set in table.items.values():
        for item in hash_set.values() if table.range_key_attr else (hash_set,):
            attrs = item.attrs
            for name, kind, value in wanted:
                actual = attrs.get(name)
                if actual is None or actual.type != kind or actual.value != value:
                    break
            else:
                found.append(item)
    return _sorted_like_all_items(found)


def _patch_query(table_type: Any) -> None:
    original_query = table_type.query
    original_all_items = table_type.all_items
    signature = inspect.signature(original_query)

    @functools.wraps(original_all_items)
    def all_items(self: Any) -> Any:
        narrowed = getattr(_NARROWED, "value", None)
        if narrowed is not None and narrowed[0] is self:
            return list(narrowed[1])
        return original_all_items(self)

    @functools.wraps(original_query)
    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            bound = signature.bind(self, *args, **kwargs).arguments
            candidates = _query_candidates(
                self,
                bound.get("hash_key"),
                bound.get("index_name"),
                bound.get("hash_key_conditions"),
            )
        except Exception:  # a request moto will reject: its own code decides
            candidates = None
        if candidates is None:
            return original_query(self, *args, **kwargs)
        _NARROWED.value = (self, candidates)
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _NARROWED.value = None

    table_type.all_items = all_items
    table_type.query = query


def apply() -> None:
    global _APPLIED  # noqa: PLW0603 - patch once per process
    with _LOCK:
        if _APPLIED:
            return
        from moto.dynamodb import models  # noqa: PLC0415 - only where moto runs
        from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415
        from moto.dynamodb.models.table import Table  # noqa: PLC0415

        original = DynamoDBBackend.transact_write_items
        stand_in = _TablesAreNotCopied(Table)

        @functools.wraps(original)
        def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
            backups = _named_items(self, transact_items)
            live = {
                name: (table.stream_shard, len(table.stream_shard.items))
                for name, table in self.tables.items()
                if table.stream_shard is not None
            }
            module: ModuleType = models
            module.copy = stand_in  # type: ignore[attr-defined]
            try:
                original(self, transact_items)
            except Exception:
                _restore(backups)
                for name, (shard, length) in live.items():
                    del shard.items[length:]
                    table = self.tables.get(name)
                    if table is not None:
                        table.stream_shard = shard
                        shard.table = table
                raise
            finally:
                module.copy = copy  # type: ignore[attr-defined]

        DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        _patch_query(Table)
        _APPLIED = True
