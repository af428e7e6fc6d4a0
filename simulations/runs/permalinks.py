"""Permalinks: a run as a compact URL-safe token, and the strict JSON reader for untrusted input."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Callable
from typing import Any

from simulations.engines.base import Engine
from simulations.runs.errors import PermalinkError, RunError
from simulations.runs.spec import RunSpec, dump_action, parse_run

#: Longest accepted permalink token (characters), and the most JSON it may inflate to.
MAX_TOKEN_CHARS = 8000
MAX_TOKEN_JSON_BYTES = 64 * 1024
TOKEN_VERSION = "1"


def encode_run(engine_cls: type[Engine], spec: RunSpec) -> str:
    """Compact, URL-safe token: "1" + base64url(raw deflate(JSON {e, p, s, a}))."""
    payload: dict[str, Any] = {
        "e": spec.slug,
        "p": spec.params.model_dump(mode="json"),
        "s": spec.seed,
    }
    if spec.actions:
        payload["a"] = [[a.step, dump_action(engine_cls, a.action)] for a in spec.actions]
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(raw) + packer.flush()
    return TOKEN_VERSION + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode_token(token: Any) -> dict[str, Any]:
    """The token's JSON payload, checked for shape only (not against an engine)."""
    if not isinstance(token, str) or not token:
        raise PermalinkError("The run link is empty.")
    if len(token) > MAX_TOKEN_CHARS:
        raise PermalinkError(f"The run link is too long (over {MAX_TOKEN_CHARS} characters).")
    if token[0] != TOKEN_VERSION:
        raise PermalinkError("The run link has an unknown format.")
    body = token[1:]
    if not body or any(c not in _B64URL for c in body):
        raise PermalinkError("The run link is damaged (not URL-safe base64).")
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        unpacker = zlib.decompressobj(-15)
        raw = unpacker.decompress(packed, MAX_TOKEN_JSON_BYTES)
        if unpacker.unconsumed_tail:
            raise PermalinkError("The run link holds too much data.")
        raw += unpacker.flush()
        if not unpacker.eof:
            raise PermalinkError("The run link is damaged (truncated).")
        # A few hundred bytes of deflated "[[[[..." nest deeper than json allows: JSONTooDeep.
        payload = loads_strict(raw.decode("utf-8"))
    except PermalinkError:
        raise
    except (ValueError, zlib.error, UnicodeDecodeError):
        raise PermalinkError("The run link is damaged (it does not decode).") from None
    if not isinstance(payload, dict):
        raise PermalinkError("The run link is damaged (not a run).")
    unknown = set(payload) - {"e", "p", "s", "a"}
    if unknown or not isinstance(payload.get("e"), str):
        raise PermalinkError("The run link is damaged (not a run).")
    return payload


def decode_run(token: Any, engines: Callable[[str], type[Engine] | None]) -> tuple[type[Engine], RunSpec]:
    """Token -> (engine class, validated RunSpec). `engines` looks a slug up (the registry)."""
    payload = decode_token(token)
    engine_cls = engines(payload["e"])
    if engine_cls is None:
        raise PermalinkError(f"The run link is for an unknown simulation {payload['e'][:60]!r}.")
    try:
        spec = parse_run(engine_cls, payload.get("p"), payload.get("s"), payload.get("a"))
    except RunError as exc:
        raise PermalinkError(exc.errors) from None
    return engine_cls, spec


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class JSONTooDeep(ValueError):
    """Valid JSON nested deeper than the parser goes ("[[[[...")."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def loads_strict(text: str | bytes) -> Any:
    """json.loads without NaN/Infinity (no bounded field may hold them), and with nesting
    too deep to parse as a ValueError, not a RecursionError: for untrusted input."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise JSONTooDeep("nested too deeply") from None
