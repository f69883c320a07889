"""PrivacyRequestsTable: requests, one-time code records, job tasks, audit events, tombstones.

    pk = {ws}#PRIVACY#{request_id}          sk = REQUEST            the request (see below)
                                            sk = CODE               its one-time code record
                                            sk = TASK#{task_id}     its job tasks
                                            sk = AUDIT#{sequence}   one audit event per version
    pk = {ws}#TOMBSTONE#{kind}#{hash}       sk = TOMBSTONE          an erasure tombstone
    pk = {ws}#PRIVACYCLIENT#{hash}          sk = {client id}        a widget request's client id

The request item is the PrivacyRequest flattened, plus its index keys:

    subject_key  {ws}#{subject hash}                          GSI by_subject
    list_pk      {ws}#REQUESTS | TOMBSTONES#{shard}           GSI by_list (newest first)
    list_sk      {created_at}#{request_id} | {ws}#{kind}#{hash}
    open_pk      OPEN#{shard} while the request is open       GSI by_open (sparse)
    open_sk      {due_at}#{ws}#{request_id}

Every change is one transaction: the request put on condition `version = <version read>` (a new
one on `attribute_not_exists`), its audit event put on `attribute_not_exists` (keyed by the new
version, so a retried write cannot append twice), and whatever moves with it (code record,
tasks, tombstone, the workspace's status). A lost race is a Conflict, never an overwrite.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from yoosr import clock
from yoosr.errors import ConditionFailed, Conflict, TransactionCancelled
from yoosr.privacy.audit import AuditEvent, Tombstone
from yoosr.privacy.lifecycle import PrivacyRequest
from yoosr.privacy.otp import CodeRecord
from yoosr.privacy.tasks import Task
from yoosr.store import ddb

Item = dict[str, Any]

REQUEST_SK = "REQUEST"
CODE_SK = "CODE"
TASK_PREFIX = "TASK#"
AUDIT_PREFIX = "AUDIT#"
TOMBSTONE_SK = "TOMBSTONE"
SUBJECT_INDEX = "by_subject"
LIST_INDEX = "by_list"
OPEN_INDEX = "by_open"
SHARDS = 4
CHECK_FAILED = "ConditionalCheckFailed"
_REQUEST_FIELDS = frozenset(PrivacyRequest.model_fields)
# Code records outlive their code by a day (the lapse check reads them), then TTL removes them.
CODE_RECORD_SECONDS = 86_400
CLIENT_MARKER_SECONDS = 30 * 86_400


# ---------------------------------------------------------------- keys


def request_pk(ws: str, request_id: str) -> str:
    return f"{ws}#PRIVACY#{request_id}"


def list_pk(ws: str) -> str:
    return f"{ws}#REQUESTS"


def shard(value: str) -> int:
    return int.from_bytes(hashlib.sha256(value.encode()).digest()[:4], "big") % SHARDS


def open_pk(shard_no: int) -> str:
    return f"OPEN#{shard_no}"


def tombstone_list_pk(shard_no: int) -> str:
    return f"TOMBSTONES#{shard_no}"


def stamp(moment: datetime) -> str:
    """One fixed-width UTC format for sort keys (pydantic's varies with microseconds)."""
    return clock.iso(moment)


# ---------------------------------------------------------------- items


@dataclass(frozen=True)
class Stored:
    """A request as stored, with the attributes that are not part of the model (the export
    package's key and checksum, when it was last changed)."""

    request: PrivacyRequest
    extra: dict[str, Any] = field(default_factory=dict)


_EXTRA_FIELDS = ("package_key", "package_sha256", "package_bytes", "updated_at")


def request_item(stored: Stored) -> Item:
    request = stored.request
    ws, request_id = request.workspace_id, request.request_id
    item: Item = {
        **request.model_dump(mode="json"),
        **{k: v for k, v in stored.extra.items() if k in _EXTRA_FIELDS},
        "pk": request_pk(ws, request_id),
        "sk": REQUEST_SK,
        "item_type": "privacy_request",
        "subject_key": f"{ws}#{request.subject.hash}",
        "list_pk": list_pk(ws),
        "list_sk": f"{stamp(request.created_at)}#{request_id}",
        "updated_at": clock.iso(),
    }
    if request.is_open:
        item["open_pk"] = open_pk(shard(request_id))
        item["open_sk"] = f"{stamp(request.due_at)}#{ws}#{request_id}"
    return item


def from_item(item: Mapping[str, Any]) -> Stored:
    request = PrivacyRequest.model_validate({k: v for k, v in item.items() if k in _REQUEST_FIELDS})
    return Stored(request, {k: item[k] for k in _EXTRA_FIELDS if k in item})


def audit_item(event: AuditEvent) -> Item:
    return {
        **event.model_dump(mode="json"),
        "pk": request_pk(event.workspace_id, event.request_id),
        "sk": f"{AUDIT_PREFIX}{event.sequence:08d}",
        "item_type": "privacy_audit",
    }


def code_item(ws: str, request_id: str, record: CodeRecord) -> Item:
    return {
        "pk": request_pk(ws, request_id),
        "sk": CODE_SK,
        "item_type": "privacy_code",
        "code": record.model_dump(mode="json"),
        "attempts": record.attempts,
        "sends": record.sends,
        "expires_at": int(record.expires_at.timestamp()) + CODE_RECORD_SECONDS,
    }


def task_item(task: Task) -> Item:
    return {
        "pk": request_pk(task.workspace_id, task.request_id),
        "sk": TASK_PREFIX + task.task_id,
        "item_type": "privacy_task",
        "task": task.model_dump(mode="json"),
        # The checkpoint condition compares this: a duplicate delivery cannot advance twice.
        "position": task.cursor or "",
        "done": task.done,
    }


def tombstone_item(tombstone: Tombstone) -> Item:
    ws, kind, hashed = tombstone.workspace_id, tombstone.subject_kind, tombstone.subject_hash
    return {
        **tombstone.model_dump(mode="json"),
        "pk": f"{ws}#TOMBSTONE#{kind}#{hashed}",
        "sk": TOMBSTONE_SK,
        "item_type": "privacy_tombstone",
        "list_pk": tombstone_list_pk(shard(f"{ws}#{hashed}")),
        "list_sk": f"{ws}#{kind}#{hashed}",
    }


def client_marker_key(ws: str, requester_hash: str, client_request_id: str) -> tuple[str, str]:
    return f"{ws}#PRIVACYCLIENT#{requester_hash}", client_request_id


# ---------------------------------------------------------------- transaction pieces


def put(table: str, item: Item, condition: str | None = None, **vals: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"TableName": table, "Item": ddb.to_av(item)}
    if condition:
        body["ConditionExpression"] = condition
    if vals:
        body["ExpressionAttributeValues"] = ddb.values(**vals)
    return {"Put": body}


def put_request(table: str, stored: Stored, before: Stored | None) -> dict[str, Any]:
    item = request_item(stored)
    if before is None:
        return put(table, item, "attribute_not_exists(pk)")
    # The version read: a concurrent decision on the same request makes this write fail.
    return put(table, item, "version = :version", version=before.request.version)


def put_audit(table: str, event: AuditEvent) -> dict[str, Any]:
    return put(table, audit_item(event), "attribute_not_exists(pk)")


def put_new_task(table: str, task: Task) -> dict[str, Any]:
    # Planning twice (a redelivered start) must not reset a task another worker advanced.
    return put(table, task_item(task), "attribute_not_exists(pk)")


def change(
    table: str,
    after: Stored,
    before: Stored | None,
    event: AuditEvent | None,
    more: list[dict[str, Any]] | None = None,
) -> None:
    """Write one change of a request in one transaction. A lost race (the version moved, or
    the request already exists) is a Conflict; a refused extra item raises
    TransactionCancelled for the caller to read."""
    actions = [put_request(table, after, before)]
    if event is not None:
        actions.append(put_audit(table, event))
    actions += more or []
    try:
        ddb.transact(actions)
    except TransactionCancelled as cancelled:
        if cancelled.reasons[0] == CHECK_FAILED:
            raise Conflict(
                "The request changed at the same time; read it again.", code="concurrent_update"
            ) from cancelled
        raise


# ---------------------------------------------------------------- reads


def get(table: str, ws: str, request_id: str) -> Stored | None:
    item = ddb.get(table, request_pk(ws, request_id), REQUEST_SK)
    return from_item(item) if item is not None else None


def get_code(table: str, ws: str, request_id: str) -> CodeRecord | None:
    item = ddb.get(table, request_pk(ws, request_id), CODE_SK)
    return CodeRecord.model_validate(item["code"]) if item is not None else None


def put_code(
    table: str, ws: str, request_id: str, record: CodeRecord, previous: CodeRecord
) -> None:
    """Store a code record after a guess or a resend, on condition that nobody counted a
    guess or sent a code since it was read (bounds guesses under concurrency)."""
    try:
        ddb.put(
            table,
            code_item(ws, request_id, record),
            condition="attempts = :attempts AND sends = :sends",
            vals=ddb.values(attempts=previous.attempts, sends=previous.sends),
        )
    except ConditionFailed as error:
        raise Conflict(
            "The code changed at the same time; try again.", code="concurrent_update"
        ) from error


def partition(table: str, ws: str, request_id: str, prefix: str) -> list[Item]:
    items: list[Item] = []
    start: dict[str, Any] | None = None
    while True:
        page, start = ddb.query(
            table,
            "pk = :pk AND begins_with(sk, :prefix)",
            ddb.values(pk=request_pk(ws, request_id), prefix=prefix),
            start_key=start,
        )
        items += page
        if not start:
            return items


def tasks_of(table: str, ws: str, request_id: str) -> list[Task]:
    return [
        Task.model_validate(item["task"]) for item in partition(table, ws, request_id, TASK_PREFIX)
    ]


def get_task(table: str, ws: str, request_id: str, task_id: str) -> Task | None:
    item = ddb.get(table, request_pk(ws, request_id), TASK_PREFIX + task_id)
    return Task.model_validate(item["task"]) if item is not None else None


def checkpoint(table: str, task: Task, from_cursor: str | None) -> bool:
    """Write the task's progress on condition that it is still at `from_cursor` and not done;
    False when another delivery got there first (the caller stops: the winner carries on)."""
    try:
        ddb.put(
            table,
            task_item(task),
            condition="#position = :position AND done = :open",
            names={"#position": "position"},
            vals=ddb.values(position=from_cursor or "", open=False),
        )
    except ConditionFailed:
        return False
    return True


def audit_of(table: str, ws: str, request_id: str) -> list[AuditEvent]:
    return [
        AuditEvent.model_validate({k: v for k, v in item.items() if k in AuditEvent.model_fields})
        for item in partition(table, ws, request_id, AUDIT_PREFIX)
    ]


def list_requests(
    table: str, ws: str, limit: int, cursor: str | None
) -> tuple[list[Stored], str | None]:
    """A page of the workspace's requests, newest first."""
    start = (
        ddb.decode_cursor(
            cursor,
            {"list_pk": list_pk(ws)},
            {"pk": f"{ws}#PRIVACY#", "sk": REQUEST_SK, "list_sk": ""},
        )
        if cursor
        else None
    )
    items, last = ddb.query(
        table,
        "list_pk = :pk",
        ddb.values(pk=list_pk(ws)),
        index=LIST_INDEX,
        limit=limit,
        forward=False,
        start_key=start,
    )
    return [from_item(item) for item in items], ddb.encode_cursor(last)


def requests_of_subject(table: str, ws: str, subject_hash: str) -> list[str]:
    """Request ids whose subject has this keyed hash (eventually consistent index)."""
    found: list[str] = []
    start: dict[str, Any] | None = None
    while True:
        items, start = ddb.query(
            table,
            "subject_key = :key",
            ddb.values(key=f"{ws}#{subject_hash}"),
            index=SUBJECT_INDEX,
            start_key=start,
        )
        found += [str(item["pk"]).rsplit("#", 1)[-1] for item in items]
        if not start:
            return found


def open_requests(table: str) -> Iterator[Stored]:
    """Every open request, shard by shard, earliest due first (a sparse index)."""
    for shard_no in range(SHARDS):
        start: dict[str, Any] | None = None
        while True:
            items, start = ddb.query(
                table,
                "open_pk = :pk",
                ddb.values(pk=open_pk(shard_no)),
                index=OPEN_INDEX,
                start_key=start,
            )
            for item in items:
                yield from_item(item)
            if not start:
                break


def tombstones(table: str, ws: str | None = None) -> Iterator[Tombstone]:
    for shard_no in range(SHARDS):
        start: dict[str, Any] | None = None
        condition, vals = "list_pk = :pk", ddb.values(pk=tombstone_list_pk(shard_no))
        if ws is not None:
            condition += " AND begins_with(list_sk, :ws)"
            vals = ddb.values(pk=tombstone_list_pk(shard_no), ws=f"{ws}#")
        while True:
            items, start = ddb.query(table, condition, vals, index=LIST_INDEX, start_key=start)
            for item in items:
                yield Tombstone.model_validate(
                    {k: v for k, v in item.items() if k in Tombstone.model_fields}
                )
            if not start:
                break


def claim_client_id(
    table: str, ws: str, requester_hash: str, client_request_id: str, request_id: str
) -> dict[str, Any]:
    """The transaction piece that binds a widget client id to a new request once."""
    pk, sk = client_marker_key(ws, requester_hash, client_request_id)
    item = {
        "pk": pk,
        "sk": sk,
        "item_type": "privacy_client_request",
        "request_id": request_id,
        "expires_at": clock.epoch() + CLIENT_MARKER_SECONDS,
    }
    return put(table, item, "attribute_not_exists(pk)")


def client_request(table: str, ws: str, requester_hash: str, client_request_id: str) -> str | None:
    item = ddb.get(table, *client_marker_key(ws, requester_hash, client_request_id))
    return str(item["request_id"]) if item is not None else None
