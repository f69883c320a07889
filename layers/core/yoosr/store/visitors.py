"""Visitors table: the personal data (attributes, device metadata, flags) of widget visitors.

Keyed hashes of email and phone (workspace id + HMAC) feed the lookup indexes used by privacy
requests; raw values never appear in a key. Every visitor item carries `visitor_key` (the keyed
hash of its id) and every identity link `visitor_key` = I#{keyed hash of the site user id}, so
the by_workspace index lists a workspace's visitors and links (its purge) and finds a visitor by
the hash a tombstone holds; a visitor bound to a site user names its link (`identity_key`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from yoosr import clock
from yoosr.domain import hashing
from yoosr.errors import TransactionCancelled
from yoosr.store import ddb, keys


def new_visitor_item(
    workspace_id: str,
    visitor_id: str,
    attributes: dict[str, Any],
    device: dict[str, Any],
    identity_verified: bool,
    *,
    visitor_key: str | None = None,
    identity_key: str | None = None,
) -> dict[str, Any]:
    pk, sk = keys.visitor(workspace_id, visitor_id)
    now = clock.iso()
    privacy_keys = {
        name: value
        for name, value in (("visitor_key", visitor_key), ("identity_key", identity_key))
        if value is not None
    }
    return {
        "pk": pk,
        "sk": sk,
        "item_type": "visitor",
        "workspace_id": workspace_id,
        "visitor_id": visitor_id,
        "created_at": now,
        "last_seen_at": now,
        "identity_verified": identity_verified,
        "device": device,
        "restricted": False,
        **privacy_keys,
        **attributes,
    }


IDENTITY_KEY_PREFIX = "I#"


def create(table: str, item: dict[str, Any]) -> None:
    ddb.put(table, item, condition="attribute_not_exists(pk)")


def create_identified(table: str, item: dict[str, Any], user_key: str) -> str:
    """Create a visitor bound to a verified site user; if the user already has a visitor
    (another device, or a retry), return that visitor's id instead."""
    id_pk, id_sk = keys.identity(item["workspace_id"], user_key)
    link = {
        "pk": id_pk,
        "sk": id_sk,
        "item_type": "identity",
        "workspace_id": item["workspace_id"],
        "visitor_id": item["visitor_id"],
        "visitor_key": IDENTITY_KEY_PREFIX + user_key,
    }
    try:
        ddb.transact(
            [
                {
                    "Put": {
                        "TableName": table,
                        "Item": ddb.to_av(link),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": table,
                        "Item": ddb.to_av(item),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    except TransactionCancelled as cancelled:
        existing = cancelled.items[0]
        if existing is None:
            raise
        return str(existing["visitor_id"])
    return str(item["visitor_id"])


def find_identified(table: str, workspace_id: str, user_key: str) -> str | None:
    pk, sk = keys.identity(workspace_id, user_key)
    item = ddb.get(table, pk, sk)
    return None if item is None else str(item["visitor_id"])


def touch(table: str, workspace_id: str, visitor_id: str, fields: dict[str, Any]) -> None:
    """Set fields on an existing visitor (last seen, device, attributes from a verified site)."""
    pk, sk = keys.visitor(workspace_id, visitor_id)
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    sets = ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
    vals = {f":v{i}": ddb.encode(value) for i, value in enumerate(fields.values())}
    ddb.update(
        table, pk, sk, f"SET {sets}", condition="attribute_exists(pk)", names=names, vals=vals
    )


def update_attributes(
    table: str,
    workspace_id: str,
    visitor_id: str,
    set_fields: dict[str, Any],
    remove_fields: list[str],
) -> dict[str, Any]:
    pk, sk = keys.visitor(workspace_id, visitor_id)
    names: dict[str, str] = {}
    vals: dict[str, Any] = {}
    sets, removes = [], []
    for i, (name, value) in enumerate(set_fields.items()):
        names[f"#s{i}"] = name
        vals[f":s{i}"] = ddb.encode(value)
        sets.append(f"#s{i} = :s{i}")
    for i, name in enumerate(remove_fields):
        names[f"#r{i}"] = name
        removes.append(f"#r{i}")
    expression = " ".join(
        part
        for part in (
            ("SET " + ", ".join(sets)) if sets else "",
            ("REMOVE " + ", ".join(removes)) if removes else "",
        )
        if part
    )
    return ddb.update(
        table,
        pk,
        sk,
        expression,
        condition="attribute_exists(pk)",
        names=names,
        vals=vals or None,
        return_values="ALL_NEW",
    )


def contact_fields(
    subject_key: Callable[[], str],
    workspace_id: str,
    *,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
) -> dict[str, Any]:
    """Contact attributes plus the keyed hashes the privacy lookup indexes need (the key is
    read only when an email address or a phone number is given)."""
    fields: dict[str, Any] = {}
    if name is not None:
        fields["name"] = name
    for kind, value in (("email", email), ("phone", phone)):
        if value is not None:
            fields[kind] = value
            fields[f"{kind}_key"] = hashing.lookup_key(
                workspace_id, hashing.subject_hash(subject_key(), kind, value)
            )
    return fields
