"""Every AWS call a function really makes is allowed by its own role in template.yaml, and
nothing broader: a policy that lacks an action fails here before it fails in AWS (moto does
not enforce IAM)."""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.widget_support import Visitor
from tests.support import HttpHandlerClient, LambdaContext, sample_event
from yoosr.store import aws, ddb

TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _table_arn(stack: Any, table: str) -> str:
    for logical_id, resource in stack.resources.by_type("AWS::DynamoDB::Table").items():
        if resource.ref == table:
            return str(stack.resources.get_att(logical_id, "Arn"))
    raise AssertionError(f"unknown table {table}")


S3_OBJECT_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObject": "s3:DeleteObject",
}


def _s3_permissions(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    bucket = f"arn:aws:s3:::{params['Bucket']}"
    if operation in ("ListObjectsV2", "ListObjects"):
        return [("s3:ListBucket", bucket)]
    if operation == "DeleteObjects":
        return [("s3:DeleteObject", f"{bucket}/{o['Key']}") for o in params["Delete"]["Objects"]]
    return [(S3_OBJECT_ACTIONS[operation], f"{bucket}/{params['Key']}")]


def _queue_arn(stack: Any, url: str) -> str:
    for logical_id, resource in stack.resources.by_type("AWS::SQS::Queue").items():
        if resource.ref == url:
            return str(stack.resources.get_att(logical_id, "Arn"))
    raise AssertionError(f"unknown queue {url}")


def _ses_identity(stack: Any, source: str) -> str:
    """The verified identity SES authorizes a send against: the address itself when the
    template names it, else its domain."""
    named = stack.resources.template.parameter_value("PrivacyEmailIdentity")
    return source if named == source else source.rsplit("@", 1)[-1]


def required_permissions(
    stack: Any, service: str, operation: str, params: dict[str, Any]
) -> list[tuple[str, str]]:
    if service == "secretsmanager":
        return [(f"secretsmanager:{operation}", params["SecretId"])]
    if service == "ssm":
        template = stack.resources.template
        arn = f"arn:aws:ssm:{template.region}:{template.account_id}:parameter{params['Name']}"
        return [(f"ssm:{operation}", arn)]
    if service == "s3":
        return _s3_permissions(operation, params)
    if service == "sqs":
        action = "SendMessage" if operation == "SendMessageBatch" else operation
        return [(f"sqs:{action}", _queue_arn(stack, params["QueueUrl"]))]
    if service == "ses":
        template = stack.resources.template
        identity = _ses_identity(stack, params["Source"])
        arn = f"arn:aws:ses:{template.region}:{template.account_id}:identity/{identity}"
        return [(f"ses:{operation}", arn)]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", _table_arn(stack, t)) for t in params["RequestItems"]]
    if operation == "TransactWriteItems":
        return [
            (f"dynamodb:{TRANSACT_ACTIONS[kind]}", _table_arn(stack, body["TableName"]))
            for item in params["TransactItems"]
            for kind, body in item.items()
        ]
    arn = _table_arn(stack, params["TableName"])
    if params.get("IndexName"):
        arn = f"{arn}/index/{params['IndexName']}"
    return [(f"dynamodb:{operation}", arn)]


def allowed(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        resources = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        if (
            statement["Effect"] == "Allow"
            and action in actions
            and any(fnmatch.fnmatchcase(resource, pattern) for pattern in resources)
        ):
            return True
    return False


def role_statements(stack: Any, function_logical_id: str) -> list[dict[str, Any]]:
    template = stack.resources.template
    function = template.resources[function_logical_id]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = template.resources[role_id]["Properties"]["Policies"]
    statements: list[dict[str, Any]] = []
    for policy in policies:
        statements += stack.resources.resolve(copy.deepcopy(policy["PolicyDocument"]["Statement"]))
    return statements


@pytest.fixture
def recorded() -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    calls: list[tuple[str, str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.service_model.service_name, model.name, copy.deepcopy(params)))

    clients = [aws.client("dynamodb"), aws.client("secretsmanager")]
    for client in clients:
        client.meta.events.register("provide-client-params.*.*", record)
    yield calls
    for client in clients:
        client.meta.events.unregister("provide-client-params.*.*", record)


def test_widget_ingest_role_allows_every_call_it_makes(
    stack: Any, widget: HttpHandlerClient, workspace: dict, recorded: list
) -> None:
    from yoosr.store import secrets

    secrets._provider().clear_cache()  # so the secret read is made, and checked, here
    v = Visitor(widget, workspace["key"])
    v.call("widget_get_config")
    v.start_session()
    v.call("widget_update_visitor", json_body={"email": "a@b.example", "phone": "+4412345678"})
    conversation_id = v.start_conversation("hello")
    v.post(conversation_id, "again", client_id="same")
    v.post(conversation_id, "again", client_id="same")
    v.messages(conversation_id)
    v.call("widget_list_conversations")
    v.call(
        "widget_submit_csat",
        path_params={"conversation_id": conversation_id},
        json_body={"rating": 5},
    )
    statements = role_statements(stack, "WidgetIngestFunction")
    needed = {p for call in recorded for p in required_permissions(stack, *call)}
    assert {action for action, _ in needed} >= {
        "dynamodb:BatchGetItem",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "secretsmanager:GetSecretValue",
    }
    missing = sorted(p for p in needed if not allowed(statements, *p))
    assert missing == []


def test_inbox_events_role_allows_every_call_it_makes(
    stack: Any, inbox_events: Any, visitor: Visitor, workspace: dict, recorded: list
) -> None:
    conversation_id = visitor.start_conversation("count me")
    recorded.clear()
    record = copy.deepcopy(sample_event("inbox_events_visitor_message"))
    image = record["Records"][0]["dynamodb"]["NewImage"]
    image.update(ddb.to_av({"workspace_id": workspace["id"], "conversation_id": conversation_id}))
    inbox_events.lambda_handler(record, LambdaContext())
    statements = role_statements(stack, "InboxEventsFunction")
    needed = {p for call in recorded for p in required_permissions(stack, *call)}
    assert needed, "the consumer made no call"
    assert sorted(p for p in needed if not allowed(statements, *p)) == []


def test_policies_name_no_wildcard_actions_or_data_resources(stack: Any) -> None:
    """Every function in the template (a new one is covered without editing this test)."""
    functions = stack.resources.template.functions
    assert len(functions) >= 8
    for function in functions:
        for statement in role_statements(stack, function):
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            assert not any("*" in action for action in actions), statement
            if statement.get("Sid") != "Tracing":  # X-Ray has no resource-level permissions
                resources = (
                    statement["Resource"]
                    if isinstance(statement["Resource"], list)
                    else [statement["Resource"]]
                )
                assert "*" not in resources, statement
