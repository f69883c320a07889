"""One-time codes that prove a visitor controls the email address a request names.

Pure given a random source (the `secrets` module in production) and the time.

Rules:
- A code is 6 random digits (`randbelow(10**6)`), valid for CODE_TTL_MINUTES.
- Only `keyed_hash(key, "otp", "{request_id}:{salt}:{code}")` is stored: a million codes are
  brute-forced offline in a moment, so a plain or salted hash would protect nothing; the
  server-side key does, and the request id binds a code to its request.
- Comparison is constant-time (`hmac.compare_digest`).
- MAX_ATTEMPTS guesses per code, counted before comparing (a malformed guess counts too), so
  the store's conditional write on `attempts` bounds guesses even under concurrency. An
  expired code takes no more guesses and counts none.
- At most MAX_SENDS codes per request, RESEND_AFTER_SECONDS apart; a new code replaces the
  old one and starts its own attempts. At most 15 guesses of 10⁶ per request in all.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict

from yoosr.domain.hashing import keyed_hash
from yoosr.errors import Conflict, RateLimited

CODE_DIGITS = 6
CODE_TTL_MINUTES = 10
MAX_ATTEMPTS = 5
MAX_SENDS = 3
RESEND_AFTER_SECONDS = 60
SALT_BYTES = 16

Outcome = Literal["verified", "wrong", "expired", "exhausted", "already_verified"]


class RandomSource(Protocol):
    """What `secrets` offers; tests pass a seeded stand-in."""

    def randbelow(self, exclusive_upper_bound: int, /) -> int: ...

    def token_hex(self, nbytes: int, /) -> str: ...


class CodeRecord(BaseModel):
    """What is stored with the request: never the code itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code_hash: str
    salt: str
    issued_at: AwareDatetime
    expires_at: AwareDatetime
    attempts: int = 0
    sends: int = 1
    verified_at: AwareDatetime | None = None

    @property
    def attempts_left(self) -> int:
        return max(0, MAX_ATTEMPTS - self.attempts)


def _hash(key: str, request_id: str, salt: str, code: str) -> str:
    return keyed_hash(key, "otp", f"{request_id}:{salt}:{code}")


def _normalise(attempt: str) -> str:
    """People paste codes with spaces or a hyphen in the middle."""
    return "".join(ch for ch in attempt if ch not in " -\t")


def issue(
    key: str,
    request_id: str,
    now: AwareDatetime,
    previous: CodeRecord | None = None,
    rng: RandomSource = secrets,
) -> tuple[str, CodeRecord]:
    """A new code (to send, then forget) and the record to store in place of `previous`."""
    sends = 1
    if previous is not None:
        if previous.verified_at is not None:
            raise Conflict("The address is verified already.", code="already_verified")
        if previous.sends >= MAX_SENDS:
            raise Conflict("No more codes for this request; start a new one.", code="no_more_codes")
        wait = previous.issued_at + timedelta(seconds=RESEND_AFTER_SECONDS) - now
        if wait > timedelta(0):
            raise RateLimited(int(wait.total_seconds()) + 1)
        sends = previous.sends + 1
    code = f"{rng.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    salt = rng.token_hex(SALT_BYTES)
    record = CodeRecord(
        code_hash=_hash(key, request_id, salt, code),
        salt=salt,
        issued_at=now,
        expires_at=now + timedelta(minutes=CODE_TTL_MINUTES),
        sends=sends,
    )
    return code, record


def verify(
    record: CodeRecord, attempt: str, key: str, request_id: str, now: AwareDatetime
) -> tuple[CodeRecord, Outcome]:
    """Check a guess: the record to store (attempts counted) and what happened."""
    if record.verified_at is not None:
        return record, "already_verified"
    if now >= record.expires_at:
        return record, "expired"
    if record.attempts >= MAX_ATTEMPTS:
        return record, "exhausted"
    attempts = record.attempts + 1
    guess = _hash(key, request_id, record.salt, _normalise(attempt))
    if hmac.compare_digest(guess, record.code_hash):
        return record.model_copy(update={"attempts": attempts, "verified_at": now}), "verified"
    counted = record.model_copy(update={"attempts": attempts})
    return counted, ("exhausted" if attempts >= MAX_ATTEMPTS else "wrong")
