"""schemathesis against the real server's /api/openapi.json: no 5xx, every status
documented, every body (errors included) as its schema says, schema-violating input
refused. One pytest test per operation; examples, coverage and fuzzing phases with a
bounded example count (SCHEMATHESIS_MAX_EXAMPLES, default 25), so the whole file runs
in well under a minute.

Path parameters: a random slug only ever reaches the 404 branch, so the generated
slugs are mixed with the real ones the API lists (topics, related items, simulations
and their analyses), and the endpoints' own logic gets exercised too.

One deliberate setting: the API answers 422 for values its schema cannot express (an
unknown category, a simulation's params, which depend on the engine), so a 422 counts
as an accepted answer to schema-valid input; the 422's body must still be the
documented ValidationErrorOut. A 429 (throttling, if an operation adds it) is accepted
by the same check; documenting it is that operation's job.
"""

from __future__ import annotations

import os

import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))

CONFIG = {
    "generation": {"max-examples": MAX_EXAMPLES},
    "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True}},
    "checks": {
        "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]},
    },
    "request-timeout": 30,
}


def known_path_parameters(base: str) -> dict[str, list[dict[str, str]]]:
    """Real path parameters for each templated path, read from the API itself."""
    get = lambda path: requests.get(base + path, timeout=30).json()  # noqa: E731
    topics = [t["slug"] for t in get("/api/topics")]
    related = sorted({r["slug"] for slug in topics for r in get(f"/api/topics/{slug}")["related"]})
    engines = get("/api/simulations")
    return {
        "/api/topics/{slug}": [{"slug": s} for s in topics],
        "/api/related/{slug}": [{"slug": s} for s in related],
        "/api/simulations/{slug}/runs": [{"slug": e["slug"]} for e in engines],
        "/api/simulations/{slug}/analyses/{name}": [
            {"slug": e["slug"], "name": name} for e in engines for name in e["analyses"]
        ],
    }


def served_schema() -> dict:
    """/api/openapi.json as the server serves it, read in-process at collection (no
    database, no server needed), so pytest can list one test per operation. The calls
    go to the live server. (Loading it lazily from the server fixture,
    `schemathesis.pytest.from_fixture`, fails under pytest 9: it sets `node._nodeid`.)"""
    from django.test import Client

    response = Client().get("/api/openapi.json", HTTP_HOST="localhost")
    assert response.status_code == 200
    return response.json()


schema = schemathesis.openapi.from_dict(served_schema(), config=SchemathesisConfig.from_dict(CONFIG))
KNOWN: dict[str, list[dict[str, str]]] = {}


@schema.hook
def before_generate_path_parameters(context, strategy):
    real = KNOWN.get(context.operation.path)
    if not real:
        return strategy
    # Mostly real ones; generated ones keep the 404 branch and odd input covered.
    return st.one_of(st.sampled_from(real), st.sampled_from(real), strategy)


@pytest.fixture(scope="module")
def server(production_server):
    assert requests.get(production_server.url + "/api/openapi.json", timeout=30).json() == schema.raw_schema
    known = known_path_parameters(production_server.url)
    assert known["/api/topics/{slug}"] and known["/api/simulations/{slug}/runs"], known
    KNOWN.update(known)
    return production_server


@schema.parametrize()
def test_api_conforms_to_its_schema(case, server):
    case.call_and_validate(base_url=server.url)
