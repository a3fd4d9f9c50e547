"""A golden small graph: the build of tests/data/small.csv must stay isomorphic to the reviewed file.

After an intended change, run `python scripts/regenerate_golden.py` and review the diff.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from rdflib import Graph
from rdflib.compare import graph_diff, to_isomorphic

ROOT = Path(__file__).parents[1]


def _golden_graph() -> Graph:
    spec = importlib.util.spec_from_file_location("regenerate_golden", ROOT / "scripts" / "regenerate_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.golden_graph()


def test_small_graph_matches_golden():
    built = to_isomorphic(_golden_graph())
    golden = to_isomorphic(Graph().parse(ROOT / "tests" / "data" / "small.golden.nt", format="nt"))
    if built != golden:
        _, only_built, only_golden = graph_diff(built, golden)
        raise AssertionError("graph differs from golden\nonly in build:\n"
                             + only_built.serialize(format="nt")[:3000]
                             + "\nonly in golden:\n" + only_golden.serialize(format="nt")[:3000])


def test_golden_has_what_the_rows_say():
    golden = Graph().parse(ROOT / "tests" / "data" / "small.golden.nt", format="nt")
    text = golden.serialize(format="nt")
    assert "/region/131172>" in text             # 北区 inherits 東京都 from 豊島区
    assert "/region/462179>" in text             # 曾於市 -> 曽於市
    assert '"えんがわ"@ja' in text                # 屋号 kept
    assert "_:" not in text
