"""Pictures: a choropleth map of Japan (projects per prefecture) and the project–target-group network.

    >>> from kg import Tsunagari
    >>> from kg.pictures import map_figure, network_figure, save_figure
    >>> kg = Tsunagari.open("tsunagari-store")                      # doctest: +SKIP
    >>> save_figure(map_figure(kg, target_group="children"), "children.png")   # doctest: +SKIP

Figures are made with matplotlib's object API (``matplotlib.figure.Figure``, no pyplot state, so nothing
here changes a notebook's backend); PNGs are drawn by Agg, SVGs keep text as glyph paths. Japanese text
uses IPAex Gothic from the PyPI package ``matplotlib-fontja`` (found without importing it, so the global
matplotlib settings are left alone). Prefecture shapes are those of the PyPI package ``japanmap``
(Apache-2.0), vendored in ``kg/data/prefecture_outlines.json``: one simplified polygon per prefecture, the
area around the prefectural capital (small islands are not drawn). Layouts are deterministic: the same
store gives the same picture.
"""
from __future__ import annotations

import importlib.util
import json
import math
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from kg.errors import KgError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from kg.shapes import OpenStore

FONT_FAMILY = "IPAexGothic"
FORMATS = ("png", "svg")
SEED = 42                      # spring layout seed: same store, same picture
WIDE = 1.35                    # the network's ellipse is wider than tall: Japanese labels are wide
EMPTY = "#eceff1"              # prefectures without projects
EDGE = "#607d8b"
SEA_TEXT = "#455a64"
OKINAWA = "470007"
OUTLINES = "data/prefecture_outlines.json"    # in the kg package
# Prefectures too small for a number inside: the number goes to the sea here (lon, lat), with a leader line.
CALLOUTS = {"130001": (139.75, 34.75), "270008": (135.0, 34.3)}


class PictureError(KgError):
    """A picture cannot be made: unknown output format, nothing to draw, or a missing package."""


def japanese_font() -> str:
    """Register IPAex Gothic (bundled by ``matplotlib-fontja``) with matplotlib and return its family name.

    For your own plots in a notebook: ``plt.rcParams["font.family"] = japanese_font()``.
    """
    spec = importlib.util.find_spec("matplotlib_fontja")
    if spec is None or not spec.submodule_search_locations:
        raise PictureError("matplotlib-fontja is not installed (it brings the IPAex Gothic font for Japanese "
                           "labels) — pip install 'matplotlib-fontja>=1.1'")
    path = Path(list(spec.submodule_search_locations)[0]) / "fonts" / "ipaexg.ttf"
    if not path.is_file():
        raise PictureError(f"{path}: font file missing — reinstall matplotlib-fontja")
    from matplotlib import font_manager

    if FONT_FAMILY not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(path))
    return FONT_FAMILY


@contextmanager
def style() -> Iterator[None]:
    """Settings for drawing and saving our figures: the Japanese font, stable SVG ids."""
    _require("matplotlib", "matplotlib>=3.8")
    import matplotlib

    with matplotlib.rc_context({"font.family": [japanese_font(), "DejaVu Sans"], "svg.hashsalt": "tsunagari",
                                "svg.fonttype": "path", "axes.unicode_minus": False}):
        yield


# -- the map -------------------------------------------------------------------------------------------------
def prefecture_shapes() -> dict[str, list[tuple[float, float]]]:
    """Outline of each prefecture as (longitude, latitude) points, keyed by 6-digit code, in code order.

    The outlines are japanmap's (Apache-2.0), vendored as ``kg/data/prefecture_outlines.json`` by
    ``scripts/build_outlines.py`` (see ``prefecture_outlines.LICENSE``).
    """
    text = resources.files("kg").joinpath(OUTLINES).read_text(encoding="utf-8")
    return {code: [(x, y) for x, y in points] for code, points in json.loads(text).items()}


def map_figure(kg: "OpenStore", *, title: str | None = None, **filters: Any) -> "Figure":
    """A choropleth of Japan: projects per prefecture (``kg.frames.counts_by_prefecture``), Okinawa in an inset.

    >>> fig = map_figure(kg, block="kinki", title="近畿の事業")      # doctest: +SKIP
    >>> fig          # shows in a notebook; save_figure(fig, "kinki.svg") writes it     # doctest: +SKIP

    Args:
        kg: an open store.
        title: the title; by default it says what is counted and the filters.
        **filters: as for ``kg.projects`` (prefecture, municipality, block, target_group, theme, ...).
    Returns:
        A matplotlib Figure (not registered with pyplot).
    """
    from kg.frames import counts_by_prefecture

    counts = counts_by_prefecture(kg, **filters)
    total = len(kg.projects(**filters))
    with style():
        return _draw_map(counts, title or _title("都道府県別の事業数", total, filters))


def _draw_map(counts, title: str) -> "Figure":
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Polygon
    import matplotlib

    shapes = prefecture_shapes()
    by_code = counts.set_index("code")
    top = max(int(counts["projects"].max()), 1)
    palette = matplotlib.colormaps["YlGnBu"]
    colours = [EMPTY] + [palette(0.18 + 0.77 * (i / max(top - 1, 1))) for i in range(top)]
    cmap, norm = ListedColormap(colours), BoundaryNorm([b - 0.5 for b in range(top + 2)], top + 1)

    fig = Figure(figsize=(7.2, 7.6), dpi=100)
    ax = fig.add_axes((0.02, 0.10, 0.96, 0.80))
    inset = fig.add_axes((0.06, 0.64, 0.22, 0.20))
    for axes in (ax, inset):
        axes.set_aspect(1 / math.cos(math.radians(36)))      # equirectangular at Japan's latitude
        axes.set_xticks([]), axes.set_yticks([])
    for code, outline in shapes.items():
        n = int(by_code.loc[code, "projects"])
        axes = inset if code == OKINAWA else ax
        axes.add_patch(Polygon(outline, closed=True, facecolor=cmap(norm(n)), edgecolor=EDGE, linewidth=0.4))
        if not n:
            continue
        x, y = _label_point(outline)
        dark = norm(n) > (top + 1) * 0.55
        if code in CALLOUTS:
            axes.annotate(str(n), (x, y), xytext=CALLOUTS[code], ha="center", va="center", fontsize=7.5,
                          color="#263238", arrowprops={"arrowstyle": "-", "color": "#455a64", "linewidth": 0.6})
        else:
            axes.text(x, y, str(n), ha="center", va="center", fontsize=7, color="white" if dark else "#263238")
    ax.set_xlim(128.6, 146.2), ax.set_ylim(30.6, 45.8)
    for side in ax.spines.values():
        side.set_visible(False)
    okinawa = shapes[OKINAWA]
    xs, ys = [p[0] for p in okinawa], [p[1] for p in okinawa]
    inset.set_xlim(min(xs) - 0.35, max(xs) + 0.35), inset.set_ylim(min(ys) - 0.3, max(ys) + 0.3)
    for side in inset.spines.values():
        side.set_edgecolor("#90a4ae")
    inset.set_title("沖縄県", fontsize=8, color=SEA_TEXT, pad=2)

    fig.suptitle(title, fontsize=13, y=0.965)
    fig.text(0.5, 0.918, "1事業が複数の都道府県で活動する場合はそれぞれに数える（地方単位の記載は除く）",
             ha="center", fontsize=8, color=SEA_TEXT)
    bar_axes = fig.add_axes((0.20, 0.075, 0.60, 0.022))
    bar = fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), cax=bar_axes, orientation="horizontal")
    step = 1 if top <= 12 else math.ceil(top / 10)
    bar.set_ticks(list(range(0, top + 1, step)))
    bar.outline.set_edgecolor(EDGE)
    bar.set_label("事業数 (projects)", fontsize=9)
    bar.ax.tick_params(labelsize=8)
    reached = int((counts["projects"] > 0).sum())
    fig.text(0.98, 0.012, f"{reached} / 47 都道府県に事業あり ・ 地図: japanmap (Apache-2.0)",
             ha="right", fontsize=7, color="#78909c")
    return fig


def _label_point(outline: list[tuple[float, float]]) -> tuple[float, float]:
    """Area centroid of a polygon (falls back to the mean of its points)."""
    area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(outline, outline[1:] + outline[:1]):
        cross = x0 * y1 - x1 * y0
        area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(area) < 1e-12:
        return sum(p[0] for p in outline) / len(outline), sum(p[1] for p in outline) / len(outline)
    return cx / (3 * area), cy / (3 * area)


# -- the network ---------------------------------------------------------------------------------------------
def network_figure(kg: "OpenStore", *, title: str | None = None, list_projects: bool | None = None,
                   **filters: Any) -> "Figure":
    """The bipartite network of projects and their target groups (``schema:audience`` edges of ``kg.network``).

    Target groups are named in Japanese with their number of projects; projects are dots coloured by regional
    block and labelled with their number (their titles are listed beside the network when there are few).
    Projects without a target group are left out and counted in the caption. See ``network_layout``.

    >>> network_figure(kg, target_group="children")               # doctest: +SKIP

    Args:
        kg: an open store.
        title: the title; by default it says what is drawn and the filters.
        list_projects: list the projects' numbers and titles beside the network (default: when at most 25).
        **filters: as for ``kg.projects``, e.g. target_group="youth", prefecture="東京都".
    Returns:
        A matplotlib Figure.
    """
    graph, untagged = project_target_group_graph(kg, **filters)
    if not graph.number_of_edges():
        raise PictureError(f"no project with a target group matches {_describe(filters) or 'the store'}")
    with style():
        return _draw_network(graph, untagged, title or _title("事業と対象者のネットワーク", None, filters),
                             list_projects)


def project_target_group_graph(kg: "OpenStore", **filters: Any):
    """The projects matching ``filters`` and their target groups, as an undirected networkx Graph.

    Nodes are IRIs (as in ``kg.network``) with ``kind`` ("project" or "target-group"), ``label`` and
    (projects) ``number`` and ``block``. Returns the graph and the number of matching projects without a target group.
    """
    import networkx as nx

    from kg.normalize.concepts import ConceptSchemes

    schemes = ConceptSchemes.load()
    views = {p["iri"]: p for p in kg.projects(**filters)}
    network = kg.network
    graph = nx.Graph()
    untagged = 0
    for iri in sorted(views):
        view = views[iri]
        groups = sorted(v for _, v, key in network.out_edges(iri, keys=True) if key == "schema:audience")
        if not groups:
            untagged += 1
            continue
        blocks = sorted({r["block"] for r in view["regions"] if r["block"]})
        graph.add_node(iri, kind="project", label=view["title"], number=view["number"],
                       block=blocks[0] if len(blocks) == 1 else "several")
        for group in groups:
            concept = group.rsplit("/", 1)[1]
            graph.add_node(group, kind="target-group", label=schemes.get("target-group", concept).ja)
            graph.add_edge(iri, group)
    return graph, untagged


# One colour per regional block, north to south: Okabe–Ito (colour-blind safe), with olive for Shikoku
# instead of yellow, which is unreadable as text on white.
BLOCK_COLOURS = {
    "hokkaido": "#56B4E9", "tohoku": "#0072B2", "kanto": "#D55E00", "chubu": "#E69F00", "kinki": "#CC79A7",
    "chugoku": "#009E73", "shikoku": "#999933", "kyushu": "#8C564B", "several": "#9E9E9E",
}


def network_layout(graph) -> dict[str, tuple[float, float]]:
    """Target groups on a circle, projects around them; deterministic.

    Each target group gets an arc of the circle in proportion to its projects (groups sharing projects
    side by side); a project with one target group sits just outside its group's arc, fanned out; a
    project with several sits inside the circle between its groups, spread by a spring layout (networkx,
    fixed seed) with everything else held still.
    """
    import networkx as nx

    groups = _circle_order(graph)
    weights = [graph.degree(g) + 4 for g in groups]
    total = sum(weights)
    pos: dict[str, tuple[float, float]] = {}
    start = math.pi / 2 + math.pi * weights[0] / total        # the first group centred at the top
    exclusive = {g: sorted((p for p in graph[g] if graph.degree(p) == 1), key=lambda p: graph.nodes[p]["number"])
                 for g in groups}
    at = lambda radius, angle: (WIDE * radius * math.cos(angle), radius * math.sin(angle))  # noqa: E731
    for i, (group, weight) in enumerate(zip(groups, weights)):
        arc = 2 * math.pi * weight / total
        middle = start - arc / 2
        # Labels are wide: near the top and bottom, every other group steps inwards so neighbours do not touch.
        pos[group] = at(0.86 if i % 2 and abs(math.sin(middle)) > 0.9 else 1.0, middle)
        mine = exclusive[group]
        rows = 1 if len(mine) <= 6 else 2
        for j, project in enumerate(mine):
            row, column, per_row = j % rows, j // rows, math.ceil(len(mine) / rows)
            angle = middle + arc * 0.8 * ((column + 0.5) / per_row - 0.5) if per_row > 1 else middle
            pos[project] = at(1.22 + 0.16 * row, angle)
        start -= arc
    shared = sorted(p for p, d in graph.nodes(data=True) if d["kind"] == "project" and p not in pos)
    alike: dict[tuple[str, ...], list[str]] = {}
    for project in shared:
        alike.setdefault(tuple(sorted(graph[project])), []).append(project)
    for anchors, same in alike.items():
        x, y = (0.72 * sum(pos[g][i] for g in anchors) / len(anchors) for i in (0, 1))
        norm = math.hypot(x, y) or 1.0
        for j, project in enumerate(same):       # projects with the same groups side by side, across the radius
            shift = 0.13 * (j - (len(same) - 1) / 2)
            pos[project] = (x - shift * y / norm, y + shift * x / norm)
    if shared:   # a spring layout (networkx, fixed seed) settles them, everything else held still
        fixed = sorted(n for n in pos if n not in shared)
        spread = nx.spring_layout(graph, pos=pos, fixed=fixed, k=0.16, iterations=40, seed=SEED)
        pos.update({p: (float(spread[p][0]), float(spread[p][1])) for p in shared})
        _separate(pos, shared, distance=0.14)
    return pos


def _separate(pos: dict[str, tuple[float, float]], movable: list[str], distance: float, rounds: int = 60) -> None:
    """Push apart movable points closer than ``distance`` (deterministic: fixed order, fixed rounds)."""
    for _ in range(rounds):
        moved = False
        for i, a in enumerate(movable):
            for b in movable[i + 1:]:
                (xa, ya), (xb, yb) = pos[a], pos[b]
                gap = math.hypot(xb - xa, yb - ya)
                if gap >= distance:
                    continue
                ux, uy = ((xb - xa) / gap, (yb - ya) / gap) if gap > 1e-9 else (1.0, 0.0)
                push = (distance - gap) / 2
                pos[a], pos[b] = (xa - ux * push, ya - uy * push), (xb + ux * push, yb + uy * push)
                moved = True
        if not moved:
            return


def _circle_order(graph) -> list[str]:
    """Target groups in an order that keeps groups sharing projects next to each other (greedy, deterministic)."""
    groups = sorted(n for n, d in graph.nodes(data=True) if d["kind"] == "target-group")
    shared = {(a, b): len(set(graph[a]) & set(graph[b])) for a in groups for b in groups if a != b}
    order = [max(groups, key=lambda g: (graph.degree(g), g))]
    left = set(groups) - set(order)
    while left:
        last = order[-1]
        best = max(sorted(left), key=lambda g: (shared[(last, g)], graph.degree(g)))
        order.append(best)
        left.remove(best)
    return order


def _draw_network(graph, untagged: int, title: str, list_projects: bool | None) -> "Figure":
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from kg.normalize.gazetteer import Gazetteer

    projects = sorted(n for n, d in graph.nodes(data=True) if d["kind"] == "project")
    groups = sorted(n for n, d in graph.nodes(data=True) if d["kind"] == "target-group")
    label_projects = len(projects) <= 25 if list_projects is None else list_projects
    pos = network_layout(graph)

    fig = Figure(figsize=(12, 7.2) if label_projects else (11, 8.6), dpi=100)
    ax = fig.add_axes((0.0, 0.08, 0.63, 0.82) if label_projects else (0.01, 0.07, 0.98, 0.84))
    ax.set_axis_off()
    ax.set_aspect("equal")
    for a, b in sorted(graph.edges()):
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ax.plot([x0, x1], [y0, y1], color="#b0bec5", linewidth=0.8, zorder=1)
    ax.scatter([pos[p][0] for p in projects], [pos[p][1] for p in projects], s=40, zorder=2,
               c=[BLOCK_COLOURS[graph.nodes[p]["block"]] for p in projects], edgecolors="white", linewidths=0.7)
    for p in projects:
        ax.annotate(str(graph.nodes[p]["number"]), pos[p], xytext=(0, -6), textcoords="offset points", ha="center",
                    va="top", fontsize=6.5, color="#455a64", zorder=3)
    if label_projects:       # a key beside the network: number, title
        listed = sorted(projects, key=lambda p: graph.nodes[p]["number"])
        size = 8 if len(listed) <= 18 else 7
        for row, p in enumerate(listed):
            node = graph.nodes[p]
            y = 0.88 - row * min(0.034, 0.8 / len(listed))
            fig.text(0.645, y, f"{node['number']:>3}", fontsize=size, color=BLOCK_COLOURS[node["block"]],
                     ha="right", va="center")
            fig.text(0.655, y, _shorten(node["label"], 30), fontsize=size, color="#37474f", va="center")
    top = max(graph.degree(g) for g in groups)
    for g in groups:
        degree = graph.degree(g)
        ax.text(pos[g][0], pos[g][1], f"{graph.nodes[g]['label']} {degree}", ha="center", va="center",
                fontsize=8 + 4 * degree / top, color="#212121", zorder=5,
                bbox={"boxstyle": "round,pad=0.3", "facecolor": "#fff3e0", "edgecolor": "#8d6e63", "linewidth": 0.8})
    for axis, values, margin in ((ax.set_xlim, [p[0] for p in pos.values()], 0.5),
                                 (ax.set_ylim, [p[1] for p in pos.values()], 0.22)):
        low, high = min(values) - margin, max(values) + margin
        middle, half = (low + high) / 2, max(high - low, 1.6) / 2      # a small network is not blown up
        axis(middle - half, middle + half)

    fig.suptitle(title, fontsize=13, y=0.975)
    caption = f"事業 {len(projects)} 件（点：採択番号）・対象者 {len(groups)} 種（枠：名称と事業数）"
    if untagged:
        caption += f"・対象者タグのない事業 {untagged} 件は省略"
    fig.text(0.5, 0.925 if label_projects else 0.935, caption, ha="center", fontsize=8.5, color=SEA_TEXT)
    names = {b.id: b.name for b in Gazetteer.load().blocks()} | {"several": "複数の地方"}
    used = [b for b in BLOCK_COLOURS if any(graph.nodes[p]["block"] == b for p in projects)]
    handles = [Line2D([], [], marker="o", linestyle="", markersize=6, markerfacecolor=BLOCK_COLOURS[b],
                      markeredgecolor="white", label=names[b]) for b in used]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8.5, frameon=False,
               title="事業の地方（点の色）", title_fontsize=8.5, bbox_to_anchor=(0.5, 0.0))
    return fig


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# -- saving --------------------------------------------------------------------------------------------------
def save_figure(fig: "Figure", out: Path | str, *, dpi: int = 150) -> Path:
    """Write a figure as PNG or SVG (by the file's suffix); returns the path.

    PNG and SVG carry no date, so the same figure gives the same file.
    """
    out = Path(out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise PictureError(f"{out}: unknown picture format {out.suffix or '(none)'!r} — use .png or .svg")
    if not out.parent.exists():
        raise PictureError(f"{out.parent}: no such folder")
    metadata = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
    with style():
        fig.savefig(out, format=fmt, dpi=dpi, metadata=metadata, facecolor="white")
    return out


def _title(subject: str, total: int | None, filters: dict[str, Any]) -> str:
    described = _describe(filters)
    count = f"（{total}件）" if total is not None else ""
    return f"{subject}{count}" + (f" — {described}" if described else "")


FILTER_NAMES = {"prefecture": "都道府県", "municipality": "市区町村", "block": "地方", "target_group": "対象者",
                "theme": "テーマ", "fiscal_year": "年度", "legal_form": "法人格"}


def _describe(filters: dict[str, Any]) -> str:
    """The filters in words: 対象者: 子ども, 都道府県: 東京都."""
    from kg.normalize.concepts import ConceptSchemes

    parts = []
    for key, value in filters.items():
        if value in (None, ""):
            continue
        if key in ("target_group", "theme"):
            try:
                value = ConceptSchemes.load().get(key.replace("_", "-"), str(value)).ja
            except KgError:
                pass
        parts.append(f"{FILTER_NAMES.get(key, key)}: {value}")
    return "、".join(parts)


def _require(module: str, requirement: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise PictureError(f"{module} is not installed — pip install '{requirement}'")


__all__ = ["map_figure", "network_figure", "save_figure", "japanese_font", "prefecture_shapes",
           "project_target_group_graph", "PictureError"]
