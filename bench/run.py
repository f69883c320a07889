"""The Yoosr benchmark: cold start against a reference handler, and DynamoDB cost per message.

    python bench/run.py [--runs 7] [--messages 50]      (`make bench`)

Writes bench/results.json and the results table in BENCHMARKS.md, and prints the table.
Needs Python 3.13 somewhere (python3.13 on PATH, BENCH_PYTHON, or pyenv); the first run
creates .venv-bench (about 30 s with a warm pip cache). See BENCHMARKS.md for the method.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import signal
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make bench, local and tests importable
    sys.path.insert(0, str(ROOT))
for extra in (ROOT / "layers" / "core",):
    if str(extra) not in sys.path:
        sys.path.insert(1, str(extra))

from bench import analytics_reads, cold_start, dynamodb_cost, report  # noqa: E402
from bench.runtime import prepare  # noqa: E402
from tests.support import FAKE_AWS_ENV, sample_event  # noqa: E402

ORIGIN = "http://localhost:3000"  # the origin in events/*.json


def _log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds: children killed, moto server stopped


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=9, help="cold starts per handler")
    parser.add_argument("--messages", type=int, default=50, help="short messages to post")
    parser.add_argument("--long-messages", type=int, default=10)
    parser.add_argument("--polls", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument(
        "--no-write",
        action="store_true",
        help="print the table only; leave results.json and BENCHMARKS.md",
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.messages < 1:
        parser.error("--runs and --messages must be positive")
    return args


def _machine(runtime_python: Path) -> dict[str, Any]:
    return {
        "description": f"{platform.machine()} Linux, {os.cpu_count()} CPUs, "
        f"Python 3.13 for cold starts, Python {platform.python_version()} "
        f"for the DynamoDB count, moto server on loopback",
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "bench_python": str(runtime_python.relative_to(ROOT)),
    }


def _config_event(widget_key: str) -> dict[str, Any]:
    event = sample_event("widget_get_config")
    event["headers"]["x-yoosr-widget-key"] = widget_key
    event["headers"]["origin"] = ORIGIN
    return event


def run(args: argparse.Namespace) -> dict[str, Any]:
    import boto3  # noqa: PLC0415 - imported after the AWS environment is set
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    from local.resources import create_resources, function_environment  # noqa: PLC0415
    from local.template import load_template  # noqa: PLC0415

    runtime = prepare()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per moto request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        os.environ["AWS_ENDPOINT_URL"] = endpoint  # yoosr.store.aws clients in this process
        template = load_template(ROOT / "template.yaml")
        resources = create_resources(template, boto3.Session(), endpoint_url=endpoint)
        widget_env = function_environment(template, "WidgetIngestFunction", resources)

        from yoosr.provisioning import (  # noqa: PLC0415 - needs the endpoint set
            issue_widget_key,
            provision_workspace,
        )

        table = str(resources.ref("WorkspacesTable"))
        workspace = provision_workspace(
            table, "org_bench", "Bench Shop", {"allowed_origins": [ORIGIN]}
        )
        widget_key = issue_widget_key(table, workspace.workspace_id)

        handlers = [
            cold_start.Handler(
                "widget_ingest",
                ROOT / "functions" / "widget_ingest",
                "app",
                cold_start.lambda_env(
                    "widget-ingest", ROOT / "functions" / "widget_ingest", endpoint, widget_env
                ),
            ),
            cold_start.Handler(
                "reference",
                ROOT / "bench",
                "reference_handler",
                cold_start.lambda_env(
                    "reference",
                    ROOT / "bench",
                    endpoint,
                    {**widget_env, "POWERTOOLS_SERVICE_NAME": "reference"},
                ),
            ),
        ]
        started = time.perf_counter()
        event = _config_event(widget_key)
        cold = cold_start.measure(runtime, handlers, event, args.runs, _log)
        profiles = {h.name: cold_start.import_profile(runtime, h, event) for h in handlers}
        _log(f"cold starts done in {time.perf_counter() - started:.0f} s")

        function_env = {
            **widget_env,
            **function_environment(template, "InboxEventsFunction", resources),
        }
        started = time.perf_counter()
        operations = dynamodb_cost.measure(
            template,
            resources,
            function_env,
            dynamodb_cost.Tenant(workspace.workspace_id, widget_key, ORIGIN),
            dynamodb_cost.Workload(args.sessions, args.messages, args.long_messages, args.polls),
            _log,
        )
        _log(f"DynamoDB counts done in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        analytics = analytics_reads.measure(
            template,
            resources,
            endpoint,
            function_environment(template, "AnalyticsFunction", resources),
            _log,
        )
        _log(f"analytics reads done in {time.perf_counter() - started:.0f} s")
    finally:
        server.stop()

    widget, reference = cold["widget_ingest"], cold["reference"]
    return {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": _machine(runtime.python),
        "cold_start": {
            "runs": args.runs,
            "request": "GET /v1/widget/config (one BatchGetItem: workspace + widget key)",
            "handlers": cold,
            "import_self_ms_by_package": profiles,
            "ratios": {
                key: widget[key]["median"] / reference[key]["median"] for key in cold_start.FIGURES
            },
        },
        "dynamodb": {
            "note": "capacity computed from item sizes; moto reports placeholders",
            "operations": operations,
        },
        "analytics_overview": analytics,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = _args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    os.environ.update(FAKE_AWS_ENV)
    started = time.perf_counter()
    results = run(args)
    table = report.markdown(results) if args.no_write else report.write(results)
    print(table)
    _log(
        f"done in {time.perf_counter() - started:.0f} s"
        + ("" if args.no_write else "; wrote bench/results.json and BENCHMARKS.md")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
