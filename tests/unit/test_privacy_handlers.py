"""Every store of the registry has the handlers its declaration calls for: an export page for
each export entity's store, an erase page for each store erased by `delete`, a verifier for
each store an erasure must prove empty (`delete` and `with`); and nothing else."""

from __future__ import annotations

import pytest

from yoosr.privacy import handlers, registry, tasks
from yoosr.privacy.registry import STORES

EXPORTED = {entity.store for entity in registry.EXPORT_ENTITIES}
DELETED = {s.name for s in STORES if s.erase == "delete"}
VERIFIED = {s.name for s in STORES if s.erase in ("delete", "with")}


def test_every_export_entity_has_an_export_page_handler() -> None:
    assert set(handlers.EXPORTERS) == EXPORTED


def test_every_store_erased_by_delete_has_an_erase_page_handler() -> None:
    assert set(handlers.ERASERS) == DELETED


def test_every_store_an_erasure_must_prove_empty_has_a_verifier() -> None:
    assert set(handlers.VERIFIERS) == VERIFIED
    for scope in ("visitor", "conversation", "workspace"):
        assert {s.name for s in registry.verified_stores(scope)} <= set(handlers.VERIFIERS)


def test_corrections_and_flags_have_their_handlers() -> None:
    assert set(handlers.FLAGGERS) == set(handlers.CORRECTORS) == {"visitors.visitor"}
    assert set(handlers.FLAG_UPDATES) == {"restrict", "lift_restriction", "object"}
    assert handlers.FLAG_UPDATES["object"] == {"ai_objection": True}


@pytest.mark.parametrize(
    ("request_type", "scope"),
    [
        ("export", "visitor"),
        ("delete", "visitor"),
        ("under_16_report", "visitor"),
        ("delete_conversation", "conversation"),
        ("workspace_deletion", "workspace"),
    ],
)
def test_the_scope_of_each_request_type(request_type: str, scope: str) -> None:
    assert handlers.scope_of(request_type) == scope  # type: ignore[arg-type]


def test_every_planned_task_finds_its_handler() -> None:
    """Each task the plan makes, for every request type, dispatches to a handler."""
    from datetime import UTC, datetime

    from yoosr.privacy.lifecycle import Actor, Event, open_request, transition
    from yoosr.privacy.subject import Subject

    now = datetime(2030, 1, 1, tzinfo=UTC)
    admin = Actor(kind="admin", id="user_a", workspace_id="ws_A")
    for request_type in (
        "access",
        "export",
        "delete",
        "correct",
        "restrict",
        "lift_restriction",
        "object",
        "delete_conversation",
        "workspace_deletion",
        "under_16_report",
    ):
        kind = "workspace" if request_type == "workspace_deletion" else "email"
        subject = Subject.of("k", kind, "ws_A" if kind == "workspace" else "a@b.example")
        extra: dict[str, object] = {}
        if request_type == "correct":
            extra["changes"] = {"name": "A"}
        if request_type == "delete_conversation":
            extra["conversation_id"] = "conv_1"
        request = open_request("pr_1", "ws_A", request_type, "admin", subject, admin, now, **extra)  # type: ignore[arg-type]
        started = transition(
            request,
            Event(name="start", actor=Actor(kind="system", id="w", workspace_id="ws_A")),
            request.not_before or now,
        )
        job = handlers.Job(
            handlers.Resources("w", "c", "v", "e", "r", "b", lambda: "k"), started, now
        )
        for task in tasks.plan(started, ["vis_1"]):
            assert callable(handlers.handler_for(job, task)), task.task_id


def test_the_marker_ranges_leave_messages_notes_csat_and_the_conversation() -> None:
    kept = ["CONV", "CSAT", "MSG#01", "NOTE#01"]
    markers = ["CMID#a", "NOTICE#1", "TRANSITION#2030", "UNREAD#msg_1", "ZZZ"]
    assert [sk for sk in kept + markers if handlers._is_marker({"sk": sk})] == markers
