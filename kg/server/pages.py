"""Server-rendered pages: the search page, one page per project, and error pages (no JavaScript)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

from kg.errors import KgError, NotFound

if TYPE_CHECKING:
    from kg.api import Tsunagari
    from kg.server.app import Site

log = logging.getLogger("kg.server")
TOP_DEFAULT, TOP_MAX = 20, 100
SIMILAR_TOP = 5
LABELS = {
    "region": {"same municipality": ("同じ市区町村", "same municipality"),
               "same prefecture": ("同じ都道府県", "same prefecture"),
               "same regional block": ("同じ地方ブロック", "same regional block")},
    "level": {"prefecture": "都道府県", "municipality": "市区町村", "ward": "行政区", "district": "郡",
              "block": "地方ブロック"},
    "field": {"title": "事業名", "description": "概要", "organization": "団体名"},
}


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
        return cls(**{f.name: request.query_params.get(f.name, "").strip()[:500] for f in fields(cls)})

    def filters(self) -> dict[str, Any]:
        """The filters for kg.search / kg.projects; raises KgError for a fiscal year that is not a number."""
        out: dict[str, Any] = {k: getattr(self, k) for k in ("prefecture", "block", "target_group", "theme")
                               if getattr(self, k)}
        if self.fiscal_year:
            if not self.fiscal_year.isdigit():
                raise KgError(f"fiscal year {self.fiscal_year!r} is not a year — use e.g. 2024")
            out["fiscal_year"] = int(self.fiscal_year)
        return out

    def limit(self) -> int:
        return min(max(int(self.top), 1), TOP_MAX) if self.top.isdigit() else TOP_DEFAULT


def filter_choices(kg: "Tsunagari") -> dict[str, list[dict[str, Any]]]:
    """The options of the filter menus: only values that some project has, with project counts."""
    from kg.normalize.concepts import ConceptSchemes
    from kg.normalize.gazetteer import Gazetteer

    projects = kg.projects()
    prefectures: dict[str, str] = {}
    for p in projects:
        for r in p["regions"]:
            if r["prefecture_code"]:
                prefectures[r["prefecture_code"]] = r["prefecture"]
    choices: dict[str, list[dict[str, Any]]] = {
        "prefecture": [{"value": code, "label": name, "count": len(kg.projects(prefecture=code))}
                       for code, name in sorted(prefectures.items())],
        "block": [{"value": b.id, "label": f"{b.name}（{b.name_en}）", "count": len(kg.projects(block=b.id))}
                  for b in Gazetteer.load().blocks()],
        "fiscal_year": [{"value": str(y), "label": f"{y}年度", "count": sum(p["fiscal_year"] == y for p in projects)}
                        for y in sorted({p["fiscal_year"] for p in projects})],
    }
    schemes = ConceptSchemes.load()
    for key, scheme in (("target_group", "target-group"), ("theme", "theme")):
        options = [{"value": c.id, "label": f"{c.ja}（{c.en}）",
                    "count": len(kg.projects(**{key: c.id}))} for c in schemes.concepts(scheme)]
        choices[key] = sorted(options, key=lambda o: -o["count"])
    return {key: [o for o in options if o["count"]] for key, options in choices.items()}


def block_names() -> dict[str, str]:
    from kg.normalize.gazetteer import Gazetteer

    return {b.id: b.name for b in Gazetteer.load().blocks()}


def _with_views(site: "Site", results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "view": site.by_id.get(r["id"])} for r in results]


async def search(request: Request):
    """/ : the search box and filters; with q, ranked results and their reasons; with filters only, a list."""
    site: Site = request.app.state.site
    form = SearchForm.read(request)
    context: dict[str, Any] = {"form": form, "results": None, "listing": None, "error": None}
    status = 200
    try:
        filters = form.filters()
        if form.q:
            found = await run_in_threadpool(site.kg.search, form.q, top=form.limit(), **filters)
            context["results"] = _with_views(site, found)
        elif filters:
            context["listing"] = site.kg.projects(**filters)
    except KgError as error:
        context["error"] = str(error)
        status = 400
    return site.render(request, "search.html", context, status)


async def project(request: Request):
    """/project/{id}: organisation, regions, concepts with evidence, similar projects, SPARQL links."""
    site: Site = request.app.state.site
    project_id = request.path_params["project_id"]
    try:
        view = site.kg.project(project_id)
    except NotFound as error:
        return site.render(request, "not_found.html",
                           {"message": str(error), "suggestions": site.suggest(project_id), "asked": project_id}, 404)
    similar, note = [], None
    try:
        similar = _with_views(site, await run_in_threadpool(site.kg.similar, project_id, top=SIMILAR_TOP))
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


async def http_error(request: Request, exc: HTTPException):
    site: Site = request.app.state.site
    return site.render(request, "error.html", {"status": exc.status_code, "message": exc.detail},
                       exc.status_code)


async def server_error(request: Request, exc: Exception):
    from starlette.responses import PlainTextResponse

    log.exception("error while answering %s", request.url.path, exc_info=exc)
    return PlainTextResponse("internal error — the server log has the details\n", status_code=500)
