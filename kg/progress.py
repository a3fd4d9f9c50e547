"""Progress bars on stderr for the long stages of a build (tqdm), silent when nobody is watching.

    >>> from kg.progress import Progress
    >>> progress = Progress(enabled=False)
    >>> with progress.bar("read", total=3, unit="rows") as bar:
    ...     bar.update(3)

``Progress()`` shows bars only when stderr is a terminal; ``Progress(enabled=False)`` (``--quiet``)
never does, ``Progress(enabled=True)`` always does (benchmarks writing to a log).
"""
from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator


class _NoBar:
    """What a stage calls on a bar, doing nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


class Progress:
    """Makes one bar per stage; carried by the build, never a global setting.

    Args:
        enabled: True or False to force, None to show bars only when stderr is a terminal.
    """

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else bool(enabled)

    def bar(self, desc: str, *, total: int | None = None, unit: str = "it") -> Any:
        """A context manager with ``update(n)``: a tqdm bar on stderr, or a no-op when disabled."""
        if not self.enabled:
            return _NoBar()
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, mininterval=0.5, smoothing=0.1,
                    file=sys.stderr, leave=True, dynamic_ncols=True)

    @contextmanager
    def stage(self, desc: str) -> Iterator[None]:
        """A stage that reports no steps (a bulk load): its elapsed time, ticking once a second."""
        if not self.enabled:
            yield
            return
        from tqdm import tqdm

        done = threading.Event()
        with tqdm(total=None, desc=desc, bar_format="{desc}: {elapsed}", file=sys.stderr) as bar:
            ticker = threading.Thread(target=_tick, args=(bar, done), daemon=True)
            ticker.start()
            try:
                yield
            finally:
                done.set()
                ticker.join()
                bar.refresh()


def _tick(bar: Any, done: threading.Event) -> None:
    while not done.wait(1.0):
        bar.refresh()


__all__ = ["Progress"]
