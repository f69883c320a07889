"""A stored conversation's stream rebuilt from its items (the backfill's replay): writes in
order, transitions of one millisecond chained by their states, the rating at its own time."""

from __future__ import annotations

import random
from dataclasses import asdict
from datetime import date
from typing import Any

from yoosr.analytics import events, history, inputs, reports
from yoosr.analytics.ranges import DateRange
from yoosr.analytics.rollup import RollupBook
from yoosr.models.routing import ConversationState
from yoosr.routing import transitions as t

WS, CONV = "ws_1", "conv_1"
DAY = "2025-06-10"


def at(hhmmss: str) -> str:
    return f"{DAY}T{hhmmss}.000Z"


def message(number: int, sender: str, when: str, **extra: Any) -> dict[str, Any]:
    return {
        "pk": f"{WS}#CONV#{CONV}",
        "sk": f"MSG#msg_{number:02d}",
        "item_type": "message",
        "workspace_id": WS,
        "conversation_id": CONV,
        "message_id": f"msg_{number:02d}",
        "sender_type": sender,
        "created_at": when,
        **extra,
    }


class Stored:
    """What the writers leave in a conversation's partition."""

    def __init__(self) -> None:
        self.state = ConversationState()
        self.items: list[dict[str, Any]] = []

    def move(self, after: ConversationState, when: str, sk: str, *written: dict[str, Any]) -> None:
        self.items.append(
            {
                "sk": f"TRANSITION#{when}#{sk}",
                "item_type": "transition",
                "at": when,
                "before": asdict(self.state),
                "after": asdict(after),
                "message_ids": [m["message_id"] for m in written],
            }
        )
        self.items += written
        self.state = after


def stored_b() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Bot greets, hands off; claimed in the same millisecond; u1 answers and resolves; rated
    2; the visitor reopens; requeued and claimed by u2 in one millisecond; u2 answers and
    resolves."""
    s = Stored()
    s.items.append(message(1, "bot", at("10:00:01")))
    s.items.append(message(2, "visitor", at("10:00:30")))
    queued = t.hand_off(s.state, "d1", "arr1", at("10:00:31"), None)
    # ULIDs of one millisecond sort at random: here the claim sorts first.
    s.move(queued, at("10:00:31"), "B", message(3, "bot", at("10:00:31")))
    s.move(t.claim(s.state, "u1", at("10:00:31")), at("10:00:31"), "A")
    reply = message(4, "agent", at("10:05:00"), agent_id="u1")
    s.move(t.first_response(s.state, at("10:05:00")), at("10:05:00"), "C", reply)
    s.move(t.resolve(s.state, "u1", at("10:30:31")), at("10:30:31"), "D")
    back = message(5, "visitor", at("11:00:00"))
    s.move(t.visitor_reopen(s.state), at("11:00:00"), "E", back)
    requeued = t.hand_off(s.state, "d1", "arr2", at("11:00:01"), None)
    s.move(requeued, at("11:00:01"), "G")
    s.move(t.claim(s.state, "u2", at("11:00:01")), at("11:00:01"), "F")
    s.items.append(message(6, "agent", at("11:10:00"), agent_id="u2"))
    s.move(t.resolve(s.state, "u2", at("12:00:00")), at("12:00:00"), "H")
    conversation = {
        "item_type": "conversation",
        "workspace_id": WS,
        "conversation_id": CONV,
        "created_at": at("10:00:00"),
        "csat_rating": 2,
        "csat_at": at("10:40:00"),
        "cycle": 2,
        **asdict(s.state),
    }
    return conversation, s.items


def figures(conversation: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    book = RollupBook()
    for change in history.replay(conversation, items):
        book.apply(events.increments(change, "UTC"), set())
    days = book.read(WS, "day")
    date_range = DateRange(date(2025, 6, 10), date(2025, 6, 10), "UTC")
    return {
        "overview": reports.overview(days, date_range).model_dump(by_alias=True),
        "agents": reports.agents(days, date_range).model_dump(by_alias=True),
    }


def test_the_replay_counts_what_happened() -> None:
    conversation, items = stored_b()
    result = figures(conversation, items)
    overview = result["overview"]
    assert overview["conversations"] == {
        "started": 1,
        "bot_handled": 1,
        "bot_resolved": 0,
        "handed_off": 1,
        "resolved": 2,
        "reopened": 1,
    }
    # First responses 269 s and 600 s, one per cycle; resolutions 1800 s and 3600 s.
    assert overview["first_response"]["median_seconds"] in range(256, 283)
    assert overview["csat"] == {"score": 0.0, "responses": 1, "response_rate": 1.0}
    rows = {row["agent_id"]: row for row in result["agents"]["items"]}
    # Rated at 10:40, in u1's cycle: the rating is u1's, although u2 held it last.
    assert rows["u1"]["csat"]["responses"] == 1 and rows["u2"]["csat"]["responses"] == 0
    assert (rows["u1"]["assigned"], rows["u2"]["assigned"]) == (1, 1)


def test_the_order_items_are_read_in_does_not_matter() -> None:
    conversation, items = stored_b()
    expected = figures(conversation, items)
    for seed in range(5):
        shuffled = list(items)
        random.Random(seed).shuffle(shuffled)
        assert figures(conversation, shuffled) == expected


def test_the_rebuilt_images_carry_the_writers_inputs() -> None:
    conversation, items = stored_b()
    last = history.replay(conversation, items)[-1].new
    assert last is not None
    assert (last[inputs.CYCLE], last[inputs.HUMAN_MESSAGE_COUNT]) == (2, 2)
    assert last[inputs.CSAT_OFFERED_AT] == at("10:30:31")  # the first resolve only
    assert last[inputs.CYCLE_STARTED_AT] == at("11:00:00")


def test_conversations_without_cycles_come_back_as_start_and_now() -> None:
    conversation = {
        "item_type": "conversation",
        "workspace_id": WS,
        "conversation_id": CONV,
        "created_at": at("09:00:00"),
        "status": "resolved",
        "owner": "human",
        "handed_off_at": at("09:01:00"),
        "first_response_at": at("09:03:00"),
        "resolved_at": at("09:10:00"),
        "last_assignee_id": "u1",
        "last_activity_at": at("09:10:00"),
    }
    changes = history.replay(conversation, [message(1, "bot", at("09:00:05"))])
    assert [c.event_name for c in changes] == ["INSERT", "INSERT", "MODIFY"]
    counted = {i.metric for c in changes for i in events.increments(c, "UTC")}
    assert {
        "conversations.started",
        "conversations.handed_off",
        "conversations.resolved",
    } <= counted


def test_transitions_of_one_millisecond_follow_their_states() -> None:
    _, items = stored_b()
    same_moment = [i for i in items if i.get("at") == at("10:00:31")]
    assert [i["sk"][-1] for i in same_moment] == ["B", "A"]
    ordered = history._chained(sorted(same_moment, key=lambda i: i["sk"]), ConversationState())
    assert [i["sk"][-1] for i in ordered] == ["B", "A"]  # the handoff, then the claim
