"""Families of comparable practices: communities of the top-k similarity graph, named by their concepts."""
from __future__ import annotations

from collections import Counter
from typing import Any

import networkx as nx

from kg.similar import Similarity

SEED = 42   # Louvain is randomised; a fixed seed keeps families reproducible


def similarity_graph(similarity: Similarity, k: int = 5) -> nx.Graph:
    """Undirected graph: each project linked to its k most similar, weighted by the hybrid score."""
    graph = nx.Graph()
    graph.add_nodes_from(sorted(similarity.views))
    for pid in sorted(similarity.views):
        for hit in similarity.similar(pid, top=k):
            weight = max(hit["score"], 1e-6)
            if graph.has_edge(pid, hit["id"]):
                weight = max(weight, graph[pid][hit["id"]]["weight"])
            graph.add_edge(pid, hit["id"], weight=weight)
    return graph


def families(similarity: Similarity, k: int = 5, resolution: float = 1.0) -> list[dict[str, Any]]:
    """Communities of comparable projects, largest first, each named by its dominant concepts."""
    graph = similarity_graph(similarity, k)
    groups = nx.community.louvain_communities(graph, weight="weight", resolution=resolution, seed=SEED)
    ranker = similarity.ranker
    found = []
    for members in groups:
        members = sorted(members)
        counts = Counter((scheme, cid) for pid in members for scheme, cid in ranker.profiles[pid].concepts)
        # Dominant = frequent in the family and rare overall.
        scored = sorted(counts, key=lambda c: (-counts[c] * ranker.idf.get(c, 1.0), c))[:3]
        concepts = [{"scheme": s, "id": c, "ja": ranker.schemes.get(s, c).ja, "en": ranker.schemes.get(s, c).en,
                     "members": counts[(s, c)]} for s, c in scored]
        found.append({
            "name_en": " / ".join(c["en"] for c in concepts) or "mixed",
            "name_ja": "・".join(c["ja"] for c in concepts) or "その他",
            "concepts": concepts,
            "size": len(members),
            "members": [{"id": pid, "title": similarity.views[pid]["title"]} for pid in members],
        })
    found.sort(key=lambda f: (-f["size"], f["members"][0]["id"]))
    for number, family in enumerate(found, start=1):
        family["id"] = f"family-{number:02d}"
    return found
