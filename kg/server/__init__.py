"""The web server: SPARQL 1.1 Protocol endpoint and server-rendered search pages (``tsunagari serve``).

    >>> from kg.server import create_app      # builds a Starlette app around an opened store
"""
from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so the SPARQL worker processes (kg.server._child) do not import Starlette.
    if name == "create_app":
        from kg.server.app import create_app

        return create_app
    raise AttributeError(f"module 'kg.server' has no attribute {name!r}")
