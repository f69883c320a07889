"""The store registry: every table, index and bucket that can hold personal data, and how a
privacy job finds, exports, erases and verifies it there.

A test parses template.yaml and fails when a DynamoDB table, one of its indexes or an S3
bucket is neither a `Store` here nor declared in NO_PERSONAL_DATA with a reason, and when an
entry names a resource the template lacks (unless it is `planned`: declared by this issue,
not yet in the template).

How a subject is found: the Visitors table's keyed-hash indexes (`{ws}#{hmac}`) give visitor
ids; a visitor id gives every other key (yoosr.store.keys). Never a Scan.

Erase modes:
    delete   a task deletes the located items, in `phase` order (lower first)
    with     no task: gone when the store named in `erased_with` is erased (an index, or an
             item its base's erasure removes in the same transaction)
    expires  no task: short-lived, unlinkable to the subject, removed by TTL within the
             stated bound
    retained kept on purpose, holding keyed hashes only (proof of what was done)

Phases of an erasure: 0 stop new data (sessions) and old copies (export packages); 1 what
hangs off a conversation or visitor; 2 conversation items (what the by_visitor index finds:
deleted after their children, so a crash leaves them findable); 3 the visitor item (what the
email/phone indexes find: last, for the same reason) with its identity link. A verify task then
checks every store.

The handlers that do each of these, per store and action, are in yoosr.store.privacy_stores
(a test fails when a store here has no handler for what it declares).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

EraseMode = Literal["delete", "with", "expires", "retained"]
Scope = Literal["visitor", "conversation", "workspace"]
"""visitor: erasure/export of a subject's data; conversation: one conversation's deletion;
workspace: the purge after workspace deletion."""

TABLE_TYPES = frozenset(
    {"AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable", "AWS::Serverless::SimpleTable"}
)
BUCKET_TYPES = frozenset({"AWS::S3::Bucket"})


@dataclass(frozen=True)
class Store:
    name: str
    resource: str
    """The template's logical id."""
    holds: str
    """The personal data it holds."""
    locate: str
    """How a subject's items are found: key pattern or keyed-hash index, never a scan."""
    export: str | None
    """The export package entity, or None (and `export_note` says why)."""
    erase: EraseMode
    verify: str
    """How a job proves nothing is left."""
    scopes: frozenset[Scope]
    index: str | None = None
    phase: int | None = None
    erased_with: str | None = None
    export_note: str = ""
    erase_note: str = ""
    purge: str = ""
    """How a workspace purge finds the items (scope "workspace")."""
    gap: str | None = None
    """What must exist before this store is handled as declared (see docs/privacy.md)."""
    planned: bool = False

    @property
    def target(self) -> str:
        return f"{self.resource}/{self.index}" if self.index else self.resource


@dataclass(frozen=True)
class NoPersonalData:
    resource: str
    reason: str
    index: str | None = None

    @property
    def target(self) -> str:
        return f"{self.resource}/{self.index}" if self.index else self.resource


@dataclass(frozen=True)
class ExportEntity:
    """One entity of the export package: a CSV file and a list in data.json."""

    name: str
    store: str
    description: str
    columns: tuple[str, ...]
    """The CSV's columns, in order; other kept fields go to its `other` column as JSON."""
    purposes: tuple[str, ...]
    retention: str
    omit: frozenset[str] = frozenset()
    """Keys, index attributes and hashes: technical, not information about the subject."""


@dataclass(frozen=True)
class Processor:
    name: str
    role: str
    data: str


_ALL: frozenset[Scope] = frozenset({"visitor", "conversation", "workspace"})
_SUBJECT: frozenset[Scope] = frozenset({"visitor", "workspace"})
_WORKSPACE: frozenset[Scope] = frozenset({"workspace"})
_BY_VISITOR = "by_visitor (visitor_pk = {ws}#VISITOR#{visitor_id}) → conversation ids"
_CONV_PURGE = "by_status ({ws}#STATUS#open, {ws}#STATUS#resolved) → conversation ids"
_CONV_INDEX = "conversations.conversation"
_VISITOR_PURGE = "Visitors by_workspace (workspace_id = {ws}) → visitor ids, then per visitor"

STORES: tuple[Store, ...] = (
    # ------------------------------------------------------------ Visitors table
    Store(
        name="visitors.visitor",
        resource="VisitorsTable",
        holds="name, email, phone, device (browser, OS, language, page URL, country), "
        "identity verified, restriction and objection flags, first and last seen",
        locate="pk {ws}#VISITOR#{visitor_id}, sk VISITOR; by email or phone: "
        "by_email_key / by_phone_key = {ws}#{keyed hash} → visitor ids",
        export="visitor",
        erase="delete",
        phase=3,
        erase_note="last: its email/phone keys are how the subject is found again after a "
        "crash. Correction rewrites the attributes and their keyed hashes in one update; "
        "restriction and objection set flags here.",
        verify="GetItem of each visitor key is empty; by_email_key and by_phone_key queries "
        "for the subject's keyed hash return nothing",
        scopes=_SUBJECT,
        purge="by_workspace (workspace_id = {ws}) → every visitor and identity item",
    ),
    Store(
        name="visitors.identity",
        resource="VisitorsTable",
        holds="the link from a site's signed-in user (keyed hash of the user id) to the visitor id",
        locate="pk {ws}#IDENTITY#{keyed hash of the site user id}, sk IDENTITY",
        export=None,
        export_note="a link between two ids; the visitor entity already says the identity "
        "was verified",
        erase="with",
        erased_with="visitors.visitor",
        erase_note="the visitor item names it (`identity_key`); both go in one transaction, "
        "the link only while it still names that visitor",
        verify="the visitor items that named the links are verified gone; in a workspace "
        "purge the by_workspace query returns no identity item",
        scopes=_SUBJECT,
        purge="by_workspace (identity items carry visitor_key I#{keyed hash})",
    ),
    Store(
        name="visitors.by_workspace",
        resource="VisitorsTable",
        index="by_workspace",
        holds="workspace id with the keyed hash of each visitor id, and of each site user id "
        "(keys only)",
        locate="workspace_id = {ws}, visitor_key = {keyed hash of the visitor id}",
        export=None,
        export_note="an index of the visitor items",
        erase="with",
        erased_with="visitors.visitor",
        verify="query for the workspace (purge) or the visitor's keyed hash returns nothing",
        scopes=_SUBJECT,
    ),
    Store(
        name="visitors.by_email_key",
        resource="VisitorsTable",
        index="by_email_key",
        holds="keyed hash of the email address (keys only)",
        locate="email_key = {ws}#{keyed hash}",
        export=None,
        export_note="an index of the visitor item",
        erase="with",
        erased_with="visitors.visitor",
        verify="query by the subject's keyed hash returns nothing",
        scopes=_SUBJECT,
    ),
    Store(
        name="visitors.by_phone_key",
        resource="VisitorsTable",
        index="by_phone_key",
        holds="keyed hash of the phone number (keys only)",
        locate="phone_key = {ws}#{keyed hash}",
        export=None,
        export_note="an index of the visitor item",
        erase="with",
        erased_with="visitors.visitor",
        verify="query by the subject's keyed hash returns nothing",
        scopes=_SUBJECT,
    ),
    # ------------------------------------------------------------ Conversations table
    Store(
        name="conversations.conversation",
        resource="ConversationsTable",
        holds="visitor id, last message preview (message text), CSAT rating, status, "
        "labels, assigned agents, timestamps",
        locate="pk {ws}#CONV#{conversation_id}, sk CONV; a visitor's: " + _BY_VISITOR,
        export="conversations",
        erase="delete",
        phase=2,
        erase_note="an open conversation is resolved through the routing store first "
        "(releases the agent's load, removes its queue entry and work/SLA keys in one "
        "transaction), then deleted after its children",
        verify="GetItem of each conversation key is empty; by_visitor query returns nothing",
        scopes=_ALL,
        purge=_CONV_PURGE,
    ),
    Store(
        name="conversations.messages",
        resource="ConversationsTable",
        holds="message text from the visitor, the bot and agents (agent id), quick replies",
        locate="pk {ws}#CONV#{conversation_id}, sk between MSG# and MSG#~",
        export="messages",
        erase="delete",
        phase=1,
        verify="query of the MSG# range of each conversation returns nothing",
        scopes=_ALL,
        purge="per conversation, as for the visitor",
    ),
    Store(
        name="conversations.notes",
        resource="ConversationsTable",
        holds="agents' private notes about the conversation (agent id, text)",
        locate="pk {ws}#CONV#{conversation_id}, sk between NOTE# and NOTE#~",
        export="notes",
        export_note="notes about the subject are their personal data (GDPR Art. 15)",
        erase="delete",
        phase=1,
        verify="query of the NOTE# range of each conversation returns nothing",
        scopes=_ALL,
        purge="per conversation",
    ),
    Store(
        name="conversations.csat",
        resource="ConversationsTable",
        holds="the visitor's rating and comment",
        locate="pk {ws}#CONV#{conversation_id}, sk CSAT",
        export="csat",
        erase="delete",
        phase=1,
        verify="GetItem of each CSAT key is empty",
        scopes=_ALL,
        purge="per conversation",
    ),
    Store(
        name="conversations.markers",
        resource="ConversationsTable",
        holds="every other item of the conversation's partition: client message ids with a "
        "digest of the message text (CMID#), waiting-notice and unread markers (NOTICE#, "
        "UNREAD#), routing transitions (TRANSITION#) and any later kind",
        locate="pk {ws}#CONV#{conversation_id}, every sk but CONV, MSG#, NOTE# and CSAT",
        export=None,
        export_note="idempotency markers and routing history: ids, times and a digest of "
        "text the messages entity holds",
        erase="delete",
        phase=1,
        verify="query of the partition returns nothing but the conversation item (then, "
        "after phase 2, nothing at all)",
        scopes=_ALL,
        purge="per conversation",
    ),
    Store(
        name="conversations.client_conversations",
        resource="ConversationsTable",
        holds="the widget's client conversation ids, under the visitor's key",
        locate="pk {ws}#VISITOR#{visitor_id}, sk begins_with CCID#",
        export=None,
        export_note="idempotency markers: a client id and a conversation id",
        erase="delete",
        phase=1,
        verify="query of pk {ws}#VISITOR#{visitor_id} returns nothing",
        scopes=_SUBJECT,
        purge="with the visitors of the workspace",
    ),
    Store(
        name="conversations.queue_entries",
        resource="ConversationsTable",
        holds="a waiting conversation's id in its department queue",
        locate="the conversation item's queue_pk / queue_sk",
        export=None,
        export_note="a queue position, meaningless after the fact",
        erase="with",
        erased_with=_CONV_INDEX,
        erase_note="removed when the conversation is resolved before deletion",
        verify="the conversation item is gone (it names the entry)",
        scopes=_ALL,
    ),
    Store(
        name="conversations.by_visitor",
        resource="ConversationsTable",
        index="by_visitor",
        holds="visitor id → conversation ids (keys only)",
        locate="visitor_pk = {ws}#VISITOR#{visitor_id}",
        export=None,
        export_note="an index",
        erase="with",
        erased_with=_CONV_INDEX,
        verify="query for the visitor returns nothing",
        scopes=_ALL,
    ),
    *(
        Store(
            name=f"conversations.{index}",
            resource="ConversationsTable",
            index=index,
            holds="inbox projection: visitor id, last message preview, status, agents",
            locate="never read per subject: projected from conversation items",
            export=None,
            export_note="an index",
            erase="with",
            erased_with=_CONV_INDEX,
            verify="projected from conversation items, which are verified gone",
            scopes=_ALL,
        )
        for index in ("by_status", "by_department", "by_assignee")
    ),
    *(
        Store(
            name=f"conversations.{index}",
            resource="ConversationsTable",
            index=index,
            holds="conversation ids in routing and SLA work keys",
            locate="never read per subject: projected from conversation and queue items",
            export=None,
            export_note="an index",
            erase="with",
            erased_with=_CONV_INDEX,
            verify="projected from items verified gone",
            scopes=_ALL,
        )
        for index in ("by_routing_work", "by_sla_due")
    ),
    Store(
        name="conversations.by_retention",
        resource="ConversationsTable",
        index="by_retention",
        holds="conversation keys (ids) by the time their retention TTL passes",
        locate="never read per subject: projected from conversation items with a retention "
        "TTL; read by the retention sweep (expires_at <= now), never a scan",
        export=None,
        export_note="an index",
        erase="with",
        erased_with=_CONV_INDEX,
        verify="projected from conversation items, which are verified gone",
        scopes=_ALL,
    ),
    # ------------------------------------------------------------ Ephemeral table
    Store(
        name="ephemeral.sessions",
        resource="EphemeralTable",
        holds="widget sessions: token digest and visitor id (TTL session_ttl_hours)",
        locate="pk {ws}#SESSION#{sha256 of the token}; a visitor's: the marker items "
        "pk {ws}#VISITOR#{visitor_id}, sk SESSION#{sha256} written with each session",
        export=None,
        export_note="credentials, not information about the subject",
        erase="delete",
        phase=0,
        erase_note="first: a revoked session can no longer add data while the job runs; "
        "the next widget call with it is a 401",
        verify="the visitor's marker partition is empty, and GetItem of each session it "
        "named is empty",
        scopes=_SUBJECT,
        purge="the workspace is disabled at once (keys and tokens refused); then per visitor "
        "as above (" + _VISITOR_PURGE + ")",
    ),
    Store(
        name="ephemeral.session_markers",
        resource="EphemeralTable",
        holds="visitor id → the digests of their session tokens (same TTL as the sessions)",
        locate="pk {ws}#VISITOR#{visitor_id}, sk begins_with SESSION#",
        export=None,
        export_note="credentials, not information about the subject",
        erase="with",
        erased_with="ephemeral.sessions",
        erase_note="deleted in the same batch as the sessions they name",
        verify="query of the visitor's marker partition returns nothing",
        scopes=_SUBJECT,
    ),
    Store(
        name="ephemeral.rate_windows",
        resource="EphemeralTable",
        holds="per-session rate-limit windows keyed by the visitor id",
        locate="pk {ws}#RATE#{session_w|session_r|privacy_w}#{visitor_id}",
        export=None,
        export_note="request counters",
        erase="delete",
        phase=1,
        verify="query of each partition returns nothing",
        scopes=_SUBJECT,
        purge="per visitor (" + _VISITOR_PURGE + ")",
    ),
    Store(
        name="ephemeral.ip_rate_windows",
        resource="EphemeralTable",
        holds="per-IP rate-limit windows keyed by a truncated keyed hash of the IP address, "
        "and one-time-code send windows keyed by a truncated keyed hash of the email address",
        locate="not linkable to a subject without their IP or email address and the key",
        export=None,
        export_note="not linkable to the subject",
        erase="expires",
        erase_note="TTL: two rate windows (minutes for IPs, a day for code sends)",
        verify="TTL attribute set on every window item",
        scopes=frozenset(),
    ),
    # ------------------------------------------------------------ Workspaces table
    Store(
        name="workspaces.workspace",
        resource="WorkspacesTable",
        holds="the business's settings, widget keys, bot flows, knowledge, canned "
        "responses; its members' Clerk user ids, roles and presence (no visitor data)",
        locate="pk {ws}",
        export=None,
        export_note="not a visitor's data",
        erase="delete",
        phase=3,
        verify="query of pk {ws} returns nothing",
        scopes=_WORKSPACE,
        purge="query pk {ws}, delete every item",
    ),
    # ------------------------------------------------------------ issue 5's own stores
    Store(
        name="privacy.requests",
        resource="PrivacyRequestsTable",
        holds="requests (raw subject only while waiting, see lifecycle), one-time code "
        "records (keyed hashes, TTL), tasks (visitor ids while running), audit events and "
        "tombstones (keyed hashes only), widget client-id markers (keyed hashes, TTL)",
        locate="pk {ws}#PRIVACY#{request_id}; a subject's requests: by_subject",
        export=None,
        export_note="the request itself is answered through its status route",
        erase="retained",
        erase_note="audit events and tombstones are the proof of erasure (GDPR Art. 5(2)); "
        "they hold keyed hashes only",
        verify="the no-residue test finds no raw identifier in it",
        scopes=_WORKSPACE,
        purge="audit events and tombstones kept; the workspace's other open requests are "
        "cancelled when the purge starts, which drops their raw subjects",
    ),
    Store(
        name="privacy.by_subject",
        resource="PrivacyRequestsTable",
        index="by_subject",
        holds="keyed hash of a request's subject → request ids (keys only)",
        locate="subject_key = {ws}#{subject keyed hash}",
        export=None,
        export_note="an index",
        erase="retained",
        verify="holds keyed hashes only",
        scopes=_WORKSPACE,
    ),
    Store(
        name="privacy.by_list",
        resource="PrivacyRequestsTable",
        index="by_list",
        holds="a workspace's requests, newest first ({ws}#REQUESTS), and tombstones "
        "(TOMBSTONES#{shard}) for the replay after a restore",
        locate="list_pk = {ws}#REQUESTS",
        export=None,
        export_note="an index",
        erase="retained",
        verify="projects the request items (raw subject only while waiting)",
        scopes=_WORKSPACE,
    ),
    Store(
        name="privacy.by_open",
        resource="PrivacyRequestsTable",
        index="by_open",
        holds="open requests by due date, for the daily check (sparse)",
        locate="open_pk = OPEN#{shard}, open_sk = {due_at}#{ws}#{request_id}",
        export=None,
        export_note="an index",
        erase="retained",
        verify="projects the open request items only",
        scopes=_WORKSPACE,
    ),
    Store(
        name="privacy.exports",
        resource="PrivacyExportsBucket",
        holds="export packages: a full copy of a subject's data (lifecycle expiry 7 days)",
        locate="prefix {ws}/{request_id}/ for each earlier access or export request whose "
        "subject is the erased subject or one of the erased visitors (PrivacyRequestsTable "
        "by_subject, by keyed hash)",
        export=None,
        export_note="copies of what the package already contains",
        erase="delete",
        phase=0,
        verify="ListObjectsV2 of each prefix returns nothing",
        scopes=_SUBJECT,
        purge="prefix {ws}/",
    ),
)

NO_PERSONAL_DATA: tuple[NoPersonalData, ...] = (
    NoPersonalData(
        "AnalyticsTable",
        "rollups hold counters and histogram buckets per workspace, local day/hour and "
        "dimension (department, agent user id, channel, model, rating), never a visitor id, "
        "message text or contact detail; dedupe markers hold a hash of an event key and a TTL "
        "of days. Erasing a conversation leaves its counts, which identify nobody",
    ),
)
"""Resources declared free of personal data, each with its reason (e.g. analytics rollups)."""

_CHAT_PURPOSE = "answering the visitor's questions in the chat"
_RETENTION = (
    "until the workspace's retention period ends (its retention_days setting), you ask for "
    "erasure, or 30 days after the workspace is deleted"
)

EXPORT_ENTITIES: tuple[ExportEntity, ...] = (
    ExportEntity(
        name="visitor",
        store="visitors.visitor",
        description="What you told us about yourself and what your browser sent",
        columns=(
            "visitor_id",
            "name",
            "email",
            "phone",
            "created_at",
            "last_seen_at",
            "identity_verified",
            "restricted",
            "device",
        ),
        purposes=(_CHAT_PURPOSE, "recognising you when you come back"),
        retention=_RETENTION,
        omit=frozenset({"pk", "sk", "item_type", "email_key", "phone_key"}),
    ),
    ExportEntity(
        name="conversations",
        store="conversations.conversation",
        description="Your conversations",
        columns=(
            "conversation_id",
            "created_at",
            "status",
            "department_id",
            "assignee_id",
            "last_activity_at",
            "message_count",
            "csat_rating",
            "resolved_at",
        ),
        purposes=(_CHAT_PURPOSE,),
        retention=_RETENTION,
        omit=frozenset(
            {
                "pk",
                "sk",
                "item_type",
                "visitor_pk",
                "visitor_sk",
                "inbox_status_pk",
                "inbox_department_pk",
                "inbox_assignee_pk",
                "queue_pk",
                "queue_sk",
                "work_pk",
                "work_sk",
                "sla_pk",
                "sla_sk",
                "retention_pk",
                "last_message_preview",
            }
        ),
    ),
    ExportEntity(
        name="messages",
        store="conversations.messages",
        description="Every message in your conversations: yours, the bot's and agents'",
        columns=(
            "message_id",
            "conversation_id",
            "created_at",
            "sender_type",
            "agent_id",
            "text",
        ),
        purposes=(_CHAT_PURPOSE,),
        retention=_RETENTION,
        omit=frozenset({"pk", "sk", "item_type"}),
    ),
    ExportEntity(
        name="notes",
        store="conversations.notes",
        description="Notes agents wrote about your conversations",
        columns=("note_id", "conversation_id", "created_at", "agent_id", "text"),
        purposes=("handing your conversation from one agent to another",),
        retention=_RETENTION,
        omit=frozenset({"pk", "sk", "item_type"}),
    ),
    ExportEntity(
        name="csat",
        store="conversations.csat",
        description="Your ratings of conversations",
        columns=("conversation_id", "rating", "comment", "created_at"),
        purposes=("measuring the quality of the service",),
        retention=_RETENTION,
        omit=frozenset({"pk", "sk", "item_type"}),
    ),
)

PROCESSORS: tuple[Processor, ...] = (
    Processor(
        name="Amazon Web Services",
        role="hosting: compute, database, file storage, email delivery",
        data="everything in this package",
    ),
    Processor(
        name="OpenRouter (and the AI model provider the business chose)",
        role="drafting bot answers; never used for training",
        data="message text of conversations the bot answered, unless you objected",
    ),
)


# ---------------------------------------------------------------- lookups


def store(name: str) -> Store:
    for entry in STORES:
        if entry.name == name:
            return entry
    raise KeyError(name)


def erasure_phases(scope: Scope) -> list[list[Store]]:
    """The stores an erasure of `scope` deletes from, grouped by phase, in phase order."""
    phases: dict[int, list[Store]] = {}
    for entry in STORES:
        if entry.erase == "delete" and scope in entry.scopes:
            if entry.phase is None:
                raise ValueError(f"{entry.name} deletes without a phase")
            phases.setdefault(entry.phase, []).append(entry)
    return [phases[number] for number in sorted(phases)]


def verified_stores(scope: Scope) -> list[Store]:
    """Every store an erasure of `scope` must prove empty (deleted or erased with them)."""
    return [s for s in STORES if scope in s.scopes and s.erase in ("delete", "with")]


# ---------------------------------------------------------------- template coverage


def template_targets(resources: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Every table, table index ("Table/index") and bucket a CloudFormation template's
    Resources declare."""
    targets: set[str] = set()
    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        if kind in BUCKET_TYPES:
            targets.add(logical_id)
        elif kind in TABLE_TYPES:
            targets.add(logical_id)
            properties = resource.get("Properties") or {}
            for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
                for index in properties.get(key) or ():
                    targets.add(f"{logical_id}/{index['IndexName']}")
    return targets


def _declared() -> set[str]:
    return {entry.target for entry in STORES} | {entry.target for entry in NO_PERSONAL_DATA}


def uncovered(resources: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Template targets the registry neither handles nor declares free of personal data."""
    return sorted(template_targets(resources) - _declared())


def stale(resources: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Registry targets the template lacks (planned stores excepted)."""
    planned = {entry.target for entry in STORES if entry.planned}
    return sorted(_declared() - planned - template_targets(resources))


def planned_present(resources: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Planned targets the template now declares: drop their `planned` flag."""
    planned = {entry.target for entry in STORES if entry.planned}
    return sorted(planned & template_targets(resources))
