"""A bound on work the pages run in threads: at most a few at once and a few more in line, the rest
turned away at once (503), so that a flood of long searches cannot hold every thread the pages share."""
from __future__ import annotations

import asyncio
from typing import Any, Callable

from starlette.concurrency import run_in_threadpool

from kg.errors import KgError


class Busy(KgError):
    """Too much of this work is running and waiting: try again in a moment (503)."""


class Gate:
    """Runs a blocking call in the thread pool with at most ``running`` at once and ``waiting`` in line.

    >>> gate = Gate("searches", running=2, waiting=16)                     # doctest: +SKIP
    >>> found = await gate.run(site.search, "men's shed", top=10)           # doctest: +SKIP
    """

    def __init__(self, what: str, *, running: int, waiting: int) -> None:
        self.what, self.running, self.waiting = what, running, waiting
        self._slots: asyncio.Semaphore | None = None       # made in the server's event loop
        self._in_line = 0

    async def run(self, call: Callable[..., Any], *args: Any, **options: Any) -> Any:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.running)
        if self._slots.locked() and self._in_line >= self.waiting:
            raise Busy(f"the server is busy: {self.running} {self.what} running and {self._in_line} waiting — "
                       "try again in a moment")
        self._in_line += 1
        try:
            await self._slots.acquire()
        finally:
            self._in_line -= 1
        try:
            return await run_in_threadpool(call, *args, **options)
        finally:
            self._slots.release()
