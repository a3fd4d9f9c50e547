"""The web application: one ``Site`` (the opened store, its Oxigraph database, the query workers, the
templates) and its routes.

Nothing here parses the graph into Python: SPARQL runs in worker processes on the store's Oxigraph
database, the filter menus and VoID statistics are counted by Oxigraph, ``/dump.nt`` is the store's
``graph.nt`` as it is and ``/dump.ttl`` is written once by Oxigraph. Pages ask the store for the few
projects they show (``kg.project``, ``kg.projects``, ``kg.search``, ``kg.similar``), so starting costs
about the same at 77 and at 100,000 projects.

    >>> from kg import Tsunagari
    >>> from kg.server import create_app
    >>> app = create_app(Tsunagari.open("tsunagari-store"), timeout=10, max_rows=10_000)   # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)                      # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import difflib
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from kg.errors import EmbeddingError, KgError, NotFound
from kg.shapes import ProjectView, Result
from kg.server import facets, pages, protocol
from kg.server.gate import Gate
from kg.server.pages import Unavailable
from kg.server.worker import QueryPool

if TYPE_CHECKING:
    from kg.shapes import OpenStore

log = logging.getLogger("kg.server")
TEMPLATES = Path(__file__).parent / "templates"
WARM_SECONDS = 300.0        # how long a search waits for the model still loading at startup
# A 404 page looks for the asked text in titles only in stores up to this size: the look-up reads every
# title (1.2 s at 100,000 projects), and anyone can ask for a page that is not there.
TITLE_SCAN_MAX = 20_000
COUNTS_KEPT = 4_096         # listing totals remembered (a few ints each)
SEARCHES_WAITING = 16       # searches that may wait for a running one to end; more get 503 at once
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                                 b"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
]


@dataclass(frozen=True)
class Limits:
    """The bounds of the SPARQL endpoint (see ``create_app``)."""

    timeout: float = 10.0
    max_rows: int = 10_000
    max_bytes: int | None = 20_000_000
    max_memory: int | None = 1024 * 1024 * 1024
    processes: int = 2
    queue: int = 16


class Site:
    """Everything the routes share: the store, its Oxigraph database, query workers, templates, menus."""

    def __init__(self, kg: "OpenStore", limits: Limits) -> None:
        import jinja2

        from kg.engines import OxigraphEngine
        from kg.vocab import PREFIXES

        self.kg = kg
        self.limits = limits
        self.timeout, self.max_rows = limits.timeout, limits.max_rows
        self.search_note: str | None = None
        # Searches encode on every core: more at once only wait; a flood of them must not hold the threads
        # that project pages and listings run in.
        self.searches = Gate("searches", running=max(2, os.cpu_count() or 2), waiting=SEARCHES_WAITING)
        self._warmed = threading.Event()
        self._lock = threading.Lock()
        self._turtle: Path | None = None
        self._counts: dict[tuple[tuple[str, Any], ...], int] = {}
        self._started = False
        self._temporary: tempfile.TemporaryDirectory | None = None
        folder = self._oxigraph_folder()
        self.oxigraph = OxigraphEngine.open(folder).store
        self.pool = QueryPool(folder, timeout=limits.timeout, processes=limits.processes,
                              max_memory=limits.max_memory, queue_size=limits.queue,
                              prefixes={name: str(iri) for name, iri in PREFIXES.items()})
        self.pool.launch()                  # the workers start while the menus are counted
        try:
            env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                     trim_blocks=True, lstrip_blocks=True)
            self.templates = Jinja2Templates(env=env)
            counts = kg.manifest.get("counts", {})
            self.project_count = int(counts.get("projects") or facets.count(
                self.oxigraph, "SELECT (COUNT(?p) AS ?n) WHERE { ?p a schema:Project }"))
            self.choices = facets.filter_choices(self.oxigraph)
            self.statistics: dict[str, int] = {"triples": int(counts.get("triples") or len(self.oxigraph))}
            self.labels = {**pages.LABELS, "block": {block: ja for block, ja, _ in facets.blocks(self.oxigraph)}}
        except BaseException:
            self.close()
            raise

    def _oxigraph_folder(self) -> Path:
        """The generation's Oxigraph folder; a store built before every generation had one is loaded into a
        temporary folder once (slower to start, same answers)."""
        from kg.engines import load_oxigraph

        folder = self.kg.generation.oxigraph_folder
        if folder.is_dir():
            return folder
        log.warning("%s has no Oxigraph database: loading graph.nt into a temporary one "
                    "(rebuild the store with `tsunagari build` to skip this)", self.kg.folder)
        self._temporary = tempfile.TemporaryDirectory(prefix="tsunagari-serve-")
        folder = Path(self._temporary.name) / "oxigraph"
        load_oxigraph(self.kg.generation.graph_file(), folder)
        return folder

    def render(self, request: Request, name: str, context: dict[str, Any], status: int = 200):
        base = {"site": self, "choices": self.choices, "labels": self.labels}
        return self.templates.TemplateResponse(request, name, {**base, **context}, status_code=status)

    # -- the store, for pages ---------------------------------------------------------------------
    def view(self, project_id: str) -> ProjectView | None:
        """A project's view, or None if the store has no such project."""
        try:
            return self.kg.project(project_id)
        except NotFound:
            return None

    def search(self, text: str, **options: Any) -> list[Result]:
        """``kg.search``, waiting for the model if it is still loading; Unavailable if it cannot load."""
        self._warmed.wait(WARM_SECONDS)
        if self.search_note:
            raise Unavailable(self.search_note)
        return self._model_call(self.kg.search, text, **options)

    def similar(self, project_id: str, **options: Any) -> list[Result]:
        """``kg.similar`` (stored vectors only); Unavailable if the vectors cannot be read."""
        return self._model_call(self.kg.similar, project_id, **options)

    @staticmethod
    def _model_call(call: Callable[..., Any], *args: Any, **options: Any) -> Any:
        try:
            return call(*args, **options)
        except EmbeddingError as error:
            # The model or the vectors (kg.similar turns the embeddings package's errors and a model
            # failing to run into these): search is unavailable, never a 500.
            log.warning("search is unavailable: %s", error)
            raise Unavailable(f"search is unavailable: {error}") from None

    def count(self, **filters: Any) -> int:
        """``kg.count``, remembered per filters: the store does not change while it is served, and counting a
        region block of a million-project store takes a second."""
        key = tuple(sorted(filters.items()))
        count = self._counts.get(key)
        if count is None:
            if len(self._counts) >= COUNTS_KEPT:
                self._counts.clear()
            count = self._counts[key] = self.kg.count(**filters)
        return count

    def suggest(self, text: str, n: int = 5) -> list[ProjectView]:
        """Projects whose id is close to ``text`` or, in a store of at most TITLE_SCAN_MAX projects, whose title
        contains it (for the 404 page)."""
        size = len(self.kg.views)
        nearby = self.kg.views.ids_around(text, 2_500 if size <= 5_000 else 200)
        found = difflib.get_close_matches(text, nearby, n=n, cutoff=0.5)
        words = text.strip()
        if len(found) < n and 1 < len(words) <= 100 and size <= TITLE_SCAN_MAX:
            found += [pid for (pid,) in facets.rows(self.oxigraph, f"""
                SELECT ?id WHERE {{ ?p a schema:Project ; schema:identifier ?id ; schema:name ?title
                                    FILTER(CONTAINS(?title, {_string(words)})) }} ORDER BY ?id LIMIT {n}""")
                      if pid not in found]
        views = (self.view(pid) for pid in found[:n])
        return [v for v in views if v is not None]

    def dump_turtle(self) -> Path:
        """The graph in Turtle, written by Oxigraph into a temporary file on first use."""
        import pyoxigraph

        from kg.vocab import PREFIXES

        with self._lock:
            if self._turtle is None:
                if self._temporary is None:
                    self._temporary = tempfile.TemporaryDirectory(prefix="tsunagari-serve-")
                path = Path(self._temporary.name) / "dump.ttl"
                with open(path, "wb") as out:
                    self.oxigraph.dump(out, format=pyoxigraph.RdfFormat.TURTLE, from_graph=pyoxigraph.DefaultGraph(),
                                       prefixes={name: str(iri) for name, iri in PREFIXES.items()})
                self._turtle = path
            return self._turtle

    # -- lifetime ---------------------------------------------------------------------------------
    def warm(self) -> None:
        """Start the query workers (the server answers once they are up); load the model and count the
        VoID statistics in the background, so a slow model delays only the first search. Runs once."""
        with self._lock:
            if self._started:
                return
            self._started = True
        self.pool.start()
        for note in self.pool.notes:
            log.warning(note)
        threading.Thread(target=self._warm_in_background, name="warm", daemon=True).start()

    def _warm_in_background(self) -> None:
        try:
            self._model_call(self.kg.search, "居場所", top=1)
        except KgError as error:
            self.search_note = str(error)
            log.warning("search is unavailable: %s", error)
        finally:
            self._warmed.set()
        try:
            self.statistics = {**self.statistics, **facets.statistics(self.oxigraph)}
        except (OSError, ValueError) as error:
            log.warning("VoID statistics are unavailable: %s", error)

    def close(self) -> None:
        self.pool.close()
        if self._temporary is not None:
            self._temporary.cleanup()


def _string(text: str) -> str:
    """A SPARQL string literal holding ``text`` exactly."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


class SecurityHeaders:
    """Adds nosniff, a referrer policy and a strict CSP (no scripts at all) to every response."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + SECURITY_HEADERS}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _App(Starlette):
    """Starlette with the security headers outside every other layer, so error pages (500 included) carry them."""

    def build_middleware_stack(self):
        return SecurityHeaders(super().build_middleware_stack())


def create_app(kg: "OpenStore", *, timeout: float = 10.0, max_rows: int = 10_000, processes: int = 2,
               max_bytes: int | None = 20_000_000, max_memory: int | None = 1024 ** 3, queue: int = 16) -> Starlette:
    """The ASGI app for one opened store: search pages, project pages and the SPARQL endpoint.

    Args:
        kg: an opened store (``Tsunagari.open(path)``).
        timeout: seconds a SPARQL query may run before its worker process is killed (503), and seconds
            a request may wait for a free worker.
        max_rows: most rows (or triples) in a SPARQL answer; beyond, the answer is cut and says so
            in the ``X-SPARQL-MaxRows`` header.
        processes: SPARQL worker processes (each opens the store's Oxigraph database read-only).
        max_bytes: most bytes in a SPARQL answer (None: no limit); beyond, the answer is cut before the
            row that would pass it and says so in the ``X-SPARQL-MaxBytes`` header.
        max_memory: bytes of memory each worker may use (None: no limit); a query that needs more is
            stopped (503) and its worker replaced.
        queue: SPARQL requests that may wait for a worker; more get 503 "busy" with Retry-After at once.
    Returns:
        A Starlette application; serve it with uvicorn. Its lifespan starts and stops the workers.
    """
    site = Site(kg, Limits(timeout=timeout, max_rows=max_rows, max_bytes=max_bytes, max_memory=max_memory,
                           processes=processes, queue=queue))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await run_in_threadpool(site.warm)
        try:
            yield
        finally:
            await run_in_threadpool(site.close)

    routes = [
        Route("/", pages.search, name="search"),
        Route("/project/{project_id}", pages.project, name="project"),
        Route("/sparql", protocol.sparql, methods=["GET", "POST"], name="sparql"),
        Route("/void", protocol.void, name="void"),
        Route("/ontology.ttl", protocol.ontology, name="ontology"),
        Route("/dump.ttl", protocol.dump_turtle, name="dump_ttl"),
        Route("/dump.nt", protocol.dump_ntriples, name="dump_nt"),
    ]
    middleware = [
        Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"],
                   allow_headers=["Accept", "Content-Type"], expose_headers=["X-SPARQL-MaxRows", "X-SPARQL-MaxBytes"]),
    ]
    app = _App(routes=routes, middleware=middleware, lifespan=lifespan,
               exception_handlers={404: pages.not_found, 405: pages.http_error, 500: pages.server_error})
    app.state.site = site
    return app
