"""The shapes the surfaces read, defined once: an open store (a Protocol the facade satisfies).

The surfaces (frames, pictures, export, push, the server) type against ``OpenStore`` rather than
importing the facade, so no module imports from a layer above it (ARCHITECTURE.md).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import networkx
    import rdflib

    from kg.store import Generation, Store


class OpenStore(Protocol):
    """What a surface needs of an opened store (``kg.Tsunagari`` is one)."""

    store: "Store"
    generation: "Generation"
    folder: Path
    manifest: dict[str, Any]

    @property
    def graph(self) -> "rdflib.Graph": ...

    @property
    def network(self) -> "networkx.MultiDiGraph": ...

    def projects(self, *, prefecture: str | None = None, municipality: str | None = None,
                 block: str | None = None, target_group: str | None = None, theme: str | None = None,
                 fiscal_year: int | None = None, legal_form: str | None = None,
                 limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]: ...

    def count(self, **filters: Any) -> int: ...

    def project(self, project_id: str) -> dict[str, Any]: ...

    def similar(self, project_id: str, *, top: int = 10, **filters: Any) -> list[dict[str, Any]]: ...

    def search(self, text: str, *, top: int = 10, **filters: Any) -> list[dict[str, Any]]: ...
