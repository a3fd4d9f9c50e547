"""Source rows -> Project records, one at a time: numbering, organisations merged by key, regions parsed,
concepts tagged, problems kept.

    >>> from kg.assemble import Assembler
    >>> from kg.sources import open_source
    >>> assembler = Assembler()
    >>> for project in assembler.projects(open_source("list.csv", fiscal_year=2025, programme="p")):  # doctest: +SKIP
    ...     print(project.id)

The build streams every source through one Assembler; ``assemble`` collects the same records into a
Dataset for small in-memory use (tests, notebooks, ``kg.rdf.to_graph``). What the Assembler keeps grows
with organisations and project ids (the spellings to merge, the duplicate check), never with rows.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kg.errors import RowError, quoted
from kg.normalize.concepts import FIELDS, ConceptSchemes
from kg.normalize.organizations import parse_organization
from kg.normalize.regions import Gazetteer
from kg.records import Organization, Project, Provenance, RegionParse, Tag
from kg.sources import Source, SourceRead, SourceRow
from kg.sources.stream import replay

REGION_CACHE = 50_000      # distinct 活動地域 texts remembered (lists repeat them a lot)
TAG_CACHE = 50_000         # distinct texts per field whose tags are remembered


@dataclass(frozen=True)
class SourceInfo:
    """One input file: its name (not its path, so the graph does not depend on where it lies) and content hash."""

    name: str
    sha256: str
    title: str
    rows: int


@dataclass
class Dataset:
    """Everything a build produces before it becomes a graph (in memory: for small lists)."""

    projects: list[Project] = field(default_factory=list)
    organizations: dict[str, Organization] = field(default_factory=dict)
    org_labels: dict[str, set[str]] = field(default_factory=dict)   # key -> other written forms
    sources: list[SourceInfo] = field(default_factory=list)
    problems: list[RowError] = field(default_factory=list)


class Assembler:
    """Turns the rows of several sources into projects, in file order, one source after the other.

    State shared across sources: the organisations (the first spelling seen names one; later spellings
    become labels), the project ids already read (a duplicate is skipped with an error) and the problems.
    """

    def __init__(self, gazetteer: Gazetteer | None = None, concepts: ConceptSchemes | None = None) -> None:
        self.gazetteer = gazetteer or Gazetteer.load()
        self.concepts = concepts or ConceptSchemes.load()
        self.organizations: dict[str, Organization] = {}
        self.org_labels: dict[str, set[str]] = {}
        self.sources: list[SourceInfo] = []
        self.problems: list[RowError] = []
        self.count = 0
        self._seen: dict[str, str] = {}
        self._regions: dict[str, RegionParse] = {}
        self._tag_cache: dict[str, dict[str, tuple[Tag, ...]]] = {name: {} for name in FIELDS}

    def projects(self, source: Source) -> Iterator[Project]:
        """The projects of one source, in file order; problems go to ``self.problems`` as they are met.

        Rows without a number get the lowest number no other row of the source states (read with
        ``source.numbers()``, a second pass, only if such a row exists).
        """
        same = next((s.name for s in self.sources if s.sha256 == source.sha256), None)
        if same is not None:
            # A copy under another name: its rows would all be duplicates, and one source has one name.
            self.problems.append(RowError(source.name, 1, "", f"the same content as {same} (SHA-256 "
                                          f"{source.sha256[:16]}…), which is already read: not read again",
                                          "name each list once", level="warning"))
            return
        used: set[int] | None = None
        next_number, loaded = 1, 0
        for row, problems in source.rows():
            self.problems.extend(problems)
            if row is None:
                continue
            loaded += 1
            number = row.number
            if number is None:
                if used is None:
                    used = source.numbers()
                while next_number in used:
                    next_number += 1
                number = next_number
                used.add(number)
            project = self.project(row, number, source.name)
            if project is not None:
                self.count += 1
                yield project
        self.sources.append(SourceInfo(source.name, source.sha256, source.title, loaded))

    def project(self, row: SourceRow, number: int, name: str) -> Project | None:
        """One row -> a Project (organisation merged, regions parsed, tags found); None for a duplicate id."""
        project_id = f"{row.programme}-fy{row.fiscal_year}-{number:03d}"
        if project_id in self._seen:
            self.problems.append(RowError(row.file, row.line, "No./number",
                                          f"duplicate project {project_id}, already read from {self._seen[project_id]}",
                                          "give each project its own number (a list whose rows state several "
                                          "years or programmes: build it without --fiscal-year and --programme)",
                                          page=row.page))
            return None
        self._seen[project_id] = f"{name}:{row.line}"
        organization = self._organization(row.organization, row.alt_organizations)
        regions = self._parse_regions(row.region)
        if regions.unresolved:
            self.problems.append(RowError(
                row.file, row.line, "活動地域/region",
                f"could not resolve {_listed(regions.unresolved)} in {quoted(row.region)}",
                "write places as 都道府県+市区町村 (e.g. 東京都豊島区) or add the variant to the gazetteer",
                "warning", row.page))
        tags = self._tags(" ".join((row.title,) + row.alt_titles), row.description, row.organization)
        return Project(
            id=project_id, programme=row.programme, fiscal_year=row.fiscal_year, number=number,
            title=row.title, organization=organization, region_text=row.region,
            prior_adoption=row.prior_adoption,
            provenance=Provenance(name, row.line, row.fiscal_year, row.programme, row.page),
            regions=regions, alt_titles=row.alt_titles, category=row.category,
            description=row.description, tags=tags,
        )

    def forget(self, organizations: bool = False) -> None:
        """Drop what only the reading needs (the ids seen, the caches): call when every source is read;
        with ``organizations``, the organisations too (once written)."""
        self._seen, self._regions = {}, {}
        self._tag_cache = {name: {} for name in FIELDS}
        if organizations:
            self.organizations, self.org_labels = {}, {}

    def dataset(self, projects: list[Project] | None = None) -> Dataset:
        """The organisations, sources and problems so far (and ``projects`` if given) as a Dataset."""
        return Dataset(projects=projects or [], organizations=self.organizations, org_labels=self.org_labels,
                       sources=self.sources, problems=self.problems)

    def _tags(self, title: str, description: str | None, organization: str) -> tuple[Tag, ...]:
        """``ConceptSchemes.tag`` field by field, each field's result remembered: titles and organisation
        names repeat across years. Same tags, same order (scheme, concept, field)."""
        found: list[Tag] = []
        for name, text in zip(FIELDS, (title, description, organization)):
            if not text:
                continue
            cache = self._tag_cache[name]
            tags = cache.get(text)
            if tags is None:
                fields = {f: (text if f == name else None) for f in FIELDS}      # one field at a time
                tags = self.concepts.tag(**fields)  # type: ignore[arg-type]  # title may be None here
                if len(cache) >= TAG_CACHE:
                    cache.clear()
                cache[text] = tags
            found.extend(tags)
        return tuple(sorted(found, key=lambda t: (t.scheme, t.concept, FIELDS.index(t.field))))

    def _parse_regions(self, text: str) -> RegionParse:
        parsed = self._regions.get(text)
        if parsed is None:
            parsed = self.gazetteer.parse(text)
            if len(self._regions) < REGION_CACHE:
                self._regions[text] = parsed
        return parsed

    def _organization(self, written: str, variants: tuple[str, ...]) -> Organization:
        """The same organisation across rows and sources is one record, keyed by its normalised name."""
        parsed = parse_organization(written)
        known = self.organizations.setdefault(parsed.key, parsed)
        labels = self.org_labels.setdefault(parsed.key, set())
        for text in (written, *variants):
            if text != known.written:
                labels.add(text)
        return known


def _listed(pieces: tuple[str, ...] | list[str], shown: int = 5) -> str:
    """The first pieces, quoted, and how many more (a hostile cell can hold thousands)."""
    text = ", ".join(quoted(piece) for piece in pieces[:shown])
    return text + (f" and {len(pieces) - shown:,} more" if len(pieces) > shown else "")


def source_of(read: SourceRead) -> Source:
    """A SourceRead (rows already in memory) as a Source that replays them."""
    return Source(Path(read.file), read.sha256, lambda: replay(read), title=read.title)


def assemble(reads: list[SourceRead], gazetteer: Gazetteer | None = None,
             concepts: ConceptSchemes | None = None) -> Dataset:
    """Normalise and merge the rows of several sources read whole into one Dataset (projects by id)."""
    assembler = Assembler(gazetteer, concepts)
    projects = [project for read in reads for project in assembler.projects(source_of(read))]
    return assembler.dataset(sorted(projects, key=lambda p: p.id))


__all__ = ["Assembler", "Dataset", "SourceInfo", "assemble", "source_of"]
