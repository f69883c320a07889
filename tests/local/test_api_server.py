"""The local API over real HTTP: routes, events, responses, errors, workers and schedules."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from typing import Any

import httpx
import pytest

from local.stack import Stack


@pytest.fixture(scope="module")
def http(fixture_stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=fixture_stack.api_url, timeout=30)


def echo(http: httpx.Client, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = http.request(method, path, **kwargs)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_health_and_routes(http: httpx.Client) -> None:
    assert http.get("/_local/health").json() == {"status": "ok"}
    routes = {r["routeKey"]: r["function"] for r in http.get("/_local/routes").json()["routes"]}
    assert routes["GET /slow"] == "SlowFunction"


def test_request_becomes_a_payload_2_0_event(http: httpx.Client) -> None:
    body = echo(
        http,
        "POST",
        "/items/a%20b",
        params=[("tag", "x"), ("tag", "y")],
        headers={"Cookie": "one=1; two=2", "X-Trace": "t1", "User-Agent": "local-test"},
        content=b'{"name": "widget"}',
    )
    event = body["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /items/{item_id}"
    assert event["rawPath"] == "/items/a b"
    assert event["pathParameters"] == {"item_id": "a b"}
    assert event["queryStringParameters"] == {"tag": "x,y"}
    assert event["cookies"] == ["one=1", "two=2"]
    assert event["headers"]["x-trace"] == "t1"
    assert event["body"] == '{"name": "widget"}'
    context = event["requestContext"]
    assert context["http"]["method"] == "POST"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["http"]["userAgent"] == "local-test"
    assert context["stage"] == "$default"
    assert context["accountId"] == "123456789012"


def test_function_runs_like_lambda(fixture_stack: Stack, http: httpx.Client) -> None:
    body = echo(http, "GET", "/echo")
    env = body["env"]
    assert env["SHARED"] == "from-globals"
    assert env["OVERRIDDEN"] == "from-function"
    assert env["EVENTS_TABLE"] == "fixture-EventsTable"
    assert env["AWS_ENDPOINT_URL"] == fixture_stack.aws_endpoint_url
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_ACCOUNT_ID_ENDPOINT_MODE"] == "disabled"
    assert env["_HANDLER"] == "app.handler"
    context = body["context"]
    assert context["function_name"] == "fixture-ApiFunction"
    assert context["memory_limit_in_mb"] == "1024"
    assert context["invoked_function_arn"].endswith(":function:fixture-ApiFunction")
    assert 0 < context["remaining_ms"] <= 5000
    # The function's code first, then its layer; the working directory is the code.
    assert body["sys_path"][0].endswith("fixtures/functions/api")
    assert body["sys_path"][1].endswith("fixtures/layers/shared")
    assert body["layer"] == "shared"
    assert body["cwd"].endswith("fixtures/functions/api")
    assert context["aws_request_id"] != echo(http, "GET", "/echo")["context"]["aws_request_id"]


def test_worker_logs_reach_the_console_and_log_file(
    fixture_stack: Stack, http: httpx.Client
) -> None:
    echo(http, "GET", "/echo")
    log_file = fixture_stack.config.local_dir / "logs" / "ApiFunction.log"
    lines = [json.loads(line) for line in log_file.read_text().splitlines() if line.startswith("{")]
    assert {"level": "INFO", "message": "echo", "route": "GET /echo"} in lines
    console = (fixture_stack.config.local_dir / "console.log").read_text()
    assert 'ApiFunction | {"level": "INFO", "message": "echo"' in console


def test_literal_route_greedy_route_and_404s(http: httpx.Client) -> None:
    assert echo(http, "GET", "/items/special/detail")["event"]["routeKey"] == (
        "GET /items/special/detail"
    )
    assert echo(http, "GET", "/items/7/detail")["event"]["pathParameters"] == {"item_id": "7"}
    files = echo(http, "DELETE", "/files/a/b.txt")["event"]
    assert (files["routeKey"], files["pathParameters"]) == (
        "ANY /files/{path+}",
        {"path": "a/b.txt"},
    )
    for method, path in (("GET", "/nothing"), ("DELETE", "/echo"), ("GET", "/items/7")):
        response = http.request(method, path)
        assert response.status_code == 404, (method, path)
        assert response.json() == {"message": "Not Found"}
        assert response.headers["apigw-requestid"]


@pytest.mark.parametrize(
    ("kind", "status", "content_type", "body"),
    [
        ("bare", 200, "application/json", b'{"hello": "world"}'),
        ("string", 200, "application/json", b'"plain text"'),
        ("binary", 200, "application/octet-stream", b"\x00\xffdata"),
    ],
)
def test_response_shapes(
    http: httpx.Client, kind: str, status: int, content_type: str, body: bytes
) -> None:
    response = http.get(f"/shapes/{kind}")
    assert (response.status_code, response.headers["content-type"]) == (status, content_type)
    assert response.content == body


def test_cookies_become_set_cookie_headers(http: httpx.Client) -> None:
    response = http.get("/shapes/cookies")
    assert response.status_code == 201
    assert response.headers.get_list("set-cookie") == ["first=1; Path=/", "second=2; HttpOnly"]
    assert response.headers["x-multi"] == "a,b"
    assert response.text == "made"


@pytest.mark.parametrize("kind", ["boom", "bad-body", "unserialisable", "exit"])
def test_handler_failures_are_500(http: httpx.Client, kind: str) -> None:
    response = http.get(f"/shapes/{kind}")
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    # The function keeps serving afterwards (a crashed worker is replaced).
    assert http.get("/shapes/bare").status_code == 200


def test_timeout_is_503_and_the_worker_is_replaced(http: httpx.Client) -> None:
    # Given one warm worker (sequential requests reuse it)
    first = http.get("/slow", params={"sleep": "0"}).json()["pid"]
    assert http.get("/slow", params={"sleep": "0"}).json()["pid"] == first
    # When a request outlives the function's 1 s Timeout
    started = time.monotonic()
    response = http.get("/slow", params={"sleep": "3"})
    # Then API Gateway's 503 comes back at the timeout, and that worker is gone
    assert response.status_code == 503
    assert response.json() == {"message": "Service Unavailable"}
    assert time.monotonic() - started < 2.5
    with pytest.raises(ProcessLookupError):
        os.kill(first, 0)
    replacement = http.get("/slow", params={"sleep": "0"}).json()
    assert replacement["pid"] != first
    assert 0 < replacement["remaining_ms"] <= 1000


def test_body_over_10_mb_is_413(http: httpx.Client) -> None:
    response = http.post("/echo", content=b"x" * (10 * 1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.json() == {"message": "Request Entity Too Large"}
    assert http.post("/echo", content=b"x" * 1024).status_code == 200


def test_concurrent_requests_run_in_parallel(http: httpx.Client) -> None:
    results: list[int] = []

    def call() -> None:
        with httpx.Client(base_url=str(http.base_url), timeout=30) as own:
            results.append(own.get("/echo", params={"sleep": "1"}).json()["pid"])

    threads = [threading.Thread(target=call) for _ in range(3)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    elapsed = time.monotonic() - started
    assert len(results) == 3
    assert len(set(results)) == 3, "each concurrent request has its own worker"
    assert elapsed < 2.9, f"three 1 s requests took {elapsed:.1f} s"


def test_schedules_are_listed_and_fired(http: httpx.Client) -> None:
    listed = {s["event"]: s for s in http.get("/_local/schedules").json()["schedules"]}
    assert set(listed) == {"Nightly", "Cleanup", "Reports"}
    assert listed["Cleanup"]["enabled"] is False
    assert listed["Nightly"]["fire"] == "POST /_local/schedules/ScheduledFunction/Nightly"

    fired = http.post("/_local/schedules/ScheduledFunction/Nightly")
    assert fired.status_code == 200
    event = fired.json()["result"]["received"]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == [listed["Nightly"]["arn"]]
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }

    with_input = http.post("/_local/schedules/ScheduledFunction/Cleanup").json()
    assert with_input["result"]["received"] == {"job": "cleanup"}
    scheduler = http.post("/_local/schedules/ScheduledFunction/Reports").json()
    assert scheduler["result"]["received"] == {"schedule": listed["Reports"]["arn"], "attempt": "1"}
    override = http.post("/_local/schedules/ScheduledFunction/Nightly", json={"custom": 1})
    assert override.json()["result"]["received"] == {"custom": 1}
    assert http.post("/_local/schedules/ScheduledFunction/Nope").status_code == 404


def test_direct_invoke(http: httpx.Client) -> None:
    response = http.post("/_local/invoke/ScheduledFunction", json={"hello": 1})
    assert response.json()["result"] == {
        "received": {"hello": 1},
        "function": "fixture-ScheduledFunction",
    }
    failed = http.post(
        "/_local/invoke/ApiFunction",
        json={"routeKey": "GET /shapes/{kind}", "pathParameters": {"kind": "boom"}},
    )
    assert failed.status_code == 502
    assert failed.json()["error"]["errorType"] == "ValueError"


def test_base64_request_body_reaches_the_function(http: httpx.Client) -> None:
    event = echo(http, "POST", "/echo", content=b"\xff\xfe")["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe"


def test_recycled_workers_load_fresh_code(fixture_stack: Stack, http: httpx.Client) -> None:
    before = http.get("/slow", params={"sleep": "0"}).json()["pid"]
    fixture_stack.pools["SlowFunction"].recycle()
    after = http.get("/slow", params={"sleep": "0"}).json()["pid"]
    assert after != before
