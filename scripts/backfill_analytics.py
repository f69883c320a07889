"""Rebuild one workspace's analytics rollups from its stored conversations.

    python -m scripts.backfill_analytics --workspace ws_… [--stack yoosr] [--json]

Table names come from --workspaces-table / --conversations-table / --analytics-table /
--privacy-requests-table, else the deployed stack's outputs (--stack, CloudFormation
DescribeStacks), else the local stack's names (yoosr-local-…). boto3 uses whatever AWS
credentials and AWS_ENDPOINT_URL are set, so against `make dev` run it with
AWS_ENDPOINT_URL=http://127.0.0.1:3001 (credentials.json's aws_endpoint_url).
docs/metrics.md, "Backfill", says what it rebuilds and what it cannot.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCAL_PREFIX = "yoosr-local-"
OUTPUTS = {
    "workspaces": "WorkspacesTableName",
    "conversations": "ConversationsTableName",
    "analytics": "AnalyticsTableName",
    "privacy-requests": "PrivacyRequestsTableName",
}


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--workspace", required=True, help="workspace id (ws_…)")
    parser.add_argument("--stack", help="CloudFormation stack whose outputs name the tables")
    for table in OUTPUTS:
        parser.add_argument(f"--{table}-table", help=f"the {table} table's name")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser.parse_args(argv)


def _table_names(args: argparse.Namespace) -> dict[str, str]:
    given = {table: getattr(args, f"{table.replace('-', '_')}_table") for table in OUTPUTS}
    if all(given.values()):
        return given
    outputs: dict[str, str] = {}
    if args.stack:
        import boto3  # noqa: PLC0415 - only when asked for a stack

        (stack,) = boto3.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    names = {}
    for table, output in OUTPUTS.items():
        logical_id = output.removesuffix("Name")
        names[table] = given[table] or outputs.get(output) or LOCAL_PREFIX + logical_id
    return names


def main(argv: Sequence[str] | None = None) -> int:
    args = _args(argv)
    core = str(ROOT / "layers" / "core")
    if core not in sys.path:
        sys.path.insert(0, core)
    os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1"))
    from yoosr.analytics.backfill import rebuild  # noqa: PLC0415 - after sys.path is set

    names = _table_names(args)
    result = rebuild(
        names["workspaces"],
        names["conversations"],
        names["analytics"],
        args.workspace,
        names["privacy-requests"],
    )
    if args.json:
        print(json.dumps(asdict(result), indent=2))
    else:
        print(
            f"{result.workspace_id} ({result.timezone}): {result.conversations} conversations, "
            f"{result.privacy_requests} privacy requests, {result.increments} increments → "
            f"{result.items_written} rollup items written, "
            f"{result.items_deleted} stale items deleted"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
