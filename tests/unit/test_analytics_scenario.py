"""A scripted day of support, written the way the writers will write it (routing transitions
plus the analytics inputs), fed as stream records, and checked against figures computed by
hand. Then the whole stream is delivered again, and in another order: no figure moves."""

from __future__ import annotations

import random
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import pytest

from yoosr import clock
from yoosr.analytics import events, inputs, reports
from yoosr.analytics.events import PrivacyRequestEvent, StreamChange
from yoosr.analytics.histogram import RELATIVE_ERROR
from yoosr.analytics.ranges import DateRange
from yoosr.analytics.rollup import RollupBook
from yoosr.analytics.series import zone
from yoosr.models.routing import ConversationState
from yoosr.routing import transitions

WS = "ws_demo"
TZ = "Europe/Oslo"  # UTC+2 in June: local midnight is 22:00 UTC the day before
DAY1, DAY2 = "2025-06-10", "2025-06-11"
M1, M2 = "openai/gpt-4o-mini", "anthropic/claude-3.5-haiku"


def local(day: str, hhmmss: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmmss}").replace(tzinfo=zone(TZ))


def iso(moment: datetime) -> str:
    return clock.iso(moment)


def ai_map(
    outcome: str,
    model: str | None,
    prompt: int,
    completion: int,
    cost: str | None,
    latency: int | None,
    failure_kind: str | None = None,
) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "model": model,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cost_usd": cost,
        "latency_ms": latency,
        "failure_kind": failure_kind,
    }


class World:
    """The Conversations table as the writers change it, one stream record per write."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.records: list[StreamChange] = []
        self.serial = 0

    def _id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}_{self.serial:04d}"

    def _insert(self, item: dict[str, Any], at: datetime) -> None:
        self.records.append(StreamChange("INSERT", None, dict(item), at.astimezone(UTC)))

    def _message(self, conv: str, sender: str, at: datetime, **extra: Any) -> dict[str, Any]:
        item = {
            "item_type": "message",
            "workspace_id": WS,
            "conversation_id": conv,
            "message_id": self._id("msg"),
            "sender_type": sender,
            "text": "(text)",
            "created_at": iso(at),
            **extra,
        }
        self._insert(item, at)
        return item

    def _write(
        self,
        conv: str,
        at: datetime,
        after: ConversationState | None = None,
        *,
        message: inputs.MessageKind | None = None,
        agent_id: str | None = None,
        offer_rating: bool = False,
        sets: dict[str, Any] | None = None,
        adds: dict[str, Any] | None = None,
    ) -> None:
        old = self.items[conv]
        before = ConversationState.of(old)
        after = after or before
        patch = inputs.patch(
            old, after, iso(at), message=message, agent_id=agent_id, offer_rating=offer_rating
        )
        new = dict(old)
        for field in fields(ConversationState):
            if field.name != "queued":
                new[field.name] = getattr(after, field.name)
        if after.queued:
            new["queue_sk"] = after.arrival_id
        else:
            new.pop("queue_sk", None)
        new = patch.applied_to(new)
        new.update(sets or {})
        for name, value in (adds or {}).items():
            new[name] = new.get(name, 0) + value
        self.items[conv] = new
        self.records.append(StreamChange("MODIFY", old, dict(new), at.astimezone(UTC)))

    # ------------------------------------------------------------ what happens

    def start(self, at: datetime, owner: str = "bot", channel: str = "widget") -> str:
        conv = self._id("conv")
        item = {
            "item_type": "conversation",
            "workspace_id": WS,
            "conversation_id": conv,
            "visitor_id": "v_1",
            "status": "open",
            "owner": owner,
            "department_id": None,
            "assignee_id": None,
            "created_at": iso(at),
            "last_activity_at": iso(at),
            "message_count": 1,
            "visitor_message_count": 1,
            "csat_rating": None,
            **inputs.initial(iso(at), channel),
        }
        self.items[conv] = item
        self._insert(item, at)
        self._message(conv, "visitor", at)
        return conv

    def bot_says(self, conv: str, at: datetime, ai: dict[str, Any] | None = None) -> None:
        self._message(conv, "bot", at, **({"ai": ai} if ai else {}))
        self._write(conv, at, message="bot", sets={"last_activity_at": iso(at)})

    def bot_hands_off(
        self, conv: str, at: datetime, department: str, ai: dict[str, Any] | None = None
    ) -> None:
        """The bot's handoff message and the handoff land in one transaction."""
        self._message(conv, "bot", at, **({"ai": ai} if ai else {}))
        state = ConversationState.of(self.items[conv])
        after = transitions.hand_off(state, department, self._id("arr"), iso(at), None)
        self._write(conv, at, after, message="bot", sets={"last_activity_at": iso(at)})

    def requeue(self, conv: str, at: datetime) -> None:
        """The routing consumer queues a human conversation nobody holds."""
        state = ConversationState.of(self.items[conv])
        assert state.needs_routing
        after = transitions.hand_off(state, state.department_id, self._id("arr"), iso(at), None)
        self._write(conv, at, after)

    def claim(self, conv: str, agent: str, at: datetime) -> None:
        state = ConversationState.of(self.items[conv])
        self._write(conv, at, transitions.claim(state, agent, iso(at)))

    def agent_replies(self, conv: str, agent: str, at: datetime) -> None:
        state = ConversationState.of(self.items[conv])
        after = state
        if state.assignee_id is None:
            after = transitions.assign(state, agent, iso(at), None)
        after = transitions.first_response(after, iso(at))
        self._message(conv, "agent", at, agent_id=agent)
        self._write(
            conv,
            at,
            after,
            message="agent",
            agent_id=agent,
            sets={"last_activity_at": iso(at)},
            adds={"message_count": 1},
        )

    def note(self, conv: str, agent: str, at: datetime) -> None:
        self._insert(
            {
                "item_type": "note",
                "workspace_id": WS,
                "conversation_id": conv,
                "note_id": self._id("note"),
                "sender_type": "agent",
                "agent_id": agent,
                "private": True,
                "text": "(note)",
                "created_at": iso(at),
            },
            at,
        )
        self._write(conv, at, adds={"note_count": 1})

    def resolve(self, conv: str, by: str, at: datetime) -> None:
        state = ConversationState.of(self.items[conv])
        self._write(conv, at, transitions.resolve(state, by, iso(at)), offer_rating=True)

    def visitor_reopens(self, conv: str, at: datetime) -> None:
        self._message(conv, "visitor", at)
        state = ConversationState.of(self.items[conv])
        self._write(conv, at, transitions.visitor_reopen(state), adds={"message_count": 1})

    def rate(self, conv: str, rating: int, at: datetime) -> None:
        self._insert(
            {
                "item_type": "csat",
                "workspace_id": WS,
                "conversation_id": conv,
                "rating": rating,
                "comment": "(comment)",
                "created_at": iso(at),
            },
            at,
        )
        self._write(conv, at, sets={"csat_rating": rating, "csat_at": iso(at)})


def script() -> tuple[World, list[PrivacyRequestEvent]]:
    w = World()
    d1 = lambda t: local(DAY1, t)  # noqa: E731
    d2 = lambda t: local(DAY2, t)  # noqa: E731

    # A: the bot answers and closes; rated 5.
    a = w.start(d1("09:00:00"))
    w.bot_says(a, d1("09:00:05"), ai_map("answer", M1, 100, 20, "0.0012", 800))
    w.resolve(a, "bot", d1("09:10:00"))  # bot resolution 600 s
    w.rate(a, 5, d1("09:11:00"))

    # B: the bot cannot answer and hands off; u1 answers and resolves (rated 2); the visitor
    # writes again, u2 takes the second cycle.
    b = w.start(d1("10:00:00"))
    w.bot_says(b, d1("10:00:04"), ai_map("no_answer", M1, 120, 10, "0.0010", 1200))
    w.bot_hands_off(b, d1("10:02:00"), "dept_1")  # bot time before handoff 120 s
    w.claim(b, "u1", d1("10:03:00"))
    w.note(b, "u1", d1("10:03:30"))  # private: never a first response
    w.agent_replies(b, "u1", d1("10:05:00"))  # first response 180 s (from the handoff)
    w.agent_replies(b, "u1", d1("10:06:00"))
    w.resolve(b, "u1", d1("10:32:00"))  # resolution 1800 s
    w.rate(b, 2, d1("10:40:00"))
    w.visitor_reopens(b, d1("11:00:00"))  # cycle 2 starts
    w.requeue(b, d1("11:00:01"))
    w.claim(b, "u2", d1("11:01:00"))
    w.agent_replies(b, "u2", d1("11:10:00"))  # first response 600 s
    w.resolve(b, "u2", d1("12:00:00"))  # resolution 3600 s; the rating was offered already

    # C: the model fails, the bot hands off at once; u1 answers; no rating.
    c = w.start(d1("13:00:00"))
    w.bot_hands_off(
        c, d1("13:00:10"), "dept_2", ai_map("failure", M2, 0, 0, None, 15000, "timeout")
    )
    w.claim(c, "u1", d1("13:05:00"))
    w.agent_replies(c, "u1", d1("13:20:10"))  # first response 1200 s
    w.resolve(c, "u1", d1("14:00:10"))  # resolution 3600 s

    # D: no bot (by email); u2 answers in a minute; rated 4.
    d = w.start(d1("15:00:00"), owner="human", channel="email")
    w.requeue(d, d1("15:00:00"))
    w.agent_replies(d, "u2", d1("15:01:00"))  # first response 60 s
    w.resolve(d, "u2", d1("15:05:00"))  # resolution 300 s
    w.rate(d, 4, d1("15:06:00"))

    # F: u3 takes a bot conversation over before the bot says anything.
    f = w.start(d1("16:00:00"))
    w.agent_replies(f, "u3", d1("16:00:30"))  # handoff and first response at once: 0 s

    # E: starts late on day 1; the bot answers after local midnight (22:05 UTC, still June 10
    # in UTC): its figures belong to day 2.
    e = w.start(d1("23:50:00"))
    w.bot_says(e, d2("00:05:00"), ai_map("answer", M1, 50, 30, "0.0005", 400))

    privacy = [
        PrivacyRequestEvent(WS, "pr_1", "export", "received", d1("08:00:00")),
        PrivacyRequestEvent(
            WS, "pr_1", "export", "completed", d1("18:00:00"), due_at=d2("08:00:00")
        ),
        PrivacyRequestEvent(WS, "pr_2", "delete", "received", d1("08:30:00")),
        PrivacyRequestEvent(WS, "pr_2", "delete", "overdue", d2("08:45:00")),
        PrivacyRequestEvent(
            WS, "pr_2", "delete", "completed", d2("09:00:00"), due_at=d2("08:30:00")
        ),
        PrivacyRequestEvent(WS, "pr_3", "export", "received", d1("09:00:00")),
        PrivacyRequestEvent(WS, "pr_3", "export", "denied", d1("10:00:00")),
    ]
    return w, privacy


def feed(
    book: RollupBook,
    records: list[StreamChange],
    privacy: list[PrivacyRequestEvent],
    seen: set[str] | None,
) -> int:
    applied = 0
    for record in records:
        applied += book.apply(events.increments(record, TZ), seen)
    for event in privacy:
        applied += book.apply(events.privacy_increments(event, TZ), seen)
    return applied


RANGE = DateRange(
    datetime.fromisoformat(DAY1).date(), datetime.fromisoformat(DAY2).date(), TZ, "day"
)
NOW = local(DAY2, "12:00:00")


def figures(book: RollupBook) -> dict[str, Any]:
    days = book.read(WS, "day")
    hours = book.read(WS, "hour")
    hour_range = DateRange(RANGE.start, RANGE.end, TZ, "hour")
    return {
        "overview": reports.overview(days, RANGE).model_dump(by_alias=True),
        "by_hour_overview": reports.overview(hours, RANGE).model_dump(by_alias=True),
        "dept_1": reports.overview(days, RANGE, "dept_1").model_dump(by_alias=True),
        "agents": reports.agents(days, RANGE).model_dump(by_alias=True),
        "ai": reports.ai_usage(days, RANGE).model_dump(by_alias=True),
        "bot_handled_by_day": reports.timeseries(
            days, "conversations.bot_handled", RANGE, NOW
        ).model_dump(by_alias=True),
        "started_by_hour": reports.timeseries(
            hours, "conversations.started", hour_range, NOW
        ).model_dump(by_alias=True),
    }


@pytest.fixture(scope="module")
def world() -> tuple[World, list[PrivacyRequestEvent]]:
    return script()


@pytest.fixture(scope="module")
def book(world: tuple[World, list[PrivacyRequestEvent]]) -> RollupBook:
    w, privacy = world
    result = RollupBook()
    feed(result, w.records, privacy, set())
    return result


def within(estimate: float | None, exact: float) -> bool:
    assert estimate is not None
    if exact == 0:
        return estimate == 0
    return abs(estimate - exact) <= RELATIVE_ERROR * exact + 0.5  # + rounding to whole seconds


def test_conversation_counts(book: RollupBook) -> None:
    overview = reports.overview(book.read(WS, "day"), RANGE)
    assert overview.from_ == DAY1
    assert overview.to == DAY2
    assert overview.conversations.model_dump() == {
        "started": 6,  # A B C D E F
        "bot_handled": 4,  # A B C E: the bot wrote in them (C only its handoff message)
        "bot_resolved": 1,  # A
        "handed_off": 3,  # B C F
        "resolved": 5,  # A, B twice, C, D
        "reopened": 1,  # B
    }


def test_durations_within_the_histogram_error(book: RollupBook) -> None:
    overview = reports.overview(book.read(WS, "day"), RANGE)
    # First responses 0 (F), 60 (D), 180 (B1), 600 (B2), 1200 (C): median is the 3rd, p90 the 5th.
    assert within(overview.first_response.median_seconds, 180)
    assert within(overview.first_response.p90_seconds, 1200)
    # Resolutions of human cycles 300 (D), 1800 (B1), 3600 (B2), 3600 (C).
    assert within(overview.resolution.median_seconds, 1800)
    assert within(overview.resolution.p90_seconds, 3600)
    # Bot time before handoff 10 (C), 120 (B): reported apart, not inside resolution.
    assert within(overview.bot.time_to_handoff.median_seconds, 10)
    assert within(overview.bot.time_to_handoff.p90_seconds, 120)


def test_csat_bot_ai_and_privacy(book: RollupBook) -> None:
    overview = reports.overview(book.read(WS, "day"), RANGE)
    # Ratings 5 (A), 2 (B), 4 (D); offered at the first resolve of A, B, C, D.
    assert overview.csat.model_dump() == {"score": 0.6667, "responses": 3, "response_rate": 0.75}
    # Bot-handled A B C E: A contained, B and C handed off.
    assert overview.bot.containment_rate == 0.25
    assert overview.bot.handoff_rate == 0.5
    assert overview.ai.model_dump() == {
        "calls": 4,
        "failures": 1,
        "prompt_tokens": 270,
        "completion_tokens": 60,
        "cost_usd": "0.0027",
    }
    assert overview.privacy.model_dump() == {
        "received": 3,
        "completed": 2,
        "completed_on_time": 1,
        "overdue": 1,
        "denied": 1,
        "cancelled": 0,
    }


def test_agents(book: RollupBook) -> None:
    report = reports.agents(book.read(WS, "day"), RANGE)
    rows = {row.agent_id: row for row in report.items}
    assert list(rows) == ["u1", "u2", "u3"]
    u1, u2, u3 = rows["u1"], rows["u2"], rows["u3"]
    assert (u1.messages, u1.conversations_handled, u1.assigned, u1.resolved) == (3, 2, 2, 2)
    assert (u2.messages, u2.conversations_handled, u2.assigned, u2.resolved) == (2, 2, 2, 2)
    assert (u3.messages, u3.conversations_handled, u3.assigned, u3.resolved) == (1, 1, 1, 0)
    assert within(u1.first_response.median_seconds, 180)
    assert within(u1.first_response.p90_seconds, 1200)
    assert within(u2.first_response.median_seconds, 60)
    assert within(u2.resolution.median_seconds, 300)
    assert within(u2.resolution.p90_seconds, 3600)
    assert u3.first_response.median_seconds == 0
    assert u3.resolution.median_seconds is None
    assert u1.csat.model_dump() == {"score": 0.0, "responses": 1}  # B's first cycle
    assert u2.csat.model_dump() == {"score": 1.0, "responses": 1}  # D
    assert u3.csat.model_dump() == {"score": None, "responses": 0}


def test_ai_usage_per_model(book: RollupBook) -> None:
    report = reports.ai_usage(book.read(WS, "day"), RANGE)
    rows = {row.model: row for row in report.items}
    assert list(rows) == [M2, M1]  # ordered by model id
    m1, m2 = rows[M1], rows[M2]
    assert (m1.calls, m1.answers, m1.no_answers, m1.failures) == (3, 2, 1, 0)
    assert (m1.prompt_tokens, m1.completion_tokens, m1.cost_usd) == (270, 60, "0.0027")
    assert within(m1.latency.median_ms, 800)  # 400, 800, 1200
    assert (m2.calls, m2.failures, m2.failures_by_kind) == (1, 1, {"timeout": 1})
    assert m2.cost_usd == "0"
    assert within(m2.latency.p90_ms, 15000)
    assert report.totals.calls == 4


def test_days_follow_the_workspace_time_zone(book: RollupBook) -> None:
    series = reports.timeseries(book.read(WS, "day"), "conversations.bot_handled", RANGE, NOW)
    # E's first bot message is at 00:05 local on June 11 (22:05 UTC on June 10).
    assert [(p.period, p.value) for p in series.points] == [(DAY1, 3), (DAY2, 1)]
    assert series.points[0].start == "2025-06-09T22:00:00.000Z"
    hourly = reports.timeseries(
        book.read(WS, "hour"),
        "conversations.started",
        DateRange(RANGE.start, RANGE.end, TZ, "hour"),
        NOW,
    )
    started = {p.period: p.value for p in hourly.points if p.value}
    assert started == {
        f"{DAY1}T09": 1,
        f"{DAY1}T10": 1,
        f"{DAY1}T13": 1,
        f"{DAY1}T15": 1,
        f"{DAY1}T16": 1,
        f"{DAY1}T23": 1,
    }
    assert hourly.points[-1].period == f"{DAY2}T12"  # the figures stop at now


def test_department_filter(book: RollupBook) -> None:
    dept_1 = reports.overview(book.read(WS, "day"), RANGE, "dept_1")
    # Only B is in dept_1: handed off once, resolved twice, reopened once.
    assert dept_1.conversations.handed_off == 1
    assert dept_1.conversations.resolved == 2
    assert dept_1.conversations.reopened == 1
    assert dept_1.conversations.started == 0  # B had no department when it started
    assert within(dept_1.first_response.median_seconds, 180)
    assert dept_1.csat.responses == 1


def test_hour_rollups_add_up_to_day_rollups(book: RollupBook) -> None:
    data = figures(book)
    assert data["by_hour_overview"] == data["overview"]


def test_redelivery_and_reordering_change_no_figure(
    world: tuple[World, list[PrivacyRequestEvent]], book: RollupBook
) -> None:
    w, privacy = world
    # Given the stream applied once
    seen: set[str] = set()
    again = RollupBook()
    first = feed(again, w.records, privacy, seen)
    before = figures(again)
    assert first > 50
    # When the whole stream is delivered again, then once more in another order
    assert feed(again, w.records, privacy, seen) == 0
    shuffled = list(w.records)
    random.Random(7).shuffle(shuffled)
    assert feed(again, shuffled, privacy, seen) == 0
    # Then nothing changed
    assert figures(again) == before
    # And a fresh book fed in shuffled order agrees (no increment depends on order).
    reordered = RollupBook()
    feed(reordered, shuffled, list(reversed(privacy)), set())
    assert figures(reordered) == before


def test_without_dedupe_a_replay_would_double_count(
    world: tuple[World, list[PrivacyRequestEvent]],
) -> None:
    # The dedupe keys are what protects the figures: without them the replay shows.
    w, privacy = world
    naive = RollupBook()
    feed(naive, w.records, privacy, None)
    feed(naive, w.records, privacy, None)
    assert reports.overview(naive.read(WS, "day"), RANGE).conversations.started == 12


def test_every_increment_has_a_distinct_dedupe_key(
    world: tuple[World, list[PrivacyRequestEvent]],
) -> None:
    w, privacy = world
    keys = [inc.dedupe_key for record in w.records for inc in events.increments(record, TZ)]
    keys += [inc.dedupe_key for e in privacy for inc in events.privacy_increments(e, TZ)]
    assert len(keys) == len(set(keys))


def test_rollups_hold_no_personal_data_or_text(book: RollupBook) -> None:
    stored = [
        (metric, name)
        for key in book.rollups
        for metric, attributes in book.rollups[key].to_items().items()
        for name in attributes
    ]
    assert stored
    for metric, name in stored:
        for secret in ("v_1", "(text)", "(comment)", "(note)", "conv_"):
            assert secret not in metric + name
