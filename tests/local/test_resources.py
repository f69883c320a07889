"""Resources created from a template under in-process moto, as tests/integration uses them."""

from __future__ import annotations

import json
import string
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from local.resources import (
    ResourceMap,
    create_resources,
    function_environment,
    generate_secret_string,
)
from local.template import load_template
from tests.local.conftest import TEMPLATE

STACK = "res-test"


@pytest.fixture(scope="module")
def session() -> Iterator[boto3.Session]:
    with mock_aws():
        yield boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )


@pytest.fixture(scope="module")
def resources(session: boto3.Session) -> ResourceMap:
    return create_resources(load_template(TEMPLATE), session, STACK)


def test_table_has_keys_indexes_stream_and_ttl(
    session: boto3.Session, resources: ResourceMap
) -> None:
    dynamodb = session.client("dynamodb")
    name = resources.ref("EventsTable")
    assert name == f"{STACK}-EventsTable"
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["by_gsi"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert resources.get_att("EventsTable", "StreamArn") == table["LatestStreamArn"]
    assert resources.get_att("EventsTable", "Arn") == table["TableArn"]
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    # An explicit TableName (here through !Sub) wins over the generated one.
    assert resources.ref("CallsTable") == f"{STACK}-calls"


def test_queue_redrive_and_attributes(session: boto3.Session, resources: ResourceMap) -> None:
    sqs = session.client("sqs")
    url = resources.ref("JobsQueue")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "1"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive == {
        "deadLetterTargetArn": resources.get_att("JobsDLQ", "Arn"),
        "maxReceiveCount": 2,
    }
    assert resources.get_att("JobsQueue", "QueueName") == f"{STACK}-JobsQueue"
    fifo = resources.get_att("OrderedQueue", "QueueName")
    assert fifo.endswith(".fifo")
    assert "ProdOnlyQueue" not in resources.created


def test_bucket_settings(session: boto3.Session, resources: ResourceMap) -> None:
    s3 = session.client("s3")
    bucket = resources.ref("AssetsBucket")
    assert bucket == f"{STACK}-assetsbucket"
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert lifecycle[0]["Expiration"]["Days"] == 7


def test_secrets(session: boto3.Session, resources: ResourceMap) -> None:
    secrets = session.client("secretsmanager")
    generated = secrets.get_secret_value(SecretId=resources.ref("ApiSecret"))["SecretString"]
    assert len(generated) == 40
    assert set(generated) <= set(string.ascii_letters + string.digits)
    fixed = secrets.get_secret_value(SecretId=resources.ref("FixedSecret"))["SecretString"]
    assert json.loads(fixed) == {"token": "fixed"}
    assert resources.ref("FixedSecret").startswith(
        f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{STACK}/fixed"
    )


def test_creating_again_keeps_existing_resources(
    session: boto3.Session, resources: ResourceMap
) -> None:
    secrets = session.client("secretsmanager")
    before = secrets.get_secret_value(SecretId=resources.ref("ApiSecret"))["SecretString"]
    again = create_resources(load_template(TEMPLATE), session, STACK)
    assert again.created.keys() == resources.created.keys()
    for logical_id, resource in resources.created.items():
        assert again.ref(logical_id) == resource.ref
    after = secrets.get_secret_value(SecretId=again.ref("ApiSecret"))["SecretString"]
    assert after == before


def test_function_environment(resources: ResourceMap) -> None:
    env = function_environment(resources.template, "ApiFunction", resources)
    assert env["EVENTS_TABLE"] == f"{STACK}-EventsTable"
    assert env["JOBS_QUEUE_URL"] == resources.ref("JobsQueue")
    assert env["JOBS_QUEUE_ARN"].startswith("arn:aws:sqs:us-east-1:123456789012:")
    assert env["SECRET_ARN"] == resources.ref("ApiSecret")
    assert env["CALLS_TABLE"] == f"{STACK}-calls"
    assert env["SUBBED"] == f"{STACK}/{STACK}-EventsTable/us-east-1/${{Literal}}"


def test_resources_the_stack_does_not_create_still_resolve(resources: ResourceMap) -> None:
    assert resources.get_att("ApiFunction", "Arn") == (
        f"arn:aws:lambda:us-east-1:123456789012:function:{STACK}-ApiFunction"
    )


def test_the_project_template_creates_under_mock_aws(session: boto3.Session) -> None:
    template = load_template(TEMPLATE.parents[3] / "template.yaml")
    created = create_resources(template, session, "project-test")
    tables = [r.ref for r in created.by_type("AWS::DynamoDB::Table").values()]
    assert tables and all(t.startswith("project-test-") for t in tables)
    for function in template.functions:
        assert function_environment(template, function, created)


def test_generated_secret_options() -> None:
    value = generate_secret_string(
        {
            "PasswordLength": 12,
            "ExcludeCharacters": "abc",
            "ExcludeUppercase": True,
            "ExcludePunctuation": True,
        }
    )
    assert len(value) == 12
    assert not set(value) & set("abc" + string.ascii_uppercase + string.punctuation)
    as_json = json.loads(
        generate_secret_string(
            {"SecretStringTemplate": '{"username": "app"}', "GenerateStringKey": "password"}
        )
    )
    assert as_json["username"] == "app"
    assert len(as_json["password"]) == 32
