"""HTTP API routing, the payload 2.0 event and response mapping."""

from __future__ import annotations

import base64
import json

import pytest

from local.apigw import (
    ApiRequest,
    BadLambdaResponse,
    Router,
    build_event,
    lambda_response,
)
from local.template import Route

ROUTES = [
    Route("GET", "/items", "List", "ListItems"),
    Route("GET", "/items/{item_id}", "Get", "GetItem"),
    Route("GET", "/items/special", "Special", "Special"),
    Route("POST", "/items/{item_id}/notes/{note_id}", "Note", "PostNote"),
    Route("ANY", "/files/{path+}", "Files", "Files"),
    Route("DELETE", "/files/{path+}", "DeleteFiles", "DeleteFiles"),
]


@pytest.fixture
def router() -> Router:
    return Router(ROUTES)


def test_literal_route_beats_a_path_parameter(router: Router) -> None:
    special = router.match("GET", "/items/special")
    assert special is not None and special.route.function == "Special"
    other = router.match("GET", "/items/42")
    assert other is not None
    assert (other.route.function, other.path_parameters) == ("Get", {"item_id": "42"})


def test_several_path_parameters_are_decoded(router: Router) -> None:
    match = router.match("POST", "/items/a%20b/notes/n%2F1")
    assert match is not None
    assert match.path_parameters == {"item_id": "a b", "note_id": "n/1"}


def test_greedy_parameter_and_exact_method_beats_any(router: Router) -> None:
    match = router.match("PUT", "/files/a/b/c.txt")
    assert match is not None
    assert (match.route.function, match.path_parameters) == ("Files", {"path": "a/b/c.txt"})
    delete = router.match("DELETE", "/files/a")
    assert delete is not None and delete.route.function == "DeleteFiles"
    assert router.match("GET", "/files") is None


def test_no_route_and_method_mismatch_are_none(router: Router) -> None:
    assert router.match("GET", "/nothing") is None
    assert router.match("DELETE", "/items/42") is None
    assert router.match("GET", "/items/42/notes/1") is None


def test_default_route_catches_the_rest() -> None:
    router = Router([*ROUTES, Route("ANY", "$default", "Fallback", "Default")])
    match = router.match("PATCH", "/anything")
    assert match is not None and match.route.function == "Fallback"


def _request(**overrides: object) -> ApiRequest:
    values: dict[str, object] = {
        "method": "POST",
        "target": "/items/42/notes/7?tag=a&tag=b&empty=&q=x%20y",
        "headers": [
            ("Host", "127.0.0.1:3000"),
            ("User-Agent", "pytest"),
            ("X-Repeated", "one"),
            ("x-repeated", "two"),
            ("Cookie", "session=abc; theme=dark"),
            ("Content-Type", "application/json"),
        ],
        "body": b'{"text": "hi"}',
        "source_ip": "127.0.0.1",
        "host": "127.0.0.1:3000",
    }
    values.update(overrides)
    return ApiRequest(**values)  # type: ignore[arg-type]


def test_event_has_the_payload_2_0_shape(router: Router) -> None:
    request = _request()
    match = router.match(request.method, request.raw_path)
    assert match is not None
    event = build_event(
        request,
        match,
        api_id="api1",
        account_id="123456789012",
        request_id="req-1",
        now=1_700_000_000.5,
    )
    assert set(event) == {
        "version",
        "routeKey",
        "rawPath",
        "rawQueryString",
        "cookies",
        "headers",
        "queryStringParameters",
        "requestContext",
        "body",
        "isBase64Encoded",
        "pathParameters",
    }
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /items/{item_id}/notes/{note_id}"
    assert event["rawPath"] == "/items/42/notes/7"
    assert event["rawQueryString"] == "tag=a&tag=b&empty=&q=x%20y"
    assert event["queryStringParameters"] == {"tag": "a,b", "empty": "", "q": "x y"}
    assert event["pathParameters"] == {"item_id": "42", "note_id": "7"}
    assert event["cookies"] == ["session=abc", "theme=dark"]
    headers = event["headers"]
    assert "cookie" not in headers
    assert headers["x-repeated"] == "one,two"
    assert headers["content-type"] == "application/json"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert all(name == name.lower() for name in headers)
    assert (event["body"], event["isBase64Encoded"]) == ('{"text": "hi"}', False)
    context = event["requestContext"]
    assert context == {
        "accountId": "123456789012",
        "apiId": "api1",
        "domainName": "127.0.0.1:3000",
        "domainPrefix": "127",
        "http": {
            "method": "POST",
            "path": "/items/42/notes/7",
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": "pytest",
        },
        "requestId": "req-1",
        "routeKey": "POST /items/{item_id}/notes/{note_id}",
        "stage": "$default",
        "time": "14/Nov/2023:22:13:20 +0000",
        "timeEpoch": 1_700_000_000_500,
    }


def test_binary_body_is_base64_and_empty_parts_are_left_out(router: Router) -> None:
    match = router.match("POST", "/items/1/notes/2")
    assert match is not None
    binary = build_event(_request(body=b"\xff\x00"), match, api_id="a", account_id="1")
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\xff\x00"
    bare = build_event(
        _request(target="/items/1/notes/2", headers=[], body=b""), match, api_id="a", account_id="1"
    )
    assert "body" not in bare and "cookies" not in bare and "queryStringParameters" not in bare
    assert bare["isBase64Encoded"] is False
    assert bare["requestContext"]["requestId"] != binary["requestContext"]["requestId"]


def test_structured_response() -> None:
    response = lambda_response(
        {
            "statusCode": 201,
            "headers": {"content-type": "text/plain", "x-count": 3},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": "made",
        }
    )
    assert response.status == 201
    assert ("x-count", "3") in response.headers
    assert [v for k, v in response.headers if k == "set-cookie"] == ["a=1; Path=/", "b=2"]
    assert response.body == b"made"


def test_base64_response_body_is_decoded() -> None:
    body = base64.b64encode(b"\x00\x01").decode()
    response = lambda_response({"statusCode": 200, "body": body, "isBase64Encoded": True})
    assert response.body == b"\x00\x01"


@pytest.mark.parametrize("result", [{"hello": "world"}, "plain", [1, 2], None])
def test_format_inference_without_status_code(result: object) -> None:
    response = lambda_response(result)
    assert response.status == 200
    assert ("content-type", "application/json") in response.headers
    assert json.loads(response.body) == result


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "abc"},
        {"statusCode": 99},
        {"statusCode": 200, "body": {"not": "text"}},
        {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
    ],
)
def test_malformed_responses_are_refused(result: object) -> None:
    with pytest.raises(BadLambdaResponse):
        lambda_response(result)
