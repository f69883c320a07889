"""Per-function pools of worker processes, each a Lambda-like execution environment."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
INIT_TIMEOUT_S = 10.0
"""Lambda gives a function's init phase 10 s; a slower cold start fails the same way here."""


@dataclass(frozen=True)
class FunctionRuntime:
    """Everything needed to start a function's execution environment."""

    logical_id: str
    function_name: str
    function_arn: str
    handler: str
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    timeout_s: float
    memory_mb: int
    environment: Mapping[str, str]
    log_group: str
    runtime: str = "python3.13"

    def process_environment(self, log_stream: str) -> dict[str, str]:
        """The environment a worker sees: Lambda's variables, then the function's own."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": "UTC",
            "_HANDLER": self.handler,
            "LAMBDA_TASK_ROOT": str(self.code_dir),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{self.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": self.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            # No X-Ray daemon runs locally; without this the tracer would log send failures.
            "POWERTOOLS_TRACE_DISABLED": "true",
            # Never read the developer's own AWS profile: moto is the only AWS here.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
        env.update(self.environment)
        return env


@dataclass
class Invocation:
    """The outcome of one invocation: status is ok, error, timeout or throttled."""

    status: str
    request_id: str
    result: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class LogSink:
    """Writes worker output to the console (prefixed with the function) and to log files."""

    def __init__(self, log_dir: Path | None = None, stream: IO[str] | None = None) -> None:
        self._log_dir = log_dir
        self._stream = stream if stream is not None else sys.stdout
        self._lock = threading.Lock()
        self._files: dict[str, IO[str]] = {}
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)

    def write(self, function: str, line: str) -> None:
        line = line.rstrip("\n")
        with self._lock:
            with contextlib.suppress(ValueError, OSError):
                self._stream.write(f"{function} | {line}\n")
                self._stream.flush()
            if self._log_dir is not None:
                handle = self._files.get(function)
                if handle is None:
                    path = self._log_dir / f"{function}.log"
                    handle = self._files[function] = path.open("a", encoding="utf-8")
                handle.write(line + "\n")
                handle.flush()

    def close(self) -> None:
        with self._lock:
            for handle in self._files.values():
                handle.close()
            self._files.clear()


class WorkerError(RuntimeError):
    """A worker could not start (its init failed or timed out)."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("errorMessage", "worker failed"))
        self.error = error


class Worker:
    """One execution environment: a subprocess that imported the handler and serves invocations."""

    def __init__(self, runtime: FunctionRuntime, sink: LogSink) -> None:
        self.runtime = runtime
        self.generation = 0
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        stream_id = secrets.token_hex(16)
        log_stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{stream_id}"
        inbox_read, inbox_write = os.pipe()
        outbox_read, outbox_write = os.pipe()
        paths = [str(runtime.code_dir), *(str(p) for p in runtime.layer_dirs)]
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-P",
                    "-u",
                    str(WORKER_SCRIPT),
                    str(inbox_read),
                    str(outbox_write),
                    *paths,
                ],
                env=runtime.process_environment(log_stream),
                cwd=runtime.code_dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(inbox_read, outbox_write),
                # Own session: a Ctrl-C in the terminal reaches the stack, which stops workers.
                start_new_session=True,
                text=True,
                encoding="utf-8",
                errors="replace",
            )
        finally:
            os.close(inbox_read)
            os.close(outbox_write)
        self._inbox = os.fdopen(inbox_write, "w", encoding="utf-8")
        outbox = os.fdopen(outbox_read, encoding="utf-8")
        self._threads = [
            threading.Thread(target=self._pump_replies, args=(outbox,), daemon=True),
            threading.Thread(target=self._pump_logs, args=(self.process.stdout, sink), daemon=True),
            threading.Thread(target=self._pump_logs, args=(self.process.stderr, sink), daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self.healthy = True

    def _pump_replies(self, outbox: IO[str]) -> None:
        with outbox:
            for line in outbox:
                try:
                    self._replies.put(json.loads(line))
                except ValueError:
                    log.warning("%s: unreadable reply from worker", self.runtime.logical_id)
        self._replies.put(None)

    def _pump_logs(self, stream: IO[str] | None, sink: LogSink) -> None:
        if stream is None:
            return
        with stream:
            for line in stream:
                sink.write(self.runtime.logical_id, line)

    def wait_ready(self, timeout_s: float) -> None:
        """Block until the handler is imported; raise WorkerError if init fails."""
        try:
            reply = self._replies.get(timeout=timeout_s)
        except queue.Empty:
            self.kill()
            raise WorkerError(
                {"errorType": "Runtime.InitTimeout", "errorMessage": "init timed out"}
            ) from None
        if reply is None or reply.get("type") != "ready":
            self.kill()
            error = (reply or {}).get("error") or {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"worker exited during init ({self.process.poll()})",
            }
            raise WorkerError(error)

    def invoke(self, event: Any, request_id: str, deadline: float) -> Invocation:
        """Run one invocation; on timeout or crash the worker is marked unhealthy (and killed)."""
        started = time.monotonic()
        message = {
            "request_id": request_id,
            "event": event,
            "deadline_ms": int((time.time() + deadline - started) * 1000),
            "function_arn": self.runtime.function_arn,
            "trace_id": f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Sampled=0",
        }
        try:
            self._inbox.write(json.dumps(message) + "\n")
            self._inbox.flush()
        except (BrokenPipeError, OSError, ValueError):
            self.kill()
            return Invocation("error", request_id, error=_exit_error(self.process.poll()))
        while True:
            remaining = deadline - time.monotonic()
            try:
                reply = self._replies.get(timeout=max(remaining, 0.0))
            except queue.Empty:
                self.kill()
                error = {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"Task timed out after {self.runtime.timeout_s:.2f} seconds",
                }
                return Invocation("timeout", request_id, error=error, duration_ms=_ms(started))
            if reply is None:
                self.kill()
                return Invocation(
                    "error",
                    request_id,
                    error=_exit_error(self.process.poll()),
                    duration_ms=_ms(started),
                )
            if reply.get("request_id") != request_id:
                continue  # a late reply to an earlier request cannot happen, but never mix them up
            if reply["type"] == "result":
                return Invocation(
                    "ok", request_id, result=reply["result"], duration_ms=_ms(started)
                )
            return Invocation(
                "error", request_id, error=reply.get("error"), duration_ms=_ms(started)
            )

    def kill(self) -> None:
        self.healthy = False
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        with contextlib.suppress(OSError, ValueError):
            self._inbox.close()

    def close(self, grace_s: float = 2.0) -> None:
        """Ask the worker to exit (closing its inbox), then kill it if it lingers."""
        with contextlib.suppress(OSError, ValueError):
            self._inbox.close()
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.kill()
        self.healthy = False
        for thread in self._threads:
            thread.join(timeout=1)


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def _exit_error(code: int | None) -> dict[str, Any]:
    return {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: worker exited with status {code}",
    }


@dataclass
class FunctionPool:
    """Up to `size` workers of one function; concurrent invocations run in parallel."""

    runtime: FunctionRuntime
    sink: LogSink
    size: int = 4
    _idle: list[Worker] = field(default_factory=list)
    _all: set[Worker] = field(default_factory=set)
    _count: int = 0
    _generation: int = 0
    _closed: bool = False
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def invoke(self, event: Any, request_id: str | None = None) -> Invocation:
        """Invoke the function with `event`, as Lambda's synchronous Invoke would."""
        request_id = request_id or str(uuid.uuid4())
        timeout_s = self.runtime.timeout_s
        try:
            worker = self._acquire(wait_s=max(30.0, 2 * timeout_s))
        except WorkerError as exc:
            return Invocation("error", request_id, error=exc.error)
        if worker is None:
            error = {"errorType": "TooManyRequestsException", "errorMessage": "Rate Exceeded."}
            return Invocation("throttled", request_id, error=error)
        try:
            return worker.invoke(event, request_id, time.monotonic() + timeout_s)
        finally:
            self._release(worker)

    def prewarm(self) -> None:
        """Start one worker now so the first request does not pay the cold start."""
        try:
            worker = self._acquire(wait_s=0)
        except WorkerError as exc:
            log.warning("%s failed to start: %s", self.runtime.logical_id, exc)
            return
        if worker is not None:
            self._release(worker)

    def _acquire(self, wait_s: float) -> Worker | None:
        with self._cond:
            available = self._cond.wait_for(
                lambda: self._closed or bool(self._idle) or self._count < self.size, timeout=wait_s
            )
            if self._closed or not available:
                return None
            if self._idle:
                return self._idle.pop()
            self._count += 1
            generation = self._generation
        worker: Worker | None = None
        try:
            worker = Worker(self.runtime, self.sink)
            worker.generation = generation
            with self._cond:
                closed = self._closed
                if not closed:
                    self._all.add(worker)
            if closed:
                worker.kill()
                raise WorkerError(
                    {"errorType": "Runtime.Stopped", "errorMessage": "stack stopping"}
                )
            worker.wait_ready(max(INIT_TIMEOUT_S, self.runtime.timeout_s))
        except BaseException:
            with self._cond:
                self._count -= 1
                if worker is not None:
                    self._all.discard(worker)
                self._cond.notify()
            raise
        return worker

    def _release(self, worker: Worker) -> None:
        with self._cond:
            keep = worker.healthy and not self._closed and worker.generation == self._generation
            if keep:
                self._idle.append(worker)
            else:
                # A timed-out or crashed worker is replaced, never reused: the next one is fresh.
                self._count -= 1
                self._all.discard(worker)
            self._cond.notify()
        if not keep:
            worker.close()

    def recycle(self) -> None:
        """Retire every worker (busy ones once finished) so that new code is loaded."""
        with self._cond:
            self._generation += 1
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._all.difference_update(idle)
            self._cond.notify_all()
        for worker in idle:
            worker.close()

    def close(self) -> None:
        """Stop every worker; an invocation still running gets an error."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = [w for w in self._all if w not in idle]
            self._all.clear()
            self._cond.notify_all()
        for worker in busy:
            worker.kill()
        for worker in idle:
            worker.close()
