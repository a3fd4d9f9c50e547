"""Run the app with uvicorn in a background thread on a free loopback port (tests, scripts/)."""
from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Iterator

from kg.server.connection import REQUEST_SECONDS, server_config

STARTUP_SECONDS = 120.0


@contextlib.contextmanager
def serve_in_thread(app, host: str = "127.0.0.1", log_level: str = "warning",
                    request_seconds: float = REQUEST_SECONDS) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL, e.g. ``http://127.0.0.1:54321``.

    >>> with serve_in_thread(create_app(kg)) as url:          # doctest: +SKIP
    ...     urllib.request.urlopen(url + "/sparql?query=ASK{}")
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = server_config(app, log_level=log_level, lifespan="on", request_seconds=request_seconds)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the server did not start (see the log above)")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
