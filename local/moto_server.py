"""A moto server on loopback, in a thread of the stack's process."""

from __future__ import annotations

import logging
import socket
import urllib.request

from moto.moto_server.threaded_moto_server import ThreadedMotoServer


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class MotoServer:
    """Starts and stops moto's threaded server; `port=0` picks a free port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._server: ThreadedMotoServer | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        # werkzeug logs every request at INFO; the stack's console is for function logs.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        self.reset()
        return self.endpoint_url

    def reset(self) -> None:
        """Forget every resource: moto's backends are per process, shared by its servers."""
        url = f"{self.endpoint_url}/moto-api/reset"
        request = urllib.request.Request(url, method="POST")  # noqa: S310 - http on loopback
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()

    def stop(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        server.stop()
        # ThreadedMotoServer.stop() leaves the listening socket open.
        wsgi = getattr(server, "_server", None)
        if wsgi is not None:
            wsgi.server_close()
