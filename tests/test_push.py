"""`push` against a real Oxigraph server on loopback: counts, idempotence, pruning, and all-or-nothing failures;
and against a small fake Graph Store on loopback for what a real one will not do (hostile catalogs,
redirects, passwords, uploads that never answer)."""
from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import threading
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
from kg.graphstore import iri_ref, redact
from kg.push import PushError, guess_update_endpoint, partition, push
from kg.cli.push import push as push_command

OXIGRAPH = shutil.which("oxigraph")
pytestmark = [pytest.mark.skipif(OXIGRAPH is None, reason="the oxigraph CLI is missing: pip install -e '.[test]'"),
              pytest.mark.slow]      # a real Oxigraph server
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

    def update(self, text: str) -> None:
        request = urllib.request.Request(f"{self.base}/update", data=text.encode("utf-8"),
                                         headers={"Content-Type": "application/sparql-update"})
        urllib.request.urlopen(request, timeout=10).close()

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


# -- a push never touches what is not its own, and never says more than it knows ---------------------------------
CATALOG = "https://w3id.org/tsunagari/graph/catalog"
HAS_PART = "<http://purl.org/dc/terms/hasPart>"


def test_graphs_the_push_does_not_name_are_never_dropped(server, one_source):
    push(one_source, server.store)
    others = ["http://other-team/important", "https://w3id.org/tsunagari/graph/notes",
              "https://w3id.org/tsunagari-other/graph/0123456789abcdef"]
    server.update("INSERT DATA { " + " ".join(f'GRAPH <{g}> {{ <http://x/s> <http://x/p> "keep" }}' for g in others)
                  + f" GRAPH <{CATALOG}> {{ " + " ".join(f"<{CATALOG}> {HAS_PART} <{g}> ." for g in others) + " } }")
    report = push(one_source, server.store)
    counts = server.counts()
    assert all(counts.get(g) == 1 for g in others), counts                 # listed in the catalog, still there
    assert report.dropped == [] and report.ignored == sorted(others)


class FakeGraphStore:
    """A Graph Store on 127.0.0.1 (a thread) keeping graphs in a dict; it records every request and can be
    told to serve a given catalog, ask for a password, refuse uploads, hold an upload, or redirect."""

    def __init__(self, *, catalog: str | None = None, password: str | None = None, refuse_puts: bool = False,
                 hold_puts: bool = False, redirect_to: str | None = None) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.catalog, self.password, self.refuse_puts = catalog, password, refuse_puts
        self.hold_puts, self.redirect_to = hold_puts, redirect_to
        self.graphs: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, str | None]] = []        # method, path, Authorization
        self.updates: list[str] = []
        self.release, self.written_late = threading.Event(), threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.handle(self)
            do_PUT = do_POST = do_DELETE = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.store = f"{self.base}/store"

    def __enter__(self) -> "FakeGraphStore":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def handle(self, http) -> None:
        body = http.rfile.read(int(http.headers.get("Content-Length") or 0))
        graph = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(http.path).query)).get("graph", "")
        authorization = http.headers.get("Authorization")
        self.requests.append((http.command, http.path, authorization))

        def answer(status: int, data: bytes = b"", headers: tuple = ()) -> None:
            try:
                http.send_response(status)
                for name, value in headers:
                    http.send_header(name, value)
                http.send_header("Content-Length", str(len(data)))
                http.end_headers()
                http.wfile.write(data)
            except OSError:                 # the client gave up waiting
                pass
        if self.password and authorization != "Basic " + base64.b64encode(
                f"alice:{self.password}".encode()).decode():
            return answer(401, b"who are you?")
        if http.command == "GET":
            if self.redirect_to:
                return answer(302, headers=(("Location", self.redirect_to),))
            if graph == CATALOG and self.catalog is not None:
                return answer(200, self.catalog.encode("utf-8"))
            return answer(200, self.graphs[graph]) if graph in self.graphs else answer(404)
        if http.command == "PUT":
            if self.refuse_puts:         # a careless server that echoes the request, secrets and escapes included
                return answer(500, f"cannot store {http.path} for {authorization}\x1b]0;owned\x07".encode())
            if self.hold_puts:
                self.release.wait(20)
                self.graphs[graph] = body
                self.written_late.set()
                return answer(204)
            self.graphs[graph] = body
            return answer(204)
        if http.command == "DELETE":
            return answer(204 if self.graphs.pop(graph, None) is not None else 404)
        self.updates.append(body.decode("utf-8"))
        return answer(204)


def test_iris_from_the_server_never_reach_the_update_unchecked(built_store, caplog):
    injected = (r"<http://x/g\u003E\u0020;\u0020DROP\u0020ALL\u0020;\u0020DROP\u0020GRAPH\u0020\u003Chttp://x/h\u001b]0;x\u0007>",
                r"<https://w3id.org/tsunagari/graph/0123456789abcdef\u003E\u0020;\u0020DROP\u0020ALL\u0020#>",
                "<https://w3id.org/tsunagari/graph/fedcba9876543210>")       # ours, stale: dropped
    catalog = "".join(f"<{CATALOG}> {HAS_PART} {iri} .\n" for iri in injected)
    with FakeGraphStore(catalog=catalog) as fake:
        report = push(Tsunagari.open(built_store), fake.store)
    assert len(fake.updates) == 1 and "DROP ALL" not in fake.updates[0]
    assert "DROP SILENT GRAPH <https://w3id.org/tsunagari/graph/fedcba9876543210>" in fake.updates[0]
    assert report.dropped == ["https://w3id.org/tsunagari/graph/fedcba9876543210"] and len(report.ignored) == 2
    assert not any("\x1b" in record.getMessage() for record in caplog.records)     # rdflib's raw warnings stay quiet
    with pytest.raises(PushError, match="refusing"):
        iri_ref("https://w3id.org/tsunagari/graph/x> ; DROP ALL ; <http://x/h")


def test_basic_auth_from_the_url_and_no_password_in_any_line(built_store):
    with FakeGraphStore(password="s3cret") as fake:
        endpoint = fake.store.replace("http://", "http://alice:s3cret@") + "?token=T0KEN"
        result = CliRunner().invoke(cli, ["push", "--endpoint", endpoint, "--store", str(built_store)])
    assert result.exit_code == 0, result.output
    assert fake.requests and all(auth == "Basic " + base64.b64encode(b"alice:s3cret").decode()
                                 for _, _, auth in fake.requests)
    assert all("token=T0KEN" in path for _, path, _ in fake.requests)      # the update endpoint's too
    assert "s3cret" not in result.output and "T0KEN" not in result.output
    assert f"to http://***@127.0.0.1:{fake.server.server_port}/store?token=***" in result.output


def test_basic_auth_from_options_and_the_environment(built_store):
    with FakeGraphStore(password="s3cret") as fake:
        result = CliRunner().invoke(cli, ["push", "--endpoint", fake.store, "--user", "alice", "--store",
                                          str(built_store)], env={"TSUNAGARI_PUSH_PASSWORD": "s3cret"})
        assert result.exit_code == 0, result.output
        refused = CliRunner().invoke(cli, ["push", "--endpoint", fake.store, "--store", str(built_store)])
    assert refused.exit_code == 1 and "HTTP 401" in refused.output and "nothing was changed" in refused.output
    assert "s3cret" not in result.output + refused.output


def test_error_lines_carry_no_secret_and_no_control_character(built_store):
    with FakeGraphStore(password="s3cret", refuse_puts=True) as fake:
        endpoint = fake.store.replace("http://", "http://alice:s3cret@") + "?access_token=T0KEN"
        with pytest.raises(PushError) as raised:
            push(Tsunagari.open(built_store), endpoint)
        result = CliRunner().invoke(cli, ["push", "--endpoint", endpoint, "--store", str(built_store)])
    token = base64.b64encode(b"alice:s3cret").decode()
    for said in (str(raised.value), result.output):
        assert "HTTP 500" in said and "nothing was changed" in said
        assert "s3cret" not in said and "T0KEN" not in said and token not in said, said
    assert result.exit_code == 1 and "\x1b" not in result.output and "\\u001b]0;owned" in result.output
    assert redact("cannot reach http://bob:pw@h/store?graph=g&api_key=k1 (Authorization: Bearer abcdef12)") == \
        "cannot reach http://***@h/store?graph=g&api_key=*** (Authorization: Bearer ***)"


def test_an_upload_that_never_answered_is_reported(built_store):
    with FakeGraphStore(hold_puts=True) as fake:
        with pytest.raises(PushError) as raised:
            push(Tsunagari.open(built_store), fake.store, timeout=0.5)
        fake.release.set()
        assert fake.written_late.wait(20)           # the server wrote the graph after the client gave up
        late = sorted(fake.graphs)
    said = str(raised.value)
    assert len(late) == 1 and "/graph/push-" in late[0]
    assert late[0] in said and "may still write it" in said and "nothing was changed" not in said
    assert fake.updates == []                       # the live graphs were never switched


def test_the_catalog_request_does_not_follow_a_redirect_to_another_port(built_store):
    with FakeGraphStore() as elsewhere, FakeGraphStore(redirect_to=elsewhere.store + "?graph=x") as fake:
        with pytest.raises(PushError, match=r"GET .* HTTP 302 .*redirect to .* not followed.* nothing was changed"):
            push(Tsunagari.open(built_store), fake.store)
        with pytest.raises(PushError, match="not followed") as raised:         # nor with credentials
            push(Tsunagari.open(built_store), fake.store, auth=("alice", "s3cret"))
    assert elsewhere.requests == [] and [method for method, _, _ in fake.requests] == ["GET", "GET"]
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize("endpoint, said", [
    ("http://h:abc/store", "not a valid URL"), ("http://[::1/store", "not a valid URL"),
    ("http://127.0.0.1:99999/store", "not a valid URL"), ("ftp://u:s3cret@h/store", "not an http(s) URL"),
    ("http:///store", "not an http(s) URL"),
])
def test_a_bad_endpoint_is_one_line(built_store, endpoint, said):
    result = CliRunner().invoke(cli, ["push", "--endpoint", endpoint, "--store", str(built_store)])
    assert result.exit_code == 1 and said in result.output and "Traceback" not in result.output
    assert "s3cret" not in result.output
