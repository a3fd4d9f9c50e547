"""Write a synthetic list of projects in the CSV format users load, for scale tests and benchmarks.

Usage::

    python scripts/synth.py --n 10000 --seed 0 --out synth-10k.csv
    tsunagari build synth-10k.csv --no-embed     # the one build, at any size

The shape follows the real data without copying it row for row:

- organisations run a Zipf-distributed number of projects (P(k) ~ k^-2, k <= 40; mean ~2.6), in one
  programme or two, over runs of consecutive fiscal years between 2019 and 2026;
- three programmes: ``cao-kodoku-npo-model`` (the bundled one, from FY2021), ``kyumin-yokin``
  (休眠預金) and ``pref-grant`` (a prefectural grant);
- R5採択 (prior adoption) is ○ exactly when the organisation had a project in the same programme the
  year before;
- 活動地域 uses the gazetteer: a prefecture drawn by its 2020 population, then a municipality
  ("東京都豊島区"), sometimes a ward of a designated city, two places ("東京都豊島区、北区"), two
  prefectures ("東京都葛飾区、神奈川県横浜市"), the
  whole prefecture ("鳥取県全市町村" / "福岡県"), or a qualifier ("…及びその近隣市町村");
- 取組名 recombines phrases of the 77 real titles of kg/data (approaches, target groups, aims) with
  the real templates ("〇〇による△△の□□", "〇〇を活用した…"); an organisation often keeps its title
  in later years ("第二期・…");
- organisation names: a real name stem, a place name and a suffix, with a legal form; unique.

Deterministic for a seed; rows are written as they are made (memory does not grow with --n).
"""
from __future__ import annotations

import argparse
import bisect
import csv
import itertools
import math
import random
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Iterator

from kg import bundled_source
from kg.normalize.organizations import parse_organization
from kg.normalize.regions import Gazetteer

DOCUMENT = bundled_source()
HEADER = ["No.", "団体名", "取組名", "活動地域", "R5採択", "概要", "区分", "年度", "programme"]
YEARS = range(2019, 2027)
# id, first fiscal year, share of organisations
PROGRAMMES = (("cao-kodoku-npo-model", 2021, 0.3), ("kyumin-yokin", 2019, 0.4), ("pref-grant", 2019, 0.3))
MAX_PROJECTS = 40
ZIPF_S = 2.0

# 2020 census population, 10k people, prefectures in code order (北海道 … 沖縄県).
POPULATION = (522, 124, 121, 230, 96, 107, 183, 287, 193, 194, 734, 628, 1405, 924, 220, 103, 113, 77, 81,
              205, 198, 363, 754, 177, 141, 258, 884, 547, 132, 92, 55, 67, 189, 280, 134, 72, 95, 133, 69,
              514, 81, 131, 174, 112, 107, 159, 147)
LEGAL_FORMS = (("特定非営利活動法人", 40), ("一般社団法人", 25), ("NPO法人", 8), ("社会福祉法人", 5),
               ("一般財団法人", 3), ("認定NPO法人", 2), ("", 17))
ORG_SUFFIXES = ("", "の会", "ネット", "センター", "プロジェクト", "協議会", "支援機構", "クラブ", "ネットワーク",
                "サポート", "の家", "工房")
CATEGORIES = ("中高年の居場所づくり", "孤独・孤立対策の新たな取組", "被災地の孤独・孤立対策", "支援人材の育成",
              "社会参加に向けた準備支援", "官民連携")

# How the real titles join an approach to the rest ("〇〇による…", "〇〇を活用した…").
APPROACH_MARK = re.compile(r"^(.{2,24}?)(による|を活用した|を通じた|を拠点とした|と連携した|を核にした|で創る|でつながる)")
TARGET_WORDS = re.compile(
    r"シニア男性|中高年男性|単身高齢者|高齢者|子ども・若者|移民ルーツを持つ若者|若者|子ども|こども|中高生|小中学生|"
    r"不登校|ひきこもりの状態にある方|ひきこもり|在日ミャンマー人|子育て世代|ママパパ|孤立家庭|家族|依存症回復者|"
    r"退職者・離職者|生活困窮の当事者|当事者|多世代|3世代|大人もこども")
AIM_ENDINGS = re.compile(r"(居場所(づくり|作り)?|つながりづくり|コミュニティ(づくり|作り|創り)?|事業|プロジェクト|支援|"
                         r"予防|対策|交流|形成|構築|育成|推進|相談|見守り強化|地域づくり|場づくり)$")
TEMPLATES = ("{a}による{t}の{g}", "{a}を活用した{t}の{g}", "{t}のための{a}", "{t}の{g}", "{a}を通じた{g}",
             "{t}と地域をつなぐ{a}", "{a}で取り組む{t}の{g}")


def real_rows() -> list[list[str]]:
    rows = []
    for line in DOCUMENT.read_text(encoding="utf-8").splitlines():
        cells = line.split("\t")
        if cells[0].isdigit() and len(cells) >= 4:
            rows.append(cells)
    return rows


class Vocabulary:
    """Approaches, target groups and aims cut out of the real titles; stems of the real names."""

    def __init__(self) -> None:
        rows = real_rows()
        titles = [r[2] for r in rows]
        self.titles = titles
        clean = lambda s: s.strip(" “”\"「」『』")  # noqa: E731
        self.approaches = sorted({clean(m.group(1)) for t in titles if (m := APPROACH_MARK.match(t))}
                                 | {"コミュニティカフェ", "子ども食堂", "メンズ・シェッド", "農園活動", "アート", "オンライン相談",
                                    "フードバンク", "ユースセンター", "空き家"})
        self.targets = sorted({m.group(0) for t in titles for m in TARGET_WORDS.finditer(t)})
        aims = set()
        for title in titles:
            for piece in re.split(r"[、・：:×～「」“”（）\s!！?？]|による|を活用した|を通じた|のための|の", title):
                if 3 <= len(piece) <= 16 and AIM_ENDINGS.search(piece):
                    aims.add(piece)
        self.aims = sorted(aims | {"孤独・孤立の予防", "居場所づくり", "つながりづくり"})
        self.stems = sorted({parse_organization(r[1]).name for r in rows} - {""})


class Places:
    """Prefectures by population; municipalities (and wards) of each."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.prefectures = list(gazetteer.prefectures())
        self.cumulative = list(itertools.accumulate(POPULATION))
        self.municipalities = {}
        for pref in self.prefectures:     # names that are unique in their prefecture (two 泊村 in 北海道)
            towns = [r for r in gazetteer.children(pref.code) if r.level == "municipality"]
            counts = Counter(r.name for r in towns)
            self.municipalities[pref.code] = [r for r in towns if counts[r.name] == 1]
        cities = {w.parent_code for w in gazetteer if w.level == "ward"}
        self.wards = {code: list(gazetteer.children(code)) for code in sorted(cities)}
        names = {re.sub(r"[市区町村]$", "", r.name) for ms in self.municipalities.values() for r in ms}
        self.short_names = sorted(n for n in names if len(n) >= 2)

    def prefecture(self, rng: random.Random):
        return self.prefectures[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]

    def region_text(self, rng: random.Random, pref=None) -> str:
        pref = pref or self.prefecture(rng)
        roll = rng.random()
        if roll < 0.06:
            return pref.name + rng.choice(("全市町村", "全域", ""))
        towns = self.municipalities[pref.code]
        # cities with wards are large: weigh them up
        town = rng.choice(towns) if rng.random() < 0.7 or not self.wards else \
            rng.choice([t for t in towns if t.code in self.wards] or towns)
        text = pref.name + town.name
        if town.code in self.wards and rng.random() < 0.3:
            text += rng.choice(self.wards[town.code]).name
        if roll > 0.85:
            other = rng.choice(towns)
            if other.code != town.code:
                text += "、" + other.name
        elif roll > 0.83:
            text += rng.choice(("を中心として", "及びその近隣市町村", "など", "周辺"))
        elif roll > 0.80:                   # a second prefecture ("東京都葛飾区、神奈川県横浜市")
            other = self.prefecture(rng)
            text += "、" + other.name + rng.choice(self.municipalities[other.code]).name
        return text


class Generator:
    """Rows of a synthetic list, organisation by organisation (see the module docstring)."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.vocab = Vocabulary()
        self.places = Places(Gazetteer.load())
        sizes = range(1, MAX_PROJECTS + 1)
        self.size_cumulative = list(itertools.accumulate(k ** -ZIPF_S for k in sizes))
        self.form_cumulative = list(itertools.accumulate(w for _, w in LEGAL_FORMS))
        grid = len(self.vocab.stems) * len(ORG_SUFFIXES) * len(self.places.short_names)
        self.grid = grid
        self.step = next(a for a in range(int(grid * 0.618), grid) if math.gcd(a, grid) == 1)
        self.offset = self.rng.randrange(grid)
        self.numbers: dict[tuple[str, int], int] = {}

    def organization(self, index: int) -> tuple[str, str]:
        """A unique name for organisation ``index`` (a bijection of the stem x suffix x place grid)."""
        if index >= self.grid:
            raise ValueError(f"more than {self.grid} organisations: extend ORG_SUFFIXES")
        cell = (index * self.step + self.offset) % self.grid
        places = self.places.short_names
        place, cell = places[cell % len(places)], cell // len(places)
        suffix, cell = ORG_SUFFIXES[cell % len(ORG_SUFFIXES)], cell // len(ORG_SUFFIXES)
        stem = self.vocab.stems[cell]
        form = LEGAL_FORMS[bisect.bisect_right(self.form_cumulative, self.rng.random() * self.form_cumulative[-1])][0]
        return form, f"{place}{stem}{suffix}"

    def title(self) -> tuple[str, str, str, str]:
        rng, v = self.rng, self.vocab
        a, t, g = rng.choice(v.approaches), rng.choice(v.targets), rng.choice(v.aims)
        if rng.random() < 0.05:
            return rng.choice(v.titles), a, t, g
        return rng.choice(TEMPLATES).format(a=a, t=t, g=g), a, t, g

    def years(self, count: int, first: int) -> list[int]:
        """A run of fiscal years: mostly consecutive, sometimes two projects in a year or a gap."""
        rng = self.rng
        steps = [rng.choices((0, 1, 2), (25, 60, 15))[0] for _ in range(count - 1)]
        if sum(steps) > 2026 - first:      # a large organisation: projects spread over the years
            return sorted(rng.randint(first, 2026) for _ in range(count))
        start = rng.randint(first, 2026 - sum(steps))
        years = [start]
        for step in steps:
            years.append(min(2026, years[-1] + step))
        return years

    def rows(self, n: int) -> Iterator[list[str]]:
        rng = self.rng
        made = 0
        for index in itertools.count():
            if made >= n:
                return
            count = bisect.bisect_right(self.size_cumulative, rng.random() * self.size_cumulative[-1]) + 1
            form, name = self.organization(index)
            pref = self.places.prefecture(rng)
            home = self.places.region_text(rng, pref)
            chosen = rng.sample(PROGRAMMES, 2 if rng.random() < 0.25 else 1)
            projects = []
            for j in range(count):
                programme, first, _ = chosen[j % len(chosen)]
                projects.append((programme, first))
            runs: dict[str, list[int]] = {}
            for programme, first in projects:
                runs.setdefault(programme, []).append(first)
            plan = []
            for programme, firsts in runs.items():
                plan += [(year, programme) for year in self.years(len(firsts), firsts[0])]
            plan.sort()
            held = set(plan)
            previous_title: dict[str, str] = {}
            for year, programme in plan:
                if made >= n:
                    return
                made += 1
                key = (programme, year)
                self.numbers[key] = self.numbers.get(key, 0) + 1
                title, a, t, g = self.title()
                if programme in previous_title and (year - 1, programme) in held and rng.random() < 0.5:
                    old = previous_title[programme]
                    title = old if rng.random() < 0.6 else ("第二期・" + old if not old.startswith("第二期") else old)
                previous_title[programme] = title
                written = form + (" " if form else "") + name
                if form == "特定非営利活動法人" and rng.random() < 0.1:
                    written = "NPO法人 " + name          # the same organisation, written another way
                region = home if rng.random() < 0.8 else self.places.region_text(rng, pref)
                prior = "○" if (year - 1, programme) in held else ""
                description = f"{t}を対象に、{a}を通じて{g}に取り組む。" if rng.random() < 0.25 else ""
                category = rng.choice(CATEGORIES) if rng.random() < 0.01 else ""
                yield [str(self.numbers[key]), written, title, region, prior, description, category, str(year),
                       programme]


def write_csv(out: Path, n: int, seed: int = 0) -> int:
    """Write ``n`` rows (plus the header) to ``out``; returns the number of rows written."""
    written = 0
    with open(out, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        for row in Generator(seed).rows(n):
            writer.writerow(row)
            written += 1
    return written


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="number of project rows (default 10000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True, help="CSV file to write")
    a = ap.parse_args(argv)
    count = write_csv(a.out, a.n, a.seed)
    print(f"{a.out}: {count} rows", file=sys.stderr)


if __name__ == "__main__":
    main()
