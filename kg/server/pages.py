"""Server-rendered pages: the search page, one page per project, and error pages (no JavaScript)."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

from kg.errors import KgError, NotFound
from kg.server.gate import Busy
from kg.shapes import ProjectView, Result

if TYPE_CHECKING:
    from kg.server.app import Site

log = logging.getLogger("kg.server")
TOP_DEFAULT, TOP_MAX = 20, 100
SIMILAR_TOP = 5
FIELD_MAX = 500
LISTING_MAX = 200           # a filter-only listing shows this many projects, then says how many more
_NUMBER = re.compile(r"[0-9]{1,9}")     # ASCII digits only: str.isdigit() also accepts ² and ٣
LABELS = {
    "region": {"same municipality": ("同じ市区町村", "same municipality"),
               "same prefecture": ("同じ都道府県", "same prefecture"),
               "same regional block": ("同じ地方ブロック", "same regional block")},
    "level": {"prefecture": "都道府県", "municipality": "市区町村", "ward": "行政区", "district": "郡",
              "block": "地方ブロック"},
    "field": {"title": "事業名", "description": "概要", "organization": "団体名"},
}


class Unavailable(KgError):
    """A feature of the server cannot answer now (search without a usable model); pages say why (503)."""


@dataclass(frozen=True)
class SearchForm:
    """The search form's fields as sent (strings; empty means not set)."""

    q: str = ""
    prefecture: str = ""
    block: str = ""
    target_group: str = ""
    theme: str = ""
    fiscal_year: str = ""
    top: str = ""

    @classmethod
    def read(cls, request: Request) -> "SearchForm":
        # Filters are short names, cut at FIELD_MAX; the text goes whole to kg.search, whose length limit
        # gives a clear error rather than results for a silently cut text.
        values = {f.name: request.query_params.get(f.name, "").strip() for f in fields(cls)}
        return cls(**{name: value if name == "q" else value[:FIELD_MAX] for name, value in values.items()})

    def filters(self) -> dict[str, Any]:
        """The filters for kg.search / kg.projects; raises KgError for a fiscal year that is not a number."""
        out: dict[str, Any] = {k: getattr(self, k) for k in ("prefecture", "block", "target_group", "theme")
                               if getattr(self, k)}
        if self.fiscal_year:
            if not _NUMBER.fullmatch(self.fiscal_year):
                raise KgError(f"fiscal year {self.fiscal_year!r} is not a year — use e.g. 2024")
            out["fiscal_year"] = int(self.fiscal_year)
        return out

    def limit(self) -> int:
        """How many results to show: ``top`` within 1..TOP_MAX; raises KgError if it is not a number."""
        if not self.top:
            return TOP_DEFAULT
        if not _NUMBER.fullmatch(self.top):
            raise KgError(f"top={self.top!r} is not a number of results — use a whole number from 1 to {TOP_MAX}")
        return min(max(int(self.top), 1), TOP_MAX)


class PageResult(Result):
    """A result as the search page's template reads it: with the project's view."""

    view: ProjectView | None


def _with_views(site: "Site", results: list[Result]) -> list[PageResult]:
    return [{**r, "view": site.view(r["id"])} for r in results]


async def search(request: Request):
    """/ : the search box and filters; with q, ranked results and their reasons; with filters only, a list."""
    site: Site = request.app.state.site
    form = SearchForm.read(request)
    context: dict[str, Any] = {"form": form, "results": None, "listing": None, "listing_total": 0, "error": None}
    status = 200
    try:
        filters = form.filters()
        top = form.limit()
        if form.q:
            found = await site.searches.run(site.search, form.q, top=top, **filters)
            context["results"] = await run_in_threadpool(_with_views, site, found)
        elif filters:
            # One page of views and a count: the whole listing of a large store is hundreds of thousands
            context["listing"] = await run_in_threadpool(site.kg.projects, limit=LISTING_MAX, **filters)
            context["listing_total"] = await run_in_threadpool(site.count, **filters)
    except (Unavailable, Busy) as error:
        context["error"] = str(error)
        status = 503
    except KgError as error:
        context["error"] = str(error)
        status = 400
    return site.render(request, "search.html", context, status)


async def project(request: Request):
    """/project/{id}: organisation, regions, concepts with evidence, similar projects, SPARQL links."""
    site: Site = request.app.state.site
    project_id = request.path_params["project_id"]
    try:
        view = await run_in_threadpool(site.kg.project, project_id)
    except NotFound as error:
        suggestions = await run_in_threadpool(site.suggest, project_id)
        return site.render(request, "not_found.html",
                           {"message": str(error), "suggestions": suggestions, "asked": project_id}, 404)
    similar, note = [], None
    try:
        found = await run_in_threadpool(site.similar, project_id, top=SIMILAR_TOP)
        similar = await run_in_threadpool(_with_views, site, found)
    except KgError as error:
        note = str(error)
    describe = f"DESCRIBE <{view['iri']}>"
    links = {name: "/sparql?" + urlencode({"query": describe, "format": fmt})
             for name, fmt in (("turtle", "turtle"), ("jsonld", "json-ld"), ("ntriples", "nt"))}
    return site.render(request, "project.html",
                       {"p": view, "similar": similar, "note": note, "describe": describe, "links": links})


async def not_found(request: Request, exc: Exception):
    site: Site = request.app.state.site
    message = f"no page at {request.url.path}"
    return site.render(request, "not_found.html", {"message": message, "suggestions": [], "asked": ""}, 404)


async def http_error(request: Request, exc: Exception):
    site: Site = request.app.state.site
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    return site.render(request, "error.html", {"status": status, "message": detail}, status)


async def server_error(request: Request, exc: Exception):
    """The 500 page: plain text (it must not depend on what may have failed), with the usual security headers."""
    from starlette.responses import PlainTextResponse

    log.error("error while answering %s", request.url.path, exc_info=exc)
    return PlainTextResponse("internal error — the server log has the details\n", status_code=500)
