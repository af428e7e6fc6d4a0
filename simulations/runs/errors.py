"""Errors of the run model: each names the field it is about (`actions[0].action.thread`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

#: One object's validation errors listed at most (the rest are counted in one more line).
MAX_FIELD_ERRORS = 20

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class FieldError:
    loc: Loc
    msg: str
    type: str = "value_error"

    @property
    def field(self) -> str:
        return format_loc(self.loc)

    def __str__(self) -> str:
        return f"{self.field}: {self.msg}" if self.loc else self.msg


class RunError(ValueError):
    """A run spec (or one of its parts) is invalid. `errors` name each bad field."""

    def __init__(self, errors: Sequence[FieldError] | str) -> None:
        if isinstance(errors, str):
            errors = [FieldError((), errors)]
        self.errors: list[FieldError] = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


class PermalinkError(RunError):
    """A permalink token could not be decoded into a valid run."""


def format_loc(loc: Iterable[str | int]) -> str:
    """('actions', 0, 'action', 'thread') -> 'actions[0].action.thread'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def pydantic_errors(exc: ValidationError, prefix: Loc = (), tag: str | None = None) -> list[FieldError]:
    """Pydantic errors as FieldErrors under `prefix`.

    For a discriminated union pydantic puts the tag value first in `loc`
    (('run', 'thread')); `tag` drops it so the path names the submitted field.
    """
    errors = []
    found = exc.errors(include_url=False)
    for err in found[:MAX_FIELD_ERRORS]:
        loc = tuple(err.get("loc", ()))
        if tag is not None and loc and loc[0] == tag:
            loc = loc[1:]
        msg = str(err.get("msg", "invalid value"))
        if err.get("type") == "extra_forbidden":
            msg = "Unknown field"
        elif err.get("type") == "value_error":
            msg = msg.removeprefix("Value error, ")  # pydantic's wrapping of a validator's message
        errors.append(FieldError(prefix + loc, msg, str(err.get("type", "value_error"))))
    if len(found) > MAX_FIELD_ERRORS:
        # An object with thousands of unknown keys would otherwise answer with an error
        # apiece: a response ten times the size of the request.
        more = len(found) - MAX_FIELD_ERRORS
        errors.append(FieldError(prefix, f"and {more} more error{'s' if more > 1 else ''} like these", "too_many_errors"))
    return errors
