"""The attribute-value codec, TTL filter and cursor guard (no AWS calls)."""

from __future__ import annotations

import pytest

from yoosr import clock
from yoosr.errors import BadRequest
from yoosr.store import ddb


def test_codec_round_trips() -> None:
    item = {
        "s": "x",
        "i": 3,
        "f": 1.5,
        "b": True,
        "n": None,
        "l": [1, "a"],
        "m": {"k": [False]},
        "ss": {"a", "b"},
    }
    assert ddb.from_av(ddb.to_av(item)) == item


def test_ttl_filter_hides_expired_items() -> None:
    clock.freeze(lambda: 1_000.0)
    try:
        assert ddb.is_live({"expires_at": 1_001})
        assert not ddb.is_live({"expires_at": 1_000})
        assert ddb.is_live({"no_ttl": 1})
        assert not ddb.is_live(None)
        assert ddb.live_only([{"expires_at": 5}, {"a": 1}]) == [{"a": 1}]
    finally:
        clock.unfreeze()


def test_cursor_round_trip_and_guard() -> None:
    key = {
        "pk": {"S": "ws_A#CONV#conv_1"},
        "sk": {"S": "CONV"},
        "visitor_pk": {"S": "ws_A#VISITOR#vis_1"},
        "visitor_sk": {"S": "conv_1"},
    }
    cursor = ddb.encode_cursor(key)
    assert cursor is not None
    expected = {"visitor_pk": "ws_A#VISITOR#vis_1"}
    prefixes = {"pk": "ws_A#CONV#", "sk": "CONV", "visitor_sk": "conv_"}
    assert ddb.decode_cursor(cursor, expected, prefixes) == key
    with pytest.raises(BadRequest):
        ddb.decode_cursor(cursor, {"visitor_pk": "ws_A#VISITOR#vis_2"}, prefixes)
    with pytest.raises(BadRequest):
        ddb.decode_cursor(cursor, expected, {**prefixes, "pk": "ws_B#CONV#"})
    for junk in ("", "%%%", "bm90IGpzb24", ddb.encode_cursor({"pk": {"S": "x"}}) or ""):
        with pytest.raises(BadRequest):
            ddb.decode_cursor(junk, expected, prefixes)


def test_transaction_conflicts_are_retried_then_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    from yoosr.errors import TransactionCancelled, Unavailable

    calls: list[int] = []

    def cancelled(code: str) -> ClientError:
        return ClientError(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": ""},
                "CancellationReasons": [{"Code": code}],
            },
            "TransactWriteItems",
        )

    class FakeClient:
        def __init__(self, outcomes: list[str | None]) -> None:
            self.outcomes = outcomes

        def transact_write_items(self, **_: object) -> None:
            calls.append(1)
            outcome = self.outcomes.pop(0)
            if outcome:
                raise cancelled(outcome)

    monkeypatch.setattr(ddb.time, "sleep", lambda _: None)
    fake = FakeClient(["TransactionConflict", None])
    monkeypatch.setattr(ddb.aws, "client", lambda _: fake)
    ddb.transact([{"Put": {"TableName": "t", "Item": {}}}])
    assert len(calls) == 2

    calls.clear()
    fake = FakeClient(["TransactionConflict"] * 9)
    monkeypatch.setattr(ddb.aws, "client", lambda _: fake)
    with pytest.raises(Unavailable):
        ddb.transact([{"Put": {"TableName": "t", "Item": {}}}])
    assert len(calls) == ddb.TRANSACT_ATTEMPTS

    fake = FakeClient(["ConditionalCheckFailed"])
    monkeypatch.setattr(ddb.aws, "client", lambda _: fake)
    with pytest.raises(TransactionCancelled):
        ddb.transact([{"Put": {"TableName": "t", "Item": {}}}])
