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

Both the local stack's moto server and the in-process test suites apply these fixes.
"""

from __future__ import annotations

import copy
import functools
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
        _APPLIED = True
