"""Rewrite the golden files the tests hold every build to; review the diff before committing them.

- tests/data/small.golden.nt: the graph of tests/data/small.csv (without the concept schemes, so that
  vocabulary edits do not break it), compared with ``isomorphic`` by tests/test_golden.py;
- tests/data/bundled.golden.json: the SHA-256 of the sorted N-Triples (graph.nt) that
  ``tsunagari build --no-embed`` and ``tsunagari build --model hashing`` (similarity links included) give
  for the bundled list: every build must give these bytes.

Run ``python scripts/regenerate_golden.py`` after an intended change of the graph.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from kg import Tsunagari
from kg.assemble import assemble
from kg.build import sorted_ntriples
from kg.rdf import to_graph
from kg.sources import read_source
from kg.store import file_sha256

DATA = Path(__file__).parents[1] / "tests" / "data"
BUILDS = {"no-embed": {"embed": False}, "hashing": {"embed": True, "model": "hashing"}}


def golden_graph():
    """The graph of small.csv without the concept schemes (vocabulary edits should not break it)."""
    from kg.normalize.concepts import ConceptSchemes

    read = read_source(DATA / "small.csv", fiscal_year=2025, programme="test-programme")
    return to_graph(assemble([read])) - ConceptSchemes.load().graph()


def bundled_digests() -> dict[str, dict]:
    """SHA-256 and triple count of graph.nt for each build of the bundled list in BUILDS."""
    found = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, options in BUILDS.items():
            kg, report = Tsunagari.build(None, Path(tmp) / name, **options)
            found[name] = {"sha256": file_sha256(kg.generation.graph_file()), "triples": report.triples}
    return found


if __name__ == "__main__":
    (DATA / "small.golden.nt").write_bytes(sorted_ntriples(golden_graph()))
    print("wrote", DATA / "small.golden.nt")
    (DATA / "bundled.golden.json").write_text(json.dumps(bundled_digests(), indent=1) + "\n", encoding="utf-8")
    print("wrote", DATA / "bundled.golden.json")
