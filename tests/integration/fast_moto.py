"""Faster moto transactions for the routing proofs, in-process or in a moto server.

moto answers a cancelled TransactWriteItems by restoring a deep copy of every table the
transaction touched, taken before it started: O(table size) per transaction, minutes for the
1,000-handoff proof and seconds per request under the 200-handoff race. Here every condition is
checked first (as DynamoDB does: against the state before the transaction) and the writes are
applied only when all hold, so nothing ever needs rolling back (an update moto itself rejects
half-way, a bug in the caller, could leave earlier writes in place). For a single-threaded
moto, or a server that runs one request at a time (local/_moto_boot.py), conditions and
cancellation reasons are exactly DynamoDB's.

    python -P tests/integration/fast_moto.py <host> <port>    a moto server with it applied
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BOOT_SCRIPT = Path(__file__).resolve().parents[2] / "local" / "_moto_boot.py"


def _install() -> Any:
    """Patch moto; returns the original method."""
    from moto.dynamodb import models
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
    )

    original = models.DynamoDBBackend.transact_write_items

    def transact(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        seen: set[tuple[str, str]] = set()
        errors: list[tuple[Any, Any, Any]] = []
        ops: list[tuple[str, dict[str, Any]]] = []
        keys: list[dict[str, Any]] = []
        for item in transact_items:
            op_type, op = next(iter(item.items()))
            ops.append((op_type, op))
            table = self.get_table(op["TableName"])
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            keys.append(key)
            marker = (op["TableName"], str(sorted(key.items())))
            if marker in seen:
                raise MultipleTransactionsException()
            seen.add(marker)
            current = self.get_item(op["TableName"], key)
            condition = op.get("ConditionExpression")
            if condition is not None and not get_filter_expression(
                condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            ).expr(current):
                old = None
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    old = current.to_json()["Attributes"]
                errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
            else:
                errors.append((None, None, None))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)
        # Every condition holds: apply the writes without evaluating them again.
        for (op_type, op), key in zip(ops, keys, strict=True):
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(op["TableName"], op["Item"])
            elif op_type == "Delete":
                self.delete_item(op["TableName"], key)
            elif op_type == "Update":
                self.update_item(
                    op["TableName"], key, op["UpdateExpression"], names or {}, values or {}
                )

    models.DynamoDBBackend.transact_write_items = transact
    return original


@contextlib.contextmanager
def fast_transactions() -> Iterator[None]:
    """In-process: patched while the block runs."""
    from moto.dynamodb import models

    original = _install()
    try:
        yield
    finally:
        models.DynamoDBBackend.transact_write_items = original


def main(argv: list[str]) -> int:
    _install()
    spec = importlib.util.spec_from_file_location("yoosr_moto_boot", BOOT_SCRIPT)
    assert spec is not None and spec.loader is not None
    boot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(boot)
    return int(boot.main(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
