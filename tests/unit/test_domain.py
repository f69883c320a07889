"""Pure domain logic: no AWS, no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from yoosr import ids
from yoosr.domain import business_hours, hashing, useragent
from yoosr.domain.redaction import REDACTED_CARD, luhn_valid, redact_card_numbers
from yoosr.domain.text import clean_message_text, preview
from yoosr.models.workspace import BusinessHours


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "card: 5500 0000 0000 0004 thanks",
        "378282246310005",
        "6011111111111117",
        "4222222222222",  # 13 digits
    ],
)
def test_luhn_valid_card_numbers_are_redacted(text: str) -> None:
    redacted = redact_card_numbers(text)
    assert REDACTED_CARD in redacted
    assert not any(ch.isdigit() for ch in redacted.replace(REDACTED_CARD, ""))


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # fails Luhn
        "order 123456789012",  # 12 digits
        "phone +44 20 7946 0000",  # not Luhn-valid, too short
        "12345678901234567890",  # 20 digits
        "2026-11-29",
    ],
)
def test_other_numbers_are_kept(text: str) -> None:
    assert redact_card_numbers(text) == text


def test_luhn() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")


def test_message_text_is_cleaned() -> None:
    assert clean_message_text("  hi\x00 there\x07 \n") == "hi there"
    assert clean_message_text("cafe\u0301") == "café"
    assert preview("a\n\nb") == "a b"
    assert len(preview("x" * 500)) == 140


def test_ulids_sort_by_time_and_match_their_pattern() -> None:
    first, second = ids.new_id("msg"), ids.new_id("msg")
    assert ids.MESSAGE_ID.match(first) and ids.MESSAGE_ID.match(second)
    assert ids.workspace_id_for_org("org_1") == ids.workspace_id_for_org("org_1")
    assert ids.workspace_id_for_org("org_1") != ids.workspace_id_for_org("org_2")
    assert ids.WORKSPACE_ID.match(ids.workspace_id_for_org("org_1"))


def test_identity_hash_is_checked_in_constant_time_and_exactly() -> None:
    good = hashing.identity_hash("secret", "user-1")
    assert hashing.identity_valid("secret", "user-1", good)
    assert hashing.identity_valid("secret", "user-1", good.upper())
    assert not hashing.identity_valid("secret", "user-2", good)
    assert not hashing.identity_valid("other", "user-1", good)


def test_keyed_hashes_separate_purposes_and_normalise() -> None:
    a = hashing.keyed_hash("k", "email", hashing.normalise_email(" Ada@Example.com "))
    b = hashing.keyed_hash("k", "email", "ada@example.com")
    assert a == b
    assert hashing.keyed_hash("k", "phone", "ada@example.com") != b
    assert hashing.normalise_phone("+44 (20) 7946-0000") == "+442079460000"


def test_device_metadata_is_coarse() -> None:
    iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
    )
    assert useragent.describe(iphone) == {"browser": "Safari", "os": "iOS", "device_type": "mobile"}
    chrome = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0 Safari/537.36"
    )
    assert useragent.describe(chrome)["browser"] == "Chrome"
    assert useragent.describe(None)["browser"] == "Unknown"
    assert useragent.language("de-CH,de;q=0.9") == "de-CH"
    assert useragent.language("<script>") is None
    assert useragent.country("gb") == "GB" and useragent.country("GBR") is None
    assert useragent.page_url("https://s.example/p?email=x#y") == "https://s.example/p"
    assert useragent.page_url("javascript:alert(1)") is None


HOURS = BusinessHours(
    timezone="Europe/Berlin",
    weekly={"mon": [("09:00", "17:00")], "tue": [("09:00", "17:00")]},
    holidays=["2026-12-01"],
)


@pytest.mark.parametrize(
    ("moment", "open_now", "next_open"),
    [
        # Monday 2026-11-30 10:00 Berlin = 09:00 UTC → open
        (datetime(2026, 11, 30, 9, 0, tzinfo=UTC), True, None),
        # Monday 17:30 Berlin → closed; Tuesday is a holiday, so next Monday 09:00 Berlin
        (datetime(2026, 11, 30, 16, 30, tzinfo=UTC), False, "2026-12-07T08:00:00+00:00"),
        # Sunday → Monday 09:00 Berlin
        (datetime(2026, 11, 29, 12, 0, tzinfo=UTC), False, "2026-11-30T08:00:00+00:00"),
    ],
)
def test_business_hours(moment: datetime, open_now: bool, next_open: str | None) -> None:
    is_open, opening = business_hours.status(HOURS, moment)
    assert is_open is open_now
    assert (opening.astimezone(UTC).isoformat() if opening else None) == next_open


def test_no_business_hours_means_always_open() -> None:
    assert business_hours.status(None, datetime.now(UTC)) == (True, None)


def test_business_hours_validation() -> None:
    with pytest.raises(ValueError, match="time zone"):
        BusinessHours(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="bad interval"):
        BusinessHours(timezone="UTC", weekly={"mon": [("17:00", "09:00")]})
