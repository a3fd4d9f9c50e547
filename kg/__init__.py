"""tsunagari: knowledge graph and semantic search over Japan's local projects against loneliness and isolation."""
from kg.api import BuildReport, Tsunagari, bundled_source
from kg.errors import KgError, NotFound, RowError, SourceError, StoreError, ValidationError
from kg.records import Organization, PlaceRef, Project, Tag

__all__ = ["Tsunagari", "BuildReport", "bundled_source", "KgError", "NotFound", "RowError", "SourceError",
           "StoreError", "ValidationError", "Project", "Organization", "PlaceRef", "Tag"]
