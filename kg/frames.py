"""pandas DataFrames over a store, for notebooks: projects, search results, prefecture counts, concepts.

    >>> from kg import Tsunagari
    >>> from kg.frames import projects_frame, counts_by_prefecture
    >>> kg = Tsunagari.open("tsunagari-store")                                  # doctest: +SKIP
    >>> projects_frame(kg, block="kinki")[["number", "title", "prefectures"]]   # doctest: +SKIP
    >>> counts_by_prefecture(kg).nlargest(5, "projects")                        # doctest: +SKIP

Every function reads the project views of the store (``kg.projects()``), so its filters are the same as
``tsunagari projects``: prefecture, municipality, block, target_group, theme, fiscal_year, legal_form.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

from kg.errors import KgError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from kg.shapes import OpenStore, Result

LABELS = ("id", "ja", "en")
PROJECT_COLUMNS = ("id", "fiscal_year", "number", "title", "organization", "legal_form", "prefectures",
                   "municipalities", "municipality_codes", "blocks", "target_groups", "themes",
                   "prior_adoption", "region_text", "programme")
RESULT_COLUMNS = ("rank", "id", "title", "organization", "regions", "score", "embedding", "concepts",
                  "shared_target_groups", "shared_themes", "related_via_broader", "by_meaning", "region",
                  "same_organization")
LOCAL_LEVELS = ("municipality", "ward", "district")


def pandas():
    """pandas, or a clear error saying how to install it (it is not needed by the rest of kg)."""
    try:
        import pandas as pd
    except ModuleNotFoundError:  # pragma: no cover - depends on the environment
        raise KgError("pandas is not installed — pip install 'pandas>=2.2'") from None
    return pd


def projects_frame(kg: "OpenStore", *, labels: str = "id", sep: str | None = None,
                   **filters: Any) -> "pd.DataFrame":
    """One row per project, with its places and concepts as lists (or joined text), filtered like ``projects``.

    >>> df = projects_frame(kg, target_group="youth")                   # doctest: +SKIP
    >>> df.explode("prefectures")["prefectures"].value_counts()          # doctest: +SKIP
    >>> projects_frame(kg, labels="ja", sep="、").to_csv("projects.csv")  # doctest: +SKIP

    Args:
        kg: an open store (``Tsunagari.open``).
        labels: how target groups, themes and blocks are named: "id" (youth, kanto), "ja" or "en".
        sep: join list columns with this separator (e.g. "、" for a spreadsheet); None keeps lists,
            which ``DataFrame.explode`` turns into one row per value.
        **filters: prefecture, municipality, block, target_group, theme, fiscal_year, legal_form.
    Returns:
        Columns: id, fiscal_year, number, title, organization (name without legal form), legal_form (id),
        prefectures (names, a prefecture reached through a municipality counts), municipalities
        (municipality, ward and district names), municipality_codes, blocks, target_groups, themes,
        prior_adoption (bool), region_text (as written), programme. Ordered by fiscal year and number.
    """
    pd = pandas()
    _check_labels(labels)
    blocks = _block_labels(labels)
    rows = []
    for p in kg.projects(**filters):
        local = [r for r in p["regions"] if r["level"] in LOCAL_LEVELS]
        row = {
            "id": p["id"], "fiscal_year": p["fiscal_year"], "number": p["number"], "title": p["title"],
            "organization": p["organization"]["name"], "legal_form": p["organization"]["legal_form"],
            "prefectures": _unique(r["prefecture"] for r in p["regions"] if r["prefecture"]),
            "municipalities": [r["name"] for r in local],
            "municipality_codes": [r["code"] for r in local if r["code"]],
            "blocks": _unique(blocks[r["block"]] for r in p["regions"] if r["block"]),
            "target_groups": [_label(t, labels) for t in p["target_groups"]],
            "themes": [_label(t, labels) for t in p["themes"]],
            "prior_adoption": bool(p["prior_adoption"]), "region_text": p["region_text"],
            "programme": p["programme"],
        }
        if sep is not None:
            row = {k: sep.join(v) if isinstance(v, list) else v for k, v in row.items()}
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(PROJECT_COLUMNS))
    return frame.sort_values(["fiscal_year", "number", "id"], ignore_index=True)


def results_frame(results: Iterable[Result], *, labels: str = "ja", sep: str = "、") -> "pd.DataFrame":
    """``similar``/``search`` results as a table, one row per result, with ``why`` flattened into columns.

    >>> results_frame(kg.similar("cao-kodoku-npo-model-fy2024-035", top=5))   # doctest: +SKIP
    >>> results_frame(kg.search("men's shed", top=5), labels="en", sep=", ")   # doctest: +SKIP

    Args:
        results: what ``Tsunagari.similar`` or ``Tsunagari.search`` return.
        labels: language of the shared-concept names, "ja", "en" or "id".
        sep: separator of the joined region and concept names.
    Returns:
        Columns: rank (1 = best), id, title, organization, regions, score (the hybrid score), embedding
        (cosine), concepts (shared-concept score), shared_target_groups, shared_themes, related_via_broader
        (concepts met through a broader one), by_meaning (concepts matched by meaning, each with its score:
        "若者 (0.87)"), region (e.g. "same prefecture", or empty), same_organization.
    """
    pd = pandas()
    _check_labels(labels)
    rows = []
    for rank, r in enumerate(results, start=1):
        why: Mapping[str, Any] = r["why"]
        names = lambda key: sep.join(_label(c, labels) for c in why.get(key, []))  # noqa: E731
        rows.append({
            "rank": rank, "id": r["id"], "title": r["title"], "organization": r["organization"],
            "regions": sep.join(r["regions"]), "score": r["score"], "embedding": why["embedding"],
            "concepts": why["concepts"], "shared_target_groups": names("shared_target_groups"),
            "shared_themes": names("shared_themes"), "related_via_broader": names("related_via_broader"),
            "by_meaning": sep.join(f"{_label(c, labels)} ({c['score']:.2f})" for c in why.get("by_meaning", [])),
            "region": why["region"] or "", "same_organization": bool(why["same_organization"]),
        })
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def counts_by_prefecture(kg: "OpenStore", **filters: Any) -> "pd.DataFrame":
    """Projects per prefecture: all 47 (zeros included), in code order, with their names and block.

    A project counts once for each prefecture it serves: one naming the prefecture itself (鳥取県全市町村)
    and one naming a municipality, ward or district in it (鳥取市) both count, so the column sums to more
    than the number of projects when projects reach several prefectures. A project naming only a regional
    block (関東各都県) is not spread over the block's prefectures: it is counted in ``block_wide``.
    The same rule as ``kg.projects(prefecture=...)`` and ``queries/projects_per_prefecture.rq``.

    >>> counts = counts_by_prefecture(kg, target_group="children")          # doctest: +SKIP
    >>> counts.groupby("block")["projects"].sum()                            # doctest: +SKIP

    Args:
        kg: an open store.
        **filters: as for ``projects_frame``.
    Returns:
        Columns: code (6 digits), pref (2-digit number, as in JIS X 0401), prefecture, prefecture_en, block
        (id), block_ja, projects, whole_prefecture (projects naming the prefecture itself), within (projects
        naming a place inside it), block_wide (projects naming the prefecture's whole block).
    """
    pd = pandas()
    from kg.normalize.gazetteer import Gazetteer

    gazetteer = Gazetteer.load()
    found = kg.projects(**filters)
    rows = []
    for pref in gazetteer.prefectures():
        mine = [[r for r in p["regions"] if r["prefecture_code"] == pref.code] for p in found]
        rows.append({
            "code": pref.code, "pref": int(pref.code[:2]), "prefecture": pref.name, "prefecture_en": pref.name_en,
            "block": pref.block, "block_ja": gazetteer.block(pref.block).name,
            "projects": sum(bool(places) for places in mine),
            "whole_prefecture": sum(any(r["level"] == "prefecture" for r in places) for places in mine),
            "within": sum(any(r["level"] != "prefecture" for r in places) for places in mine),
            "block_wide": sum(any(r["level"] == "block" and r["block"] == pref.block for r in p["regions"])
                              for p in found),
        })
    return pd.DataFrame(rows)


def concept_matrix(kg: "OpenStore", *, labels: str = "ja", drop_empty: bool = True,
                   **filters: Any) -> "pd.DataFrame":
    """Target groups × themes: how many projects carry both tags (direct tags, no hierarchy).

    The same counts as ``queries/target_group_by_theme.rq``, as a cross-table.

    >>> m = concept_matrix(kg)                                   # doctest: +SKIP
    >>> m.stack().nlargest(5)      # the most frequent pairs    # doctest: +SKIP

    Args:
        kg: an open store.
        labels: row and column names: "ja", "en" or "id".
        drop_empty: drop target groups and themes that pair with nothing; False keeps every concept
            of both schemes (sorted by id).
        **filters: as for ``projects_frame``.
    Returns:
        Integer DataFrame; index: target groups (named "target_group"), columns: themes (named "theme").
    """
    pd = pandas()
    _check_labels(labels)
    from kg.normalize.concepts import ConceptSchemes

    schemes = ConceptSchemes.load()
    groups = [getattr(c, labels) for c in schemes.concepts("target-group")]
    themes = [getattr(c, labels) for c in schemes.concepts("theme")]
    matrix = pd.DataFrame(0, index=pd.Index(groups, name="target_group"), columns=pd.Index(themes, name="theme"))
    for p in kg.projects(**filters):
        for group in p["target_groups"]:
            for theme in p["themes"]:
                matrix.loc[_label(group, labels), _label(theme, labels)] += 1
    if drop_empty:
        matrix = matrix.loc[matrix.sum(axis=1) > 0, matrix.sum(axis=0) > 0]
    return matrix


def _check_labels(labels: str) -> None:
    if labels not in LABELS:
        raise KgError(f"labels={labels!r}: use one of {', '.join(LABELS)}")


def _block_labels(labels: str) -> dict[str, str]:
    from kg.normalize.gazetteer import Gazetteer

    blocks = Gazetteer.load().blocks()
    return {b.id: {"id": b.id, "ja": b.name, "en": b.name_en}[labels] for b in blocks}


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _label(concept: Mapping[str, Any], labels: str) -> str:
    """A concept's id, Japanese or English label (``labels``, checked by _check_labels)."""
    return concept[labels]


__all__ = ["projects_frame", "results_frame", "counts_by_prefecture", "concept_matrix"]
