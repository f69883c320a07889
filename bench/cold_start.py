"""Cold starts: fresh Python 3.13 processes importing a handler and serving one request.

Each run is one `cold_child.py` process with the environment Lambda would give the function
(template variables, Lambda's own variables, tracing on) plus AWS_ENDPOINT_URL pointing at the
moto server. Handlers run alternately so both share the machine's noise; one discarded warm-up
run of each fills the OS file cache first.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.runtime import Runtime

CHILD = Path(__file__).with_name("cold_child.py")
CHILD_TIMEOUT_S = 60
FIGURES = (
    "import_ms",
    "first_request_ms",
    "cold_total_ms",
    "process_ms",
    "warm_request_ms",
    "modules_loaded",
)


@dataclass(frozen=True)
class Handler:
    name: str
    task_root: Path
    module: str
    env: Mapping[str, str]
    handler: str = "lambda_handler"


def lambda_env(
    function_name: str, task_root: Path, endpoint_url: str, function_env: Mapping[str, str]
) -> dict[str, str]:
    """What the Lambda python3.13 runtime sets, plus the function's template variables."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]bench",
        "LAMBDA_TASK_ROOT": str(task_root),
        "_HANDLER": "app.lambda_handler",
        # Tracing: Active. Segments go over UDP to a daemon that is not there; sends never block.
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
        "Sampled=1",
        **function_env,
    }


def run_once(
    runtime: Runtime, handler: Handler, event: Mapping[str, Any], importtime: bool = False
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="yoosr-bench-") as scratch:
        job = Path(scratch) / "job.json"
        result_path = Path(scratch) / "result.json"
        job.write_text(
            json.dumps(
                {
                    "task_root": str(handler.task_root),
                    "opt_python": str(runtime.opt_python),
                    "module": handler.module,
                    "handler": handler.handler,
                    "event": event,
                    "result_path": str(result_path),
                }
            )
        )
        started = time.perf_counter()
        # -I: no PYTHONPATH or user site; -B: /var/task and /opt are read-only in Lambda, so
        # nothing compiled at import time is ever cached.
        flags = ["-I", "-B", *(["-X", "importtime"] if importtime else [])]
        done = subprocess.run(
            [str(runtime.python), *flags, str(CHILD), str(job)],
            env=dict(handler.env),
            cwd=handler.task_root,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
            check=False,
        )
        process_ms = (time.perf_counter() - started) * 1000
        if done.returncode != 0 or not result_path.exists():
            raise RuntimeError(
                f"{handler.name} cold start failed ({done.returncode}):\n"
                f"{done.stderr[-3000:]}\n{done.stdout[-1500:]}"
            )
        result: dict[str, Any] = json.loads(result_path.read_text())
    if result["status"] != 200 or result["warm_status"] != 200:
        raise RuntimeError(
            f"{handler.name} answered {result['status']}/{result['warm_status']}:"
            f" {result['body']}\n{done.stdout[-1500:]}"
        )
    return {
        "import_ms": result["import_ms"],
        "first_request_ms": result["first_request_ms"],
        "cold_total_ms": result["import_ms"] + result["first_request_ms"],
        "process_ms": process_ms,
        "warm_request_ms": result["warm_request_ms"],
        "modules_loaded": result["modules_loaded"],
        "stderr": done.stderr,
    }


def measure(
    runtime: Runtime, handlers: list[Handler], event: Mapping[str, Any], runs: int, log: Any = None
) -> dict[str, dict[str, Any]]:
    """Median (and spread) of each figure per handler, over `runs` alternating rounds."""
    for handler in handlers:  # warm-up, discarded
        run_once(runtime, handler, event)
    samples: dict[str, list[dict[str, Any]]] = {h.name: [] for h in handlers}
    for round_no in range(runs):
        order = handlers if round_no % 2 == 0 else list(reversed(handlers))
        for handler in order:
            samples[handler.name].append(run_once(runtime, handler, event))
        if log:
            log(
                f"cold start round {round_no + 1}/{runs}: "
                + ", ".join(
                    f"{name} {runs_[-1]['cold_total_ms']:.0f} ms" for name, runs_ in samples.items()
                )
            )
    out: dict[str, dict[str, Any]] = {}
    for name, runs_ in samples.items():
        out[name] = {
            figure: {
                "median": statistics.median(r[figure] for r in runs_),
                "min": min(r[figure] for r in runs_),
                "max": max(r[figure] for r in runs_),
            }
            for figure in FIGURES
        }
        out[name]["runs"] = len(runs_)
    return out


def import_profile(
    runtime: Runtime, handler: Handler, event: Mapping[str, Any]
) -> dict[str, float]:
    """Self import time (ms) per top-level package over one `-X importtime` cold start,
    imports made while serving the first request included. importtime adds its own overhead:
    read it for proportions, not absolute figures."""
    stderr = run_once(runtime, handler, event, importtime=True)["stderr"]
    by_package: dict[str, float] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line.split("|")
        self_us = parts[0].split(":")[1].strip()
        if not self_us.isdigit():  # the header line
            continue
        top = parts[2].strip().split(".")[0]
        if top == handler.module:
            group = "handler module (compile + app/route setup)"
        elif top in sys.stdlib_module_names or top.startswith("_"):
            group = "standard library"
        else:
            group = top
        by_package[group] = by_package.get(group, 0.0) + int(self_us) / 1000
    return dict(sorted(by_package.items(), key=lambda kv: -kv[1]))
