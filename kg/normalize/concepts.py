"""Target groups and themes: two SKOS schemes (data/concepts.ttl), a tagger (data/concept_rules.tsv)
and a label finder for free-text queries in Japanese, English, Chinese, Korean, Vietnamese,
Portuguese, Tagalog, Nepali and Spanish.

    >>> schemes = ConceptSchemes.load()
    >>> [(t.concept, t.evidence) for t in schemes.tag("ひきこもり遍路2024")]
    [('hikikomori', ('ひきこもり',)), ('pilgrimage', ('遍路',))]
    >>> schemes.match_labels("men's shed in Shizuoka")
    [('theme', 'men-shed', "men's shed")]
    >>> schemes.match_labels("은둔형 외톨이 청년 지원")
    [('target-group', 'hikikomori', '은둔형 외톨이'), ('target-group', 'youth', '청년')]
"""
from __future__ import annotations

import bisect
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS, SKOS

from kg.errors import KgError, NotFound
from kg.normalize.inflection import STEMMERS, InflectedLabels
from kg.records import Tag
from kg.vocab import concept_iri, scheme_iri

DATA = Path(__file__).resolve().parent.parent / "data"
SCHEMES = ("target-group", "theme")
LANGUAGES = ("ja", "en", "zh", "ko")  # ja and en are required; zh (simplified) and ko are for queries
# Labels for queries in the languages of Japan's other large foreign communities (one skos:prefLabel
# at most, any number of skos:altLabel): Vietnamese, Brazilian Portuguese, Tagalog, Nepali, Spanish.
MORE_LANGUAGES = ("vi", "pt", "tl", "ne", "es")
FIELDS = ("title", "description", "organization")
_RULE_COLUMNS = ("scheme", "concept", "kind", "fields", "pattern", "note")


class ConceptDataError(KgError):
    """concepts.ttl or concept_rules.tsv is inconsistent (unknown concept, bad pattern, cycle...)."""


@dataclass(frozen=True)
class Concept:
    """One SKOS concept of a scheme; ``id`` is its skos:notation and the last part of its IRI."""

    id: str
    scheme: str                       # "target-group" | "theme"
    ja: str                           # skos:prefLabel @ja
    en: str                           # skos:prefLabel @en
    alt_ja: tuple[str, ...] = ()
    alt_en: tuple[str, ...] = ()
    broader: tuple[str, ...] = ()     # ids in the same scheme
    definition: str = ""
    zh: str = ""                      # skos:prefLabel @zh (simplified Chinese), "" if none
    ko: str = ""                      # skos:prefLabel @ko, "" if none
    alt_zh: tuple[str, ...] = ()
    alt_ko: tuple[str, ...] = ()
    definitions: tuple[str, ...] = ()  # skos:definition in every language, en first (matching by meaning)
    more_labels: tuple[str, ...] = ()  # labels in MORE_LANGUAGES: preferred then alternatives, in that order
    inflected: tuple[tuple[str, str], ...] = ()  # (language, label) of labels matched also when inflected

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label, preferred first (ja, en, zh, ko), then the alternatives in the same order, then
        the labels in vi, pt, tl, ne and es (each label once: pt and es share words)."""
        preferred = tuple(label for label in (self.ja, self.en, self.zh, self.ko) if label)
        return tuple(dict.fromkeys(preferred + self.alt_ja + self.alt_en + self.alt_zh + self.alt_ko
                                   + self.more_labels))


@dataclass(frozen=True)
class _Rule:
    scheme: str
    concept: str
    kind: str                         # "include" | "exclude"
    fields: frozenset[str]
    pattern: re.Pattern[str]
    line: int


def nfkc_single_spaced(text: str) -> str:
    """Matching form for the tagger: NFKC (full-width letters, half-width kana folded), spaces collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def _free_span(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether [start, end) overlaps none of ``spans`` but itself; if so, it joins them.

    ``spans`` are the distinct spans kept so far in one scheme, sorted. Spans are kept longest first and
    none overlaps another, so only the last span starting before ``end`` can overlap: a look-up by
    bisection, where testing every kept span made a long text's matching quadratic.
    """
    at = _last_starting_before(spans, end)
    if at >= 0 and spans[at][1] > start:
        return spans[at] == (start, end)
    spans.insert(at + 1, (start, end))
    return True


def _last_starting_before(spans: list[tuple[int, int]], end: int) -> int:
    """Index of the last of the sorted ``spans`` that starts before ``end`` (-1 if none): of spans that do
    not overlap, the only one that can overlap a span ending at ``end``."""
    return bisect.bisect_left(spans, end, key=lambda span: span[0]) - 1


def _disjoint(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans with the overlapping and touching ones merged (a non-empty span overlaps the result
    where it overlapped one of ``spans``)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _label_key(text: str) -> str:
    """Matching form for labels and queries: NFKC, case-folded, ・ dropped, - _ and ’ unified."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.replace("・", "").replace("’", "'").replace("‘", "'")
    return re.sub(r"[\s\-_]+", " ", text).strip()


class ConceptSchemes:
    """The target-group and theme schemes with their tagging rules. Build with :meth:`load`."""

    def __init__(self, concepts: dict[tuple[str, str], Concept], rules: tuple[_Rule, ...], ttl: str | Path):
        self._concepts = concepts
        self._ttl = str(ttl)
        self._graph: Graph | None = None    # parsed with rdflib only when graph() is asked for
        grouped: dict[tuple[str, str], tuple[list[_Rule], list[_Rule]]] = defaultdict(lambda: ([], []))
        for rule in rules:
            grouped[(rule.scheme, rule.concept)][0 if rule.kind == "include" else 1].append(rule)
        # Sorted by (scheme, id) so tags come out in a stable order without sorting twice.
        self._rules = {key: (tuple(inc), tuple(exc)) for key, (inc, exc) in sorted(grouped.items())}
        # What tag() runs, worked out once: per field, each concept with include patterns for it, the
        # alternation of those patterns (one search skips the concept when none occurs) and its excludes.
        self._plan = {field: tuple((scheme, concept, _screen(pats), pats, [r.pattern for r in exc])
                                   for (scheme, concept), (inc, exc) in self._rules.items()
                                   if (pats := [r.pattern for r in inc if field in r.fields]))
                      for field in FIELDS}
        self._labels = _LabelFinder(concepts.values())
        self._inflected = InflectedLabels((lang, c.scheme, c.id, _label_key(label)) for c in concepts.values()
                                          for lang, label in c.inflected)

    @classmethod
    def load(cls, ttl: str | Path | None = None, rules: str | Path | None = None) -> ConceptSchemes:
        """Read the schemes and rules (bundled files by default); cached per pair of paths.

        Example:
            >>> ConceptSchemes.load().get("target-group", "teens").broader
            ('children', 'youth')

        Raises:
            ConceptDataError: the files are inconsistent; the message names file and line.
        """
        ttl_path = Path(ttl) if ttl else DATA / "concepts.ttl"
        rules_path = Path(rules) if rules else DATA / "concept_rules.tsv"
        return _load(str(ttl_path.resolve()), str(rules_path.resolve()))

    # -- the schemes -------------------------------------------------------------------------

    def get(self, scheme: str, id: str) -> Concept:
        """The concept ``id`` of ``scheme``; raises NotFound naming the known ids."""
        try:
            return self._concepts[(self._check_scheme(scheme), id)]
        except KeyError:
            known = ", ".join(c.id for c in self.concepts(scheme))
            raise NotFound(f"no {scheme} concept {id!r} — use one of: {known}") from None

    def concepts(self, scheme: str) -> tuple[Concept, ...]:
        """All concepts of a scheme, sorted by id."""
        self._check_scheme(scheme)
        return tuple(c for (s, _), c in sorted(self._concepts.items()) if s == scheme)

    def ancestors(self, scheme: str, id: str) -> tuple[str, ...]:
        """Every concept above ``id`` (skos:broader, transitively), nearest first, then by id.

        Example: ``ancestors("target-group", "older-men") == ("middle-aged",)``.
        """
        seen: list[str] = []
        level = list(self.get(scheme, id).broader)
        while level:
            level = sorted(set(level) - set(seen))
            seen.extend(level)
            level = [b for c in level for b in self.get(scheme, c).broader]
        return tuple(seen)

    def iri(self, scheme: str, id: str) -> URIRef:
        """The IRI of a concept that exists, e.g. https://w3id.org/tsunagari/concept/theme/men-shed."""
        self.get(scheme, id)
        return concept_iri(scheme, id)

    def graph(self) -> Graph:
        """A fresh copy of the schemes as an rdflib Graph, ready to merge into the KG."""
        if self._graph is None:
            self._graph = Graph()
            self._graph.parse(self._ttl, format="turtle")
        copy = Graph()
        copy.bind("skos", SKOS)
        copy.bind("dcterms", DCTERMS)
        copy += self._graph
        return copy

    # -- tagging -------------------------------------------------------------------------------

    def tag(self, title: str, description: str | None = None, organization: str | None = None) -> tuple[Tag, ...]:
        """Tags for one project from its words; one Tag per concept per field it matched in.

        Order is (scheme, concept id, field as title < description < organization). Evidence
        holds the matched words (NFKC) in text order. A match overlapping an exclusion of the
        same concept is dropped. Organisation names only give target groups, and only through
        words naming whom the organisation serves (see the header of concept_rules.tsv).
        Tags are the concepts matched, never their ancestors: expand with :meth:`ancestors`.

        Example:
            >>> [t.concept for t in ConceptSchemes.load().tag("石巻地域の不登校中高生 応援ホットスペースプロジェクト")]
            ['school-refusal', 'teens', 'place-to-belong']
        """
        tags: list[Tag] = []
        for field, text in zip(FIELDS, (title, description, organization)):
            if not text:
                continue
            text = nfkc_single_spaced(text)
            for scheme, concept, screen, patterns, excludes in self._plan[field]:
                if screen is not None and screen.search(text) is None:
                    continue
                words = _matched_words(text, patterns, excludes)
                if words:
                    tags.append(Tag(scheme, concept, words, field))
        if len(tags) > 1:       # by (scheme, concept), then field in FIELDS order (the sort is stable)
            tags.sort(key=lambda t: (t.scheme, t.concept))
        return tuple(tags)

    # -- query labels -------------------------------------------------------------------------

    def match_labels(self, query: str) -> list[tuple[str, str, str]]:
        """Concept labels found in a free-text query, as (scheme, id, label), in query order.

        Both sides are folded (NFKC, case-folded, ・ dropped, - and _ as spaces). Labels in Latin
        letters (English, Spanish, "SNS") match as whole words, plural -s/-es allowed, and
        Portuguese and Spanish labels also in another inflected form (same Snowball stems, accents
        folded: "famílias estrangeiras" finds *estrangeiros*; kg.normalize.inflection) where no
        label of that concept matched as written; all others
        (Japanese, Chinese, Korean) match as substrings, so Korean particles may follow
        (어르신들을 still says 어르신), and a label with a space also matches written without
        it (등교 거부 = 등교거부). A label inside a longer matched label of the same scheme is
        ignored, whatever the languages (シニア in シニア男性 gives older-men, not elderly;
        工作 in 男人的工作坊 gives men-shed, not crafts); across schemes both count
        (子ども食堂 gives food and children; 多世代 gives all-generations and multigenerational).

        Example:
            >>> ConceptSchemes.load().match_labels("不登校の子ども")
            [('target-group', 'school-refusal', '不登校'), ('target-group', 'children', '子ども')]
        """
        key = _label_key(query)
        found = self._labels.find(key)
        exact = {(hit[2], hit[3]) for hit in found}
        found += [hit for hit in self._inflected.find(key) if (hit[2], hit[3]) not in exact]
        kept: list[tuple[int, int, str, str, str]] = []
        spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for hit in sorted(found, key=lambda h: (h[0] - h[1], h[0], h[2], h[3], h[4])):
            # Nesting only hides labels of the same scheme: 多世代交流 (theme) still says 多世代 (who).
            if _free_span(spans[hit[2]], hit[0], hit[1]):
                kept.append(hit)
        result: list[tuple[str, str, str]] = []
        seen: set[tuple[str, str]] = set()
        for _, _, scheme, id, label in sorted(kept, key=lambda h: (h[0], h[2], h[3])):
            if (scheme, id) not in seen:
                seen.add((scheme, id))
                result.append((scheme, id, label))
        return result

    def _check_scheme(self, scheme: str) -> str:
        if scheme not in SCHEMES:
            raise NotFound(f"no concept scheme {scheme!r} — use one of: {', '.join(SCHEMES)}")
        return scheme


def _screen(patterns: list[re.Pattern[str]]) -> re.Pattern[str] | None:
    """One pattern matching wherever any of ``patterns`` does (None if they cannot be combined)."""
    try:
        return re.compile("|".join(f"(?:{p.pattern})" for p in patterns))
    except re.error:
        return None


def _matched_words(text: str, patterns: list[re.Pattern[str]], excludes: list[re.Pattern[str]]) -> tuple[str, ...]:
    """Words matched by the patterns, not overlapping an exclusion; longest wins among overlaps."""
    spans = [m.span() for p in patterns for m in p.finditer(text) if m.end() > m.start()]
    if not spans:
        return ()
    blocked = _disjoint([m.span() for p in excludes for m in p.finditer(text)])
    kept: list[tuple[int, int]] = []
    for start, end in sorted(set(spans), key=lambda s: (s[0] - s[1], s[0])):
        at = _last_starting_before(blocked, end)
        if not (at >= 0 and blocked[at][1] > start):
            _free_span(kept, start, end)
    return tuple(dict.fromkeys(text[a:b] for a, b in kept))


_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def _latin(ch: str) -> bool:
    """Part of a word written in Latin letters: ASCII letters and digits, accented letters (Latin-1
    to Latin Extended-B, Latin Extended Additional for Vietnamese), combining accents."""
    return (ch in _WORD_CHARS or "\u00c0" <= ch <= "\u024f" and ch not in "\u00d7\u00f7"
            or "\u1e00" <= ch <= "\u1eff" or "\u0300" <= ch <= "\u036f")
_END = ""  # trie key under which the labels ending at a node are kept (never a character of the text)


class _LabelFinder:
    """Every label of every concept in one character trie over folded text, walked from each position.

    One walk finds all labels, overlapping ones included, in O(len(text) x longest label) dict
    look-ups: about 5-30 µs for a query of 5-35 characters with ~1,900 label keys (a regex or
    str.find per label took 0.3-0.5 ms with the 700 keys of ja and en alone, 1-2 ms with all). Labels
    in Latin letters are checked for word boundaries and a plural -s/-es at the end, as the pattern
    (?<![a-z0-9])label(?:s|es)?(?![a-z0-9]) would (accented Latin letters count as word characters).
    """

    def __init__(self, concepts: Iterable[Concept]):
        self._root: dict = {}
        seen: set[tuple[str, str, str]] = set()
        for c in sorted(concepts, key=lambda c: (c.scheme, c.id)):
            for label in c.labels:
                key = _label_key(label)
                word = all(_latin(ch) or not ch.isalnum() for ch in key)
                # Korean (and any CJK) spacing varies: a label with a space also matches without it.
                for variant in (key,) if word else dict.fromkeys((key, key.replace(" ", ""))):
                    if variant and (variant, c.scheme, c.id) not in seen:
                        seen.add((variant, c.scheme, c.id))
                        node = self._root
                        for char in variant:
                            node = node.setdefault(char, {})
                        node.setdefault(_END, []).append((c.scheme, c.id, label, word))

    def find(self, text: str) -> list[tuple[int, int, str, str, str]]:
        """(start, end, scheme, id, label) for every label occurrence in already folded text."""
        found: list[tuple[int, int, str, str, str]] = []
        root, size = self._root, len(text)
        for start in range(size):
            node = root.get(text[start])
            end = start
            while node is not None:
                end += 1
                for scheme, id, label, word in node.get(_END, ()):
                    if not word:
                        found.append((start, end, scheme, id, label))
                    elif start == 0 or not _latin(text[start - 1]):
                        stop = _word_end(text, end)
                        if stop:
                            found.append((start, stop, scheme, id, label))
                if end == size:
                    break
                node = node.get(text[end])
        return found


def _word_end(text: str, end: int) -> int:
    """Where a whole-word match ending at ``end`` stops, after an optional plural s/es; 0 if it is no word."""
    for suffix in ("s", "es", ""):
        stop = end + len(suffix)
        if text.startswith(suffix, end) and (stop == len(text) or not _latin(text[stop])):
            return stop
    return 0


@lru_cache(maxsize=8)
def _load(ttl: str, rules: str) -> ConceptSchemes:
    triples = _Triples.parse(ttl)
    concepts = _read_concepts(triples, ttl)
    return ConceptSchemes(concepts, _read_rules(Path(rules), concepts), ttl)


class _Triples:
    """The concept file's triples, indexed for the few look-ups the reader needs.

    Parsed with pyoxigraph (Rust, ~10 ms) rather than rdflib (~0.5 s): `tsunagari search` reads the
    schemes on every start. Literals are (text, language) pairs; IRIs are plain strings.
    """

    def __init__(self, triples: list[tuple[str, str, object]]) -> None:
        self.by_subject: dict[tuple[str, str], list[object]] = defaultdict(list)
        self.by_object: dict[tuple[str, object], list[str]] = defaultdict(list)
        for s, p, o in triples:
            self.by_subject[(s, p)].append(o)
            self.by_object[(p, o)].append(s)

    @classmethod
    def parse(cls, ttl: str) -> "_Triples":
        import pyoxigraph

        try:
            parsed = list(pyoxigraph.parse(path=ttl, format=pyoxigraph.RdfFormat.TURTLE))
        except FileNotFoundError:
            raise ConceptDataError(f"{ttl}: file not found — the concept schemes ship in kg/data") from None
        except (SyntaxError, ValueError, OSError) as e:
            raise ConceptDataError(f"{ttl}: not valid Turtle: {e}") from e
        triples = []
        for t in parsed:
            o = t.object
            value = (o.value, o.language) if isinstance(o, pyoxigraph.Literal) else o.value
            triples.append((t.subject.value, t.predicate.value, value))
        return cls(triples)

    def subjects(self, predicate: str, obj: str) -> list[str]:
        return self.by_object.get((predicate, obj), [])

    def objects(self, subject: str, predicate: str) -> list[object]:
        return self.by_subject.get((subject, predicate), [])


_SKOS = "http://www.w3.org/2004/02/skos/core#"


def _read_concepts(triples: _Triples, where: str) -> dict[tuple[str, str], Concept]:
    concepts: dict[tuple[str, str], Concept] = {}
    for scheme in SCHEMES:
        prefix = str(concept_iri(scheme, ""))
        for node in sorted(set(triples.subjects(_SKOS + "inScheme", str(scheme_iri(scheme))))):
            notations = [o[0] for o in triples.objects(node, _SKOS + "notation") if isinstance(o, tuple)]
            notation = notations[0] if notations else ""
            if node != prefix + notation:
                raise ConceptDataError(f"{where}: {node} has notation {notation!r}; it must equal the IRI's last part")

            def literals(predicate: str, lang: str, node: str = node) -> tuple[str, ...]:
                return tuple(sorted(o[0] for o in triples.objects(node, _SKOS + predicate)
                                    if isinstance(o, tuple) and o[1] == lang))

            labels = {lang: literals("prefLabel", lang) for lang in LANGUAGES}
            if len(labels["ja"]) != 1 or len(labels["en"]) != 1:
                raise ConceptDataError(f"{where}: {node} needs exactly one skos:prefLabel in ja and one in en")
            more = {lang: literals("prefLabel", lang) for lang in MORE_LANGUAGES}
            if any(len(v) > 1 for v in [labels["zh"], labels["ko"], *more.values()]):
                raise ConceptDataError(f"{where}: {node} has more than one skos:prefLabel in zh or ko (or vi, pt, "
                                       "tl, ne) — keep one, make the others skos:altLabel")
            broader = []
            for b in triples.objects(node, _SKOS + "broader"):
                if not isinstance(b, str) or not b.startswith(prefix):
                    raise ConceptDataError(f"{where}: {node} has broader {b} from another scheme")
                broader.append(b[len(prefix):])
            concepts[(scheme, notation)] = Concept(
                id=notation, scheme=scheme, ja=labels["ja"][0], en=labels["en"][0],
                alt_ja=literals("altLabel", "ja"), alt_en=literals("altLabel", "en"),
                broader=tuple(sorted(broader)),
                definition=" ".join(literals("definition", "en")),
                zh="".join(labels["zh"]), ko="".join(labels["ko"]),
                alt_zh=literals("altLabel", "zh"), alt_ko=literals("altLabel", "ko"),
                definitions=tuple(d for lang in ("en", "ja", "zh", "ko") for d in literals("definition", lang)),
                more_labels=tuple(label for lang in MORE_LANGUAGES for label in more[lang] + literals("altLabel", lang)),
                inflected=tuple((lang, label) for lang in STEMMERS for label in more[lang] + literals("altLabel", lang)))
        if not any(s == scheme for s, _ in concepts):
            raise ConceptDataError(f"{where}: no concepts in scheme {scheme_iri(scheme)}")
    for (scheme, id), concept in concepts.items():
        for b in concept.broader:
            if (scheme, b) not in concepts:
                raise ConceptDataError(f"{where}: {scheme}/{id} has broader {b!r}, which is not defined")
        _check_no_cycle(concepts, scheme, id, where)
    return concepts


def _check_no_cycle(concepts: dict[tuple[str, str], Concept], scheme: str, id: str, where: str) -> None:
    stack, seen = list(concepts[(scheme, id)].broader), set()
    while stack:
        current = stack.pop()
        if current == id:
            raise ConceptDataError(f"{where}: {scheme}/{id} is its own ancestor through skos:broader")
        if current not in seen:
            seen.add(current)
            stack.extend(concepts[(scheme, current)].broader)


def _read_rules(path: Path, concepts: dict[tuple[str, str], Concept]) -> tuple[_Rule, ...]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConceptDataError(f"{path}: file not found — the tagging rules ship in kg/data") from None
    rules: list[_Rule] = []
    header_seen = False
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if not header_seen:
            if tuple(c.strip() for c in cols) != _RULE_COLUMNS:
                raise ConceptDataError(f"{path}:{number}: expected the header {' '.join(_RULE_COLUMNS)} (tab-separated)")
            header_seen = True
            continue
        rules.append(_parse_rule(cols, f"{path}:{number}", number, concepts))
    have_include = {(r.scheme, r.concept) for r in rules if r.kind == "include"}
    missing = sorted(set(concepts) - have_include)
    if missing:
        raise ConceptDataError(f"{path}: no include rule for {', '.join(f'{s}/{c}' for s, c in missing)} — add its words")
    return tuple(rules)


def _parse_rule(cols: list[str], where: str, number: int, concepts: dict[tuple[str, str], Concept]) -> _Rule:
    if len(cols) not in (5, 6):
        raise ConceptDataError(f"{where}: expected 5 or 6 tab-separated columns, got {len(cols)}")
    scheme, concept, kind, fields, pattern = (c.strip() for c in cols[:5])
    if (scheme, concept) not in concepts:
        raise ConceptDataError(f"{where}: unknown concept {scheme}/{concept} — define it in concepts.ttl first")
    if kind not in ("include", "exclude"):
        raise ConceptDataError(f"{where}: kind must be include or exclude, not {kind!r}")
    field_set = frozenset(FIELDS) if fields == "*" else frozenset(f.strip() for f in fields.split(","))
    if not field_set <= set(FIELDS):
        raise ConceptDataError(f"{where}: fields must be a comma list of {', '.join(FIELDS)} or *")
    if kind == "include" and scheme == "theme" and "organization" in field_set:
        # Policy: a name says who runs a project, not what the project does.
        raise ConceptDataError(f"{where}: theme rules may not read organisation names — drop 'organization'")
    try:
        compiled = re.compile(pattern)
    except re.error as e:
        raise ConceptDataError(f"{where}: bad regular expression {pattern!r}: {e}") from None
    return _Rule(scheme, concept, kind, field_set, compiled, number)
