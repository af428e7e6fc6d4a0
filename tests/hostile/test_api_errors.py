"""Every 422 from the API has the documented shape, whoever raised it, and a body that is
not one JSON object is a 422 on ["body"]: not ninja's undocumented 400, not a silent {}."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

RUNS = "/api/simulations/race-conditions/runs"
SHAPE = {"loc", "field", "msg", "type"}


def errors_of(response) -> list[dict]:
    assert response.status_code == 422, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    detail = response.json()["detail"]
    assert detail and all(set(error) == SHAPE for error in detail), detail
    assert all(isinstance(error["field"], str) and isinstance(error["loc"], list) for error in detail)
    return detail


@pytest.mark.parametrize(
    "body, kind",
    [
        (b"\x00", "json_invalid"),  # schemathesis ST103: was an undocumented 400
        (b"{", "json_invalid"),
        (b"\xff\xfe{}", "json_invalid"),  # not UTF-8
        (b'{"seed": NaN}', "json_invalid"),  # no bounded field may hold NaN
        (b"[" * 100_000 + b"]" * 100_000, "json_invalid"),  # too deep to parse
        (b"[1]", "dict_type"),  # was taken as {} and run with the defaults
        (b'"params"', "dict_type"),
        (b"7", "dict_type"),
        (b"null", "dict_type"),
        (b"true", "dict_type"),
    ],
)
def test_a_body_that_is_not_one_json_object_is_a_422_on_the_body(client, body, kind):
    [error] = errors_of(client.post(RUNS, body, content_type="application/json"))
    assert error["loc"] == ["body"] and error["field"] == "" and error["type"] == kind


def test_the_analysis_endpoint_reads_bodies_the_same_way(client):
    [error] = errors_of(client.post("/api/simulations/race-conditions/analyses/explore", b"[]",
                                    content_type="application/json"))
    assert error["loc"] == ["body"]


def test_ninja_validation_errors_get_the_field(client):
    [error] = errors_of(client.get("/api/topics", {"q": "x" * 201}))
    assert error["loc"] == ["query", "q"] and error["field"] == "q"
    assert error["type"] == "string_too_long"


def test_an_endpoints_own_errors_keep_their_shape(client):
    [error] = errors_of(client.get("/api/topics", {"category": "cooking"}))
    assert error["loc"] == ["query", "category"] and error["field"] == "category"
    detail = errors_of(client.post(RUNS, {"seed": "a", "steps": 0, "actions": [{"step": "x"}]},
                                   content_type="application/json"))
    assert {e["field"] for e in detail} >= {"seed", "steps"}
    assert all(e["loc"][0] == "body" for e in detail)


def test_every_documented_422_names_the_field(client):
    schema = client.get("/api/openapi.json").json()
    components = schema["components"]["schemas"]
    documented = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            response = operation["responses"].get("422")
            if response is None:
                continue
            documented += 1
            ref = response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            item_ref = components[ref]["properties"]["detail"]["items"]["$ref"].rsplit("/", 1)[1]
            item = components[item_ref]
            assert set(item["required"]) == SHAPE, (method, path, item)
    assert documented >= 4


def test_operations_with_a_body_or_parameters_document_422(client):
    """ninja checks query and body before the view runs, so any such operation can 422."""
    schema = client.get("/api/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            takes_input = "requestBody" in operation or any(
                p["in"] == "query" for p in operation.get("parameters", []))
            if takes_input:
                assert "422" in operation["responses"], (method, path)
