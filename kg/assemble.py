"""Source rows -> Project records: organisations merged by key, regions parsed, concepts tagged."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from kg.errors import RowError
from kg.normalize.concepts import ConceptSchemes
from kg.normalize.organizations import parse_organization
from kg.normalize.regions import Gazetteer
from kg.records import Organization, Project, Provenance
from kg.sources import SourceRead, SourceRow


@dataclass(frozen=True)
class SourceInfo:
    """One input file: its name (not its path, so the graph does not depend on where it lies) and content hash."""

    name: str
    sha256: str
    title: str
    rows: int


@dataclass
class Dataset:
    """Everything a build produces before it becomes a graph."""

    projects: list[Project] = field(default_factory=list)
    organizations: dict[str, Organization] = field(default_factory=dict)
    org_labels: dict[str, set[str]] = field(default_factory=dict)   # key -> other written forms
    sources: list[SourceInfo] = field(default_factory=list)
    problems: list[RowError] = field(default_factory=list)


def assemble(reads: list[SourceRead], gazetteer: Gazetteer | None = None,
             concepts: ConceptSchemes | None = None) -> Dataset:
    """Normalise and merge the rows of several sources into one dataset (deterministic order)."""
    gazetteer = gazetteer or Gazetteer.load()
    concepts = concepts or ConceptSchemes.load()
    data = Dataset()
    seen: dict[str, str] = {}
    for read in reads:
        name = os.path.basename(read.file)
        data.sources.append(SourceInfo(name, read.sha256, read.title, len(read.rows)))
        data.problems.extend(read.problems)
        used_numbers = {row.number for row in read.rows if row.number is not None}
        next_number = 1
        for row in read.rows:
            number = row.number
            if number is None:
                while next_number in used_numbers:
                    next_number += 1
                number = next_number
                used_numbers.add(number)
            project = project_from_row(row, number, name, data, seen, gazetteer, concepts)
            if project is not None:
                data.projects.append(project)
    data.projects.sort(key=lambda p: p.id)
    return data


def project_from_row(row: SourceRow, number: int, name: str, data: Dataset, seen: dict[str, str],
                     gazetteer: Gazetteer, concepts: ConceptSchemes) -> Project | None:
    """One source row -> a Project (organisation merged, regions parsed, tags found); problems go to ``data``.

    ``seen`` maps project ids already read to where they came from: a duplicate id is skipped with an error.
    """
    project_id = f"{row.programme}-fy{row.fiscal_year}-{number:03d}"
    if project_id in seen:
        data.problems.append(RowError(row.file, row.line, "No./number",
                                      f"duplicate project {project_id}, already read from {seen[project_id]}",
                                      "give each project its own number", page=row.page))
        return None
    seen[project_id] = f"{name}:{row.line}"
    organization = _merge_organization(data, row.organization, row.alt_organizations)
    regions = gazetteer.parse(row.region)
    if regions.unresolved:
        data.problems.append(RowError(
            row.file, row.line, "活動地域/region",
            f"could not resolve {', '.join(repr(u) for u in regions.unresolved)} in {row.region!r}",
            "write places as 都道府県+市区町村 (e.g. 東京都豊島区) or add the variant to the gazetteer",
            "warning", row.page))
    tags = concepts.tag(" ".join((row.title,) + row.alt_titles), row.description, row.organization)
    return Project(
        id=project_id, programme=row.programme, fiscal_year=row.fiscal_year, number=number,
        title=row.title, organization=organization, region_text=row.region,
        prior_adoption=row.prior_adoption,
        provenance=Provenance(name, row.line, row.fiscal_year, row.programme, row.page),
        regions=regions, alt_titles=row.alt_titles, category=row.category,
        description=row.description, tags=tags,
    )


def _merge_organization(data: Dataset, written: str, variants: tuple[str, ...]) -> Organization:
    """The same organisation across rows and sources is one record, keyed by its normalised name."""
    parsed = parse_organization(written)
    known = data.organizations.setdefault(parsed.key, parsed)
    labels = data.org_labels.setdefault(parsed.key, set())
    for text in (written, *variants):
        if text != known.written:
            labels.add(text)
    return known
