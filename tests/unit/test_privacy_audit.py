"""Subjects as keyed hashes, audit events and tombstones: proof without personal data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pydantic
import pytest

from yoosr.domain.hashing import keyed_hash
from yoosr.privacy import audit
from yoosr.privacy.lifecycle import (
    Actor,
    Event,
    EventName,
    PrivacyRequest,
    RequestType,
    extend,
    open_request,
    transition,
)
from yoosr.privacy.subject import Subject, subject_hash

KEY = "test-subject-key"
WS = "ws_A"
NOW = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
RAW_EMAIL = "Ada.Lovelace@Example.com"
VISITOR_ID = "vis_01HZZZZZZZZZZZZZZZZZZZZZZZ"
VISITOR = Actor(kind="visitor", id=subject_hash(KEY, "visitor", VISITOR_ID), workspace_id=WS)
ADMIN = Actor(kind="admin", id="user_admin", workspace_id=WS)
SYSTEM = Actor(kind="system", id="privacy_worker", workspace_id=WS)


def act(
    request: PrivacyRequest, name: EventName, actor: Actor, **details: object
) -> PrivacyRequest:
    return transition(request, Event(name=name, actor=actor, **details), NOW)


def email_request(request_type: RequestType = "delete") -> PrivacyRequest:
    subject = Subject.of(KEY, "email", RAW_EMAIL)
    return open_request("pr_1", WS, request_type, "widget_email", subject, VISITOR, NOW)


# ---------------------------------------------------------------- subjects


def test_the_subject_hash_is_the_widgets_keyed_hash_of_the_normalised_value() -> None:
    expected = keyed_hash(KEY, "email", "ada.lovelace@example.com")
    assert subject_hash(KEY, "email", "  ADA.Lovelace@example.COM ") == expected
    assert subject_hash(KEY, "phone", "+44 (20) 7946-0000") == keyed_hash(
        KEY, "phone", "+442079460000"
    )
    assert subject_hash(KEY, "visitor", VISITOR_ID) == keyed_hash(KEY, "visitor", VISITOR_ID)
    assert subject_hash("another-key", "email", RAW_EMAIL) != expected


def test_a_subject_is_found_through_the_visitors_keyed_hash_index() -> None:
    # The widget writes email_key = "{workspace_id}#" + keyed_hash(key, "email", normalised)
    email = Subject.of(KEY, "email", RAW_EMAIL)
    widget_email_key = WS + "#" + keyed_hash(KEY, "email", "ada.lovelace@example.com")
    assert email.lookup(WS) == ("by_email_key", "email_key", widget_email_key)
    phone = Subject.of(KEY, "phone", "+1 555 0100")
    assert phone.lookup(WS) == ("by_phone_key", "phone_key", WS + "#" + phone.hash)
    assert Subject.of(KEY, "visitor", VISITOR_ID).lookup(WS) is None
    scrubbed = email.scrubbed()
    assert (scrubbed.value, scrubbed.hash) == (None, email.hash)


# ---------------------------------------------------------------- audit events


def test_each_transition_is_recorded_without_personal_data() -> None:
    # Given a visitor's email-linked erasure, verified, approved, run and completed
    opened = email_request()
    verified = act(opened, "verify", VISITOR)
    approved = act(verified, "approve", ADMIN)
    started = act(approved, "start", SYSTEM)
    done = act(started, "complete", SYSTEM, counts={"conversations.messages": 12})
    # When every change is recorded
    events = [
        audit.record(None, opened, "submit", "visitor", VISITOR.id, NOW),
        audit.record(opened, verified, "verify", "visitor", VISITOR.id, NOW),
        audit.record(verified, approved, "approve", "admin", ADMIN.id, NOW),
        audit.record(approved, started, "start", "system", SYSTEM.id, NOW),
        audit.record(started, done, "complete", "system", SYSTEM.id, NOW),
    ]
    # Then the trail tells the story, one event per version …
    assert [(e.sequence, e.from_status, e.to_status, e.outcome) for e in events] == [
        (1, None, "awaiting_verification", "pending"),
        (2, "awaiting_verification", "awaiting_approval", "pending"),
        (3, "awaiting_approval", "queued", "pending"),
        (4, "queued", "in_progress", "pending"),
        (5, "in_progress", "completed", "completed"),
    ]
    actors = [e.actor for e in events]
    assert actors == ["subject", "subject", "user_admin", "privacy_worker", "privacy_worker"]
    assert events[-1].counts == {"conversations.messages": 12}
    assert events[0].counts == {}
    # … and holds the subject only as its keyed hash
    for event in events:
        assert event.subject_hash == subject_hash(KEY, "email", RAW_EMAIL)
        dumped = event.model_dump_json().lower()
        assert "ada" not in dumped and "lovelace" not in dumped
        assert VISITOR_ID.lower() not in dumped and VISITOR.id not in dumped


def test_reasons_are_codes_and_notes_stay_out_of_the_trail() -> None:
    verified = act(email_request(), "verify", VISITOR)
    denied = act(verified, "deny", ADMIN, reason="excessive", note="Ada asked 40 times")
    event = audit.record(verified, denied, "deny", "admin", ADMIN.id, NOW)
    assert (event.reason, event.outcome) == ("excessive", "denied")
    assert "Ada" not in event.model_dump_json()
    with pytest.raises(pydantic.ValidationError):
        event.model_validate({**event.model_dump(), "reason": "Ada asked 40 times"})


def test_an_extension_is_recorded_with_its_reason_and_days() -> None:
    request = email_request("export")
    queued = act(request, "verify", VISITOR)
    extended = extend(queued, ADMIN, 45, "number_of_requests", NOW + timedelta(days=3))
    event = audit.record(queued, extended, "extend", "admin", ADMIN.id, NOW)
    assert (event.reason, event.counts, event.to_status) == (
        "number_of_requests",
        {"extension_days": 45},
        "queued",
    )


def test_an_event_records_exactly_one_change() -> None:
    opened = email_request()
    approved = act(act(opened, "verify", VISITOR), "approve", ADMIN)
    with pytest.raises(ValueError):
        audit.record(opened, approved, "approve", "admin", ADMIN.id, NOW)


# ---------------------------------------------------------------- tombstones


def _completed(request: PrivacyRequest) -> PrivacyRequest:
    if request.status == "awaiting_verification":
        request = act(request, "verify", VISITOR)
    if request.status == "awaiting_approval":
        request = act(request, "approve", ADMIN)
    return act(act(request, "start", SYSTEM), "complete", SYSTEM)


def test_a_completed_erasure_leaves_a_tombstone_of_the_hash() -> None:
    done = _completed(email_request("delete"))
    stone = audit.tombstone(done)
    assert stone is not None
    assert (stone.subject_kind, stone.subject_hash, stone.request_id, stone.erased_at) == (
        "email",
        subject_hash(KEY, "email", RAW_EMAIL),
        "pr_1",
        NOW,
    )
    assert "ada" not in stone.model_dump_json().lower()


def test_no_tombstone_for_anything_else() -> None:
    assert audit.tombstone(_completed(email_request("export"))) is None
    assert audit.tombstone(email_request("delete")) is None
    subject = Subject.of(KEY, "visitor", VISITOR_ID)
    one = open_request(
        "pr_2", WS, "delete_conversation", "admin", subject, ADMIN, NOW, conversation_id="conv_1"
    )
    assert audit.tombstone(_completed(one)) is None
