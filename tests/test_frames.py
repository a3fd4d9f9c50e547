"""The notebook DataFrames: checked against kg.projects, the SPARQL queries, and the notebook's own prose."""
from __future__ import annotations

from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")

from kg import KgError, Tsunagari  # noqa: E402
from kg.frames import (  # noqa: E402
    PROJECT_COLUMNS, RESULT_COLUMNS, concept_matrix, counts_by_prefecture, projects_frame, results_frame,
)

QUERIES = Path(__file__).parents[1] / "queries"


@pytest.fixture(scope="module")
def kg(tmp_path_factory) -> Tsunagari:
    """The bundled list with hashing vectors (numpy only, fast): `similar` and `families` work."""
    store = tmp_path_factory.mktemp("frames") / "store"
    opened, _ = Tsunagari.build(None, store, embed=True, model="hashing")
    return opened


FILTERS = [{}, {"target_group": "youth"}, {"block": "kinki"}, {"theme": "place-to-belong", "block": "kanto"}]


@pytest.mark.parametrize("filters", FILTERS, ids=str)
def test_counts_by_prefecture_agree_with_the_projects_filter(kg, filters):
    counts = counts_by_prefecture(kg, **filters)
    assert len(counts) == 47 and counts["code"].is_unique
    assert counts["pref"].tolist() == list(range(1, 48))
    found = kg.projects(**filters)
    expected = sum(len({r["prefecture_code"] for r in p["regions"] if r["prefecture_code"]}) for p in found)
    assert counts["projects"].sum() == expected
    for row in counts.itertuples():
        in_prefecture = [p for p in found if any(r["prefecture_code"] == row.code for r in p["regions"])]
        assert row.projects == len(in_prefecture), row.prefecture
    assert (counts["projects"] <= counts["whole_prefecture"] + counts["within"]).all()


def test_counts_by_prefecture_match_the_sparql_query(kg):
    query = (QUERIES / "projects_per_prefecture.rq").read_text(encoding="utf-8")
    sparql = kg.sparql(query).to_dataframe().set_index("prefecture_code").sort_index()
    ours = counts_by_prefecture(kg).set_index("code").sort_index()
    for column in ("projects", "whole_prefecture", "within"):
        assert ours[column].tolist() == sparql[column].astype(int).tolist(), column
    assert ours["prefecture"].tolist() == sparql["prefecture"].tolist()


def test_block_wide_projects_are_counted_apart(kg):
    counts = counts_by_prefecture(kg).set_index("prefecture")
    assert counts.loc["東京都", "block_wide"] == 1            # no. 27: 関東各都県
    assert counts.loc["大阪府", "block_wide"] == 0
    assert counts.loc["東京都", "projects"] == 7               # the block-wide project is not among them


def test_projects_frame_rows_columns_and_lists(kg):
    frame = projects_frame(kg)
    assert tuple(frame.columns) == PROJECT_COLUMNS and len(frame) == 77
    assert frame["number"].tolist() == list(range(1, 78))
    row = frame.set_index("number").loc[35]
    assert row["prefectures"] == ["愛知県", "静岡県"]
    assert row["municipalities"] == ["新城市", "浜松市", "湖西市"]
    assert row["municipality_codes"] == ["232211", "221309", "222216"]
    assert row["blocks"] == ["chubu"] and "men-shed" in row["themes"] and row["prior_adoption"]
    district = frame.set_index("number").loc[64]
    assert "小豆郡" in district["municipalities"] and "香川県" in district["prefectures"]


def test_projects_frame_labels_and_joined_text(kg):
    row = projects_frame(kg, labels="ja", sep="、").set_index("number").loc[35]
    assert row["prefectures"] == "愛知県、静岡県" and "メンズシェッド" in row["themes"]
    assert row["blocks"] == "中部"
    assert projects_frame(kg, labels="en").set_index("number").loc[35, "blocks"] == ["Chubu"]
    with pytest.raises(KgError, match="labels"):
        projects_frame(kg, labels="fr")


@pytest.mark.parametrize("filters", FILTERS[1:], ids=str)
def test_projects_frame_filters_like_projects(kg, filters):
    assert projects_frame(kg, **filters)["id"].tolist() == [p["id"] for p in kg.projects(**filters)]


def test_concept_matrix_matches_the_sparql_query(kg):
    matrix = concept_matrix(kg, labels="id")
    rows = kg.sparql((QUERIES / "target_group_by_theme.rq").read_text(encoding="utf-8")).records()
    assert int(matrix.to_numpy().sum()) == sum(r["projects"] for r in rows)
    for r in rows:
        assert matrix.loc[r["target_group_id"], r["theme_id"]] == r["projects"]
    assert (matrix.sum(axis=1) > 0).all() and (matrix.sum(axis=0) > 0).all()
    full = concept_matrix(kg, labels="id", drop_empty=False)
    assert full.shape[0] >= matrix.shape[0] and "hikikomori" in full.index
    assert concept_matrix(kg).loc["子ども", "居場所"] == matrix.loc["children", "place-to-belong"]


def test_results_frame_flattens_why(kg):
    results = kg.similar("cao-kodoku-npo-model-fy2024-035", top=5)
    frame = results_frame(results)
    assert tuple(frame.columns) == RESULT_COLUMNS and frame["rank"].tolist() == [1, 2, 3, 4, 5]
    assert frame["id"].tolist() == [r["id"] for r in results]
    first = frame.iloc[0]
    shared = results[0]["why"]["shared_themes"]
    assert first["shared_themes"] == "、".join(c["ja"] for c in shared)
    assert first["embedding"] == results[0]["why"]["embedding"]
    english = results_frame(results, labels="en", sep=", ").iloc[0]
    assert english["shared_themes"] == ", ".join(c["en"] for c in shared)
    assert results_frame([]).empty and tuple(results_frame([]).columns) == RESULT_COLUMNS


def test_results_frame_lists_the_concepts_matched_by_meaning():
    why = {"embedding": 0.9, "concepts": 0.5, "shared_target_groups": [], "shared_themes": [],
           "related_via_broader": [], "region": None, "same_organization": False,
           "by_meaning": [{"scheme": "target-group", "id": "youth", "ja": "若者", "en": "Youth", "score": 0.871},
                          {"scheme": "theme", "id": "men-shed", "ja": "メンズ・シェッド", "en": "Men's shed",
                           "score": 0.64}]}
    result = {"id": "p1", "title": "t", "organization": "o", "regions": [], "score": 1.0, "why": why}
    assert results_frame([result]).iloc[0]["by_meaning"] == "若者 (0.87)、メンズ・シェッド (0.64)"
    assert results_frame([result], labels="id", sep=", ").iloc[0]["by_meaning"] == "youth (0.87), men-shed (0.64)"


def test_the_notebook_observations_hold(kg):
    """The numbers the prose of notebooks/explore.ipynb states, for the bundled FY2024 list."""
    counts = counts_by_prefecture(kg)
    assert (counts["projects"] > 0).sum() == 34
    top = counts.set_index("prefecture")["projects"]
    assert top["東京都"] == top["大阪府"] == 7 and top["神奈川県"] == 6 and top.max() == 7
    empty = set(counts.loc[counts["projects"] == 0, "prefecture"])
    assert {"青森県", "秋田県", "山形県", "福島県", "新潟県", "富山県", "福井県", "山梨県"} <= empty and len(empty) == 13
    blocks = kg.sparql((QUERIES / "projects_per_block.rq").read_text(encoding="utf-8")).to_dataframe()
    per_block = dict(zip(blocks["block_id"], blocks["projects"].astype(int)))
    assert per_block["kanto"] == 19 and per_block["kinki"] == 18
    frame = projects_frame(kg)
    assert (frame["prefectures"].str.len() == 1).sum() == 72
    has = lambda column, concept: frame[column].apply(lambda values: concept in values)  # noqa: E731
    both = has("target_groups", "all-generations") & has("themes", "multigenerational")
    assert both.sum() == has("target_groups", "all-generations").sum() == has("themes", "multigenerational").sum() == 11
    assert (has("target_groups", "children") & has("themes", "place-to-belong")).sum() == 5
    assert has("target_groups", "children").sum() == 8
    assert (has("target_groups", "youth") & has("themes", "farming")).sum() == 3 and has("themes", "farming").sum() == 4
    assert (frame["target_groups"].str.len() == 0).sum() == 29
    sizes = frame.explode("target_groups")["target_groups"].value_counts()
    assert sizes.head(3).to_dict() == {"all-generations": 11, "youth": 10, "children": 8}
    assert (sizes == 1).sum() == 9
