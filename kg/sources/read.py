"""What a reader returns: rows that loaded and located problems."""
from __future__ import annotations

from dataclasses import dataclass, field

from kg.errors import RowError
from kg.sources.fields import SourceRow


@dataclass
class SourceRead:
    """Result of reading one source: rows that loaded, plus every skipped row and warning, located."""

    file: str
    rows: list[SourceRow] = field(default_factory=list)
    problems: list[RowError] = field(default_factory=list)
    title: str = ""
    sha256: str = ""

    def add(self, row: SourceRow | None, problems: list[RowError]) -> None:
        if row is not None:
            self.rows.append(row)
        self.problems.extend(problems)

    @property
    def skipped(self) -> list[RowError]:
        return [p for p in self.problems if p.level == "error"]
