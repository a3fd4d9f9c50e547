"""uvicorn's HTTP/1.1 protocol (h11) with a deadline for each request to arrive.

uvicorn waits for a request's headers and body for ever: a client that sends half a request and stops
(slowloris) holds its socket, and some thousands of them used up the process's file descriptors, so
that nobody was answered and no SPARQL worker could be restarted. Here a request that has not fully
arrived ``REQUEST_SECONDS`` after the connection opened (or after the previous answer on it) closes its
connection. Answers that take long are not affected: the deadline stops once the request is in.
"""
from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_SECONDS = 20.0


class TimelyH11Protocol(H11Protocol):
    """H11Protocol that closes a connection whose request does not arrive within ``REQUEST_SECONDS``."""

    request_seconds = REQUEST_SECONDS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._waiting_since = self.loop.time()
        self._deadline: asyncio.TimerHandle | None = self.loop.call_later(self.request_seconds, self._check)

    def on_response_complete(self) -> None:
        self._waiting_since = self.loop.time()      # the next request on this connection starts now
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)

    def _arriving(self) -> bool:
        """Whether a request is still on its way (headers or body), rather than in hand."""
        if self.conn.their_state is h11.IDLE:
            return self.cycle is None or self.cycle.response_complete
        return self.conn.their_state is h11.SEND_BODY

    def _check(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        late = self.loop.time() - self._waiting_since
        if self._arriving() and late >= self.request_seconds:
            self.transport.close()
            return
        wait = self.request_seconds - late if self._arriving() else self.request_seconds
        self._deadline = self.loop.call_later(max(wait, 0.05), self._check)


def server_config(app: Any, *, request_seconds: float = REQUEST_SECONDS, **options: Any) -> uvicorn.Config:
    """The uvicorn configuration every tsunagari server runs with: no Server header, and a deadline of
    ``request_seconds`` for each request to arrive (``options`` go to uvicorn.Config)."""
    protocol = type("TimelyH11", (TimelyH11Protocol,), {"request_seconds": request_seconds})
    return uvicorn.Config(app, server_header=False, http=protocol, **options)
