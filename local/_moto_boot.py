"""moto's server, one request at a time (run as a script by local.moto_server, never imported).

    python -P _moto_boot.py <host> <port>

moto's backends are not thread-safe: concurrent requests can corrupt a table or let two
conditional writes on one item both succeed. A lock around each request makes every call atomic,
as the real services are. An SQS receive that may long-poll skips the lock: holding it while
waiting for messages would stall every other caller, including the senders.

Prints "ready <port>" once listening, then serves until stdin closes (the stack exited).
"""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


def _apply_moto_fixes() -> None:
    """Load local/moto_fixes.py by path: run with -P, this script's folder is not importable."""
    import importlib.util  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    spec = importlib.util.spec_from_file_location(
        "yoosr_moto_fixes", Path(__file__).with_name("moto_fixes.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.apply()


WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


def _may_long_poll(environ: dict[str, Any]) -> bool:
    if environ.get("HTTP_X_AMZ_TARGET") != "AmazonSQS.ReceiveMessage":
        return False
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        wait = json.loads(body or b"{}").get("WaitTimeSeconds")
    except ValueError:
        return True
    # Without WaitTimeSeconds the queue's own ReceiveMessageWaitTimeSeconds applies.
    return wait is None or int(wait) > 0


class SerializedApp:
    """WSGI middleware that runs one request at a time."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if _may_long_poll(environ):
            return self._app(environ, start_response)
        with self._lock:
            # The body is produced inside the lock too: moto may build it lazily.
            return list(self._app(environ, start_response))


def main(argv: list[str]) -> int:
    host, port = argv[1], int(argv[2])
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _apply_moto_fixes()
    app = SerializedApp(DomainDispatcherApplication(create_backend_app))
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, name="moto", daemon=True).start()
    print("ready", server.server_port, flush=True)
    sys.stdout = sys.stderr  # nobody reads the pipe after "ready"
    sys.stdin.read()
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
