"""`push` against a real Oxigraph server on loopback: counts, idempotence, pruning, and all-or-nothing failures."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Graph

from kg import Tsunagari
from kg.api import bundled_source
from kg.cli import cli
from kg.push import PushError, guess_update_endpoint, partition, push
from kg.push_cli import push as push_command

OXIGRAPH = shutil.which("oxigraph")
pytestmark = pytest.mark.skipif(OXIGRAPH is None, reason="the oxigraph CLI is missing: pip install -e '.[test]'")
SMALL_CSV = Path(__file__).parent / "data" / "small.csv"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Oxigraph:
    """`oxigraph serve` on 127.0.0.1 with its data in a folder; stop() and start() keep the data."""

    def __init__(self, location: Path) -> None:
        self.location, self.port, self.process = location, free_port(), None
        self.base = f"http://127.0.0.1:{self.port}"
        self.store = f"{self.base}/store"

    def start(self) -> "Oxigraph":
        self.process = subprocess.Popen([OXIGRAPH, "serve", "--location", str(self.location),
                                         "--bind", f"127.0.0.1:{self.port}"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.counts()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("oxigraph did not start within 20 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None

    def select(self, query: str) -> list[dict[str, str]]:
        """Rows of a SPARQL SELECT on the server, as {variable: value}."""
        request = urllib.request.Request(f"{self.base}/query", data=urllib.parse.urlencode({"query": query}).encode(),
                                         headers={"Accept": "application/sparql-results+json",
                                                  "Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(request, timeout=10) as response:
            rows = json.load(response)["results"]["bindings"]
        return [{name: value["value"] for name, value in row.items()} for row in rows]

    def counts(self) -> dict[str, int]:
        """Triples per named graph, by SPARQL."""
        rows = self.select("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")
        return {row["g"]: int(row["n"]) for row in rows}


@pytest.fixture
def server(tmp_path):
    oxigraph = Oxigraph(tmp_path / "oxigraph").start()
    yield oxigraph
    oxigraph.stop()


@pytest.fixture(scope="module")
def one_source(tmp_path_factory) -> Tsunagari:
    kg, _ = Tsunagari.build(None, tmp_path_factory.mktemp("push") / "store")
    return kg


@pytest.fixture(scope="module")
def two_sources(tmp_path_factory) -> Tsunagari:
    kg, _ = Tsunagari.build([bundled_source(), SMALL_CSV], tmp_path_factory.mktemp("push2") / "store",
                            fiscal_year=2025, programme="cao-kodoku-npo-model")
    return kg


def test_partition_splits_every_triple_once(two_sources):
    parts = partition(two_sources)
    roles = [p.role for p in parts]
    assert roles == ["schema", "shared", "source", "source", "catalog"]
    local = set(two_sources.graph)
    ontology = set(Graph().parse(Path(__file__).parents[1] / "kg" / "data" / "ontology.ttl"))
    data = [set(p.graph) for p in parts if p.role != "catalog"]
    assert sum(len(d) for d in data) == len(set().union(*data))          # disjoint
    assert set().union(*data) == local | ontology
    for source in (p for p in parts if p.role == "source"):
        sha = source.iri.rsplit("/", 1)[1]
        assert len(sha) == 16 and any(s["sha256"].startswith(sha) for s in two_sources.manifest["sources"])
    projects = [p for p in parts if p.role == "source"][1].graph
    assert len(set(projects.subjects(predicate=None, object=None))) > 3   # the CSV's projects, tags, organisations


def test_push_writes_every_graph_and_is_idempotent(server, one_source):
    report = push(one_source, server.store)
    expected = {g.iri: g.triples for g in partition(one_source)}
    assert server.counts() == expected == {g.iri: g.triples for g in report.graphs}
    local_data = sum(n for iri, n in expected.items() if not iri.endswith(("/schema", "/catalog")))
    schema = expected["https://w3id.org/tsunagari/graph/schema"]
    assert local_data + schema >= len(one_source.graph)
    push(one_source, server.store)
    assert server.counts() == expected                                   # replaced, not added to
    catalog = "https://w3id.org/tsunagari/graph/catalog"
    listed = server.select(f"SELECT ?g ?n WHERE {{ GRAPH <{catalog}> {{ ?g <http://rdfs.org/ns/void#triples> ?n }} }}")
    assert {row["g"]: int(row["n"]) for row in listed} == {g: n for g, n in expected.items() if g != catalog}


def test_a_source_that_left_the_store_is_dropped(server, one_source, two_sources):
    first = push(two_sources, server.store)
    assert len(server.counts()) == 5
    second = push(one_source, server.store)
    assert server.counts() == {g.iri: g.triples for g in second.graphs}
    gone = sorted(set(g.iri for g in first.graphs) - set(g.iri for g in second.graphs))
    assert second.dropped == gone and len(gone) == 1


def test_the_store_is_checked_before_the_endpoint():
    closed = f"http://127.0.0.1:{free_port()}/store"
    result = CliRunner().invoke(cli, ["push", "--endpoint", closed, "--store", "/nonexistent"])
    assert result.exit_code == 1 and "no store here" in result.output      # the store is checked first


def test_unreachable_endpoint_changes_nothing(one_source, built_store):
    closed = f"http://127.0.0.1:{free_port()}/store"
    with pytest.raises(PushError, match="cannot reach .* Connection refused.* nothing was changed"):
        push(one_source, closed, timeout=5)
    result = CliRunner().invoke(push_command, ["--endpoint", closed, "--store", str(built_store)])
    assert result.exit_code == 1
    assert "cannot reach" in result.output and "Traceback" not in result.output


def failing(monkeypatch, nth: int, action):
    """Let the first nth-1 PUTs through, then call action(method, url, kwargs) instead of the real request."""
    import kg.graphstore

    real, seen = kg.graphstore.request, {"puts": 0}

    def request(method, url, **kwargs):
        if method == "PUT":
            seen["puts"] += 1
            if seen["puts"] == nth:
                return action(real, method, url, kwargs)
        return real(method, url, **kwargs)
    monkeypatch.setattr(kg.graphstore, "request", request)


def test_a_graph_refused_midway_leaves_the_previous_content(server, one_source, two_sources, monkeypatch):
    push(one_source, server.store)
    before = server.counts()

    def corrupt(real, method, url, kwargs):      # the server really answers 400 to a malformed body
        return real(method, url, **{**kwargs, "data": b"<not n-triples"})
    failing(monkeypatch, 3, corrupt)
    with pytest.raises(PushError, match=r"uploading <.*>: PUT .* HTTP 400 .* nothing was changed"):
        push(two_sources, server.store)
    assert server.counts() == before                                      # no temporary graph left either


def test_a_server_gone_midway_leaves_the_previous_content(server, one_source, two_sources, monkeypatch):
    push(one_source, server.store)
    before = server.counts()

    def stop_then_send(real, method, url, kwargs):
        server.stop()
        return real(method, url, **kwargs)
    failing(monkeypatch, 2, stop_then_send)
    with pytest.raises(PushError, match="cannot reach .*temporary graphs left behind"):
        push(two_sources, server.store)
    server.start()
    after = server.counts()
    leftovers = {iri: n for iri, n in after.items() if "/graph/push-" in iri}
    assert {iri: n for iri, n in after.items() if iri not in leftovers} == before
    assert len(leftovers) == 1                           # the one upload that got through, named as temporary


def test_push_command_reports_graphs(server, built_store):
    result = CliRunner().invoke(push_command, ["--endpoint", server.store, "--store", str(built_store)])
    assert result.exit_code == 0, result.output
    assert "pushed 4 graphs" in result.output and "r6_kodoku_koritsu_npo_model_projects.txt" in result.output
    assert cli.commands["push"] is push_command


@pytest.mark.parametrize("endpoint, update", [
    ("http://127.0.0.1:7878/store", "http://127.0.0.1:7878/update"),
    ("http://localhost:3030/ds/data", "http://localhost:3030/ds/update"),
    ("http://h/repositories/r/rdf-graphs/service", "http://h/repositories/r/statements"),
])
def test_update_endpoint_is_guessed(endpoint, update):
    assert guess_update_endpoint(endpoint) == update


def test_graph_base_default_is_the_one_documented():
    from kg.push import DEFAULT_GRAPH_BASE

    option = next(p for p in push_command.params if p.name == "graph_base")
    assert f"[default: {DEFAULT_GRAPH_BASE}]" in " ".join(option.help.split())


def test_graph_base_must_be_an_iri(one_source):
    with pytest.raises(PushError, match="not an absolute http"):
        push(one_source, "http://127.0.0.1:1/store", graph_base="https://example.org/my graphs")


def test_unknown_update_endpoint_asks_for_it():
    with pytest.raises(PushError, match="update-endpoint"):
        guess_update_endpoint("http://127.0.0.1:7878/sparql")
