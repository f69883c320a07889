"""Request sources and types: a visitor naming an email address proves it with a one-time
code (wrong code, expiry, attempts, resend, lapse); email-linked erasure waits for an admin;
admins ask on a subject's behalf for access, correction, restriction (and its lift) and
objection, deny with a reason, and extend a deadline once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.integration import privacy_support as ps
from tests.support import HttpHandlerClient
from yoosr import clock
from yoosr.bot.reply import RESTRICTION_FLAGS
from yoosr.domain import hashing
from yoosr.store import ddb, keys


@pytest.fixture(scope="module")
def apps(stack: Any) -> ps.Apps:
    return ps.apps(stack)


@pytest.fixture
def org(stack: Any, apps: ps.Apps) -> ps.Org:
    return ps.Org(stack, apps)


@pytest.fixture
def frozen() -> Iterator[list[datetime]]:
    """A clock the test moves: now[0]."""
    with ps.frozen_clock() as now:
        yield now


def address() -> str:
    return f"ada-{uuid.uuid4().hex[:8]}@example.com"


def visitor_item(stack: Any, ws: str, visitor_id: str | None) -> dict[str, Any]:
    item = ddb.get(stack.table("VisitorsTable"), *keys.visitor(ws, str(visitor_id)))
    assert item is not None
    return item


# ---------------------------------------------------------------- one-time codes


def test_an_email_linked_export_waits_for_the_emailed_code(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, org: ps.Org
) -> None:
    # Given a visitor who chatted on another device with the same address
    email = address()
    other_device = ps.visitor(stack, apps, widget, org)
    other_device.call("widget_update_visitor", json_body={"email": email})
    other_device.start_conversation("From my phone")
    ada = ps.visitor(stack, apps, widget, org)

    # When she asks for everything linked to her address
    asked = ada.ask({"type": "export", "email": email})
    assert asked.status == 201, asked.body
    request_id = asked.json["id"]
    # Then it waits for the code emailed there, from the configured sender
    assert asked.json["status"] == "awaiting_verification"
    assert asked.json["verification"]["attempts_left"] == 5
    sent = ps.outbox(email)
    assert len(sent) == 1 and sent[0]["from"] == "privacy@yoosr.example"
    code = ps.last_code(email)
    stored = ps.partition(stack, "PrivacyRequestsTable", f"{org.ws}#PRIVACY#{request_id}")
    assert code not in str(stored)  # only the keyed hash of the code is stored
    assert ps.jobs(stack).bodies() == []  # nothing runs before the code

    # When a wrong code is entered, then the right one
    wrong = ada.verify(request_id, "000000" if code != "000000" else "111111")
    assert wrong.status == 422 and wrong.error_code == "code_incorrect"
    assert wrong.json["error"]["details"][0]["attempts_left"] == 4
    right = ada.verify(request_id, f"{code[:3]} {code[3:]}")
    assert right.status == 200, right.body
    assert right.json["status"] == "queued"
    # (entering it again is harmless)
    assert ada.verify(request_id, code).json["status"] == "queued"
    ps.run_jobs(stack, apps)

    # Then the export holds what the address links to, found on the other device too
    done = ada.status(request_id)
    assert done.json["status"] == "completed", done.body
    assert done.json["counts"]["visitors.visitor"] == 1
    assert done.json["counts"]["conversations.messages"] == 1
    assert ada.download(request_id).status == 302
    # And the raw address is dropped once the job started
    item = ps.request_item(stack, org.ws, request_id)
    assert item is not None and item["subject"]["value"] is None


def test_codes_expire_and_take_a_few_guesses(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, org: ps.Org, frozen: list[datetime]
) -> None:
    email = address()
    ada = ps.visitor(stack, apps, widget, org)
    request_id = ada.ask({"type": "export", "email": email}).json["id"]
    first = ps.last_code(email)

    # An expired code is refused (a new one may be asked for)
    frozen[0] += timedelta(minutes=11)
    expired = ada.verify(request_id, first)
    assert (expired.status, expired.error_code) == (409, "code_expired")
    resent = ada.privacy_call("privacy_widget_resend", path_params={"request_id": request_id})
    assert resent.status == 200, resent.body
    assert resent.json["verification"]["resends_left"] == 1
    second = ps.last_code(email)
    assert len(ps.outbox(email)) == 2
    # (and not again within a minute)
    too_soon = ada.privacy_call("privacy_widget_resend", path_params={"request_id": request_id})
    assert too_soon.status == 429 and "retry-after" in too_soon.headers
    # The old code no longer works; five wrong guesses use up the new one
    wrongs = [
        c for c in ("000000", "111111", "222222", "333333", "444444", "555555") if c != second
    ]
    for attempt, guess in enumerate(wrongs[:5], start=1):
        answer = ada.verify(request_id, guess)
        assert answer.status == (422 if attempt < 5 else 409), (attempt, answer.body)
    exhausted = ada.verify(request_id, second)
    assert (exhausted.status, exhausted.error_code) == (409, "code_exhausted")
    assert ada.status(request_id).json["status"] == "awaiting_verification"

    # A third and last code, used up too: the request lapses (cancelled, raw address dropped)
    frozen[0] += timedelta(minutes=2)
    ada.privacy_call("privacy_widget_resend", path_params={"request_id": request_id})
    third = ps.last_code(email)
    for guess in [c for c in wrongs if c != third][:5]:
        ada.verify(request_id, guess)
    lapsed = ada.verify(request_id, third)
    assert lapsed.status == 409
    status = ada.status(request_id)
    assert (status.json["status"], status.json["reason"]) == ("cancelled", "code_exhausted")
    item = ps.request_item(stack, org.ws, request_id)
    assert item is not None and item["subject"]["value"] is None


def test_the_daily_check_lapses_requests_whose_code_was_never_entered(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, org: ps.Org, frozen: list[datetime]
) -> None:
    ada = ps.visitor(stack, apps, widget, org)
    request_id = ada.ask({"type": "delete", "email": address()}).json["id"]
    frozen[0] += timedelta(minutes=30)
    apps.schedule.lambda_handler({}, ps.Deadline(120_000))
    assert ada.status(request_id).json["status"] == "awaiting_verification"  # not yet
    frozen[0] += timedelta(hours=1)
    report = apps.schedule.lambda_handler({}, ps.Deadline(120_000))
    assert report["lapsed"] >= 1
    status = ada.status(request_id).json
    assert (status["status"], status["reason"]) == ("cancelled", "code_expired")


# ---------------------------------------------------------------- approval of erasure


def test_an_email_linked_erasure_from_the_widget_waits_for_an_admin(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, org: ps.Org
) -> None:
    # Given a visitor whose address is linked to a conversation
    email = address()
    ada = ps.visitor(stack, apps, widget, org)
    ada.call("widget_update_visitor", json_body={"email": email})
    conversation_id = ada.start_conversation("Please forget me")
    asking = ps.visitor(stack, apps, widget, org)  # she asks from another device

    # When she asks to erase everything linked to the address and enters the code
    request_id = asking.ask({"type": "delete", "email": email}).json["id"]
    verified = asking.verify(request_id, ps.last_code(email))
    # Then it waits for an admin: nothing is erased yet
    assert verified.json["status"] == "awaiting_approval"
    assert ps.run_jobs(stack, apps) == 0
    assert ada.messages(conversation_id).status == 200

    # An agent cannot approve it; an admin can
    refused = org.decide(request_id, "approve", role="agent")
    assert (refused.status, refused.error_code) == (403, "forbidden")
    approved = org.decide(request_id, "approve")
    assert approved.status == 200 and approved.json["status"] == "queued"
    ps.run_jobs(stack, apps)

    # Then the linked visitor is erased; the one who asked (another visitor) is not
    assert org.get(request_id).json["status"] == "completed"
    assert ada.call("widget_list_conversations").status == 401
    assert asking.status(request_id).json["status"] == "completed"
    detail = org.get(request_id).json
    assert [(e["action"], e["actor_kind"]) for e in detail["audit"]] == [
        ("submit", "visitor"),
        ("verify", "visitor"),
        ("approve", "admin"),
        ("start", "system"),
        ("complete", "system"),
    ]
    assert detail["decided_at"] is not None


def test_an_admin_denies_with_a_reason(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, org: ps.Org
) -> None:
    email = address()
    v = ps.visitor(stack, apps, widget, org)
    request_id = v.ask({"type": "delete", "email": email}).json["id"]
    v.verify(request_id, ps.last_code(email))
    vague = org.decide(request_id, "deny", {"reason": "because"})
    assert vague.status == 422
    denied = org.decide(
        request_id, "deny", {"reason": "legal_obligation", "note": "Invoices are kept 10 years."}
    )
    assert denied.status == 200, denied.body
    assert (denied.json["status"], denied.json["reason"]) == ("denied", "legal_obligation")
    assert v.status(request_id).json["note"] == "Invoices are kept 10 years."
    # A closed request cannot be approved any more
    assert org.decide(request_id, "approve").status == 409
    item = ps.request_item(stack, org.ws, request_id)
    assert item is not None and item["subject"]["value"] is None


# ---------------------------------------------------------------- admin requests


def test_admin_access_correction_restriction_lift_and_objection(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, org: ps.Org
) -> None:
    # Given a visitor with contact details
    v = ps.visitor(stack, apps, widget, org)
    v.call("widget_update_visitor", json_body={"name": "Ada", "email": "old@example.com"})
    v.start_conversation("hello")
    subject = {"visitor_id": v.visitor_id}

    # Access (by phone: nobody is found, the answer is an empty package)
    by_phone = org.create({"type": "access", "subject": {"phone": "+47 22 33 44 55"}})
    assert by_phone.status == 201, by_phone.body
    # Correction: attributes and the keyed hashes the lookup indexes hold
    corrected = org.create(
        {
            "type": "correct",
            "subject": subject,
            "changes": {"name": "Ada L.", "email": "new@example.com"},
        }
    )
    assert corrected.status == 201, corrected.body
    ps.run_jobs(stack, apps)
    assert org.get(by_phone.json["id"]).json["counts"]["visitors.visitor"] == 0
    assert (
        org.call(
            "GET", "/v1/privacy/requests/{request_id}/download", request_id=by_phone.json["id"]
        ).status
        == 302
    )
    item = visitor_item(stack, org.ws, v.visitor_id)
    key = apps.worker.resources.subject_key()
    assert (item["name"], item["email"]) == ("Ada L.", "new@example.com")
    assert item["email_key"] == hashing.lookup_key(
        org.ws, hashing.subject_hash(key, "email", "new@example.com")
    )
    done = org.get(corrected.json["id"]).json
    assert done["status"] == "completed" and "changes" not in done

    # Restriction and objection set the flags the bot reads; a lift clears the restriction
    for body, flags in (
        ({"type": "restrict", "subject": subject}, {"restricted": True}),
        ({"type": "object", "subject": subject}, {"ai_objection": True}),
        ({"type": "restrict", "lift": True, "subject": subject}, {"restricted": False}),
    ):
        made = org.create(body)
        assert made.status == 201, made.body
        ps.run_jobs(stack, apps)
        assert org.get(made.json["id"]).json["status"] == "completed"
        item = visitor_item(stack, org.ws, v.visitor_id)
        assert {k: item[k] for k in flags} == flags
    assert set(RESTRICTION_FLAGS) == {"restricted", "ai_objection"}
    assert org.create({"type": "object", "lift": True, "subject": subject}).status == 422


def test_bad_admin_requests_are_422(org: ps.Org) -> None:
    for body in (
        {"type": "delete"},
        {"type": "delete", "subject": {}},
        {"type": "delete", "subject": {"email": "a@b.example", "phone": "+4412345678"}},
        {"type": "delete", "subject": {"email": "not an address"}},
        {"type": "correct", "subject": {"email": "a@b.example"}},
        {"type": "delete", "subject": {"visitor_id": "someone"}},
        {"type": "workspace_deletion", "subject": {"email": "a@b.example"}},
        {"type": "delete_conversation"},
        {"type": "delete", "subject": {"email": "a@b.example"}, "status": "completed"},
    ):
        response = org.create(body)
        assert response.status == 422, (body, response.body)


def test_a_deadline_is_extended_once_with_a_reason_before_it_passes(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, org: ps.Org, frozen: list[datetime]
) -> None:
    email = address()
    v = ps.visitor(stack, apps, widget, org)
    request_id = v.ask({"type": "delete", "email": email}).json["id"]
    due = datetime.fromisoformat(v.status(request_id).json["due_at"].replace("Z", "+00:00"))
    assert due - frozen[0] == timedelta(days=30)
    assert org.decide(request_id, "extend", {"days": 61, "reason": "complexity"}).status == 422
    extended = org.decide(request_id, "extend", {"days": 30, "reason": "number_of_requests"})
    assert extended.status == 200, extended.body
    assert extended.json["extension"]["days"] == 30
    assert extended.json["due_at"] == clock.iso(due + timedelta(days=30))
    again = org.decide(request_id, "extend", {"days": 5, "reason": "complexity"})
    assert (again.status, again.error_code) == (409, "already_extended")
    other = v.ask({"type": "delete", "email": address()}).json["id"]
    frozen[0] += timedelta(days=31)
    late = org.decide(other, "extend", {"days": 5, "reason": "complexity"})
    assert (late.status, late.error_code) == (409, "deadline_passed")
    assert [e["action"] for e in org.get(request_id).json["audit"]] == ["submit", "extend"]


def test_an_under_16_report_erases_the_session_and_an_admin_may_cancel_a_waiting_request(
    stack: Any, apps: ps.Apps, widget: HttpHandlerClient, org: ps.Org
) -> None:
    # A visitor reports that the chat's user is under 16: their session's data is erased
    young = ps.visitor(stack, apps, widget, org)
    young.start_conversation("I am 14")
    reported = young.ask({"type": "under_16_report"})
    assert reported.status == 201 and reported.json["status"] == "queued"
    ps.run_jobs(stack, apps)
    assert young.call("widget_list_conversations").status == 401
    item = ps.request_item(stack, org.ws, reported.json["id"])
    assert item is not None and item["status"] == "completed"
    assert item["counts"]["visitors.visitor"] == 1
    # An admin cancels a request that waits for approval (with a reason code)
    email = address()
    v = ps.visitor(stack, apps, widget, org)
    waiting = v.ask({"type": "delete", "email": email}).json["id"]
    v.verify(waiting, ps.last_code(email))
    cancelled = org.decide(waiting, "cancel", {"reason": "subject_withdrew"})
    assert cancelled.status == 200, cancelled.body
    assert (cancelled.json["status"], cancelled.json["reason"]) == ("cancelled", "subject_withdrew")
    assert org.decide(waiting, "cancel").status == 409


def test_the_admin_list_pages_newest_first(org: ps.Org) -> None:
    made = [
        org.create({"type": "restrict", "subject": {"email": f"p{n}@example.com"}}).json["id"]
        for n in range(3)
    ]
    first = org.call("GET", "/v1/privacy/requests", query="limit=2")
    assert first.status == 200, first.body
    assert [r["id"] for r in first.json["items"]] == made[::-1][:2]
    cursor = first.json["next_cursor"]
    assert cursor
    second = org.call("GET", "/v1/privacy/requests", query=f"limit=2&cursor={cursor}")
    assert [r["id"] for r in second.json["items"]] == [made[0]]
    bad = org.call("GET", "/v1/privacy/requests", query="cursor=bm90LWEtY3Vyc29y")
    assert bad.status == 400
