"""Golden graphs: the build of tests/data/small.csv must stay isomorphic to the reviewed file, and the
bundled list must give the same graph.nt bytes as recorded (without and with similarity links).

After an intended change, run `python scripts/regenerate_golden.py` and review the diff.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rdflib import Graph
from rdflib.compare import graph_diff, to_isomorphic
from conftest import load_script

ROOT = Path(__file__).parents[1]



def _golden_graph() -> Graph:
    return load_script("regenerate_golden").golden_graph()


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


@pytest.mark.parametrize("build", ["no-embed", "hashing"])
def test_bundled_build_gives_the_recorded_bytes(tmp_path, build):
    from kg import Tsunagari
    from kg.store import file_sha256

    expected = json.loads((ROOT / "tests" / "data" / "bundled.golden.json").read_text(encoding="utf-8"))[build]
    kg, report = Tsunagari.build(None, tmp_path / "store", **load_script("regenerate_golden").BUILDS[build])
    assert report.triples == expected["triples"]
    assert file_sha256(kg.generation.graph_file()) == expected["sha256"], \
        "graph.nt changed: if intended, run scripts/regenerate_golden.py and review"
