"""Pictures: the map and the network, as files and through the CLI; Japanese text drawn with a real font."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from click.testing import CliRunner  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from kg import Tsunagari  # noqa: E402
from kg.cli import cli  # noqa: E402
from kg.pictures import (  # noqa: E402
    FONT_FAMILY, PictureError, japanese_font, map_figure, network_figure, network_layout, prefecture_shapes,
    project_target_group_graph, save_figure,
)
from kg.cli.pictures import graph_picture, map_command  # noqa: E402

pytestmark = pytest.mark.slow      # renders figures with matplotlib (fonts, PNG and SVG encoders)


@pytest.fixture(scope="module")
def kg(built_store) -> Tsunagari:
    return Tsunagari.open(built_store)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def missing_glyphs(figure) -> set[str]:
    """Characters of the figure's texts that IPAex Gothic has no glyph for (they would show as tofu boxes)."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    font = FT2Font(font_manager.findfont(FONT_FAMILY, fallback_to_default=False))
    texts = "".join(t.get_text() for t in figure.findobj(Text))
    return {c for c in texts if not c.isspace() and font.get_char_index(ord(c)) == 0}


def test_prefecture_shapes_cover_all_47(kg):
    shapes = prefecture_shapes()
    assert len(shapes) == 47 and all(len(outline) > 10 for outline in shapes.values())
    lon, lat = zip(*shapes["470007"])               # Okinawa is where it should be
    assert 127 < min(lon) and max(lon) < 129 and 26 < min(lat) and max(lat) < 27.5


def test_outlines_are_vendored_with_their_licence():
    """The outlines ship in kg/data (japanmap is not a dependency), keyed by the gazetteer's prefecture codes."""
    from importlib import resources

    from kg.normalize.gazetteer import Gazetteer

    shapes = prefecture_shapes()
    assert list(shapes) == [p.code for p in Gazetteer.load().prefectures()]
    assert all(122 < x < 154 and 20 < y < 46 for outline in shapes.values() for x, y in outline)
    licence = resources.files("kg").joinpath("data/prefecture_outlines.LICENSE").read_text(encoding="utf-8")
    assert "japanmap" in licence and "Apache License" in licence and "Copyright 2022 Saito Tsutomu" in licence


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_map_file_is_written_with_japanese_text(kg, tmp_path, suffix):
    figure = map_figure(kg)
    assert missing_glyphs(figure) == set()
    texts = [t.get_text() for t in figure.findobj(Text)]
    assert any("都道府県別の事業数（77件）" in t for t in texts) and "沖縄県" in texts
    out = save_figure(figure, tmp_path / f"map.{suffix}")
    assert out.stat().st_size > 30_000
    if suffix == "png":
        width, height = png_size(out)
        assert width > 800 and height > 800
    else:
        svg = out.read_text(encoding="utf-8")
        assert svg.lstrip().startswith("<?xml") and "IPAexGothic" in svg      # glyph ids name the font


def test_map_counts_the_filtered_projects(kg):
    figure = map_figure(kg, target_group="youth")
    numbers = [t.get_text() for t in figure.axes[0].texts]
    counts = {}
    for p in kg.projects(target_group="youth"):
        for code in {r["prefecture_code"] for r in p["regions"] if r["prefecture_code"]}:
            counts[code] = counts.get(code, 0) + 1
    assert sorted(int(n) for n in numbers) == sorted(v for c, v in counts.items() if c != "470007")
    total = len(kg.projects(target_group="youth"))
    assert figure.get_suptitle() == f"都道府県別の事業数（{total}件） — 対象者: 若者"


def test_network_is_the_project_target_group_graph(kg):
    graph, untagged = project_target_group_graph(kg)
    tagged = [p for p in kg.projects() if p["target_groups"]]
    assert untagged == 77 - len(tagged)
    assert graph.number_of_edges() == sum(len(p["target_groups"]) for p in tagged)
    kinds = {d["kind"] for _, d in graph.nodes(data=True)}
    assert kinds == {"project", "target-group"}
    assert all(node.startswith("https://w3id.org/tsunagari/") for node in graph)     # the IRIs of kg.network


def test_network_layout_is_deterministic(kg):
    graph, _ = project_target_group_graph(kg)
    assert network_layout(graph) == network_layout(graph)


@pytest.mark.parametrize("filters", [{}, {"target_group": "children"}, {"prefecture": "東京都"}], ids=str)
def test_network_picture_is_readable(kg, tmp_path, filters):
    figure = network_figure(kg, **filters)
    assert missing_glyphs(figure) == set()
    texts = {t.get_text() for t in figure.findobj(Text)}
    assert any(t.startswith("子ども ") for t in texts)                     # target groups in Japanese
    out = save_figure(figure, tmp_path / "network.png")
    assert out.stat().st_size > 30_000 and png_size(out)[0] > 1000


def test_same_figure_same_bytes(kg, tmp_path):
    a = save_figure(network_figure(kg, target_group="youth"), tmp_path / "a.svg").read_bytes()
    b = save_figure(network_figure(kg, target_group="youth"), tmp_path / "b.svg").read_bytes()
    assert a == b


def test_drawing_leaves_global_settings_alone(kg, tmp_path):
    import matplotlib

    before = list(matplotlib.rcParams["font.family"])
    save_figure(map_figure(kg), tmp_path / "m.png")
    assert list(matplotlib.rcParams["font.family"]) == before
    assert japanese_font() == FONT_FAMILY


def test_bad_requests_are_named_errors(kg, tmp_path):
    with pytest.raises(PictureError, match="use .png or .svg"):
        save_figure(map_figure(kg), tmp_path / "map.jpg")
    with pytest.raises(PictureError, match="no project with a target group"):
        network_figure(kg, prefecture="青森県")


def test_commands_are_registered():
    assert cli.commands["map"] is map_command and cli.commands["graph-picture"] is graph_picture


def test_map_and_graph_picture_commands(built_store, tmp_path):
    runner = CliRunner()
    result = runner.invoke(map_command, ["--out", str(tmp_path / "kinki.svg"), "--store", str(built_store),
                                         "--block", "kinki", "--title", "近畿の事業"])
    assert result.exit_code == 0, result.output
    svg = (tmp_path / "kinki.svg").read_text(encoding="utf-8")
    assert "<!-- 近畿の事業 -->" in svg and "IPAexGothic" in svg      # the title, drawn with the font's glyphs
    assert (tmp_path / "kinki.svg").stat().st_size > 30_000
    result = runner.invoke(cli, ["graph-picture", "--out", str(tmp_path / "children.png"), "--store",
                                 str(built_store), "--target-group", "children"])
    assert result.exit_code == 0, result.output
    assert png_size(tmp_path / "children.png")[0] > 1000


@pytest.mark.parametrize("args, message", [
    (["map", "--out", "x.gif"], "use .png or .svg"),
    (["graph-picture", "--out", "x.png", "--prefecture", "青森県"], "no project with a target group"),
    (["map", "--out", "x.png", "--target-group", "robots"], "no target-group 'robots'"),
])
def test_command_errors_are_one_line(built_store, tmp_path, args, message):
    args = [a if not a.startswith("x.") else str(tmp_path / a) for a in args]
    result = CliRunner().invoke(cli, [*args, "--store", str(built_store)])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
