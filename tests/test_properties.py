"""Property tests: mutated documents and tables never crash a reader, and every problem is located."""
from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg.assemble import assemble
from kg.errors import KgError
from kg.sources import read_source

pytestmark = pytest.mark.slow      # big property runs (hypothesis)

LINES = Path(__file__).parents[1].joinpath("kg", "data", "r6_kodoku_koritsu_npo_model_projects.txt") \
    .read_text(encoding="utf-8").splitlines()
CELLS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def mutate(lines: list[str], data) -> list[str]:
    """Delete, duplicate, truncate or garble a few lines, or split/merge their cells."""
    lines = list(lines)
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["delete", "duplicate", "truncate", "garble", "tab", "untab"]))
        if action == "delete":
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "truncate":
            lines[i] = lines[i][: data.draw(st.integers(0, max(len(lines[i]) - 1, 0)))]
        elif action == "garble":
            lines[i] = data.draw(CELLS) + lines[i] + data.draw(CELLS)
        elif action == "tab":
            lines[i] = lines[i].replace("\t", "\t\t", 1)
        else:
            lines[i] = lines[i].replace("\t", "", 1)
        if not lines:
            lines = [""]
    return lines


def check(path: Path) -> None:
    try:
        read = read_source(path, fiscal_year=2024, programme="fuzz")
    except KgError as error:
        assert str(path) in str(error)          # a whole-file error still names the file
        return
    for row in read.rows:
        assert row.title and row.organization and row.line >= 1
    data = assemble([read])                     # regions and tags of whatever loaded
    for problem in data.problems:
        assert problem.file == str(path) and problem.row >= 1 and problem.column and problem.message


@SETTINGS
@given(data=st.data())
def test_mutated_documents_never_crash(tmp_path, data):
    path = tmp_path / "doc.txt"
    path.write_text("\n".join(mutate(LINES, data)), encoding=data.draw(st.sampled_from(["utf-8", "cp932"])),
                    errors="replace")
    check(path)


TABLE = [["団体名", "取組名", "活動地域", "R5採択"]] + [line.split("\t")[1:5] for line in LINES if line[:1].isdigit()
                                                   and "\t" in line][:20]


@SETTINGS
@given(data=st.data(), suffix=st.sampled_from([".csv", ".tsv"]))
def test_mutated_tables_never_crash(tmp_path, data, suffix):
    import csv
    import io

    rows = [list(r) for r in TABLE]
    for _ in range(data.draw(st.integers(1, 8))):
        r = data.draw(st.integers(0, len(rows) - 1))
        if rows[r] and data.draw(st.booleans()):
            rows[r][data.draw(st.integers(0, len(rows[r]) - 1))] = data.draw(CELLS)
        else:
            rows[r] = rows[r][: data.draw(st.integers(0, len(rows[r])))]
    out = io.StringIO()
    csv.writer(out, delimiter="\t" if suffix == ".tsv" else ",").writerows(rows)
    path = tmp_path / f"list{suffix}"
    path.write_bytes(out.getvalue().encode(data.draw(st.sampled_from(["utf-8", "utf-8-sig", "cp932"])),
                                           errors="replace"))
    check(path)


@SETTINGS
@given(raw=st.binary(max_size=300))
def test_random_bytes_never_crash(tmp_path, raw):
    path = tmp_path / "noise.csv"
    path.write_bytes(raw)
    check(path)


@lru_cache(maxsize=1)
def layout_lines() -> dict[str, list[str]]:
    """The FY2024 list as space-aligned text (from the test PDF) and as one cell per line."""
    from published import aligned_text, cells_text, write_pdf

    with tempfile.TemporaryDirectory() as folder:
        pdf = write_pdf(Path(folder) / "list.pdf")
        return {"aligned": aligned_text(pdf).split("\n"), "cells": cells_text().split("\n")}


@SETTINGS
@given(data=st.data(), layout=st.sampled_from(["aligned", "cells"]))
def test_mutated_layout_texts_never_crash(tmp_path, data, layout):
    path = tmp_path / "doc.txt"
    path.write_text("\n".join(mutate(layout_lines()[layout], data)), encoding="utf-8", errors="replace")
    check(path)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=400))
def test_random_pdf_bytes_never_crash(tmp_path, raw):
    path = tmp_path / "noise.pdf"
    path.write_bytes(b"%PDF-1.4\n" + raw)
    check(path)
