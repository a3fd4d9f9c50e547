"""The web application: one ``Site`` (the opened store, the query workers, the templates) and its routes.

    >>> from kg import Tsunagari
    >>> from kg.server import create_app
    >>> app = create_app(Tsunagari.open("tsunagari-store"), timeout=10, max_rows=10_000)   # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)                      # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import difflib
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from kg.server import pages, protocol
from kg.server.worker import QueryPool

if TYPE_CHECKING:
    from kg.api import Tsunagari

log = logging.getLogger("kg.server")
TEMPLATES = Path(__file__).parent / "templates"
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                                 b"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
]


class Site:
    """Everything the routes share: the store, query workers, templates, filter choices. One per app."""

    def __init__(self, kg: "Tsunagari", *, timeout: float, max_rows: int, processes: int) -> None:
        import jinja2

        self.kg = kg
        self.timeout = timeout
        self.max_rows = max_rows
        self.ntriples: bytes = kg.graph.serialize(format="nt", encoding="utf-8")
        self.pool = QueryPool(self.ntriples, timeout=timeout, processes=processes)
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                 trim_blocks=True, lstrip_blocks=True)
        self.templates = Jinja2Templates(env=env)
        self.by_id = {p["id"]: p for p in kg.projects()}
        self.choices = pages.filter_choices(kg)
        self.statistics = _statistics(kg.graph)
        self.labels = {**pages.LABELS, "block": pages.block_names()}
        self.search_note: str | None = None
        self._dump: bytes | None = None
        self._lock = threading.Lock()

    def render(self, request: Request, name: str, context: dict[str, Any], status: int = 200):
        base = {"site": self, "choices": self.choices, "labels": self.labels}
        return self.templates.TemplateResponse(request, name, {**base, **context}, status_code=status)

    def dump_turtle(self) -> bytes:
        with self._lock:
            if self._dump is None:
                self._dump = self.kg.graph.serialize(format="turtle", encoding="utf-8")
            return self._dump

    def suggest(self, text: str, n: int = 5) -> list[dict[str, Any]]:
        """Projects whose id is close to ``text`` or whose title contains it (for the 404 page)."""
        ids = difflib.get_close_matches(text, list(self.by_id), n=n, cutoff=0.5)
        if len(ids) < n and len(text.strip()) > 1:
            ids += [pid for pid, p in self.by_id.items() if text.strip() in p["title"] and pid not in ids]
        return [self.by_id[pid] for pid in ids[:n]]

    def warm(self) -> None:
        """Start the query workers and load the search model once, before the first request."""
        from kg.errors import KgError

        self.pool.start()
        try:
            self.kg.search("居場所", top=1)
        except KgError as error:
            self.search_note = str(error)
            log.warning("search is unavailable: %s", error)

    def close(self) -> None:
        self.pool.close()


def _statistics(graph) -> dict[str, int]:
    from rdflib import RDF

    return {"triples": len(graph), "distinctSubjects": len(set(graph.subjects())),
            "properties": len(set(graph.predicates())), "classes": len(set(graph.objects(None, RDF.type)))}


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


def create_app(kg: "Tsunagari", *, timeout: float = 10.0, max_rows: int = 10_000, processes: int = 2) -> Starlette:
    """The ASGI app for one opened store: search pages, project pages and the SPARQL endpoint.

    Args:
        kg: an opened store (``Tsunagari.open(path)``).
        timeout: seconds a SPARQL query may run before its worker process is killed (503).
        max_rows: most rows (or triples) in a SPARQL answer; beyond, the answer is cut and says so
            in the ``X-SPARQL-MaxRows`` header.
        processes: SPARQL worker processes, each holding a copy of the graph.
    Returns:
        A Starlette application; serve it with uvicorn. Its lifespan starts and stops the workers.
    """
    site = Site(kg, timeout=timeout, max_rows=max_rows, processes=processes)

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
        Middleware(SecurityHeaders),
        Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"],
                   allow_headers=["Accept", "Content-Type"], expose_headers=["X-SPARQL-MaxRows"]),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={404: pages.not_found, 405: pages.http_error, 500: pages.server_error})
    app.state.site = site
    return app
