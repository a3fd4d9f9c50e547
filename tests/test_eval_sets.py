"""The hand-made judgment sets of scripts/eval parse, stay in range and are all wired into evaluate.py.

These read the TOML only: no system runs on the queries here."""
from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path

import pytest

EVAL = Path(__file__).parents[1] / "scripts" / "eval"
SETS = sorted(EVAL.glob("*.toml"))
LANGS = {"en", "zh", "ko", "ja", "vi", "pt", "tl", "ne", "es"}


def load(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_the_five_sets_are_there():
    assert [p.name for p in SETS] == ["heldout.toml", "heldout2.toml", "heldout3.toml", "heldout4.toml",
                                      "judgments.toml"]


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_every_entry_is_well_formed(path):
    data = load(path)
    n = data["n_projects"]
    assert n == 77 and data["id_format"] == "cao-kodoku-npo-model-fy2024-{:03d}"
    for q in data["query"]:
        where = f"{path.name}: {q.get('text')!r}"
        assert q["lang"] in LANGS, where
        assert q["text"].strip() and q["why"].strip(), where
        assert q["relevant"], f"{where}: no relevant project"
        assert all(1 <= int(k) <= n and g in (1, 2) for k, g in q["relevant"].items()), where
    sources = [s["source"] for s in data.get("similar", [])]
    assert len(sources) == len(set(sources)), f"{path.name}: duplicate sources"
    for s in data.get("similar", []):
        assert str(s["source"]) not in s["relevant"], f"{path.name}: source {s['source']} lists itself"


def test_no_query_text_is_shared_between_sets():
    texts = Counter(q["text"] for path in SETS for q in load(path)["query"])
    assert [t for t, n in texts.items() if n > 1] == []


def test_evaluate_reads_every_set():
    script = (EVAL.parent / "evaluate.py").read_text(encoding="utf-8")
    assert all(f'"{p.name}"' in script for p in SETS)


@pytest.mark.parametrize("name", ["heldout3.toml", "heldout4.toml"])
def test_blind_held_out_sets_cover_nine_languages(name):
    langs = Counter(q["lang"] for q in load(EVAL / name)["query"])
    assert sum(langs.values()) >= 48 and set(langs) == LANGS
    assert langs["ja"] >= 10 and langs["en"] >= 6 and langs["es"] >= 4
    assert all(langs[lang] >= 5 for lang in ("ko", "zh", "vi", "pt", "tl", "ne"))


def test_blind_sets_are_scored_only_when_blind():
    from conftest import load_script

    evaluate = load_script("evaluate")
    assert [p.name for p in evaluate.blind_sets(True)] == ["heldout3.toml", "heldout4.toml"]
    assert evaluate.blind_sets(False) == {}
    source = (EVAL.parent / "evaluate.py").read_text(encoding="utf-8")
    assert source.count("load_tasks(HELDOUT3)") == source.count("load_tasks(HELDOUT4)") == 0   # only via blind_sets
