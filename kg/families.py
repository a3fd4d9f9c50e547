"""Families of comparable practices: communities of the top-k similarity graph, named by their concepts.

The graph is read from the similarity links the build stored (``tsunagari build --similar-links K``);
for a ``k`` above what the store holds, the links are ranked in batches first.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import networkx as nx

from kg.progress import Progress
from kg.similar import Similarity

SEED = 42   # Louvain is randomised; a fixed seed keeps families reproducible


def similarity_graph(similarity: Similarity, k: int = 5, progress: Progress | None = None) -> nx.Graph:
    """Undirected graph: each project linked to its k most similar, weighted by the hybrid score."""
    graph = nx.Graph()
    graph.add_nodes_from(similarity.profiles.ids)        # sorted ids
    for pid, hits in similarity.links(k, progress=progress):
        for target, score in hits:
            weight = max(score, 1e-6)
            if graph.has_edge(pid, target):
                weight = max(weight, graph[pid][target]["weight"])
            graph.add_edge(pid, target, weight=weight)
    return graph


def families(similarity: Similarity, k: int = 5, resolution: float = 1.0,
             progress: Progress | None = None) -> list[dict[str, Any]]:
    """Communities of comparable projects, largest first, each named by its dominant concepts."""
    graph = similarity_graph(similarity, k, progress)
    groups = nx.community.louvain_communities(graph, weight="weight", resolution=resolution, seed=SEED)
    table, schemes, idf = similarity.profiles, similarity.ranker.schemes, similarity.ranker.idf
    titles = _titles(similarity)
    found: list[dict[str, Any]] = []
    for members in groups:
        members = sorted(members)
        counts: Counter[tuple[str, str]] = Counter(key for pid in members for key in table.concepts(_row(table, pid)))
        # Dominant = frequent in the family and rare overall.
        scored = sorted(counts, key=lambda c: (-counts[c] * idf.get(c, 1.0), c))[:3]
        concepts: list[dict[str, Any]] = [{"scheme": s, "id": c, "ja": schemes.get(s, c).ja, "en": schemes.get(s, c).en,
                     "members": counts[(s, c)]} for s, c in scored]
        found.append({
            "name_en": " / ".join(c["en"] for c in concepts) or "mixed",
            "name_ja": "・".join(c["ja"] for c in concepts) or "その他",
            "concepts": concepts,
            "size": len(members),
            "members": [{"id": pid, "title": titles[pid]} for pid in members],
        })
    found.sort(key=lambda f: (-f["size"], f["members"][0]["id"]))
    for number, family in enumerate(found, start=1):
        family["id"] = f"family-{number:02d}"
    return found


def _titles(similarity: Similarity) -> dict[str, str]:
    views = similarity.views
    if hasattr(views, "titles"):
        return views.titles()
    return {pid: view["title"] for pid, view in views.items()}


def _row(table, project_id: str) -> int:
    row = table.row(project_id)
    if row is None:
        raise KeyError(project_id)          # a family member is always in the table
    return row
