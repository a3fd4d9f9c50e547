"""The few HTTP requests a push makes (SPARQL 1.1 Graph Store Protocol and Update), made safe to aim at a
server we do not trust and to report in a terminal or a log.

- **Credentials**: ``http://user:password@host/…`` in a URL, or ``auth=(user, password)``, become a basic
  ``Authorization`` header; the URL that urllib sees has no user info. Every message is passed through
  ``redact``: user info and the values of ``?token=``-like parameters become ``***``, and so does any
  known secret the server echoes back.
- **Redirects**: a GET follows a redirect only to the same scheme, host and port; anything else (another
  origin, or a redirected PUT/POST/DELETE) is an error that names where it was sent, so credentials and
  graphs never go to a server the user did not name.
- **IRIs in an update**: ``iri_ref`` refuses any IRI that could end the ``<…>`` it is written in.

HTTP goes through ``urllib`` from the standard library: four verbs and two content types need no dependency.
"""
from __future__ import annotations

import base64
import http.client
import logging
import re
import urllib.error
import urllib.parse
import urllib.request

from kg.errors import KgError

NTRIPLES = "application/n-triples"
# Where the SPARQL Update service lives, from the Graph Store endpoint of common servers.
UPDATE_ENDPOINTS = {"store": "update", "data": "update", "rdf-graphs/service": "statements"}
# IRIREF of SPARQL 1.1 with an http(s) scheme: nothing that could close the <…> or start a new operation.
IRI = re.compile(r"https?://[^\s\x00-\x20<>\"{}|\\^`]+")
USER_INFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@")
SECRET_PARAMETER = re.compile(
    r"(?i)([?&;][\w.~-]*(?:token|key|secret|pass|pwd|auth|sig|session|credential)[\w.~-]*=)([^&#\s]*)")
AUTHORIZATION_VALUE = re.compile(r"(?i)\b(basic|bearer)\s+[\w+/=.~-]{6,}")
DEFAULT_PORTS = {"http": 80, "https": 443}


class PushError(KgError):
    """The triple store could not be reached or refused a request; says what was (not) changed."""

    unanswered = False      # True when a request was sent but no answer came (timeout): its effect is unknown


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with credentials replaced by ``***``: URL user info, ``?token=``-like values, ``Basic …``
    and ``Bearer …`` header values, and the known ``secrets``.

    >>> redact("GET http://alice:s3cret@h/store?graph=g&token=abc failed")
    'GET http://***@h/store?graph=g&token=*** failed'
    """
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 3:        # shorter ones would blank out ordinary words
            text = text.replace(secret, "***")
    text = AUTHORIZATION_VALUE.sub(r"\1 ***", USER_INFO.sub(r"\1***@", text))
    return SECRET_PARAMETER.sub(r"\1***", text)


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """The URL without its user info, and the (user, password) it held (percent-decoded), if any."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url, None
    netloc = parts.netloc.rpartition("@")[2]
    plain = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return plain, (urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or ""))


def secrets_of(url: str, auth: tuple[str, str] | None) -> tuple[str, ...]:
    """The strings of a URL and credentials that must never appear in a message."""
    parts = urllib.parse.urlsplit(url)
    found = [parts.password or "", urllib.parse.unquote(parts.password or "")]
    found += [value for name, value in urllib.parse.parse_qsl(parts.query)
              if SECRET_PARAMETER.fullmatch(f"?{name}={value}")]
    if auth:
        found.append(auth[1])
    return tuple(s for s in dict.fromkeys(found) if s)


def iri_ref(iri: str) -> str:
    """``<iri>`` to write into a SPARQL Update, once checked that nothing in it can end the ``<…>``.

    >>> iri_ref("https://w3id.org/tsunagari/graph/shared")
    '<https://w3id.org/tsunagari/graph/shared>'
    >>> iri_ref("http://x/g> ; DROP ALL ; <http://x/h")      # doctest: +ELLIPSIS
    Traceback (most recent call last):
    kg.graphstore.PushError: refusing to write 'http://x/g> ; DROP ALL ; <http://x/h' into a SPARQL Update...
    """
    if not IRI.fullmatch(iri):
        raise PushError(f"refusing to write {iri!r} into a SPARQL Update: not an absolute http(s) IRI "
                        "without spaces, control characters or <>\"{}|\\^`")
    return f"<{iri}>"


def check_url(url: str) -> str:
    """``url`` if it is an http(s) URL with a host (and a valid port); a PushError that shows it redacted if not."""
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port                  # raises ValueError for a port that is not a number in range
    except ValueError as error:
        raise PushError(f"{redact(url)!r} is not a valid URL ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PushError(f"{redact(url)!r} is not an http(s) URL — give the Graph Store endpoint, "
                        "e.g. http://127.0.0.1:7878/store")
    return url


def guess_update_endpoint(endpoint: str) -> str:
    """The SPARQL Update endpoint beside a Graph Store endpoint of Oxigraph, Fuseki or RDF4J/GraphDB
    (same user info and query, e.g. a ``?token=``)."""
    parts = urllib.parse.urlsplit(check_url(endpoint))
    path = parts.path.rstrip("/")
    for store_path, update_path in UPDATE_ENDPOINTS.items():
        if path.endswith("/" + store_path):
            new = path[: -len(store_path)] + update_path
            return urllib.parse.urlunsplit((parts.scheme, parts.netloc, new, parts.query, ""))
    raise PushError(f"cannot tell the SPARQL Update endpoint of {redact(endpoint)} — give it "
                    "(--update-endpoint, or update_endpoint= in Python)")


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(parts.scheme.lower())


class GraphStore:
    """The few requests a push makes: GET and PUT a graph (indirect identification, ``?graph=``),
    DELETE it, POST a SPARQL Update. Errors become PushError with the URL (redacted), the status and
    the server's words."""

    def __init__(self, endpoint: str, update_endpoint: str, timeout: float,
                 auth: tuple[str, str] | None = None) -> None:
        for url in (endpoint, update_endpoint):
            check_url(url)
        self.secrets = secrets_of(endpoint, auth) + secrets_of(update_endpoint, auth)
        self.endpoint, endpoint_auth = split_credentials(endpoint)
        self.update_endpoint, update_auth = split_credentials(update_endpoint)
        if update_auth is None and origin(self.endpoint) == origin(self.update_endpoint):
            update_auth = endpoint_auth         # credentials go only to the origin they were given for
        self.headers = authorization(auth or endpoint_auth)
        self.update_headers = authorization(auth or update_auth)
        self.secrets += tuple(h["Authorization"].split()[1] for h in (self.headers, self.update_headers) if h)
        self.timeout = timeout

    def url(self, graph: str) -> str:
        joiner = "&" if "?" in self.endpoint else "?"
        return f"{self.endpoint}{joiner}{urllib.parse.urlencode({'graph': graph})}"

    def redact(self, text: str) -> str:
        """A message without this store's credentials (see the module docstring)."""
        return redact(text, self.secrets)

    def send(self, method: str, url: str, *, headers: dict[str, str], **options) -> tuple[int, bytes]:
        try:
            return request(method, url, headers=headers, timeout=self.timeout, **options)
        except PushError as error:
            safe = PushError(self.redact(str(error)))
            safe.unanswered = error.unanswered
            raise safe from None

    def catalog(self, iri: str) -> list[str]:
        """Graphs the previous push wrote, from its catalog graph (none if there is no catalog)."""
        from rdflib import DCTERMS, Graph, URIRef

        status, body = self.send("GET", self.url(iri), headers={**self.headers, "Accept": NTRIPLES}, allow=(404,))
        if status == 404:
            return []
        # rdflib logs a warning, with the IRI raw, for each IRI it finds odd: not on the user's terminal.
        silence = logging.getLogger("rdflib.term")
        silence.addFilter(no_records)
        try:
            graph = Graph().parse(data=body.decode("utf-8"), format="nt")
        except Exception as error:       # rdflib's parsers raise assorted types
            raise PushError(self.redact(f"the catalog graph <{iri}> is not N-Triples as asked ({error})")) from None
        finally:
            silence.removeFilter(no_records)
        return sorted(str(o) for o in graph.objects(URIRef(iri), DCTERMS.hasPart))

    def put(self, graph: str, data: bytes, *, name: str) -> None:
        self.send("PUT", self.url(graph), data=data, headers={**self.headers, "Content-Type": NTRIPLES},
                  what=f"uploading <{name}>")

    def update(self, text: str) -> None:
        self.send("POST", self.update_endpoint, data=text.encode("utf-8"),
                  headers={**self.update_headers, "Content-Type": "application/sparql-update"},
                  what="replacing the graphs (SPARQL Update MOVE)")

    def delete_quietly(self, graphs: list[str]) -> list[str]:
        """Delete graphs, best effort; returns those that could not be deleted."""
        left = []
        for graph in graphs:
            try:
                self.send("DELETE", self.url(graph), headers=self.headers, allow=(404,))
            except PushError:
                left.append(graph)
        return left


def no_records(record: logging.LogRecord) -> bool:
    return False


def authorization(auth: tuple[str, str] | None) -> dict[str, str]:
    """The basic ``Authorization`` header for (user, password), or no header."""
    if auth is None:
        return {}
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode("utf-8")).decode("ascii")
    return {"Authorization": f"Basic {token}"}


class SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only for a GET, and only to the same scheme, host and port."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        target = urllib.parse.urljoin(req.full_url, newurl)
        if req.get_method() != "GET" or origin(target) != origin(req.full_url):
            return None                 # urllib then raises the 3xx as an HTTPError, reported below
        return super().redirect_request(req, fp, code, msg, headers, newurl)


OPENER = urllib.request.build_opener(SameOriginRedirects)


def request(method: str, url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None,
            timeout: float = 30.0, allow: tuple[int, ...] = (), what: str = "") -> tuple[int, bytes]:
    """One HTTP request; a 2xx (or an ``allow``-ed status) returns (status, body), anything else raises PushError.

    A request that was sent but got no answer (timeout, connection broken) raises a PushError with
    ``unanswered`` set: the server may or may not have acted on it.
    """
    doing = f"{what}: " if what else ""
    call = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with OPENER.open(call, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        if error.code in allow:
            return error.code, b""
        said = error.read().decode("utf-8", "replace").strip()[:300]
        location = error.headers.get("Location") if 300 <= error.code < 400 else None
        moved = f" (redirect to {location} not followed: give the final URL)" if location else ""
        raise PushError(f"{doing}{method} {url} answered HTTP {error.code} {error.reason}{moved}"
                        + (f": {said}" if said else "")) from None
    except urllib.error.URLError as error:        # failed before the request was sent whole: nothing done
        raise PushError(f"{doing}cannot reach {url}: {error.reason} — is the triple store running at this "
                        "address?") from None
    except (OSError, http.client.HTTPException) as error:      # sent, but no whole answer came back
        said = f"no answer within {timeout:g} s" if isinstance(error, TimeoutError) else \
            f"no answer ({error or type(error).__name__})"
        failure = PushError(f"{doing}{method} {url}: {said}")
        failure.unanswered = True
        raise failure from None
    except ValueError as error:                     # http.client.InvalidURL, an unknown scheme
        raise PushError(f"{doing}cannot send to {url}: {error}") from None
