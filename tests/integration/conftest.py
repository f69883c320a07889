"""Integration fixtures: one moto for the whole session, resources created from template.yaml,
handlers imported with the environment the template gives them."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import moto_fixes
from local.resources import create_resources, function_environment
from local.template import load_template
from tests.integration.widget_support import ORIGIN, Visitor
from tests.support import FAKE_AWS_ENV, ROOT, HttpHandlerClient, load_function
from yoosr.provisioning import issue_widget_key, provision_workspace

os.environ.update(FAKE_AWS_ENV)


@dataclass
class Stack:
    resources: Any
    env: dict[str, str]

    def table(self, logical_id: str) -> str:
        return str(self.resources.ref(logical_id))


@contextlib.contextmanager
def moto_stack() -> Iterator[Stack]:
    """moto with template.yaml's resources and the widget/inbox functions' environment. Safe
    inside another suite's moto: only the outermost `mock_aws` resets moto's backends, and
    creating resources that exist keeps them."""
    os.environ.update(FAKE_AWS_ENV)
    moto_fixes.apply()  # the same corrections the local stack's moto server runs with
    with mock_aws():
        template = load_template(ROOT / "template.yaml")
        resources = create_resources(template, boto3.Session())
        env: dict[str, str] = {}
        for function in ("WidgetIngestFunction", "InboxEventsFunction"):
            env.update(function_environment(template, function, resources))
        env.pop("POWERTOOLS_SERVICE_NAME", None)
        os.environ.update(env)
        yield Stack(resources, env)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    with moto_stack() as made:
        yield made


@pytest.fixture(scope="session")
def widget(stack: Stack) -> HttpHandlerClient:
    return HttpHandlerClient(load_function("widget_ingest").lambda_handler)


@pytest.fixture(scope="session")
def inbox_events(stack: Stack) -> Any:
    return load_function("inbox_events")


@pytest.fixture
def workspace(stack: Any) -> dict[str, Any]:
    table = stack.table("WorkspacesTable")
    settings = {"allowed_origins": [ORIGIN], "identity_secret": "site-secret-123"}
    made = provision_workspace(table, f"org_{uuid.uuid4().hex}", "Acme", settings)
    return {"id": made.workspace_id, "key": issue_widget_key(table, made.workspace_id)}


@pytest.fixture
def visitor(widget: HttpHandlerClient, workspace: dict[str, Any]) -> Visitor:
    v = Visitor(widget, workspace["key"])
    v.start_session()
    return v
