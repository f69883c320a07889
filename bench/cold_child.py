"""One cold start, run in a fresh Python 3.13 process by bench/cold_start.py.

Laid out the way Lambda loads a function: sys.path is the function's folder (LAMBDA_TASK_ROOT),
then /opt/python (both layers, merged), then the interpreter's site-packages, which hold boto3
as the Lambda runtime does. The handler module is imported by name, as the runtime's bootstrap
does, then called with an API Gateway payload 2.0 event. Only the standard library the
bootstrap itself uses is loaded before the clock starts.

Usage: python -I -B cold_child.py <job.json>. Writes its figures to the job's result_path and
leaves without interpreter teardown (Lambda keeps the process; teardown is not cold start).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from typing import Any


class LambdaContext:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "bench")
    function_version = "$LATEST"
    memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"))
    invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
    log_group_name = f"/aws/lambda/{function_name}"
    log_stream_name = "2026/01/01/[$LATEST]bench"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def main(job_path: str) -> int:
    with open(job_path, encoding="utf-8") as handle:
        job: dict[str, Any] = json.load(handle)
    first_event, second_event = job["event"], json.loads(json.dumps(job["event"]))

    started = time.perf_counter()
    sys.path[:0] = [job["task_root"], job["opt_python"]]
    # The statement form, not importlib.import_module as the runtime does: same work, but
    # visible to -X importtime (which only sees imports through the import statement).
    module = __import__(job["module"])
    handler = getattr(module, job["handler"])
    imported = time.perf_counter()
    first = handler(first_event, LambdaContext())
    served = time.perf_counter()
    second = handler(second_event, LambdaContext())
    warm = time.perf_counter()

    result = {
        "import_ms": (imported - started) * 1000,
        "first_request_ms": (served - imported) * 1000,
        "warm_request_ms": (warm - served) * 1000,
        "status": first.get("statusCode"),
        "warm_status": second.get("statusCode"),
        "body": first.get("body"),
        "modules_loaded": len(sys.modules),
    }
    with open(job["result_path"], "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
