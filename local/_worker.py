"""A Lambda-like execution environment for one function (run as a script, never imported).

    python -P -u _worker.py <inbox_fd> <outbox_fd> <code_dir> [<layer_dir> ...]

The handler named by `_HANDLER` is imported once (the cold start), then invocations arrive as JSON
lines on the inbox pipe and results leave on the outbox pipe. stdout and stderr stay free for the
function's own logs. Only the standard library is imported here so that sys.path holds nothing
but the function's code, its layers and site-packages, as in Lambda.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any, TextIO


class LambdaContext:
    """Mirrors the Python runtime's context object (memory_limit_in_mb is a string there too)."""

    def __init__(self, request_id: str, deadline_ms: int, invoked_function_arn: str) -> None:
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.client_context = None
        self.identity = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, message: str) -> None:
        sys.stdout.write(message)


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def _send(outbox: TextIO, message: dict[str, Any]) -> None:
    # Logs first, so a request's log lines are printed before the stack reports its result.
    sys.stdout.flush()
    sys.stderr.flush()
    outbox.write(json.dumps(message) + "\n")
    outbox.flush()


def _load_handler(spec: str) -> Any:
    module_name, _, function_name = spec.rpartition(".")
    module = importlib.import_module(module_name.replace("/", "."))
    return getattr(module, function_name)


def main(argv: list[str]) -> int:
    inbox_fd, outbox_fd, *paths = argv[1:]
    sys.path[0:0] = paths
    inbox = os.fdopen(int(inbox_fd), encoding="utf-8")
    outbox = os.fdopen(int(outbox_fd), "w", encoding="utf-8")

    try:
        handler = _load_handler(os.environ["_HANDLER"])
    except (ImportError, SyntaxError) as exc:
        traceback.print_exc()
        _send(outbox, {"type": "init_error", "error": _error(exc, "Runtime.ImportModuleError")})
        return 1
    except AttributeError as exc:
        _send(outbox, {"type": "init_error", "error": _error(exc, "Runtime.HandlerNotFound")})
        return 1
    except Exception as exc:
        traceback.print_exc()
        _send(outbox, {"type": "init_error", "error": _error(exc)})
        return 1
    _send(outbox, {"type": "ready"})

    # Ends when the stack closes the pipe.
    for line in inbox:
        message = json.loads(line)
        request_id = message["request_id"]
        os.environ["_X_AMZN_TRACE_ID"] = message.get("trace_id", "")
        context = LambdaContext(request_id, message["deadline_ms"], message["function_arn"])
        try:
            result = handler(message["event"], context)
        except Exception as exc:
            traceback.print_exc()
            reply = {"type": "error", "request_id": request_id, "error": _error(exc)}
        else:
            try:
                json.dumps(result)
                reply = {"type": "result", "request_id": request_id, "result": result}
            except (TypeError, ValueError) as exc:
                error = _error(exc, "Runtime.MarshalError")
                error["errorMessage"] = f"Unable to marshal response: {exc}"
                reply = {"type": "error", "request_id": request_id, "error": error}
        _send(outbox, reply)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
