"""local/moto_fixes.py's Query fix: the same answers as DynamoDB's rules, without moto sorting
the whole table for every Query."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import DynamoType

from local import moto_fixes

TABLE = "fixes"


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[Any, list[dict[str, str]]]]:
    """A table with a GSI (string hash) and a numeric-hash GSI, 3,000 items in 300 partitions."""
    moto_fixes.apply()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": kind}
                for name, kind in (("pk", "S"), ("sk", "S"), ("g", "S"), ("gs", "S"), ("n", "N"))
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_g",
                    "KeySchema": [
                        {"AttributeName": "g", "KeyType": "HASH"},
                        {"AttributeName": "gs", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                },
                {
                    "IndexName": "by_n",
                    "KeySchema": [{"AttributeName": "n", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                },
            ],
        )
        rng = random.Random(8)
        rows: list[dict[str, str]] = []
        for p in range(300):
            for s in range(10):
                row = {"pk": f"P{p:03d}", "sk": f"S{s:02d}"}
                if rng.random() < 0.5:  # sparse index: half the items have no g
                    row["g"] = f"G{rng.randrange(20)}"
                    row["gs"] = f"{rng.randrange(1000):04d}"
                if rng.random() < 0.2:
                    row["n"] = str(rng.randrange(5))
                rows.append(row)
        for start in range(0, len(rows), 25):
            client.batch_write_item(
                RequestItems={
                    TABLE: [
                        {
                            "PutRequest": {
                                "Item": {k: {"N" if k == "n" else "S": v} for k, v in row.items()}
                            }
                        }
                        for row in rows[start : start + 25]
                    ]
                }
            )
        yield client, rows


def _query_all(client: Any, **kwargs: Any) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    start: dict[str, Any] | None = None
    while True:
        page = client.query(
            TableName=TABLE, **kwargs, **({"ExclusiveStartKey": start} if start else {})
        )
        keys += [(item["pk"]["S"], item["sk"]["S"]) for item in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            return keys


def test_table_queries_answer_as_dynamodb_does(loaded: tuple[Any, list[dict[str, str]]]) -> None:
    client, rows = loaded
    got = _query_all(
        client,
        KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
        ExpressionAttributeValues={":p": {"S": "P042"}, ":a": {"S": "S03"}, ":b": {"S": "S07"}},
        ScanIndexForward=False,
        Limit=2,
    )
    expected = sorted(
        ((r["pk"], r["sk"]) for r in rows if r["pk"] == "P042" and "S03" <= r["sk"] <= "S07"),
        reverse=True,
    )
    assert got == expected and len(got) == 5
    assert (
        _query_all(
            client,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "nope"}},
        )
        == []
    )


def test_index_queries_answer_as_dynamodb_does(loaded: tuple[Any, list[dict[str, str]]]) -> None:
    client, rows = loaded
    for group in ("G3", "G17"):
        got = _query_all(
            client,
            IndexName="by_g",
            KeyConditionExpression="g = :g AND gs >= :low",
            ExpressionAttributeValues={":g": {"S": group}, ":low": {"S": "0500"}},
            Limit=7,
        )
        matching = [r for r in rows if r.get("g") == group and r["gs"] >= "0500"]
        expected = [
            (r["pk"], r["sk"]) for r in sorted(matching, key=lambda r: (r["gs"], r["pk"], r["sk"]))
        ]
        assert got == expected and got
    # A numeric index hash is left to moto's own comparison (1 == 1.0 in DynamoDB)
    got = _query_all(
        client,
        IndexName="by_n",
        KeyConditionExpression="n = :n",
        ExpressionAttributeValues={":n": {"N": "2.0"}},
    )
    assert sorted(got) == sorted((r["pk"], r["sk"]) for r in rows if r.get("n") == "2")


def test_a_query_does_not_sort_the_whole_table(loaded: tuple[Any, list[dict[str, str]]]) -> None:
    client, _ = loaded
    with mock.patch.object(
        DynamoType, "__lt__", autospec=True, side_effect=lambda a, b: a.cast_value < b.cast_value
    ) as less:
        client.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "P100"}},
        )
        table_query = less.call_count
        less.reset_mock()
        client.query(
            TableName=TABLE,
            IndexName="by_g",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "G5"}},
        )
        index_query = less.call_count
    # Sorting 3,000 items takes tens of thousands of comparisons; one partition or one index
    # key's ~75 items a few hundred at most.
    assert table_query < 100, table_query
    assert index_query < 1000, index_query
