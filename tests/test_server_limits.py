"""The endpoint's promises under hostile and careless requests (issue 10, items 2-6 and 8; issue 11 item 6).

Each test talks to a real server on 127.0.0.1: in a thread (``serve_in_thread``), or as a
``python -m kg serve`` subprocess where a worker must really die (memory). Every wait is bounded.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode
from xml.dom import minidom

import pytest
import rdflib

from embeddings import HashingEncoder
from kg import Tsunagari
from kg.server import create_app
from kg.server.background import serve_in_thread
from kg.server.worker import Job, QueryPool

pytestmark = pytest.mark.slow      # real servers, slow queries, memory limits

SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i FILTER(?c = ?i && ?a != ?g && ?e = ?h) }"
COUNT = "SELECT (COUNT(?p) AS ?n) WHERE { ?p a schema:Project }"
DOUBLING = "".join(f"BIND(CONCAT(?x{i},?x{i}) AS ?x{i + 1}) " for i in range(25))
HUGE_STRING = f'SELECT (STRLEN(?x25) AS ?n) WHERE {{ BIND("abcdefgh" AS ?x0) {DOUBLING} }}'   # 2^28 characters
HUGE_SORT = "SELECT ?a ?b WHERE { ?a ?p ?o . ?b ?q ?r } ORDER BY ?a ?b"      # 75 million rows to sort
SECURITY = ("x-content-type-options", "referrer-policy", "content-security-policy")
TYPE_NAME = re.compile(r"\b[A-Za-z]+(Error|Exception)\b")
WAIT = 60.0


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("limits") / "store"
    Tsunagari.build(None, path, embed=True, model="hashing")
    return path


def fetch(url: str, *, data: bytes | None = None, content_type: str | None = None, method: str | None = None,
          accept: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in (("Accept", accept), ("Content-Type", content_type)) if v}
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def sparql(url: str, query: str, fmt: str | None = None) -> tuple[int, dict[str, str], bytes]:
    params = {"query": query, **({"format": fmt} if fmt else {})}
    return fetch(f"{url}/sparql?{urlencode(params)}")


def until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)


# -- item 2: memory ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(store) -> str:
    """`python -m kg serve` with one worker and a 400 MB memory limit (a real process to kill)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "kg", "serve", "--store", str(store), "--port", str(port),
                               "--processes", "1", "--max-memory", "400MB", "--timeout", "60"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
            try:
                if sparql(url, "ASK {}")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize("query", [HUGE_STRING, HUGE_SORT], ids=["doubling-string", "sorting-a-product"])
def test_a_query_over_the_memory_limit_is_503_and_the_server_goes_on(served, query):
    status, headers, body = sparql(served, query)
    assert status == 503, body
    assert b"memory" in body and b"400 MB" in body and headers.get("retry-after")
    assert not TYPE_NAME.search(body.decode())
    status, _, body = sparql(served, COUNT)                 # a fresh worker answers
    assert status == 200 and b'"77"' in body


# -- items 3, 4, 5, 6, 8 against a server in a thread -----------------------------------------------

MAX_BYTES = 50_000


@pytest.fixture(scope="module")
def app(store):
    return create_app(Tsunagari.open(store), timeout=3.0, max_rows=1000, max_bytes=MAX_BYTES, processes=1,
                      queue=50)


@pytest.fixture(scope="module")
def url(app) -> str:
    with serve_in_thread(app) as base:
        yield base


BIG_ROWS = ("SELECT ?p ?big WHERE { ?p a schema:Project ; schema:name ?n "
            "BIND(CONCAT(?n, ?n, ?n, ?n, ?n, ?n, ?n, ?n, ?n, ?n) AS ?big) } ORDER BY ?p")
BIG_GRAPH = ("CONSTRUCT { ?p rdfs:comment ?big } WHERE { ?p a schema:Project ; schema:name ?n "
             "BIND(CONCAT(?n, ?n, ?n, ?n, ?n, ?n, ?n, ?n, ?n, ?n) AS ?big) }")


def table_rows(fmt: str, body: bytes) -> int:
    if fmt == "json":
        return len(json.loads(body)["results"]["bindings"])
    if fmt == "xml":
        return len(minidom.parseString(body).getElementsByTagName("result"))
    if fmt == "csv":
        return len(list(csv.reader(io.StringIO(body.decode("utf-8"))))) - 1
    return len(body.decode("utf-8").splitlines()) - 1


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
def test_a_select_answer_is_cut_at_the_byte_limit_and_stays_whole(url, fmt):
    status, headers, body = sparql(url, BIG_ROWS, fmt)
    assert status == 200 and headers["x-sparql-maxbytes"] == str(MAX_BYTES)
    assert len(body) <= MAX_BYTES
    assert 0 < table_rows(fmt, body) < 77                        # parses: a whole document, rows left out
    status, headers, body = sparql(url, "SELECT ?p WHERE { ?p a schema:Project }", fmt)
    assert "x-sparql-maxbytes" not in headers and table_rows(fmt, body) == 77


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")   # rdflib's JSON-LD parser
@pytest.mark.parametrize("fmt, parse_as", [("turtle", "turtle"), ("nt", "nt"), ("json-ld", "json-ld"),
                                           ("xml", "xml")])
def test_a_graph_answer_is_cut_at_the_byte_limit_and_parses(url, fmt, parse_as):
    status, headers, body = sparql(url, BIG_GRAPH, fmt)
    assert status == 200 and headers["x-sparql-maxbytes"] == str(MAX_BYTES) and len(body) <= MAX_BYTES
    assert 0 < len(rdflib.Graph().parse(data=body, format=parse_as)) < 77


def test_a_full_queue_answers_busy_at_once(store):
    app = create_app(Tsunagari.open(store), timeout=3.0, processes=1, queue=1)
    with serve_in_thread(app) as base:
        pool = app.state.site.pool
        slow = [threading.Thread(target=sparql, args=(base, SLOW)) for _ in range(2)]
        slow[0].start()
        until(lambda: pool.running == 1, "the first slow query runs")
        slow[1].start()
        until(lambda: pool.waiting == 1, "the second slow query waits")
        status, headers, body = sparql(base, COUNT)
        still_running = pool.running
        for thread in slow:
            thread.join(timeout=WAIT)
    assert status == 503 and b"busy" in body and int(headers["retry-after"]) >= 1
    assert still_running == 1                                    # "busy" came while the slow query ran


def test_pages_answer_while_forty_slow_queries_wait(app, url):
    """Waiting SPARQL requests hold no thread: /void and the listing page answer while the queue is full."""
    pool = app.state.site.pool
    flood = [threading.Thread(target=sparql, args=(url, SLOW)) for _ in range(45)]
    for thread in flood:
        thread.start()
    try:
        until(lambda: pool.waiting >= 40, "forty slow queries queue up")
        void = fetch(f"{url}/void")
        listing = fetch(f"{url}/?{urlencode({'target_group': 'older-men'})}", accept="text/html")
        waiting_after = pool.waiting
    finally:
        for thread in flood:
            thread.join(timeout=WAIT)
    assert void[0] == 200 and b"void:triples" in void[2]
    assert listing[0] == 200 and "件の取組".encode() in listing[2]
    assert waiting_after >= 30                                   # they answered before the queue drained


def vm_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_big_distinct_queries_leave_no_memory_behind(store):
    """No parsed-query cache keeps large queries: 60 distinct 500 KB queries leave a worker's memory flat."""
    pool = QueryPool(Tsunagari.open(store).folder / "oxigraph", timeout=30, processes=1)
    pool.start()
    try:
        def ask(n: int) -> None:
            reply = pool.run(Job(f'ASK {{ FILTER(STRLEN("{n:06d}{"x" * 500_000}") > 0) }}', fmt="json"))
            assert reply.status == 200 and b"true" in reply.body
        ask(0)
        (pid,) = pool.pids()
        before = vm_rss(pid)
        for n in range(1, 61):
            ask(n)
        grown = vm_rss(pid) - before
    finally:
        pool.close()
    assert grown < 15_000_000, f"a worker grew by {grown:,} bytes"   # 60 x 500 KB = 30 MB if kept


@pytest.mark.parametrize("query, words", [
    ("SELECT * WHERE { GRAPH ?g {?s ?p ?o} }", None),
    ("SELECT * WHERE { ?s ?p ?o } LIMIT 99999999999999999999999", "LIMIT must be a whole number"),
    ("SELECT * WHERE { ?s ?p ?o } OFFSET 99999999999999999999", "OFFSET must be a whole number"),
    ('SELECT * WHERE { BIND(REGEX("a", "(") AS ?x) }', None),
    ('SELECT * WHERE { FILTER(REGEX("a", "(")) }', None),
])
def test_odd_but_valid_queries_get_200_or_a_plain_400(url, query, words):
    status, _, body = sparql(url, query)
    text = body.decode("utf-8")
    assert status == (400 if words else 200), text
    assert not TYPE_NAME.search(text)
    if words:
        assert words in text and "line 1" in text


def test_service_glued_to_a_dot_is_refused_and_fetches_nothing(url):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(1.0)
    port = listener.getsockname()[1]
    try:
        for query in (f"SELECT * {{ ?s ?p ?o .SERVICE <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}",
                      f"SELECT * {{ ?s ?p ?o .service silent <http://127.0.0.1:{port}/> {{ ?s ?p ?o }} }}"):
            status, _, body = sparql(url, query)
            assert status == 400 and b"SERVICE" in body
        with pytest.raises(socket.timeout):
            listener.accept()                                      # nobody called
    finally:
        listener.close()


def test_a_worker_without_network_cannot_connect(tmp_path):
    """Where the kernel gives a worker its own network namespace, nothing on this machine is reachable."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    program = ("import socket, sys\nfrom kg.server._child import leave_the_network\n"
               "why = leave_the_network()\n"
               f"try:\n    socket.create_connection(('127.0.0.1', {listener.getsockname()[1]}), timeout=2)\n"
               "    print('connected', why)\nexcept OSError:\n    print('unreachable', why)\n")
    try:
        out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=WAIT,
                             env={**os.environ}).stdout.split(maxsplit=1)
    finally:
        listener.close()
    assert out[0] == "unreachable" or out[1] != "None"           # isolated means unreachable


# -- item 8: pages ----------------------------------------------------------------------------------

@pytest.mark.parametrize("query, words", [
    ({"fiscal_year": "²"}, "is not a year"), ({"fiscal_year": "２０２４"}, "is not a year"),
    ({"q": "x", "top": "²"}, "not a number of results"), ({"q": "x", "top": "-3"}, "not a number of results"),
    ({"q": "居場所" * 2000}, "the limit is 4,000"),
])
def test_odd_form_values_are_a_400_page(url, query, words):
    status, headers, body = fetch(f"{url}/?{urlencode(query)}", accept="text/html")
    assert status == 400 and words in body.decode("utf-8") and 'role="alert"' in body.decode("utf-8")
    assert all(name in headers for name in SECURITY)


def test_every_error_page_carries_the_security_headers(app, url, monkeypatch):
    def broken(project_id):
        raise RuntimeError("disk on fire")

    answers = [fetch(f"{url}/no/such/page"), fetch(f"{url}/", data=b"x", method="POST"),
               sparql(url, "SELECT ?x WHERE {"), sparql(url, "DROP ALL")]
    monkeypatch.setattr(app.state.site.kg, "project", broken)
    answers.append(fetch(f"{url}/project/cao-kodoku-npo-model-fy2024-001"))
    assert [status for status, _, _ in answers] == [404, 405, 400, 403, 500]
    for _, headers, body in answers:
        assert all(name in headers for name in SECURITY), headers
    assert b"disk on fire" not in answers[-1][2]


# -- issue 11 item 6: a store whose model is missing or broken --------------------------------------

def with_model(store: Path, tmp_path: Path, source: str) -> Path:
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    manifest_path = Tsunagari.open(copy).folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["vectors"]["model"].update(source=source, name="missing-model")
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    return copy


class BrokenEncoder(HashingEncoder):
    """Says it is the store's model, then fails on every text, as corrupt weights would."""

    def encode(self, texts):
        raise RuntimeError("the model weights are corrupt")


@pytest.mark.parametrize("case", ["missing", "broken"])
def test_search_without_a_usable_model_says_why_and_the_rest_works(store, tmp_path, case):
    if case == "missing":
        kg = Tsunagari.open(with_model(store, tmp_path, str(tmp_path / "no-such-model")))
        reason = "does not exist"
    else:
        kg = Tsunagari.open(store, encoder=BrokenEncoder(dim=256))
        reason = "the model weights are corrupt"
    with serve_in_thread(create_app(kg, timeout=10)) as base:
        status, _, body = fetch(f"{base}/?{urlencode({'q': '居場所'})}", accept="text/html")
        front = fetch(f"{base}/", accept="text/html")
        project = fetch(f"{base}/project/cao-kodoku-npo-model-fy2024-035", accept="text/html")
        count = sparql(base, COUNT)
    text = body.decode("utf-8")
    assert status == 503 and "unavailable" in text and reason in text
    assert front[0] == 200 and reason in front[2].decode("utf-8")
    assert project[0] == 200 and "メンズシェッド" in project[2].decode("utf-8")
    assert count[0] == 200 and b'"77"' in count[2]


def test_serve_refuses_a_memory_limit_too_small_to_open_the_store(store):
    result = subprocess.run([sys.executable, "-m", "kg", "serve", "--store", str(store), "--port", "0",
                             "--max-memory", "10MB"], capture_output=True, text=True, timeout=WAIT)
    assert result.returncode == 1 and "--max-memory 10 MB is too small" in result.stderr
    assert "Traceback" not in result.stderr


def test_size_option_reads_units():
    from kg.cli.serve import Size

    size = Size()
    assert [size.convert(v, None, None) for v in ("20MB", "1GiB", "1.5GB", "500000", "0", "none")] == [
        20_000_000, 1024 ** 3, 1_500_000_000, 500_000, None, None]
    with pytest.raises(Exception, match="is not a size"):
        size.convert("lots", None, None)



def test_a_store_without_an_oxigraph_folder_is_served_from_a_temporary_one(store, tmp_path):
    copy = tmp_path / "old-store"
    shutil.copytree(store, copy)
    shutil.rmtree(Tsunagari.open(copy).folder / "oxigraph")
    app = create_app(Tsunagari.open(copy), timeout=10)
    with serve_in_thread(app) as base:
        count = sparql(base, COUNT)
        temporary = app.state.site.pool.folder
    assert count[0] == 200 and b'"77"' in count[2]
    assert not (Tsunagari.open(copy).folder / "oxigraph").exists() and not temporary.exists()   # cleaned up
