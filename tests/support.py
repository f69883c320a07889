"""Test helpers shared by the integration suites: sample events, a handler client, loaders."""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_METRICS_NAMESPACE": "Yoosr",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOGGER_LOG_EVENT": "false",
}


def sample_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def load_function(folder: str) -> ModuleType:
    """Import functions/<folder>/app.py under a unique module name (every handler is app.py)."""
    name = f"yoosr_function_{folder}"
    if name in sys.modules:
        return sys.modules[name]
    # Lambda puts the function folder on sys.path; sibling glue modules are named after the
    # function (agent_routing_team.py …) so folders never clash in one test process.
    function_dir = str(ROOT / "functions" / folder)
    if function_dir not in sys.path:
        sys.path.append(function_dir)
    spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / folder / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2026/11/29/[$LATEST]test"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_code(self) -> str | None:
        try:
            return self.json["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return None


class HttpHandlerClient:
    """Calls an HTTP function's lambda_handler with API Gateway payload 2.0 events built from
    the samples in events/, the way API Gateway would."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler

    def call(
        self,
        sample: str,
        *,
        path_params: dict[str, str] | None = None,
        json_body: Any = None,
        raw_body: str | bytes | None = None,
        headers: dict[str, str | None] | None = None,
        query: dict[str, str] | None = None,
        source_ip: str = "203.0.113.7",
    ) -> Response:
        event = copy.deepcopy(sample_event(sample))
        route = event["routeKey"].split(" ", 1)[1]
        path = route
        for key, value in (path_params or {}).items():
            path = path.replace("{" + key + "}", value)
        if path_params:
            event["pathParameters"] = dict(path_params)
        event["rawPath"] = path
        event["requestContext"]["http"]["path"] = path
        event["requestContext"]["http"]["sourceIp"] = source_ip
        event["requestContext"]["requestId"] = str(uuid.uuid4())
        event["rawQueryString"] = urlencode(query or {})
        if query:
            event["queryStringParameters"] = dict(query)
        merged = dict(event["headers"])
        for key, value in (headers or {}).items():
            if value is None:
                merged.pop(key.lower(), None)
            else:
                merged[key.lower()] = value
        event.pop("body", None)
        if json_body is not None:
            event["body"] = json.dumps(json_body)
            merged.setdefault("content-type", "application/json")
        elif raw_body is not None:
            if isinstance(raw_body, bytes):
                event["body"] = base64.b64encode(raw_body).decode()
                event["isBase64Encoded"] = True
            else:
                event["body"] = raw_body
        if "body" in event:
            merged["content-length"] = str(len(event["body"]))
        event["headers"] = merged
        result = self.handler(event, LambdaContext())
        body = result.get("body") or ""
        if result.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        return Response(
            result["statusCode"],
            {k.lower(): v for k, v in (result.get("headers") or {}).items()},
            body,
        )


def set_env(values: dict[str, str]) -> None:
    os.environ.update(values)
