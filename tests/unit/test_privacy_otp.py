"""One-time codes: six digits, stored only as a keyed hash, few guesses, short life."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from yoosr.domain.hashing import keyed_hash
from yoosr.errors import Conflict, RateLimited
from yoosr.privacy import otp

KEY = "test-subject-key"
REQUEST = "pr_1"
NOW = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)


class FixedRandom:
    """A random source that answers from lists, so tests know the code."""

    def __init__(self, numbers: list[int], salts: list[str]) -> None:
        self.numbers, self.salts = numbers, salts
        self.bounds: list[int] = []

    def randbelow(self, exclusive_upper_bound: int, /) -> int:
        self.bounds.append(exclusive_upper_bound)
        return self.numbers.pop(0)

    def token_hex(self, nbytes: int, /) -> str:
        assert nbytes == otp.SALT_BYTES
        return self.salts.pop(0)


def issued(number: int = 4217, salt: str = "ab" * 16) -> tuple[str, otp.CodeRecord]:
    return otp.issue(KEY, REQUEST, NOW, rng=FixedRandom([number], [salt]))


def test_a_code_is_six_digits_and_only_its_keyed_hash_is_kept() -> None:
    rng = FixedRandom([4217], ["ab" * 16])
    code, record = otp.issue(KEY, REQUEST, NOW, rng=rng)
    assert code == "004217"
    assert rng.bounds == [1_000_000]
    assert record.code_hash == keyed_hash(KEY, "otp", f"{REQUEST}:{'ab' * 16}:004217")
    assert code not in record.model_dump_json()
    assert record.expires_at == NOW + timedelta(minutes=10)
    assert (record.attempts, record.sends, record.attempts_left) == (0, 1, 5)


def test_real_codes_come_from_secrets() -> None:
    codes = {otp.issue(KEY, REQUEST, NOW)[0] for _ in range(50)}
    assert all(re.fullmatch(r"\d{6}", code) for code in codes)
    assert len(codes) > 40  # 50 draws from a million rarely repeat


def test_the_right_code_verifies_once_even_with_spaces() -> None:
    _, record = issued()
    verified, outcome = otp.verify(record, " 004-217 ", KEY, REQUEST, NOW + timedelta(minutes=9))
    assert outcome == "verified"
    assert verified.verified_at == NOW + timedelta(minutes=9)
    assert verified.attempts == 1
    assert otp.verify(verified, "004217", KEY, REQUEST, NOW) == (verified, "already_verified")


def test_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return a == b

    monkeypatch.setattr(otp.hmac, "compare_digest", spy)
    _, record = issued()
    otp.verify(record, "000000", KEY, REQUEST, NOW)
    assert len(calls) == 1
    assert calls[0][1] == record.code_hash


def test_five_wrong_guesses_use_the_code_up() -> None:
    _, record = issued()
    outcomes = []
    for guess in ("000001", "000002", "abc", "", "000005"):
        record, outcome = otp.verify(record, guess, KEY, REQUEST, NOW)
        outcomes.append(outcome)
    assert outcomes == ["wrong", "wrong", "wrong", "wrong", "exhausted"]
    assert record.attempts == 5
    # Then even the right code is refused, and no more attempts are counted
    assert otp.verify(record, "004217", KEY, REQUEST, NOW) == (record, "exhausted")


def test_an_expired_code_is_refused_without_counting() -> None:
    _, record = issued()
    at_expiry = record.expires_at
    assert otp.verify(record, "004217", KEY, REQUEST, at_expiry) == (record, "expired")


@pytest.mark.parametrize(("key", "request_id"), [("another-key", REQUEST), (KEY, "pr_2")])
def test_a_code_belongs_to_its_request_and_key(key: str, request_id: str) -> None:
    _, record = issued()
    assert otp.verify(record, "004217", key, request_id, NOW)[1] == "wrong"


def test_resending_waits_a_minute_and_stops_after_three_codes() -> None:
    _, first = issued()
    with pytest.raises(RateLimited) as soon:
        otp.issue(KEY, REQUEST, NOW + timedelta(seconds=20), first, FixedRandom([1], ["cd" * 16]))
    assert soon.value.retry_after == 41
    later = NOW + timedelta(seconds=60)
    code, second = otp.issue(KEY, REQUEST, later, first, FixedRandom([1], ["cd" * 16]))
    assert (code, second.sends, second.attempts, second.issued_at) == ("000001", 2, 0, later)
    assert otp.verify(second, "004217", KEY, REQUEST, later)[1] == "wrong"
    assert otp.verify(second, "000001", KEY, REQUEST, later)[1] == "verified"
    again = later + timedelta(minutes=1)
    _, third = otp.issue(KEY, REQUEST, again, second, FixedRandom([2], ["ef" * 16]))
    assert third.sends == 3
    with pytest.raises(Conflict) as spent:
        otp.issue(KEY, REQUEST, later + timedelta(minutes=5), third, secrets)
    assert spent.value.error_code == "no_more_codes"


def test_no_new_code_after_verification() -> None:
    _, record = issued()
    verified, _ = otp.verify(record, "004217", KEY, REQUEST, NOW)
    with pytest.raises(Conflict) as done:
        otp.issue(KEY, REQUEST, NOW + timedelta(minutes=5), verified)
    assert done.value.error_code == "already_verified"
