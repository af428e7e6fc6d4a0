"""The socket's wire protocol, sans IO: one text message in, one frozen command out (or a
`ProtocolError` that says what was wrong, naming the field).

Client -> server: one JSON object per message, as htmx's ws extension sends a form: its
fields (every value a string) plus a `HEADERS` dict, which is ignored. `cmd` picks the
command:

    play             play at the chosen speed (from the start again if the run has ended)
    pause            stop playing
    step / back      one step forward / back (pauses first)
    seek   index     stand at step `index` (cached when behind, computed when ahead)
    speed  speed     0.25 .. 8 (x the base rate)
    reset  seed new  restart the run, same params; a blank seed keeps the run's seed,
                     new=1 draws a new one
    params p.<name>  restart with these params (partial: the rest stay); the seed stays
    action a.<name>  apply one of the engine's actions at the current step
                     (behind the live edge this branches: the recorded future is dropped)
    analyse name     compute one of the engine's whole-run analyses
    resume run, step, playing, speed   load a permalink token at a step (reconnects)
    state            send the full state again
    ack    seq token the page read message `seq`, which carried `token` (flow control:
                     limits.SendWindow; the page's script sends it, not a form)

The connect URL's query takes the resume fields too (`panel`, `run`, `step`, `playing`,
`speed`): the page's script rewrites it on every reconnect, so a restarted server picks
up the run at the step the page showed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union
from urllib.parse import parse_qs

from simulations.engines.base import Engine
from simulations.limits import MAX_BENCH_STEPS
from simulations.render.panel import MAX_SPEED, MIN_SPEED, PREFIX_RE, default_prefix
from simulations.runs import MAX_SEED, FieldError, JSONTooDeep, loads_strict, parse_whole

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class ProtocolError(Exception):
    """A message that is not a command: shown in the panel's error area; the run is unchanged."""

    def __init__(self, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


@dataclass(frozen=True)
class Play:
    #: Bench only: this many frames unpaced (None: paced play).
    unpaced_steps: int | None = None


@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class Step:
    pass


@dataclass(frozen=True)
class Back:
    pass


@dataclass(frozen=True)
class Seek:
    index: int


@dataclass(frozen=True)
class Speed:
    speed: float


@dataclass(frozen=True)
class Reset:
    seed: int | None  # None: the run's own seed (or a new one with `new`)
    new: bool = False  # draw a new random seed


@dataclass(frozen=True)
class SetParams:
    #: Submitted values by field name, blanks left out (they keep the current value).
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ApplyAction:
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Analyse:
    name: str


@dataclass(frozen=True)
class Resume:
    run: str | None
    step: int
    playing: bool
    speed: float | None


@dataclass(frozen=True)
class SendState:
    pass


@dataclass(frozen=True)
class Ack:
    """The page read message `seq` (it echoes the token that message carried)."""

    seq: int
    token: str


Command = Union[Play, Pause, Step, Back, Seek, Speed, Reset, SetParams, ApplyAction, Analyse, Resume, SendState, Ack]

COMMANDS = ("play", "pause", "step", "back", "seek", "speed", "reset", "params", "action",
            "analyse", "resume", "state", "ack")

#: Commands where only the latest one waiting matters: a newer one replaces it.
LATEST_WINS = (Seek, Speed, Reset, SetParams, Resume, SendState, Analyse)


@dataclass(frozen=True)
class Connect:
    """What the connect URL asks for."""

    prefix: str
    run: str | None
    step: str | None
    playing: bool
    speed: float | None


# --------------------------------------------------------------------------- fields


def _last(value: Any) -> Any:
    """A form with two fields of one name sends a list: the last one wins."""
    if isinstance(value, list):
        return value[-1] if value else ""
    return value


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    value = _last(value)
    if isinstance(value, (dict, list)):
        raise ProtocolError(f"{key}: must be a single value", [FieldError((key,), "must be a single value")])
    return str(value).strip()


def _whole(data: Mapping[str, Any], key: str, upper: int) -> int:
    """A whole number 0..upper; a RunError names the field otherwise."""
    return parse_whole(_text(data, key), (key,), 0, upper)


def parse_speed(value: Any) -> float:
    try:
        speed = float(value)
    except (TypeError, ValueError):
        raise ProtocolError("speed: must be a number", [FieldError(("speed",), "must be a number")]) from None
    if not math.isfinite(speed) or not MIN_SPEED <= speed <= MAX_SPEED:
        msg = f"must be from {MIN_SPEED:g} to {MAX_SPEED:g}"
        raise ProtocolError(f"speed: {msg}", [FieldError(("speed",), msg)])
    return speed


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


#: Form-field prefixes of the grouped commands: `p.threads` is params["threads"].
_GROUP_PREFIX = {"params": "p.", "action": "a."}


def _group(data: Mapping[str, Any], group: str, skip_blank: bool) -> dict[str, Any]:
    """A command's grouped fields: a JSON object under `group` (API-style clients), then
    the form's prefixed fields (htmx sends `p.threads`, `a.thread`)."""
    prefix = _GROUP_PREFIX[group]
    out: dict[str, Any] = {}
    if group in data:
        raw = data[group]
        if not isinstance(raw, dict):
            msg = "must be an object of field values"
            raise ProtocolError(f"{group}: {msg}", [FieldError((group,), msg)])
        out.update(raw)
    for key, value in data.items():
        if not (key.startswith(prefix) and len(key) > len(prefix)):
            continue
        value = _last(value)
        if skip_blank and isinstance(value, str) and value.strip() == "":
            continue
        out[key[len(prefix):]] = value
    return out


# --------------------------------------------------------------------------- parsing


def parse_message(text: str, engine_cls: type[Engine], bench: bool = False) -> Command:
    """One socket message -> a command for `engine_cls`. `bench` allows unpaced play.
    Raises ProtocolError, or RunError for a field out of its bounds."""
    try:
        data = loads_strict(text)
    except JSONTooDeep:
        raise ProtocolError("That message is nested too deeply to read.") from None
    except ValueError:
        raise ProtocolError("That message was not valid JSON.") from None
    if not isinstance(data, dict):
        raise ProtocolError("A message must be a JSON object with a 'cmd'.")
    cmd = data.get("cmd")
    if not isinstance(cmd, str) or cmd not in COMMANDS:
        shown = cmd[:40] if isinstance(cmd, str) else cmd
        raise ProtocolError(f"Unknown command {shown!r}. Known commands: {', '.join(COMMANDS)}.")
    if cmd == "play":
        if _text(data, "pace") != "off":
            return Play()
        if not bench:
            raise ProtocolError("pace=off is only available to the benchmark (SIMULATIONS_BENCH=1, loopback).")
        return Play(unpaced_steps=max(1, _whole(data, "steps", MAX_BENCH_STEPS) if _text(data, "steps") else 1))
    if cmd == "seek":
        return Seek(_whole(data, "index", engine_cls.max_steps))
    if cmd == "speed":
        return Speed(parse_speed(_text(data, "speed")))
    if cmd == "reset":
        raw = _text(data, "seed")
        return Reset(None if raw == "" else _whole(data, "seed", MAX_SEED), new=_flag(_text(data, "new")))
    if cmd == "params":
        return SetParams(_group(data, "params", skip_blank=True))
    if cmd == "action":
        return ApplyAction(_group(data, "action", skip_blank=False))
    if cmd == "analyse":
        name = _text(data, "name")
        labels = dict(engine_cls.analyses)
        if name not in labels:
            known = ", ".join(labels) or "none"
            raise ProtocolError(f"Unknown analysis {name[:40]!r}. This simulation has: {known}.")
        return Analyse(name)
    if cmd == "resume":
        step = _text(data, "step")
        return Resume(
            run=_text(data, "run") or None,
            step=parse_whole(step, ("step",), 0, engine_cls.max_steps) if step else 0,
            playing=_flag(_text(data, "playing")),
            speed=parse_speed(_text(data, "speed")) if _text(data, "speed") else None,
        )
    if cmd == "ack":
        token = _text(data, "token")
        return Ack(parse_whole(_text(data, "seq"), ("seq",), 0, 2**53), token[:64])
    return {"pause": Pause, "step": Step, "back": Back, "state": SendState}[cmd]()


def parse_slug(scope: Mapping[str, Any]) -> str:
    return str(scope.get("url_route", {}).get("kwargs", {}).get("slug", ""))


def parse_connect(scope: Mapping[str, Any], slug: str) -> Connect:
    """The connect URL's query. Never raises: a bad prefix takes the default, a bad speed
    is ignored; a bad run or step is the controller's to report (it opens the default run)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1")[:20_000])

    def first(key: str) -> str | None:
        items = query.get(key)
        return items[0] if items else None

    panel = first("panel") or ""
    prefix = panel if PREFIX_RE.match(panel) else default_prefix(slug if SLUG_RE.match(slug) else "x")
    speed = None
    if first("speed"):
        try:
            speed = parse_speed(first("speed"))
        except ProtocolError:
            pass
    return Connect(prefix, first("run") or None, first("step"), _flag(first("playing") or ""), speed)
