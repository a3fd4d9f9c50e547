"""Rewrite tests/data/small.golden.nt from tests/data/small.csv. Review the diff before committing it:
the golden graph is what tests/test_golden.py holds every build to."""
from pathlib import Path

from kg.assemble import assemble
from kg.build import sorted_ntriples
from kg.rdf import to_graph
from kg.sources import read_source

DATA = Path(__file__).parents[1] / "tests" / "data"


def golden_graph():
    """The graph of small.csv without the concept schemes (vocabulary edits should not break it)."""
    from kg.normalize.concepts import ConceptSchemes

    read = read_source(DATA / "small.csv", fiscal_year=2025, programme="test-programme")
    return to_graph(assemble([read])) - ConceptSchemes.load().graph()


if __name__ == "__main__":
    (DATA / "small.golden.nt").write_bytes(sorted_ntriples(golden_graph()))
    print("wrote", DATA / "small.golden.nt")
