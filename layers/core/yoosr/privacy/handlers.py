"""Per-store handlers of privacy jobs: for every store of the registry, how one page of an
export, an erasure or a correction is done, and how nothing left is proven.

    EXPORTERS   export entity store → page of records written as a part (S3)
    ERASERS     store with erase "delete" → page of deletions
    VERIFIERS   store with erase "delete" or "with" → residue found (must be none)
    FLAGGERS / CORRECTORS  visitors.visitor → restriction flags / corrected attributes

A test fails when a registry store lacks the handler its declaration calls for.

A handler reads one page from the task's cursor and returns where the next page starts, so the
worker can checkpoint after every page and stop before the Lambda deadline. Pages are
idempotent (deletes; parts keyed by page number): a crash or a duplicate delivery repeats a
page, never skips one. Cursors (yoosr.privacy.tasks) hold the target's index and a position:

    o  where the next unit (a conversation, a visitor) is found: {q: index partition,
       a: start key of the next index page, b: the units of the current page not yet done}
    u  the unit being worked through (None: find the next one)
    i  the position inside the unit (a DynamoDB start key, or a range and a start key)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, cast

from yoosr import clock
from yoosr.domain import hashing
from yoosr.errors import NotFound
from yoosr.privacy import export_package, registry, tasks
from yoosr.privacy.lifecycle import PrivacyRequest, RequestType
from yoosr.privacy.registry import Scope
from yoosr.privacy.tasks import Task
from yoosr.routing import transitions
from yoosr.routing.apply import apply_transition
from yoosr.store import assignment, ddb, keys, privacy_exports, privacy_requests, visitors
from yoosr.store import privacy_stores as raw
from yoosr.store.conversations import STATUS_INDEX, VISITOR_INDEX, inbox_status_pk

Item = dict[str, Any]
Key = tuple[str, str]
ACTOR = "privacy_worker"
RATE_DIMENSIONS = ("session_w", "session_r", "privacy_w")
UNITS = 50
"""Conversations or visitors read per index page while walking a target's units."""
_EXPORT_TYPES = frozenset({"access", "export"})


@dataclass(frozen=True)
class Resources:
    workspaces_table: str
    conversations_table: str
    visitors_table: str
    ephemeral_table: str
    requests_table: str
    exports_bucket: str
    subject_key: Callable[[], str]
    page_size: int = 500
    spool_dir: str | None = None


@dataclass(frozen=True)
class Job:
    resources: Resources
    request: PrivacyRequest
    now: datetime

    @property
    def ws(self) -> str:
        return self.request.workspace_id

    @property
    def scope(self) -> Scope:
        return scope_of(self.request.type)


@dataclass(frozen=True)
class PageResult:
    next_cursor: str | None
    items: int


class ResidueFound(Exception):
    """A verification found data that should be gone (store names and counts only)."""


Handler = Callable[[Job, Task], PageResult]
Verifier = Callable[[Job, tuple[str, ...]], list[str]]


def scope_of(request_type: RequestType) -> Scope:
    if request_type == "delete_conversation":
        return "conversation"
    if request_type == "workspace_deletion":
        return "workspace"
    return "visitor"


# ---------------------------------------------------------------- units


def _conversation_partitions(job: Job, target: str) -> list[tuple[str, str, dict[str, Any]]]:
    if job.scope == "workspace":
        return [
            (STATUS_INDEX, "inbox_status_pk = :p", ddb.values(p=inbox_status_pk(job.ws, status)))
            for status in ("open", "resolved")
        ]
    return [(VISITOR_INDEX, "visitor_pk = :p", ddb.values(p=keys.visitor_pk(job.ws, target)))]


def _conversation_of(item: Item) -> str:
    _, marker, conversation_id = str(item.get("pk", "")).partition("#CONV#")
    return conversation_id if marker and item.get("sk") == keys.CONVERSATION_SK else ""


def _next_unit(
    job: Job, target: str, outer: dict[str, Any] | None, kind: str
) -> tuple[str | None, dict[str, Any]]:
    """The next conversation or visitor of `target` after `outer`, and where to look after it.
    A target that is itself the unit (a conversation to delete, a visitor to erase) is its
    only unit."""
    outer = outer or {"q": 0, "a": None, "b": []}
    res = job.resources
    if (kind == "conversation" and job.scope == "conversation") or (
        kind == "visitor" and job.scope == "visitor"
    ):
        return (target, {"q": 1, "a": None}) if outer["q"] == 0 else (None, outer)
    if kind == "conversation":
        table, partitions, unit_of = (
            res.conversations_table,
            _conversation_partitions(job, target),
            _conversation_of,
        )
    else:
        table = res.visitors_table
        partitions = [("by_workspace", "workspace_id = :p", ddb.values(p=job.ws))]
        unit_of = raw.visitor_id_of
    q, after = int(outer["q"]), outer.get("a")
    buffered = list(outer.get("b") or [])
    while not buffered and q < len(partitions):
        # A page of unit keys at a time (kept in the cursor), not one query per unit.
        index, condition, vals = partitions[q]
        items, last = raw.query(table, condition, vals, index=index, start=after, limit=UNITS)
        buffered = [unit for unit in (unit_of(item) for item in items) if unit]
        q, after = (q, last) if last else (q + 1, None)
    if not buffered:
        return None, {"q": q, "a": None, "b": []}
    return buffered[0], {"q": q, "a": after, "b": buffered[1:]}


InnerPage = Callable[[Job, str, dict[str, Any] | None], tuple[list[Item], dict[str, Any] | None]]
Sink = Callable[[Job, Task, list[Item]], int]


def _walk(job: Job, task: Task, kind: str, inner: InnerPage, sink: Sink) -> PageResult:
    """One page of a task that works unit by unit (conversations or visitors) per target: up
    to `page_size` items, from as many units as that takes (at most UNITS), so many small
    conversations cost a few pages, not one each. Memory: at most two pages of items."""
    index, position = tasks.decode_cursor(task.cursor)
    if index >= len(task.targets):
        return PageResult(None, 0)
    target = task.targets[index]
    position = position or {}
    unit, outer, inner_at = position.get("u"), position.get("o"), position.get("i")
    collected: list[Item] = []
    for _ in range(UNITS):
        if unit is None:
            unit, outer = _next_unit(job, target, outer, kind)
            if unit is None:
                handled = sink(job, task, collected) if collected else 0
                return PageResult(tasks.next_cursor(task, index, None), handled)
        items, inner_at = inner(job, str(unit), inner_at)
        collected += items
        if inner_at is None:
            unit = None
        if len(collected) >= job.resources.page_size:
            break
    handled = sink(job, task, collected) if collected else 0
    following = {"o": outer, "u": unit, "i": inner_at}
    return PageResult(tasks.encode_cursor(index, following), handled)


def _partition_page(
    table: str,
    pk: str,
    job: Job,
    inner: dict[str, Any] | None,
    ranges: tuple[tuple[str, dict[str, Any]], ...] = (("", {}),),
    keep: Callable[[Item], bool] = lambda _: True,
) -> tuple[list[Item], dict[str, Any] | None]:
    """A page of one partition, over a series of sort-key ranges ("" is the whole partition)."""
    inner = inner or {"r": 0, "k": None}
    number = int(inner["r"])
    extra, vals = ranges[number]
    condition = "pk = :pk" + (f" AND {extra}" if extra else "")
    items, last = raw.query(
        table,
        condition,
        {**ddb.values(pk=pk), **vals},
        start=inner.get("k"),
        limit=job.resources.page_size,
        consistent=True,
    )
    if last:
        following: dict[str, Any] | None = {"r": number, "k": last}
    elif number + 1 < len(ranges):
        following = {"r": number + 1, "k": None}
    else:
        following = None
    return [item for item in items if keep(item)], following


def _range(low: str, high: str) -> tuple[str, dict[str, Any]]:
    return "sk BETWEEN :low AND :high", ddb.values(low=low, high=high)


MESSAGES = (_range(keys.MESSAGE_PREFIX, keys.MESSAGE_RANGE_END),)
NOTES = (_range("NOTE#", "NOTE#~"),)
# Every other item of the partition: below MSG# (CMID#, and CONV and CSAT, kept out below),
# between the message and note ranges, and above NOTE# (NOTICE#, TRANSITION#, UNREAD#, …).
MARKERS = (
    ("sk < :high", ddb.values(high=keys.MESSAGE_PREFIX)),
    _range(keys.MESSAGE_RANGE_END, "NOTE#"),
    ("sk > :low", ddb.values(low="NOTE#~")),
)


def _is_marker(item: Item) -> bool:
    sk = str(item["sk"])
    return sk not in (keys.CONVERSATION_SK, keys.CSAT_SK) and not sk.startswith(
        (keys.MESSAGE_PREFIX, "NOTE#")
    )


def _children(
    ranges: tuple[tuple[str, dict[str, Any]], ...], keep: Callable[[Item], bool] = lambda _: True
) -> InnerPage:
    def page(job: Job, conversation_id: str, inner: dict[str, Any] | None) -> Any:
        pk = keys.conversation_pk(job.ws, conversation_id)
        return _partition_page(job.resources.conversations_table, pk, job, inner, ranges, keep)

    return page


# ---------------------------------------------------------------- sinks


def _deleting(table_of: Callable[[Resources], str]) -> Sink:
    def sink(job: Job, _: Task, items: list[Item]) -> int:
        return raw.delete_keys(table_of(job.resources), [raw.item_key(i) for i in items])

    return sink


def _exporting(job: Job, task: Task, items: list[Item]) -> int:
    live = [item for item in items if ddb.is_live(item)]
    if live and task.store is not None:
        key = privacy_exports.part_key(job.ws, job.request.request_id, task.store, task.pages)
        privacy_exports.put_part(job.resources.exports_bucket, key, live)
    return len(live)


def _conversations_table(res: Resources) -> str:
    return res.conversations_table


def _ephemeral_table(res: Resources) -> str:
    return res.ephemeral_table


# ---------------------------------------------------------------- erasers


def _erase_children(ranges: Any, keep: Callable[[Item], bool] = lambda _: True) -> Handler:
    def handler(job: Job, task: Task) -> PageResult:
        return _walk(
            job, task, "conversation", _children(ranges, keep), _deleting(_conversations_table)
        )

    return handler


def _conversation_item(job: Job, conversation_id: str, inner: dict[str, Any] | None) -> Any:
    """Phase 2: resolve a live conversation through routing (an agent's load and its queue
    entry move in that transaction), then delete what is left of its partition (the
    transition the resolve wrote, the conversation item) and a queue entry it still names."""
    res = job.resources
    pk, sk = keys.conversation(job.ws, conversation_id)
    extra: list[Item] = []
    if inner is None:
        item = raw.get(res.conversations_table, pk, sk)
        # In a purge nobody is left to hold the conversation: no resolve (no new items).
        live_open = item is not None and ddb.is_live(item) and item.get("status") == "open"
        if live_open and job.scope != "workspace":
            # NotFound: expired or hidden meanwhile, so nothing holds it any more.
            with contextlib.suppress(NotFound):
                apply_transition(
                    assignment.Tables(res.workspaces_table, res.conversations_table),
                    job.ws,
                    conversation_id,
                    lambda before, _: transitions.resolve(before, ACTOR, clock.iso(job.now)),
                )
            item = raw.get(res.conversations_table, pk, sk)
        if item is not None and item.get("queue_pk") and item.get("queue_sk"):
            extra.append({"pk": item["queue_pk"], "sk": item["queue_sk"]})
    items, following = _partition_page(res.conversations_table, pk, job, inner)
    return items + extra, following


def _visitor_partition(dimension_pk: Callable[[Job, str], list[str]], table_of: Any) -> InnerPage:
    """Pages of one or more partitions keyed by the visitor."""

    def page(job: Job, visitor_id: str, inner: dict[str, Any] | None) -> Any:
        pks = dimension_pk(job, visitor_id)
        inner = inner or {"p": 0, "r": 0, "k": None}
        number = int(inner["p"])
        items, following = _partition_page(
            table_of(job.resources), pks[number], job, {"r": 0, "k": inner.get("k")}
        )
        if following is not None:
            return items, {"p": number, "r": 0, "k": following["k"]}
        if number + 1 < len(pks):
            return items, {"p": number + 1, "r": 0, "k": None}
        return items, None

    return page


def _rate_pks(job: Job, visitor_id: str) -> list[str]:
    return [keys.rate_window(job.ws, d, visitor_id, 0)[0] for d in RATE_DIMENSIONS]


def _client_conversation_pks(job: Job, visitor_id: str) -> list[str]:
    return [keys.visitor_pk(job.ws, visitor_id)]


def _marker_pks(job: Job, visitor_id: str) -> list[str]:
    return [keys.visitor_pk(job.ws, visitor_id)]


def _sessions_sink(job: Job, _: Task, items: list[Item]) -> int:
    """Each marker and the session it names (a revoked session is a 401 at once)."""
    doomed: list[Key] = []
    for marker in items:
        sk = str(marker["sk"])
        if sk.startswith("SESSION#"):
            doomed.append(raw.item_key(marker))
            doomed.append(keys.session(job.ws, sk.removeprefix("SESSION#")))
    raw.delete_keys(job.resources.ephemeral_table, doomed)
    return len(doomed) // 2


def erase_sessions(job: Job, task: Task) -> PageResult:
    return _walk(
        job, task, "visitor", _visitor_partition(_marker_pks, _ephemeral_table), _sessions_sink
    )


def erase_rate_windows(job: Job, task: Task) -> PageResult:
    return _walk(
        job,
        task,
        "visitor",
        _visitor_partition(_rate_pks, _ephemeral_table),
        _deleting(_ephemeral_table),
    )


def erase_client_conversations(job: Job, task: Task) -> PageResult:
    return _walk(
        job,
        task,
        "visitor",
        _visitor_partition(_client_conversation_pks, _conversations_table),
        _deleting(_conversations_table),
    )


def _conversations_sink(job: Job, _: Task, items: list[Item]) -> int:
    """Deletes what is left of a conversation's partition; counts the conversation."""
    raw.delete_keys(job.resources.conversations_table, [raw.item_key(i) for i in items])
    return sum(1 for item in items if item.get("sk") == keys.CONVERSATION_SK)


def erase_conversations(job: Job, task: Task) -> PageResult:
    return _walk(job, task, "conversation", _conversation_item, _conversations_sink)


def erase_visitors(job: Job, task: Task) -> PageResult:
    """A visitor with its identity link (one transaction each); in a purge, every visitor
    and link item of the workspace, a page at a time."""
    res = job.resources
    index, position = tasks.decode_cursor(task.cursor)
    if index >= len(task.targets):
        return PageResult(None, 0)
    if job.scope != "workspace":
        erased = raw.delete_visitor(res.visitors_table, job.ws, task.targets[index])
        return PageResult(tasks.next_cursor(task, index, None), erased)
    items, last = raw.query(
        res.visitors_table,
        "workspace_id = :ws",
        ddb.values(ws=job.ws),
        index="by_workspace",
        start=(position or {}).get("k"),
        limit=job.resources.page_size,
    )
    erased = raw.delete_keys(res.visitors_table, [raw.item_key(i) for i in items])
    return PageResult(tasks.next_cursor(task, index, {"k": last} if last else None), erased)


def erase_workspace(job: Job, task: Task) -> PageResult:
    """Every item of the workspace's partition: settings, keys, team, bot, knowledge."""
    res = job.resources
    index, position = tasks.decode_cursor(task.cursor)
    if index >= len(task.targets):
        return PageResult(None, 0)
    items, following = _partition_page(res.workspaces_table, job.ws, job, position)
    erased = raw.delete_keys(res.workspaces_table, [raw.item_key(i) for i in items])
    return PageResult(tasks.next_cursor(task, index, following), erased)


def _export_request_ids(job: Job, visitor_id: str, first: bool) -> list[str]:
    """The subject's earlier requests (an erasure of the visitor also finds what was asked
    in the visitor's name, and by the subject's address)."""
    key = job.resources.subject_key()
    hashes = [visitors_hash(key, visitor_id)]
    if first:
        hashes.append(job.request.subject.hash)
    found: list[str] = []
    for hashed in dict.fromkeys(hashes):
        found += privacy_requests.requests_of_subject(job.resources.requests_table, job.ws, hashed)
    return [rid for rid in dict.fromkeys(found) if rid != job.request.request_id]


def visitors_hash(key: str, visitor_id: str) -> str:
    return hashing.subject_hash(key, "visitor", visitor_id)


def erase_exports(job: Job, task: Task) -> PageResult:
    res = job.resources
    index, _ = tasks.decode_cursor(task.cursor)
    if index >= len(task.targets):
        return PageResult(None, 0)
    if job.scope == "workspace":
        deleted, more = privacy_exports.delete_page(res.exports_bucket, f"{job.ws}/")
        following = tasks.encode_cursor(index, {"more": True}) if more else None
        return PageResult(following or tasks.next_cursor(task, index, None), deleted)
    deleted = 0
    for request_id in _export_request_ids(job, task.targets[index], first=index == 0):
        prefix = privacy_exports.request_prefix(job.ws, request_id)
        while True:
            count, more = privacy_exports.delete_page(res.exports_bucket, prefix)
            deleted += count
            if not more:
                break
    return PageResult(tasks.next_cursor(task, index, None), deleted)


ERASERS: dict[str, Handler] = {
    "ephemeral.sessions": erase_sessions,
    "privacy.exports": erase_exports,
    "conversations.messages": _erase_children(MESSAGES),
    "conversations.notes": _erase_children(NOTES),
    "conversations.csat": lambda job, task: _walk(
        job, task, "conversation", _csat_item, _deleting(_conversations_table)
    ),
    "conversations.markers": _erase_children(MARKERS, _is_marker),
    "conversations.client_conversations": erase_client_conversations,
    "ephemeral.rate_windows": erase_rate_windows,
    "conversations.conversation": erase_conversations,
    "visitors.visitor": erase_visitors,
    "workspaces.workspace": erase_workspace,
}


# ---------------------------------------------------------------- exporters


def _export_children(ranges: Any) -> Handler:
    def handler(job: Job, task: Task) -> PageResult:
        return _walk(job, task, "conversation", _children(ranges), _exporting)

    return handler


def _csat_item(job: Job, conversation_id: str, _: dict[str, Any] | None) -> Any:
    """A conversation's one rating: a GetItem, not a query."""
    pk = keys.conversation_pk(job.ws, conversation_id)
    item = raw.get(job.resources.conversations_table, pk, keys.CSAT_SK)
    return ([item] if item is not None else []), None


def _conversation_record(job: Job, conversation_id: str, _: dict[str, Any] | None) -> Any:
    item = raw.get(job.resources.conversations_table, *keys.conversation(job.ws, conversation_id))
    return ([item] if item is not None else []), None


def _visitor_record(job: Job, visitor_id: str, _: dict[str, Any] | None) -> Any:
    item = raw.get(job.resources.visitors_table, *keys.visitor(job.ws, visitor_id))
    return ([item] if item is not None else []), None


EXPORTERS: dict[str, Handler] = {
    "visitors.visitor": lambda job, task: _walk(job, task, "visitor", _visitor_record, _exporting),
    "conversations.conversation": lambda job, task: _walk(
        job, task, "conversation", _conversation_record, _exporting
    ),
    "conversations.messages": _export_children(MESSAGES),
    "conversations.notes": _export_children(NOTES),
    "conversations.csat": lambda job, task: _walk(
        job, task, "conversation", _csat_item, _exporting
    ),
}


def package(job: Job, task: Task) -> PageResult:
    """Stream every part into the zip (write_package) and upload it in parts; then drop the
    parts. A package already uploaded (a crash after the upload) is kept as it is."""
    res = job.resources
    ws, request_id = job.ws, job.request.request_id
    key = privacy_exports.package_key(ws, request_id)
    existing = privacy_exports.head(res.exports_bucket, key)
    if existing is None or existing.get("Metadata", {}).get("state") != privacy_exports.COMPLETE:
        info = export_package.PackageInfo(
            request_id=request_id,
            workspace_id=ws,
            request_type=job.request.type,
            generated_at=job.now,
        )
        records: dict[str, Iterator[dict[str, Any]]] = {
            entity.name: privacy_exports.records_under(
                res.exports_bucket, privacy_exports.parts_prefix(ws, request_id, entity.store)
            )
            for entity in registry.EXPORT_ENTITIES
        }
        out = privacy_exports.MultipartWriter(
            res.exports_bucket, key, {"state": privacy_exports.COMPLETE}
        )
        try:
            manifest = export_package.write_package(
                cast(IO[bytes], out), info, records, spool_dir=res.spool_dir
            )
        except BaseException:
            out.abort()
            raise
        out.close()
        total = sum(entity.count for entity in manifest.entities)
    else:
        total = 0
    leftovers = privacy_exports.keys_under(
        res.exports_bucket, f"{privacy_exports.request_prefix(ws, request_id)}parts/"
    )
    privacy_exports.delete_keys(res.exports_bucket, leftovers)
    return PageResult(None, total)


# ---------------------------------------------------------------- flags and corrections


FLAG_UPDATES: dict[RequestType, dict[str, bool]] = {
    "restrict": {"restricted": True},
    "lift_restriction": {"restricted": False},
    "object": {"ai_objection": True},
}


def _per_visitor(update: Callable[[Job, str], bool]) -> Handler:
    def handler(job: Job, task: Task) -> PageResult:
        index, _ = tasks.decode_cursor(task.cursor)
        if index >= len(task.targets):
            return PageResult(None, 0)
        changed = update(job, task.targets[index])
        return PageResult(tasks.next_cursor(task, index, None), int(changed))

    return handler


def _flag(job: Job, visitor_id: str) -> bool:
    fields = FLAG_UPDATES[job.request.type]
    return raw.update_visitor(job.resources.visitors_table, job.ws, visitor_id, dict(fields))


def _correct(job: Job, visitor_id: str) -> bool:
    """The visitor's attributes and the keyed hashes the lookup indexes hold, in one update."""
    changes = job.request.changes or {}
    fields = visitors.contact_fields(
        job.resources.subject_key,
        job.ws,
        name=changes.get("name"),
        email=changes.get("email"),
        phone=changes.get("phone"),
    )
    return raw.update_visitor(job.resources.visitors_table, job.ws, visitor_id, fields)


FLAGGERS: dict[str, Handler] = {"visitors.visitor": _per_visitor(_flag)}
CORRECTORS: dict[str, Handler] = {"visitors.visitor": _per_visitor(_correct)}


# ---------------------------------------------------------------- verifiers


def _index_hits(table: str, index: str, condition: str, vals: dict[str, Any]) -> int:
    """Index entries whose base item still exists (a consistent read of the base: an index
    lags its table briefly, so an entry alone is not residue)."""
    items, _ = raw.query(table, condition, vals, index=index, limit=25)
    return sum(1 for item in items if raw.get(table, *raw.item_key(item)) is not None)


def _partition_count(table: str, pk: str) -> int:
    items, _ = raw.query(table, "pk = :pk", ddb.values(pk=pk), limit=25, consistent=True)
    return len(items)


def _verify_visitors(job: Job, targets: tuple[str, ...]) -> list[str]:
    res = job.resources
    if job.scope == "workspace":
        hits = _index_hits(
            res.visitors_table, "by_workspace", "workspace_id = :ws", ddb.values(ws=job.ws)
        )
        return [f"visitors: {hits}"] if hits else []
    if job.scope != "visitor":
        return []
    left = sum(1 for v in targets if raw.get(res.visitors_table, *keys.visitor(job.ws, v)))
    return [f"visitors.visitor: {left}"] if left else []


def _verify_lookup_index(kind: str) -> Verifier:
    def verify(job: Job, _: tuple[str, ...]) -> list[str]:
        subject = job.request.subject
        found = subject.lookup(job.ws)
        if job.scope != "visitor" or subject.kind != kind or found is None:
            return []
        index, attribute, value = found
        hits = _index_hits(
            job.resources.visitors_table, index, f"{attribute} = :v", ddb.values(v=value)
        )
        return [f"visitors.{index}: {hits}"] if hits else []

    return verify


def _verify_visitor_keys(job: Job, targets: tuple[str, ...]) -> list[str]:
    if job.scope != "visitor":
        return []
    key = job.resources.subject_key()
    hits = sum(
        _index_hits(
            job.resources.visitors_table,
            "by_workspace",
            "workspace_id = :ws AND visitor_key = :key",
            ddb.values(ws=job.ws, key=visitors_hash(key, visitor_id)),
        )
        for visitor_id in targets
    )
    return [f"visitors.by_workspace: {hits}"] if hits else []


def _verify_conversations(job: Job, targets: tuple[str, ...]) -> list[str]:
    res = job.resources
    if job.scope == "conversation":
        left = sum(
            _partition_count(res.conversations_table, keys.conversation_pk(job.ws, c))
            for c in targets
        )
        return [f"conversations (partition): {left}"] if left else []
    hits = 0
    for target in targets:
        for index, condition, vals in _conversation_partitions(job, target):
            hits += _index_hits(res.conversations_table, index, condition, vals)
    return [f"conversations.conversation: {hits}"] if hits else []


def _verify_visitor_partitions(
    pks: Callable[[Job, str], list[str]], table_of: Callable[[Resources], str], name: str
) -> Verifier:
    def verify(job: Job, targets: tuple[str, ...]) -> list[str]:
        if job.scope != "visitor":
            return []  # in a purge: gone with the visitors, which are verified
        table = table_of(job.resources)
        left = sum(_partition_count(table, pk) for v in targets for pk in pks(job, v))
        return [f"{name}: {left}"] if left else []

    return verify


def _verify_exports(job: Job, targets: tuple[str, ...]) -> list[str]:
    bucket = job.resources.exports_bucket
    if job.scope == "workspace":
        left = len(privacy_exports.keys_under(bucket, f"{job.ws}/", limit=10))
        return [f"privacy.exports: {left}"] if left else []
    if job.scope != "visitor":
        return []
    left = 0
    for number, visitor_id in enumerate(targets):
        for request_id in _export_request_ids(job, visitor_id, first=number == 0):
            prefix = privacy_exports.request_prefix(job.ws, request_id)
            left += len(privacy_exports.keys_under(bucket, prefix, limit=10))
    return [f"privacy.exports: {left}"] if left else []


def _verify_workspace(job: Job, _: tuple[str, ...]) -> list[str]:
    if job.scope != "workspace":
        return []
    left = _partition_count(job.resources.workspaces_table, job.ws)
    return [f"workspaces.workspace: {left}"] if left else []


def _derived(job: Job, targets: tuple[str, ...]) -> list[str]:
    """Index or child entries gone with items another verifier checks."""
    return []


def _verify_children(job: Job, targets: tuple[str, ...]) -> list[str]:
    # One conversation: its whole partition is checked (_verify_conversations); a visitor's
    # or a workspace's: children go before the conversations that find them, which are
    # checked.
    return []


VERIFIERS: dict[str, Verifier] = {
    "visitors.visitor": _verify_visitors,
    "visitors.identity": _derived,
    "visitors.by_email_key": _verify_lookup_index("email"),
    "visitors.by_phone_key": _verify_lookup_index("phone"),
    "visitors.by_workspace": _verify_visitor_keys,
    "conversations.conversation": _verify_conversations,
    "conversations.messages": _verify_children,
    "conversations.notes": _verify_children,
    "conversations.csat": _verify_children,
    "conversations.markers": _verify_children,
    "conversations.client_conversations": _verify_visitor_partitions(
        _client_conversation_pks, _conversations_table, "conversations.client_conversations"
    ),
    "conversations.queue_entries": _derived,
    "conversations.by_visitor": _derived,
    "conversations.by_status": _derived,
    "conversations.by_department": _derived,
    "conversations.by_assignee": _derived,
    "conversations.by_routing_work": _derived,
    "conversations.by_sla_due": _derived,
    "conversations.by_retention": _derived,
    "ephemeral.sessions": _verify_visitor_partitions(
        _marker_pks, _ephemeral_table, "ephemeral.sessions"
    ),
    "ephemeral.session_markers": _derived,
    "ephemeral.rate_windows": _verify_visitor_partitions(
        _rate_pks, _ephemeral_table, "ephemeral.rate_windows"
    ),
    "privacy.exports": _verify_exports,
    "workspaces.workspace": _verify_workspace,
}


def verify(job: Job, task: Task) -> PageResult:
    """Every store the erasure's scope touches, checked; residue fails the task (its
    message is retried, then the request fails: it never completes with data left)."""
    residue: list[str] = []
    for entry in registry.verified_stores(job.scope):
        residue += VERIFIERS[entry.name](job, task.targets)
    if residue:
        raise ResidueFound("; ".join(residue))
    return PageResult(None, 0)


# ---------------------------------------------------------------- dispatch


def handler_for(job: Job, task: Task) -> Handler:
    if task.action == "package":
        return package
    if task.action == "verify":
        return verify
    tables = {
        "export": EXPORTERS,
        "erase": ERASERS,
        "flag": FLAGGERS,
        "correct": CORRECTORS,
    }[task.action]
    if task.store is None or task.store not in tables:
        raise LookupError(f"no {task.action} handler for {task.store}")
    return tables[task.store]


def timed(handler: Handler, job: Job, task: Task) -> tuple[PageResult, int]:
    started = time.monotonic()
    result = handler(job, task)
    return result, int((time.monotonic() - started) * 1000)


def is_export(request: PrivacyRequest) -> bool:
    return request.type in _EXPORT_TYPES
