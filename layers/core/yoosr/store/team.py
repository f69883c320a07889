"""Departments, labels and canned responses on the Workspaces table (pk = workspace id).

    sk = DEPT#{department_id}        a department
    sk = LABEL#{label_id}            a label
    sk = LABELNAME#{name key}        uniqueness marker: the label holding that name
    sk = CANNED#{canned_id}          a canned response
    sk = SHORTCUT#{shortcut}         uniqueness marker (and lookup): the canned response

A name or shortcut is unique because its marker is written with attribute_not_exists in the
same transaction as the object: two concurrent creates cannot both pass, which no
read-before-write could promise. Every key starts with the workspace id, so nothing here can
reach another workspace's objects; list cursors are checked to stay inside the caller's range.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yoosr.errors import ConditionFailed, Conflict, NotFound, TransactionCancelled
from yoosr.store import ddb

Item = dict[str, Any]

DEPARTMENT_PREFIX = "DEPT#"
LABEL_PREFIX = "LABEL#"
LABEL_NAME_PREFIX = "LABELNAME#"
CANNED_PREFIX = "CANNED#"
SHORTCUT_PREFIX = "SHORTCUT#"
_FAILED = "ConditionalCheckFailed"
_BATCH_GET_MAX = 100


def department_key(ws: str, department_id: str) -> tuple[str, str]:
    return ws, DEPARTMENT_PREFIX + department_id


def _cursor_of(item: Mapping[str, Any]) -> str | None:
    return ddb.encode_cursor({"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}})


def page(
    table: str, ws: str, prefix: str, limit: int, cursor: str | None
) -> tuple[list[Item], str | None]:
    """One page of the items whose sort key starts with `prefix`, in sort-key order.

    Reads one item more than asked, so the last page never hands out a cursor to nothing.
    """
    start = ddb.decode_cursor(cursor, {"pk": ws}, {"sk": prefix}) if cursor else None
    items, last_key = ddb.query(
        table,
        "pk = :pk AND begins_with(sk, :prefix)",
        ddb.values(pk=ws, prefix=prefix),
        limit=limit + 1,
        start_key=start,
    )
    if len(items) > limit:
        items = items[:limit]
        return items, _cursor_of(items[-1])
    # Fewer than asked yet a LastEvaluatedKey: the 1 MB page limit or expired items cut it.
    return items, ddb.encode_cursor(last_key)


def _update_action(
    table: str,
    pk: str,
    sk: str,
    expression: str,
    condition: str,
    names: dict[str, str] | None,
    vals: dict[str, Any],
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "TableName": table,
        "Key": ddb.key(pk, sk),
        "UpdateExpression": expression,
        "ConditionExpression": condition,
        "ExpressionAttributeValues": vals,
    }
    if names:
        body["ExpressionAttributeNames"] = names
    return {"Update": body}


def set_clause(changes: Mapping[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
    """`SET #a = :a, #b = :b` for the given attributes (names escaped: some are reserved)."""
    names = {f"#{field}": field for field in changes}
    vals = ddb.values(**changes)
    return "SET " + ", ".join(f"#{f} = :{f}" for f in changes), names, vals


# ---------------------------------------------------------------- departments


def create_department(table: str, item: Item) -> None:
    ddb.put(table, item, condition="attribute_not_exists(pk)")  # a fresh ULID never collides


def get_department(table: str, ws: str, department_id: str) -> Item | None:
    return ddb.get(table, *department_key(ws, department_id))


def departments_found(table: str, ws: str, department_ids: list[str]) -> set[str]:
    """Which of these departments exist (one consistent BatchGetItem)."""
    if not department_ids:
        return set()
    found = ddb.batch_get({table: [department_key(ws, d) for d in department_ids]})
    return {item["department_id"] for item in found.values()}


def update_department(table: str, ws: str, department_id: str, changes: Mapping[str, Any]) -> Item:
    expression, names, vals = set_clause(changes)
    try:
        return ddb.update(
            table,
            *department_key(ws, department_id),
            expression,
            # Without it an update of a deleted (or another workspace's) id would create one.
            condition="attribute_exists(pk)",
            names=names,
            vals=vals,
            return_values="ALL_NEW",
        )
    except ConditionFailed as error:
        raise NotFound("Department not found.") from error


def delete_department(table: str, ws: str, department_id: str) -> None:
    """Refused while agents belong to it: member_count is kept by the same transactions that
    change an agent's departments, so the check and the delete cannot interleave with one."""
    pk, sk = department_key(ws, department_id)
    try:
        ddb.transact(
            [
                {
                    "Delete": {
                        "TableName": table,
                        "Key": ddb.key(pk, sk),
                        "ConditionExpression": "attribute_exists(pk) AND member_count = :zero",
                        "ExpressionAttributeValues": ddb.values(zero=0),
                    }
                }
            ]
        )
    except TransactionCancelled as cancelled:
        old = cancelled.items[0] if cancelled.items else None
        if old is None:
            raise NotFound("Department not found.") from cancelled
        raise Conflict(
            "Agents still belong to this department; move them first.",
            code="department_in_use",
            details=[{"field": "member_count", "message": str(old.get("member_count", 0))}],
        ) from cancelled


def membership_actions(
    table: str, ws: str, added: list[str], removed: list[str]
) -> list[dict[str, Any]]:
    """Keep each department's member_count in step with agents' department lists. Every
    action requires the department to exist: joining a department being deleted must fail
    rather than resurrect it as a bare counter."""
    actions = []
    for department_id, delta in [(d, 1) for d in added] + [(d, -1) for d in removed]:
        actions.append(
            _update_action(
                table,
                *department_key(ws, department_id),
                "ADD member_count :delta",
                "attribute_exists(pk)",
                None,
                ddb.values(delta=delta),
            )
        )
    return actions


# ---------------------------------------------------------------- uniquely named objects


@dataclass(frozen=True)
class UniqueKind:
    """An object whose `key_field` is unique per workspace through a marker item."""

    name: str
    item_prefix: str
    marker_prefix: str
    id_field: str
    key_field: str
    taken_code: str
    taken_field: str


LABELS = UniqueKind(
    "label", LABEL_PREFIX, LABEL_NAME_PREFIX, "label_id", "name_key", "label_name_taken", "name"
)
CANNED = UniqueKind(
    "canned_response",
    CANNED_PREFIX,
    SHORTCUT_PREFIX,
    "canned_id",
    "shortcut",
    "shortcut_taken",
    "shortcut",
)


def _object_key(kind: UniqueKind, ws: str, object_id: str) -> tuple[str, str]:
    return ws, kind.item_prefix + object_id


def _marker_key(kind: UniqueKind, ws: str, unique_key: str) -> tuple[str, str]:
    return ws, kind.marker_prefix + unique_key


def _marker(kind: UniqueKind, ws: str, unique_key: str, object_id: str) -> Item:
    pk, sk = _marker_key(kind, ws, unique_key)
    return {
        "pk": pk,
        "sk": sk,
        "item_type": f"{kind.name}_key",
        "workspace_id": ws,
        kind.id_field: object_id,
    }


def _put_new(table: str, item: Item) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table,
            "Item": ddb.to_av(item),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _delete_marker(
    table: str, kind: UniqueKind, ws: str, unique_key: str, object_id: str
) -> dict[str, Any]:
    # Only ever delete a marker that still points at this object.
    return {
        "Delete": {
            "TableName": table,
            "Key": ddb.key(*_marker_key(kind, ws, unique_key)),
            "ConditionExpression": "#id = :id",
            "ExpressionAttributeNames": {"#id": kind.id_field},
            "ExpressionAttributeValues": ddb.values(id=object_id),
        }
    }


def _taken(kind: UniqueKind) -> Conflict:
    return Conflict(
        f"Another {kind.name.replace('_', ' ')} already uses this {kind.taken_field}.",
        code=kind.taken_code,
        details=[{"field": kind.taken_field, "message": "already in use", "type": "unique"}],
    )


def get_object(table: str, kind: UniqueKind, ws: str, object_id: str) -> Item | None:
    return ddb.get(table, *_object_key(kind, ws, object_id))


def create_object(table: str, kind: UniqueKind, item: Item) -> None:
    ws, unique_key = item["workspace_id"], item[kind.key_field]
    try:
        ddb.transact(
            [
                _put_new(table, item),
                _put_new(table, _marker(kind, ws, unique_key, item[kind.id_field])),
            ]
        )
    except TransactionCancelled as cancelled:
        if cancelled.reasons[1:2] == [_FAILED]:
            raise _taken(kind) from cancelled
        raise


def change_object(table: str, kind: UniqueKind, old: Item, changes: Mapping[str, Any]) -> None:
    """Apply `changes` to `old` (as read). When the unique key changes, the marker moves in the
    same transaction. Raises ConditionFailed when the object changed or vanished since it was
    read (the caller reads again), Conflict when the new key is taken."""
    ws, object_id, old_key = old["workspace_id"], old[kind.id_field], old[kind.key_field]
    expression, names, vals = set_clause(changes)
    names["#key"] = kind.key_field
    vals.update(ddb.values(old_key=old_key))
    # The key as read must still hold: otherwise a concurrent rename already moved the marker.
    update = _update_action(
        table, *_object_key(kind, ws, object_id), expression, "#key = :old_key", names, vals
    )
    new_key = changes.get(kind.key_field, old_key)
    actions = [update]
    if new_key != old_key:
        actions.append(_delete_marker(table, kind, ws, old_key, object_id))
        actions.append(_put_new(table, _marker(kind, ws, new_key, object_id)))
    try:
        ddb.transact(actions)
    except TransactionCancelled as cancelled:
        if (
            len(actions) == 3
            and cancelled.reasons[0] != _FAILED
            and cancelled.reasons[2] == _FAILED
        ):
            raise _taken(kind) from cancelled
        raise ConditionFailed from cancelled


def delete_object(table: str, kind: UniqueKind, old: Item) -> None:
    """Delete the object and its marker together. ConditionFailed: changed since read."""
    ws, object_id, unique_key = old["workspace_id"], old[kind.id_field], old[kind.key_field]
    try:
        ddb.transact(
            [
                {
                    "Delete": {
                        "TableName": table,
                        "Key": ddb.key(*_object_key(kind, ws, object_id)),
                        "ConditionExpression": "#key = :key",
                        "ExpressionAttributeNames": {"#key": kind.key_field},
                        "ExpressionAttributeValues": ddb.values(key=unique_key),
                    }
                },
                _delete_marker(table, kind, ws, unique_key, object_id),
            ]
        )
    except TransactionCancelled as cancelled:
        raise ConditionFailed from cancelled


def labels_found(table: str, ws: str, label_ids: list[str]) -> set[str]:
    """Which of these labels exist (one consistent BatchGetItem per 100 ids)."""
    wanted = [_object_key(LABELS, ws, label_id) for label_id in dict.fromkeys(label_ids)]
    found: dict[tuple[str, str, str], Item] = {}
    for start in range(0, len(wanted), _BATCH_GET_MAX):
        found.update(ddb.batch_get({table: wanted[start : start + _BATCH_GET_MAX]}))
    return {item["label_id"] for item in found.values()}


def find_by_key(table: str, kind: UniqueKind, ws: str, unique_key: str) -> Item | None:
    """One read of the marker, one of the object."""
    marker = ddb.get(table, *_marker_key(kind, ws, unique_key))
    if marker is None:
        return None
    return get_object(table, kind, ws, marker[kind.id_field])


def page_by_key_prefix(
    table: str, kind: UniqueKind, ws: str, key_prefix: str, limit: int, cursor: str | None
) -> tuple[list[Item], str | None]:
    """Objects whose unique key starts with `key_prefix`, in key order: a page of markers,
    then the objects in consistent BatchGetItem calls."""
    markers, next_cursor = page(table, ws, kind.marker_prefix + key_prefix, limit, cursor)
    wanted = [_object_key(kind, ws, m[kind.id_field]) for m in markers]
    found: dict[tuple[str, str, str], Item] = {}
    for start in range(0, len(wanted), _BATCH_GET_MAX):
        found.update(ddb.batch_get({table: wanted[start : start + _BATCH_GET_MAX]}))
    items = [found[(table, pk, sk)] for pk, sk in wanted if (table, pk, sk) in found]
    return items, next_cursor
