"""The update check of the endpoint: a linear scan that no spacing, comment or string can fool or stall."""
from __future__ import annotations

import pytest

from kg.guard import first_update_keyword, leaving_keyword, tokens, update_keyword_anywhere

LONG = 200_000


@pytest.mark.parametrize("text, keyword", [
    ("DROP ALL", "DROP"),
    ("  prefix ex: <http://e/>\n  insert data { ex:a ex:b ex:c }", "INSERT"),
    ("BASE <http://e/> PREFIX : <http://e/> CLEAR DEFAULT", "CLEAR"),
    ("\ufeffDROP ALL", "DROP"),
    ("/* c */ DROP ALL", "DROP"),
    ("# only a comment\nWITH <http://e/g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }", "WITH"),
    (" " * LONG + "LOAD <http://e/x>", "LOAD"),
    (("#" + "x" * 1000 + "\n") * 200 + "DROP ALL", "DROP"),
    ("SELECT * { ?s ?p ?o }", None),
    (" " * LONG + "PREFIX ex: <http://e/>\n" + " " * LONG + "SELECT * { ?s ?p ?o }", None),
    ("ASK { ?s ex:drop ?o }", None),
    ("", None),
])
def test_first_update_keyword(text, keyword):
    assert first_update_keyword(text) == keyword


@pytest.mark.parametrize("text, keyword", [
    ("SELECT * WHERE { ?s ?p ?o } ; DROP ALL", "DROP"),
    ('SELECT * { ?s ?p "DROP ALL" }', None),
    ('SELECT * { ?s ?p """a "quoted" DROP""" }', None),
    ("SELECT * { <http://e/DROP> ?add ?copy . ?s ex:insert ?o } # DROP", None),
    ("SELECT * { ?s ?p ?o } /* unterminated", None),
    ("SELECT ?x WHERE { FILTER(?a < ?b) } MOVE", "MOVE"),
])
def test_update_keyword_anywhere(text, keyword):
    assert update_keyword_anywhere(text) == keyword


def test_tokens_keep_strings_iris_and_words_whole():
    found = list(tokens('PREFIX ex: <http://e/> SELECT ?x { ?x ex:name "a b" } # c'))
    assert found == [("word", "PREFIX"), ("word", "ex:"), ("iri", "<http://e/>"), ("word", "SELECT"),
                     ("var", "?x"), ("other", "{"), ("var", "?x"), ("word", "ex:name"), ("string", '"a b"'),
                     ("other", "}")]


@pytest.mark.parametrize("text, keyword", [
    ("SELECT * { SERVICE <http://e/sparql> { ?s ?p ?o } }", "SERVICE"),
    ("SELECT * { ?s ?p ?o .SERVICE <http://e/sparql> { ?s ?p ?o } }", "SERVICE"),      # glued to the dot
    ("SELECT * { ?s ?p 1.service silent <http://e/> { } }", "SERVICE"),
    ("SELECT * { ?s ?p 1SERVICE <http://e/sparql> { ?s ?p ?o } }", "SERVICE"),       # glued to a number
    ("SELECT * { ?s ?p -1e5service <http://e/sparql> { ?s ?p ?o } }", "SERVICE"),
    ("SELECT * FROM <http://e/g> { ?s ?p ?o }", "FROM"),
    ("select * from named <http://e/g> { graph ?g { ?s ?p ?o } }", "FROM"),
    ('SELECT * { ?s ex:service "SERVICE" ; <http://e/FROM> ?from } # SERVICE', None),
    ("SELECT ?service { ?s schema:Service ?o . ?o ex:from ?x }", None),
    (" " * LONG + 'SELECT * { ?s ?p "' + "x" * LONG + '" }', None),
])
def test_leaving_keyword(text, keyword):
    assert leaving_keyword(text) == keyword


@pytest.mark.parametrize("glue", ["", " ", ".", "1", "-1", "+1", "1.5", "1.", "1e5", "1E-5", "true", '"x"', "'x'",
                                  "<urn:x>", "?o", "$o", "_:b", "a", ";", ",", "}", ")", "@", "^^", "0x", "1_"])
@pytest.mark.parametrize("keyword", ["SERVICE", "service", "SeRvIcE"])
def test_every_service_oxigraph_reads_is_refused(glue, keyword):
    """Differential check against the engine: whatever comes right before the keyword, if Oxigraph reads the
    query (it then tries the loopback service, port 9, and fails to connect), the guard must refuse it."""
    import pyoxigraph

    query = f"SELECT * WHERE {{ ?s ?p {glue}{keyword} <http://127.0.0.1:9/sparql> {{ ?a ?b ?c }} }}"
    try:
        list(pyoxigraph.Store().query(query))
    except SyntaxError:
        return                              # not a query: the engine never runs it
    except OSError:
        pass                                # read, and the service tried
    assert leaving_keyword(query) == "SERVICE", query


@pytest.mark.parametrize("text", [
    "PREFIX ex: <http://e/> SELECT * { ?s ex:valid.fromDate ?o }",
    "PREFIX ex: <http://e/> SELECT * { ?s ex:customer.serviceLevel ?o }",
    'SELECT * { ?s ?p "x"@en-fromage }',
    "SELECT * { ?s <https://schema.org/serviceType> ?o }",
])
def test_names_that_hold_service_or_from_are_not_keywords(text):
    assert leaving_keyword(text) is None
