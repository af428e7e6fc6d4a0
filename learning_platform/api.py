"""The JSON API root: each app adds its router here.

Every 422 has one documented shape, `{"detail": [{"loc", "field", "msg", "type"}]}`
(`ValidationErrorOut`), whoever raised it: an endpoint's own checks, or django-ninja's
validation of query, path and body. A request body must be one JSON object, read
strictly (no NaN/Infinity, nesting too deep is refused): anything else is a 422 on
`["body"]`, not ninja's undocumented 400, and never a silent `{}`.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError
from ninja.parser import Parser

from simulations.api import router as simulations_router
from simulations.runs import format_loc, loads_strict
from topics.api import router as topics_router


class BodyError(ValueError):
    """The request body is not one JSON object. ninja turns whatever the parser raises
    into HttpError(400) `from` it; the handler below finds this as the cause."""

    def __init__(self, msg: str, type_: str) -> None:
        super().__init__(msg)
        self.error = {"loc": ["body"], "field": "", "msg": msg, "type": type_}


_JSON_KIND = {list: "an array", str: "a string", bool: "true or false", type(None): "null"}


class JSONObjectParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        try:
            data = loads_strict(request.body)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, NaN, too deep
            raise BodyError(f"is not valid JSON: {exc}", "json_invalid") from None
        if not isinstance(data, dict):
            raise BodyError(f"must be a JSON object, not {_JSON_KIND.get(type(data), 'a number')}", "dict_type")
        return data


def field_error(error: dict[str, Any]) -> dict[str, Any]:
    """One error as documented: `loc` starts with where (body, query, path); `field` is
    the rest as a path (`actions[0].step`), "" for the whole body."""
    loc = [part if isinstance(part, (str, int)) else str(part) for part in error.get("loc", ())]
    field = error.get("field")
    return {
        "loc": loc,
        "field": str(field) if field is not None else format_loc(loc[1:]),
        "msg": str(error.get("msg", "")),
        "type": str(error.get("type", "value_error")),
    }


api = NinjaAPI(
    title="Systems & Networking API",
    version="1.0",
    description="Topics, categories, related items and live simulations.",
    urls_namespace="api",
    parser=JSONObjectParser(),
)


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return api.create_response(request, {"detail": [field_error(e) for e in exc.errors]}, status=422)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, BodyError):
        return api.create_response(request, {"detail": [exc.__cause__.error]}, status=422)
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


api.add_router("/", topics_router)
api.add_router("/simulations", simulations_router)
