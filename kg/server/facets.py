"""Counts the pages need, read from the store's Oxigraph database (never from a graph parsed in Python).

The filter menus list only values some project has, each with its number of projects, under the same
rules as ``kg.projects(...)``: a prefecture counts a project serving it or any place inside it, a block
counts the places of its prefectures, a concept counts its narrower concepts. Each count is one SPARQL
``GROUP BY`` whose ``VALUES`` table maps the few region or concept nodes to the menu entries, so the
work stays in Oxigraph and grows with the projects, not with Python objects.

    >>> choices = filter_choices(store)            # doctest: +SKIP
    >>> choices["prefecture"][0]                   # doctest: +SKIP
    {'value': '010006', 'label': '北海道', 'count': 312}
"""
from __future__ import annotations

from typing import Any, Iterable

from kg.vocab import BASE, PREFIXES

BLOCK = f"{BASE}region/block/"
_PREFIXES = {name: str(namespace) for name, namespace in PREFIXES.items()}


def rows(store, query: str) -> list[tuple[Any, ...]]:
    """The rows of a SELECT on a pyoxigraph store, as tuples of Python values (str, or None if unbound)."""
    result = store.query(query, prefixes=_PREFIXES)
    width = len(result.variables)
    return [tuple(None if s[i] is None else s[i].value for i in range(width)) for s in result]


def count(store, query: str) -> int:
    """The single number a ``SELECT (COUNT(...) AS ?n)`` answers."""
    ((value,),) = rows(store, query)
    return int(value)


def filter_choices(store) -> dict[str, list[dict[str, Any]]]:
    """The options of the search page's filter menus, with project counts (values with no project left out).

    Everything comes from the graph (region nodes, the concept schemes), so nothing else is loaded.
    Blocks are listed north to south; concepts by project count, then by id.
    """
    places = _places(store)
    prefecture_names = dict(rows(store, """
        SELECT ?code ?name WHERE { ?r tg:level "prefecture" ; dcterms:identifier ?code ; schema:name ?name
                                   FILTER(LANG(?name) = "ja") }"""))
    by_prefecture = _grouped(store, "schema:areaServed",
                             ((iri, pref) for iri, (pref, _) in places.items() if pref))
    by_block = _grouped(store, "schema:areaServed", ((iri, block) for iri, (_, block) in places.items() if block))
    choices: dict[str, list[dict[str, Any]]] = {
        "prefecture": [{"value": code, "label": prefecture_names.get(code, code), "count": n}
                       for code, n in sorted(by_prefecture.items())],
        "block": [{"value": block, "label": f"{ja}（{en}）", "count": by_block.get(block, 0)}
                  for block, ja, en in blocks(store)],
        "fiscal_year": [{"value": year, "label": f"{year}年度", "count": int(n)} for year, n in rows(store, """
            SELECT ?year (COUNT(?p) AS ?n) WHERE { ?p a schema:Project ; tg:fiscalYear ?year }
            GROUP BY ?year ORDER BY ?year""")],
    }
    for key, scheme, predicate in (("target_group", "target-group", "schema:audience"),
                                   ("theme", "theme", "dcterms:subject")):
        concepts = _concepts(store, scheme)
        pairs = ((iri, above) for iri, (_, _, _, ancestors) in concepts.items() for above in ancestors)
        counts = _grouped(store, predicate, pairs)
        options = [{"value": cid, "label": f"{ja}（{en}）", "count": counts.get(cid, 0)}
                   for cid, ja, en, _ in concepts.values()]
        choices[key] = sorted(options, key=lambda o: (-o["count"], o["value"]))
    return {key: [o for o in options if o["count"]] for key, options in choices.items()}


def blocks(store) -> list[tuple[str, str, str]]:
    """The regional blocks as (id, Japanese name, English name), north to south (by their first prefecture)."""
    return [(block, ja, en) for block, ja, en, _ in rows(store, """
        SELECT ?id ?ja ?en (MIN(?code) AS ?first) WHERE {
          ?b a tg:RegionalBlock ; schema:identifier ?id ; schema:name ?ja , ?en
          FILTER(LANG(?ja) = "ja" && LANG(?en) = "en")
          OPTIONAL { ?pref schema:containedInPlace ?b ; dcterms:identifier ?code } }
        GROUP BY ?id ?ja ?en ORDER BY ?first ?id""")]


def _concepts(store, scheme: str) -> dict[str, tuple[str, str, str, tuple[str, ...]]]:
    """The concepts of a scheme in the graph: IRI -> (id, ja label, en label, ids of itself and every broader)."""
    base = f"{BASE}concept/{scheme}"
    labels = {iri: (iri[len(base) + 1:], ja, en) for iri, ja, en in rows(store, f"""
        SELECT ?c ?ja ?en WHERE {{ ?c skos:inScheme <{base}> ; skos:prefLabel ?ja , ?en
                                   FILTER(LANG(?ja) = "ja" && LANG(?en) = "en") }}""")}
    broader: dict[str, list[str]] = {}
    for iri, up in rows(store, f"SELECT ?c ?up WHERE {{ ?c skos:inScheme <{base}> ; skos:broader ?up }}"):
        broader.setdefault(iri, []).append(up)
    out = {}
    for iri, (cid, ja, en) in sorted(labels.items()):
        seen, frontier = {iri}, [iri]
        while frontier:
            for up in broader.get(frontier.pop(), []):
                if up not in seen and up in labels:
                    seen.add(up)
                    frontier.append(up)
        out[iri] = (cid, ja, en, tuple(sorted(labels[i][0] for i in seen)))
    return out


def _places(store) -> dict[str, tuple[str | None, str | None]]:
    """Every region node of the graph -> (its prefecture's code, its block id), walking schema:containedInPlace."""
    parent = dict(rows(store, "SELECT ?r ?up WHERE { ?r schema:containedInPlace ?up }"))
    codes = dict(rows(store, "SELECT ?r ?code WHERE { ?r tg:level \"prefecture\" ; dcterms:identifier ?code }"))
    out: dict[str, tuple[str | None, str | None]] = {}
    for iri in parent:
        node, prefecture, seen = iri, None, set()
        while node in parent and node not in seen:      # a cycle would be a broken store: stop, don't loop
            seen.add(node)
            prefecture = codes.get(node, prefecture)
            node = parent[node]
        block = node[len(BLOCK):] if node.startswith(BLOCK) else None
        out[iri] = (prefecture, block)
    for (iri,) in rows(store, "SELECT ?b WHERE { ?b a tg:RegionalBlock }"):
        out[iri] = (None, iri[len(BLOCK):])
    return out


def _grouped(store, predicate: str, pairs: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Projects per key, where a project counts for a key when ``predicate`` links it to a node of that key."""
    table = " ".join(f'(<{iri}> "{key}")' for iri, key in pairs)
    if not table:
        return {}
    return {key: int(n) for key, n in rows(store, f"""
        SELECT ?key (COUNT(DISTINCT ?p) AS ?n) WHERE {{ VALUES (?node ?key) {{ {table} }} ?p {predicate} ?node }}
        GROUP BY ?key""")}


def statistics(store) -> dict[str, int]:
    """VoID statistics of the default graph: triples, distinct subjects, properties and classes."""
    return {"triples": len(store),
            "distinctSubjects": count(store, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s ?p ?o }"),
            "properties": count(store, "SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE { ?s ?p ?o }"),
            "classes": count(store, "SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?s a ?c }")}


__all__ = ["filter_choices", "blocks", "statistics", "rows", "count"]
