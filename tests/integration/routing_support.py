"""Routing test support: a team (departments, agents online) set up through the team API,
the Conversations stream delivered to the routing consumer through the template's filters,
and faster moto transactions for the long proofs."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3

from local.filters import matches_any
from local.streams import lambda_stream_record
from tests.integration.dashboard_support import Org
from tests.integration.widget_support import Visitor
from tests.support import HttpHandlerClient, LambdaContext, Response
from yoosr import clock
from yoosr.provisioning import issue_widget_key
from yoosr.store import ddb, keys

# ---------------------------------------------------------------- the stream


@dataclass
class StreamTap:
    """Reads the Conversations stream from where it was opened and delivers the records the
    template's filters select to a stream consumer, the way Lambda's event source would.
    Relies on local/moto_fixes.py (applied for the whole session): plain moto replaces a
    stream's shard object on a rollback, which leaves open iterators reading a dead copy."""

    stack: Any
    function_logical_id: str
    iterators: dict[str, str] = field(default_factory=dict)
    table: str = "ConversationsTable"

    def __post_init__(self) -> None:
        self.client = boto3.client("dynamodbstreams")
        self.arn = str(self.stack.resources.get_att(self.table, "StreamArn"))
        template = self.stack.resources.template
        (self.source,) = [
            s
            for s in template.stream_sources
            if s.function == self.function_logical_id and s.table == self.table
        ]
        description = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]
        for shard in description["Shards"]:
            self.iterators[shard["ShardId"]] = self.client.get_shard_iterator(
                StreamArn=self.arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
            )["ShardIterator"]

    def pending(self) -> list[dict[str, Any]]:
        """New records that pass the consumer's filters (and moves past them)."""
        selected: list[dict[str, Any]] = []
        for shard in list(self.iterators):
            while True:
                page = self.client.get_records(ShardIterator=self.iterators[shard], Limit=1000)
                self.iterators[shard] = page["NextShardIterator"]
                raw = page.get("Records", [])
                records = [lambda_stream_record(r, self.arn, "us-east-1") for r in raw]
                selected += [r for r in records if matches_any(self.source.filters, r)]
                if not raw:
                    break
        return selected

    def deliver(self, handler: Any, rounds: int = 5) -> list[dict[str, Any]]:
        """Deliver until the consumer's own writes bring no new selected records."""
        delivered: list[dict[str, Any]] = []
        for _ in range(rounds):
            records = self.pending()
            if not records:
                break
            for start in range(0, len(records), self.source.batch_size):
                batch = records[start : start + self.source.batch_size]
                result = handler({"Records": copy.deepcopy(batch)}, LambdaContext())
                assert result == {"batchItemFailures": []}, result
            delivered += records
        return delivered


# ---------------------------------------------------------------- a team


@dataclass
class Member:
    user_id: str
    token: str


@dataclass
class Team:
    """A Clerk organization whose workspace has a widget key, departments and agents, all set
    up through the public APIs."""

    org: Org
    widget: HttpHandlerClient
    stack: Any
    widget_key: str = ""
    members: dict[str, Member] = field(default_factory=dict)

    def __post_init__(self) -> None:
        response = self.org.agent("list_departments")  # provisions the workspace
        assert response.status == 200, response.body
        self.widget_key = issue_widget_key(self.stack.table("WorkspacesTable"), self.ws)

    @property
    def ws(self) -> str:
        return self.org.workspace_id

    def inbox(self, sample: str, token: str, **kwargs: Any) -> Response:
        headers = {"authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        return self.org.client.call(f"agent_routing_inbox_{sample}", headers=headers, **kwargs)

    def admin_inbox(self, sample: str, **kwargs: Any) -> Response:
        return self.inbox(sample, self.org.admin_token, **kwargs)

    def department(self, name: str, strategy: str = "round_robin", **extra: Any) -> str:
        response = self.org.admin(
            "create_department",
            json_body={"name": name, "routing_strategy": strategy, **extra},
        )
        assert response.status == 201, response.body
        return str(response.json["id"])

    def agent(
        self,
        name: str,
        departments: list[str],
        capacity: int = 3,
        status: str = "online",
    ) -> Member:
        user_id, token = self.org.new_member("member")
        self.org.call("list_departments", token)  # registers the agent
        patched = self.org.admin(
            "update_agent",
            path_params={"user_id": user_id},
            json_body={"departments": departments, "capacity": capacity},
        )
        assert patched.status == 200, patched.body
        member = Member(user_id, token)
        self.members[name] = member
        if status != "offline":
            self.set_status(name, status)
        return member

    def set_status(self, name: str, status: str) -> Response:
        response = self.org.call(
            "set_status", self.members[name].token, json_body={"status": status}
        )
        assert response.status == 200, response.body
        return response

    def visitor(self) -> Visitor:
        visitor = Visitor(self.widget, self.widget_key)
        visitor.start_session()
        return visitor

    def agent_item(self, name: str) -> dict[str, Any]:
        item = ddb.get(
            self.stack.table("WorkspacesTable"), *keys.agent(self.ws, self.members[name].user_id)
        )
        assert item is not None
        return item


def ask_for_human(visitor: Visitor, conversation_id: str, **body: Any) -> Response:
    return visitor.call(
        "widget_request_handoff",
        path_params={"conversation_id": conversation_id},
        json_body=body,
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def put_department(workspaces_table: str, ws: str, department_id: str) -> None:
    """A round-robin department item written directly (proofs that bypass the team API)."""
    ddb.put(
        workspaces_table,
        {
            "pk": ws,
            "sk": f"DEPT#{department_id}",
            "item_type": "department",
            "workspace_id": ws,
            "department_id": department_id,
            "name": "Support",
            "routing_strategy": "round_robin",
        },
    )


def put_online_agent(
    workspaces_table: str, ws: str, user_id: str, departments: list[str], capacity: int = 2
) -> None:
    """An agent item as the team API stores it, online for the whole proof."""
    ddb.put(
        workspaces_table,
        {
            "pk": ws,
            "sk": f"AGENT#{user_id}",
            "item_type": "agent",
            "workspace_id": ws,
            "user_id": user_id,
            "role": "agent",
            "departments": departments,
            "capacity": capacity,
            "open_count": 0,
            "status": "online",
            "presence_expires_at": clock.epoch() + 3600,
        },
    )
