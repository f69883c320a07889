"""The retention sweep (frozen clock): a conversation whose retention TTL has passed but which
DynamoDB has not removed (moto never expires items) is deleted by the daily privacy check with
every item of its partition; one still within retention, one with recent activity and one of a
workspace without a retention setting (kept until deleted, the default) stay; a rerun changes
nothing; a conversation extended while it is swept keeps what is left; a sweep over many
conversations is bounded per run and continues in the next; every call is allowed by the
function's role; logs hold counts only."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.integration import privacy_support as ps
from tests.integration.test_least_privilege import allowed, required_permissions, role_statements
from tests.integration.widget_support import ORIGIN
from tests.support import HttpHandlerClient
from yoosr import clock, ids
from yoosr.privacy import retention
from yoosr.provisioning import issue_widget_key, provision_workspace
from yoosr.store import aws, ddb, keys
from yoosr.store import conversations as conversations_store
from yoosr.store.conversations import RETENTION_INDEX, retention_pk

DAY = timedelta(days=1)
RETENTION_DAYS = 30


@pytest.fixture(scope="module")
def apps(stack: Any) -> ps.Apps:
    return ps.apps(stack)


@pytest.fixture
def frozen() -> Iterator[list[datetime]]:
    with ps.frozen_clock() as now:
        yield now


def org_with(stack: Any, apps: ps.Apps, retention_days: int | None) -> ps.Org:
    org_id = f"org_{uuid.uuid4().hex[:20]}"
    table = stack.table("WorkspacesTable")
    settings: dict[str, Any] = {"allowed_origins": [ORIGIN]}
    if retention_days is not None:
        settings["retention_days"] = retention_days
    provision_workspace(table, org_id, "Acme", settings)
    ws = ids.workspace_id_for_org(org_id)
    return ps.Org(
        stack, apps, org_id=org_id, widget_key=issue_widget_key(table, ws), provision=False
    )


def items_of(stack: Any, ws: str, conversation_id: str) -> list[dict[str, Any]]:
    """Every item of a conversation's partition, expired ones included."""
    return ps.partition(stack, "ConversationsTable", keys.conversation_pk(ws, conversation_id))


def sweep(apps: ps.Apps, capfd: pytest.CaptureFixture[str] | None = None) -> dict[str, Any]:
    """With `capfd`: the daily check (which ends with the sweep), checking the ItemsSwept
    metric it published; else the sweep alone (`retention_sweep`). Returns the sweep's
    report."""
    if capfd is None:
        return dict(
            apps.schedule.lambda_handler({"command": "retention_sweep"}, ps.Deadline(120_000))
        )
    capfd.readouterr()
    report = dict(apps.schedule.lambda_handler({}, ps.Deadline(120_000)))
    swept = dict(report["retention"])
    if capfd is not None:
        published = [
            json.loads(line)["ItemsSwept"]
            for line in capfd.readouterr().out.splitlines()
            if line.startswith('{"_aws"') and '"ItemsSwept"' in line
        ]
        assert published, "ItemsSwept was not published"
        value = published[-1][0] if isinstance(published[-1], list) else published[-1]
        assert int(value) == swept["items_swept"]
    return swept


class Recorder:
    """Every AWS call made while inside (service, operation, params)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.service_model.service_name, model.name, copy.deepcopy(params)))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorded = Recorder()
    services = ("dynamodb", "sqs")
    for service in services:
        aws.client(service).meta.events.register("provide-client-params.*.*", recorded.record)
    yield recorded
    for service in services:
        aws.client(service).meta.events.unregister("provide-client-params.*.*", recorded.record)


def test_expired_conversations_are_swept_with_all_their_items(
    stack: Any,
    apps: ps.Apps,
    widget: HttpHandlerClient,
    frozen: list[datetime],
    capfd: pytest.CaptureFixture[str],
    recorder: Recorder,
) -> None:
    # Given a workspace keeping conversations 30 days, on day 0: a conversation with two
    # messages and a CSAT rating, and one the visitor writes in again on day 6
    org = org_with(stack, apps, RETENTION_DAYS)
    v = ps.visitor(stack, apps, widget, org)
    secret = f"private words {uuid.uuid4().hex[:8]}"
    old = v.start_conversation(secret)
    assert v.post(old, "a second message").status == 201
    rated = v.call(
        "widget_submit_csat", path_params={"conversation_id": old}, json_body={"rating": 4}
    )
    assert rated.status in (200, 201), rated.body
    active = v.start_conversation("started on day 0")
    # and a workspace without a retention setting (the default: kept until deleted)
    keeper = org_with(stack, apps, None)
    k = ps.visitor(stack, apps, widget, keeper)
    kept_default = k.start_conversation("no retention here")

    # Every item of the conversation carries the retention TTL (the CSAT rating included),
    # and only the conversation item is in the retention index
    day0 = int(frozen[0].timestamp())
    stored = items_of(stack, org.ws, old)
    assert {i["sk"].split("#")[0] for i in stored} >= {"CONV", "MSG", "CMID", "CSAT"}
    for item in stored:
        assert day0 < item["expires_at"] <= day0 + RETENTION_DAYS * 86_400 + 5, item["sk"]
    indexed = [i for i in stored if "retention_pk" in i]
    assert [i["sk"] for i in indexed] == [keys.CONVERSATION_SK]
    assert indexed[0]["retention_pk"] == retention_pk(org.ws, old)
    assert all("expires_at" not in i for i in items_of(stack, keeper.ws, kept_default))

    # On day 6 the visitor writes in the second conversation, and starts a third
    frozen[0] += 6 * DAY
    assert v.post(active, "still here on day 6").status == 201
    recent = v.start_conversation("started on day 6")
    before = {c: items_of(stack, org.ws, c) for c in (active, recent)}
    kept_before = items_of(stack, keeper.ws, kept_default)

    # On day 31 the first has passed its TTL (hidden from reads, still stored: moto, like
    # DynamoDB for a while, has not removed it)
    frozen[0] += 25 * DAY
    assert len(items_of(stack, org.ws, old)) == len(stored)
    # When the daily check runs, it deletes the expired conversation with all its items
    recorder.calls.clear()
    with ps.captured_logs() as logs:
        report = sweep(apps, capfd)
    assert items_of(stack, org.ws, old) == []
    assert report["conversations_swept"] >= 1
    assert report["items_swept"] >= len(stored)
    assert report["stopped_early"] is False
    # the others stay whole, the active one's first message included (it is hidden by
    # reads: it expired on its own; TTL removes it)
    assert {c: items_of(stack, org.ws, c) for c in (active, recent)} == before
    assert items_of(stack, keeper.ws, kept_default) == kept_before
    # and logs hold counts, not ids of the swept or their text
    text = logs.getvalue()
    assert "retention sweep" in text
    assert secret not in text and old not in text and str(v.visitor_id) not in text

    # Every call the sweep made is allowed by the function's own role (exact actions)
    statements = role_statements(stack, "PrivacyScheduleFunction")
    needed = {p for call in recorder.calls for p in required_permissions(stack, *call)}
    assert {action for action, _ in needed} >= {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:DeleteItem",
    }
    index_arn = f"{stack.resources.get_att('ConversationsTable', 'Arn')}/index/{RETENTION_INDEX}"
    assert ("dynamodb:Query", index_arn) in needed
    assert sorted(p for p in needed if not allowed(statements, *p)) == []

    # A rerun changes nothing
    again = sweep(apps)
    assert (again["conversations_swept"], again["items_swept"]) == (0, 0)
    assert {c: items_of(stack, org.ws, c) for c in (active, recent)} == before

    # Once their own TTL passes, the others go too; the default workspace's never
    frozen[0] += 6 * DAY
    later = sweep(apps)
    assert later["conversations_swept"] >= 2
    assert items_of(stack, org.ws, active) == [] and items_of(stack, org.ws, recent) == []
    assert items_of(stack, keeper.ws, kept_default) == kept_before


def test_a_conversation_extended_while_it_is_swept_keeps_what_is_left(
    stack: Any,
    apps: ps.Apps,
    widget: HttpHandlerClient,
    frozen: list[datetime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a conversation that is live again (a visitor wrote in: its TTL moved on), but
    # whose read, a moment earlier, still showed it expired
    org = org_with(stack, apps, RETENTION_DAYS)
    v = ps.visitor(stack, apps, widget, org)
    conversation = v.start_conversation("extended")
    stored = items_of(stack, org.ws, conversation)
    frozen[0] += 5 * DAY
    now = int(frozen[0].timestamp())
    real_get = retention.raw.get

    def stale_get(table: str, pk: str, sk: str) -> dict[str, Any] | None:
        item = real_get(table, pk, sk)
        return {**item, "expires_at": now - 1} if item else None

    monkeypatch.setattr(retention.raw, "get", stale_get)
    # When the sweep reaches it, its guarded deletes fail: nothing is deleted
    table = stack.table("ConversationsTable")
    assert (
        retention.sweep_conversation(table, keys.conversation_pk(org.ws, conversation), now) is None
    )
    assert items_of(stack, org.ws, conversation) == stored
    # A conversation that is gone (the index lags its table) is skipped
    monkeypatch.setattr(retention.raw, "get", real_get)
    assert (
        retention.sweep_conversation(table, keys.conversation_pk(org.ws, "conv_gone"), now) is None
    )
    # And a live one is never touched
    assert (
        retention.sweep_conversation(table, keys.conversation_pk(org.ws, conversation), now) is None
    )
    assert items_of(stack, org.ws, conversation) == stored


def test_a_sweep_over_many_conversations_resumes_across_runs(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, frozen: list[datetime]
) -> None:
    # Given 8 conversations past their TTL (written as the widget writes them)
    org = org_with(stack, apps, 1)
    table = stack.table("ConversationsTable")

    def seed(n: int) -> list[str]:
        expires = int(frozen[0].timestamp()) + 86_400
        started = []
        for _ in range(n):
            conversation_id = ids.new_id("conv")
            item = conversations_store.conversation_item(
                org.ws, conversation_id, "v_seed", clock.iso(), expires, owner="bot"
            )
            message = conversations_store.message_item(
                org.ws, conversation_id, ids.new_id("msg"), "visitor", "hi", clock.iso(), expires
            )
            conversations_store.start(table, item, None, (message, ids.new_id("c"), "digest"))
            started.append(conversation_id)
        return started

    conversations = seed(8)
    frozen[0] += 2 * DAY
    now = int(frozen[0].timestamp())

    def left() -> list[str]:
        return [c for c in conversations if items_of(stack, org.ws, c)]

    # When each run may visit 3
    runs: list[retention.SweepReport] = []
    while left() and len(runs) < 20:
        runs.append(retention.sweep(table, now, lambda: False, max_conversations=3))
        assert runs[-1].visited <= 3
    # Then every one is gone after several runs, each bounded, each continuing the last
    assert left() == []
    assert len(runs) >= 3
    assert all(r.stopped_early for r in runs[:-1])
    assert sum(r.conversations_swept for r in runs) >= 8

    # A run out of time stops before its deadline and leaves the rest to the next
    more = seed(3)
    frozen[0] += 2 * DAY
    now = int(frozen[0].timestamp())
    ticks = iter([False, False, True])
    cut = retention.sweep(table, now, lambda: next(ticks, True), max_conversations=100)
    assert cut.stopped_early and cut.visited <= 2
    assert sum(1 for c in more if items_of(stack, org.ws, c)) >= 1
    rest = retention.sweep(table, now, lambda: False, max_conversations=100)
    assert not rest.stopped_early
    assert all(items_of(stack, org.ws, c) == [] for c in more)
    # Nothing expired is left in the index for this workspace
    for shard in range(8):
        entries, _ = retention.expired_page(table, shard, now, None, 100)
        assert not [e for e in entries if str(e["pk"]).startswith(f"{org.ws}#")]


def test_the_sweep_reads_only_expired_conversation_items(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, frozen: list[datetime]
) -> None:
    # Given conversations expiring on day 1 and day 30
    soon = org_with(stack, apps, 1)
    late = org_with(stack, apps, RETENTION_DAYS)
    first = ps.visitor(stack, apps, widget, soon).start_conversation("soon")
    second = ps.visitor(stack, apps, widget, late).start_conversation("late")
    frozen[0] += 2 * DAY
    now = int(frozen[0].timestamp())
    table = stack.table("ConversationsTable")
    # The index lists conversation items only (no messages), and only those expired by now
    listed: list[dict[str, Any]] = []
    for shard in range(8):
        entries, _ = retention.expired_page(table, shard, now, None, 1000)
        listed += entries
    mine = {str(e["pk"]) for e in listed} & {
        keys.conversation_pk(soon.ws, first),
        keys.conversation_pk(late.ws, second),
    }
    assert mine == {keys.conversation_pk(soon.ws, first)}
    assert all(e["sk"] == keys.CONVERSATION_SK and e["expires_at"] <= now for e in listed)
    assert set(listed[0]) <= {"pk", "sk", "retention_pk", "expires_at"}  # keys only
    # and the widget already hides the expired one
    assert ddb.get(table, *keys.conversation(soon.ws, first)) is None
