"""Every AWS call each privacy function really makes (DynamoDB, Secrets Manager, S3, SQS, SES)
is allowed by its own role in template.yaml: the widget and dashboard APIs through every route,
the worker through every kind of job (export and package, erasure by session and by email,
correction, flags, one conversation, a workspace purge), the DLQ consumer and the daily check
(moto does not enforce IAM)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration import privacy_support as ps
from tests.integration.dashboard_support import Org, agent_routing_client
from tests.integration.routing_support import StreamTap, Team, ask_for_human
from tests.integration.test_least_privilege import allowed, required_permissions, role_statements
from tests.support import HttpHandlerClient, load_function
from yoosr.privacy import handlers
from yoosr.store import aws, secrets

SERVICES = ("dynamodb", "secretsmanager", "s3", "sqs", "ses")


class Recorder:
    """AWS calls per function, recorded while that function's handler runs."""

    def __init__(self) -> None:
        self.calls: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
        self.current: str | None = None

    def record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.current is not None:
            self.calls.setdefault(self.current, []).append(
                (model.service_model.service_name, model.name, copy.deepcopy(params))
            )

    def wrap(self, function: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        def run(event: Any, context: Any) -> Any:
            secrets._provider.cache_clear()  # as if cold: the key is read here, and checked
            self.current = function
            try:
                return handler(event, context)
            finally:
                self.current = None

        return run


@pytest.fixture
def recorder(stack: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    recorded = Recorder()
    apps = ps.apps(stack)
    for name, logical_id in (
        ("dashboard", "PrivacyFunction"),
        ("widget", "PrivacyWidgetFunction"),
        ("worker", "PrivacyWorkerFunction"),
        ("failures", "PrivacyFailuresFunction"),
        ("schedule", "PrivacyScheduleFunction"),
    ):
        module = getattr(apps, name)
        monkeypatch.setattr(
            module, "lambda_handler", recorded.wrap(logical_id, module.lambda_handler)
        )
    for service in SERVICES:
        aws.client(service).meta.events.register("provide-client-params.*.*", recorded.record)
    yield recorded
    for service in SERVICES:
        aws.client(service).meta.events.unregister("provide-client-params.*.*", recorded.record)


def test_every_privacy_function_role_allows_every_call_it_makes(
    stack: Any, widget: HttpHandlerClient, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    apps = ps.apps(stack)
    org = ps.Org(stack, apps)
    # Widget: a session export, an email-linked erasure (code, wrong guess, resend, verify)
    v = ps.visitor(stack, apps, widget, org)
    v.call("widget_update_visitor", json_body={"email": "lp@example.com", "phone": "+4412345678"})
    v.start_conversation("least privilege")
    other = v.start_conversation("to delete alone")
    export_id = v.ask({"type": "export"}).json["id"]
    erase_id = v.ask({"type": "delete", "email": "lp@example.com"}).json["id"]
    assert v.verify(
        erase_id, "000000" if ps.last_code("lp@example.com") != "000000" else "1"
    ).status
    with ps.frozen_clock(datetime.now(UTC) + timedelta(minutes=2)):
        resent = v.privacy_call("privacy_widget_resend", path_params={"request_id": erase_id})
        assert resent.status == 200
    assert v.verify(erase_id, ps.last_code("lp@example.com")).status == 200
    ps.run_jobs(stack, apps)
    assert v.download(export_id).status == 302
    assert v.status(export_id).status == 200
    # Dashboard: every kind of request, decisions, download, one conversation, deletion
    subject = {"visitor_id": v.visitor_id}
    fixed = org.create({"type": "correct", "subject": subject, "changes": {"phone": "+4499999999"}})
    assert fixed.status == 201
    for body in (
        {"type": "restrict", "subject": subject},
        {"type": "object", "subject": subject},
        {"type": "access", "subject": {"phone": "+4499999999"}},
    ):
        assert org.create(body).status == 201
    assert (
        org.call("DELETE", "/v1/conversations/{conversation_id}", conversation_id=other).status
        == 202
    )
    ps.run_jobs(stack, apps)
    assert org.call("GET", "/v1/privacy/requests").status == 200
    assert org.get(fixed.json["id"]).status == 200
    assert (
        org.call("GET", "/v1/privacy/requests/{request_id}/download", request_id=export_id).status
        == 302
    )
    assert org.decide(erase_id, "approve").status == 200
    ps.run_jobs(stack, apps)
    waiting_email = "lp-deny@example.com"
    denied = ps.visitor(stack, apps, widget, org).ask({"type": "delete", "email": waiting_email})
    assert (
        org.decide(denied.json["id"], "extend", {"days": 3, "reason": "complexity"}).status == 200
    )
    assert org.decide(denied.json["id"], "deny", {"reason": "other"}).status == 200
    # A poison task: the DLQ consumer marks it failed; the admin retries it
    poisoned = ps.visitor(stack, apps, widget, org)
    poisoned.start_conversation("poison")
    failing = org.create({"type": "delete", "subject": {"visitor_id": poisoned.visitor_id}})

    def poison(job: Any, task: Any) -> Any:
        raise RuntimeError("poison")

    with monkeypatch.context() as patched:
        patched.setitem(handlers.ERASERS, "conversations.csat", poison)
        ps.run_jobs(stack, apps)
        ps.dead_letters(stack).deliver(apps.failures.lambda_handler)
    assert org.decide(failing.json["id"], "retry").status == 200
    ps.run_jobs(stack, apps)
    # Conversations an agent holds: one deleted by an admin, one erased with its visitor
    team = Team(Org(agent_routing_client(stack)), widget, stack)
    routing_events = load_function("agent_routing_events")
    tap = StreamTap(stack, "AgentRoutingEventsFunction")
    sales = team.department("Sales")
    team.agent("ann", [sales], capacity=3)
    held = team.visitor()
    held_ids = [held.start_conversation(f"held {n}") for n in range(2)]
    for held_id in held_ids:
        assert ask_for_human(held, held_id, department_id=sales).status == 202
    tap.deliver(routing_events.lambda_handler)
    assert team.agent_item("ann")["open_count"] == 2
    team_org = ps.Org(
        stack, apps, org_id=team.org.org_id, admin_id=team.org.admin_id, provision=False
    )
    deleted = team_org.call(
        "DELETE", "/v1/conversations/{conversation_id}", conversation_id=held_ids[0]
    )
    assert deleted.status == 202
    assert (
        team_org.create({"type": "delete", "subject": {"visitor_id": held.visitor_id}}).status
        == 201
    )
    ps.run_jobs(stack, apps)
    assert team.agent_item("ann")["open_count"] == 0
    # The daily check, the replay, and a workspace purge
    apps.schedule.lambda_handler({}, ps.Deadline(120_000))
    apps.schedule.lambda_handler(
        {"command": "replay_tombstones", "workspace_id": org.ws}, ps.Deadline(120_000)
    )
    ps.run_jobs(stack, apps)
    scheduled = org.call("POST", "/v1/workspace/deletion")
    assert org.call("DELETE", "/v1/workspace/deletion").status == 200
    assert org.call("POST", "/v1/workspace/deletion").status == 202
    with ps.frozen_clock(datetime.now(UTC) + timedelta(days=31)):
        apps.schedule.lambda_handler({}, ps.Deadline(120_000))
        ps.run_jobs(stack, apps)
    assert scheduled.status == 202

    # Then each function's calls are allowed by its own role
    expected = {
        "PrivacyWidgetFunction": {"ses:SendEmail", "s3:GetObject", "sqs:SendMessage"},
        "PrivacyFunction": {"dynamodb:TransactWriteItems", "s3:GetObject", "sqs:SendMessage"},
        "PrivacyWorkerFunction": {"s3:PutObject", "s3:ListBucket", "dynamodb:BatchWriteItem"},
        "PrivacyFailuresFunction": {"dynamodb:PutItem"},
        "PrivacyScheduleFunction": {"sqs:SendMessage", "dynamodb:Query"},
    }
    for function, made in recorder.calls.items():
        needed = {p for call in made for p in required_permissions(stack, *call)}
        actions = {action for action, _ in needed}
        wanted = {a for a in expected[function] if a != "dynamodb:TransactWriteItems"}
        assert wanted <= actions, (function, wanted - actions)
        statements = role_statements(stack, function)
        missing = sorted(p for p in needed if not allowed(statements, *p))
        assert missing == [], function
    assert set(recorder.calls) == set(expected)
