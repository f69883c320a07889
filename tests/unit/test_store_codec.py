"""The attribute-value codec, TTL filter and cursor guard (no AWS calls)."""

from __future__ import annotations

import pytest

from yoosr import clock
from yoosr.errors import BadRequest
from yoosr.store import ddb


def test_codec_round_trips() -> None:
    item = {"s": "x", "i": 3, "f": 1.5, "b": True, "n": None, "l": [1, "a"], "m": {"k": [False]},
            "ss": {"a", "b"}}
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
    key = {"pk": {"S": "ws_A#CONV#conv_1"}, "sk": {"S": "CONV"},
           "visitor_pk": {"S": "ws_A#VISITOR#vis_1"}, "visitor_sk": {"S": "conv_1"}}
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
