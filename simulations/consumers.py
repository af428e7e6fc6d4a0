"""The WebSocket consumer at ws/simulations/<slug>/: adapts a RunSession to htmx's ws extension.

Wire protocol (see also README "Simulations"):

Client -> server: one JSON object per message, as htmx's ws extension sends a
form: its fields (every value a string) plus a `HEADERS` dict, which is ignored.
`cmd` picks the command:

    play             play at the chosen speed (from the start again if the run has ended)
    pause            stop playing
    step / back      one step forward / back (pauses first)
    seek   index     stand at step `index` (cached when behind, computed when ahead)
    speed  speed     0.25 .. 8 (x base rate of one frame per 600 ms)
    reset  seed      restart the run, same params; a blank seed draws a new one
    params p.<name>  restart with these params (partial: the rest stay); the seed stays
    action a.<name>  apply one of the engine's actions at the current step
                     (behind the live edge this branches: the recorded future is dropped)
    analyse name     compute one of the engine's whole-run analyses
    resume run, step, playing, speed   load a permalink token at a step (reconnects)
    state            send the full state again

The connect URL's query takes the same resume fields (`panel`, `run`, `step`,
`playing`, `speed`): the page's script rewrites it on every reconnect, so a
restarted server picks up the run at the step the page showed.

Server -> client: HTML only, each top-level element swapped out of band by id
(render/panel.py lists them). Errors go to `{panel}-error`, never as a traceback.

Close codes (Daphne only lets an application send 1000 or 3000-4999, so the
standard codes appear with 3000 added): 4404 unknown simulation, 4003 binary
data, 4009 message over 16 KB, 4008 message flood, 4013 too many sockets from
one client. The ws extension reconnects only on 1006/1011/1012/1013, so none of
these makes a browser retry in a loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from simulations import registry
from simulations.engines.base import Engine
from simulations.render.panel import (
    MAX_SPEED,
    MIN_SPEED,
    PREFIX_RE,
    PanelRenderer,
    ViewState,
    default_prefix,
)
from simulations.runs import (
    MAX_SEED,
    FieldError,
    JSONTooDeep,
    RunError,
    RunSession,
    RunSpec,
    analysis,
    decode_run,
    default_run,
    loads_strict,
    parse_action,
    parse_params,
    parse_seed,
    parse_step,
    shared_store,
)

logger = logging.getLogger("simulations")

#: One frame every BASE_INTERVAL / speed seconds while playing.
BASE_INTERVAL = 0.6
MAX_MESSAGE_BYTES = 16 * 1024
#: Token bucket per connection: RATE messages a second on average, bursts of BURST.
RATE = 20.0
BURST = 40
#: Messages refused in one flood before the socket is closed.
FLOOD_STRIKES = 25
MAX_SOCKETS_PER_CLIENT = 20
#: Most analyses computing at once in this process (they run in worker threads).
MAX_CONCURRENT_ANALYSES = 4
MAX_BENCH_STEPS = 100_000

CLOSE_BINARY = 4003
CLOSE_FLOOD = 4008
CLOSE_TOO_BIG = 4009
CLOSE_BUSY = 4013
CLOSE_UNKNOWN = 4404

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
COMMANDS = ("play", "pause", "step", "back", "seek", "speed", "reset", "params", "action",
            "analyse", "resume", "state")
LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}

# Open sockets per client address, in this process.
_open_by_client: dict[str, int] = {}
_analysis_slots: asyncio.Semaphore | None = None


def bench_mode() -> bool:
    """Unpaced play (`play` with `pace=off`) for `make bench`. Off unless the process was
    started with SIMULATIONS_BENCH=1 (settings.SIMULATIONS_BENCH), and even then only
    for loopback clients, whose per-client socket cap is lifted in this mode so one
    bench client can open 1,000. It does not depend on DEBUG: the bench measures
    production settings."""
    return bool(getattr(settings, "SIMULATIONS_BENCH", False))


def max_sockets_per_client(client: str) -> int:
    if bench_mode() and client in LOOPBACK:  # one bench process opens 1,000 sockets
        return 1_000_000
    return int(getattr(settings, "SIMULATIONS_MAX_SOCKETS_PER_CLIENT", MAX_SOCKETS_PER_CLIENT))


class TokenBucket:
    def __init__(self, rate: float = RATE, burst: int = BURST, clock=time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens = float(burst)
        self.stamp = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    @property
    def full(self) -> bool:
        now = self.clock()
        return self.tokens + (now - self.stamp) * self.rate >= self.burst


class CommandError(Exception):
    """A bad command: shown in the panel's error area; the run is unchanged."""

    def __init__(self, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


def _client_key(scope: Mapping[str, Any]) -> str:
    client = scope.get("client")
    if client:
        return str(client[0])
    return "unknown"


def _first(values: Mapping[str, list[str]], key: str) -> str | None:
    items = values.get(key)
    return items[0] if items else None


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
        raise CommandError(f"{key}: must be a single value")
    return str(value).strip()


def parse_speed(value: Any) -> float:
    try:
        speed = float(value)
    except (TypeError, ValueError):
        raise CommandError("speed: must be a number", [FieldError(("speed",), "must be a number")]) from None
    if not math.isfinite(speed) or not MIN_SPEED <= speed <= MAX_SPEED:
        msg = f"must be from {MIN_SPEED:g} to {MAX_SPEED:g}"
        raise CommandError(f"speed: {msg}", [FieldError(("speed",), msg)])
    return speed


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


#: Form-field prefixes of the grouped commands: `p.threads` is params["threads"].
_GROUP_PREFIX = {"params": "p.", "action": "a."}


def _form_group(data: Mapping[str, Any], group: str, skip_blank: bool) -> dict[str, Any]:
    """A command's grouped fields: a JSON object under `group` (API-style clients), then
    the form's prefixed fields (htmx sends `p.threads`, `a.thread`)."""
    prefix = _GROUP_PREFIX[group]
    out: dict[str, Any] = dict(data[group]) if isinstance(data.get(group), dict) else {}
    for key, value in data.items():
        if not (key.startswith(prefix) and len(key) > len(prefix)):
            continue
        value = _last(value)
        if skip_blank and isinstance(value, str) and value.strip() == "":
            continue
        out[key[len(prefix):]] = value
    return out


# Recent step and jump messages. Each is a function of the run (its track), the panel
# prefix, the position, the session's horizon (`last`) and the view state, so viewers of
# one run at one step share one message instead of each rebuilding the log lines and
# controls. Keyed on the track object, so a run's branch never meets another's messages
# (the cache may keep up to MESSAGE_CACHE_SIZE evicted tracks alive a little longer).
# This holds while PanelRenderer.step_message / jump_message read nothing else of the
# session or view: test_shared_runs.test_cached_messages_are_the_panel_s_messages checks.
MESSAGE_CACHE_SIZE = 512
_VIEW_FIELDS = tuple(f.name for f in dataclasses.fields(ViewState))
_messages: OrderedDict[tuple[Any, ...], str] = OrderedDict()


def _cached_message(kind: str, build, panel: PanelRenderer, session: RunSession, view: ViewState) -> str:
    key = (kind, session.track, panel.prefix, session.position, session.last,
           *[getattr(view, name) for name in _VIEW_FIELDS])
    message = _messages.get(key)
    if message is None:
        message = _messages[key] = build(session, view)
        if len(_messages) > MESSAGE_CACHE_SIZE:
            _messages.popitem(last=False)
    return message


def step_message(panel: PanelRenderer, session: RunSession, view: ViewState) -> str:
    """`panel.step_message`, built once per (run, prefix, step, horizon, view)."""
    return _cached_message("step", panel.step_message, panel, session, view)


def jump_message(panel: PanelRenderer, session: RunSession, view: ViewState) -> str:
    """`panel.jump_message` (clearing the error area), built once per (run, prefix, step, horizon, view)."""
    return _cached_message("jump", panel.jump_message, panel, session, view)


def viewer_session(panel: PanelRenderer, spec: RunSpec) -> RunSession:
    """A viewer's session of a run. Viewers of the same run share its frames and, per panel
    prefix (the HTML names its DOM ids after it), its rendered HTML: one engine step and
    one render per frame, however many viewers (runs.shared_store; this loop's thread only)."""
    return RunSession(panel.engine_cls, spec, render=panel.frame_html, store=shared_store(), render_key=panel.prefix)


def unpaced_messages(
    session: RunSession, panel: PanelRenderer, view: ViewState, steps: int
) -> Iterator[tuple[RunSession, str]]:
    """The messages of unpaced play (`make bench`), each with the session it shows: `steps`
    frames, then the controls with a bench-done marker. A finished run restarts with the
    next seed, so the count is always reached. The bench's bare baseline sends exactly
    these messages, pre-rendered."""
    sent = 0
    while sent < steps:
        if session.forward() is None:
            session = viewer_session(panel, replace(session.spec, seed=(session.spec.seed + 1) % (MAX_SEED + 1), actions=()))
            yield session, jump_message(panel, session, view)
        else:
            yield session, step_message(panel, session, view)
        sent += 1
    view.playing = False
    yield session, panel.controls(session, view) + f'<div id="{panel.prefix}-bench-done" hidden data-frames="{sent}"></div>'


class SimulationConsumer(AsyncWebsocketConsumer):
    # No channel layer: each viewer owns its session (viewers of one run share its frames
    # through runs.shared_store, in this process), nothing is broadcast. (Joining the
    # layer would also cost a task and a queue per socket.)
    channel_layer_alias = "simulations-no-layer"

    engine_cls: type[Engine] | None = None
    session: RunSession | None = None

    # -- lifecycle

    async def __call__(self, scope, receive, send):
        self._tasks: set[asyncio.Task] = set()
        self._play_task: asyncio.Task | None = None
        self._analysis_task: asyncio.Task | None = None
        self._slot: str | None = None
        try:
            await super().__call__(scope, receive, send)
        finally:
            # However the connection ends (disconnect, error, cancellation), nothing it
            # started outlives it.
            await self._shutdown()

    async def dispatch(self, message):
        # Channels' default closes stale DB connections in a worker thread before every
        # message; this consumer never touches the database, so skip the thread hop.
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None or message["type"].startswith("_"):
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.view = ViewState()
        self.bucket = TokenBucket()
        self.strikes = 0
        slug = str(self.scope.get("url_route", {}).get("kwargs", {}).get("slug", ""))
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1")[:20_000])
        panel = _first(query, "panel") or ""
        self.prefix = panel if PREFIX_RE.match(panel) else default_prefix(slug if SLUG_RE.match(slug) else "x")
        self.engine_cls = registry.get(slug) if SLUG_RE.match(slug) else None
        if self.engine_cls is None:
            await self.accept()
            await self._send_raw_error(f"There is no simulation called {slug[:64]!r}.")
            await self.close(code=CLOSE_UNKNOWN)
            raise StopConsumer
        client = _client_key(self.scope)
        limit = max_sockets_per_client(client)
        if _open_by_client.get(client, 0) >= limit:
            await self.accept()
            await self._send_raw_error(
                f"Too many simulations are open from your address ({limit}). Close a few tabs and reload."
            )
            await self.close(code=CLOSE_BUSY)
            raise StopConsumer
        _open_by_client[client] = _open_by_client.get(client, 0) + 1
        self._slot = client
        self.panel = PanelRenderer(self.engine_cls, self.prefix)
        await self.accept()

        notice, errors = "", []
        try:
            self._load(_first(query, "run"), _first(query, "step"))
        except RunError as exc:
            self._new_session(default_run(self.engine_cls))
            notice, errors = "That run link could not be opened, so the default run is shown.", exc.errors
        speed = _first(query, "speed")
        if speed:
            try:
                self.view.speed = parse_speed(speed)
            except CommandError:
                pass
        play = _flag(_first(query, "playing") or "") and not self.session.at_end
        self.view.playing = play  # the state already reads "Pause" when it resumes playing
        await self.send(text_data=self.panel.state_message(self.session, self.view, notice, errors))
        if play:
            self._start_play(first_delay=BASE_INTERVAL / self.view.speed)

    async def disconnect(self, code) -> None:
        await self._shutdown()

    async def _shutdown(self) -> None:
        tasks = [t for t in getattr(self, "_tasks", ()) if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if getattr(self, "_slot", None) is not None:
            left = _open_by_client.get(self._slot, 1) - 1
            if left > 0:
                _open_by_client[self._slot] = left
            else:
                _open_by_client.pop(self._slot, None)
            self._slot = None

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- receiving

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.session is None:
            return
        if text_data is None:
            await self._send_error("This socket takes text (JSON) messages only.")
            await self.close(code=CLOSE_BINARY)
            raise StopConsumer
        if len(text_data) > MAX_MESSAGE_BYTES or len(text_data.encode("utf-8")) > MAX_MESSAGE_BYTES:
            await self._send_error(f"Message too large (over {MAX_MESSAGE_BYTES // 1024} KB); closing.")
            await self.close(code=CLOSE_TOO_BIG)
            raise StopConsumer
        if self.strikes and self.bucket.full:  # quiet long enough: the flood is over
            self.strikes = 0
        if not self.bucket.take():
            self.strikes += 1
            if self.strikes >= FLOOD_STRIKES:
                await self._send_error("Too many messages; the connection is closed. Reload to continue.")
                await self.close(code=CLOSE_FLOOD)
                raise StopConsumer
            if self.strikes == 1:
                await self._send_error("Too many messages at once: slow down.")
            return
        try:
            data = self._parse(text_data)
            cmd = data["cmd"]
            await getattr(self, f"cmd_{cmd}")(data)
        except CommandError as exc:
            await self._send_error(exc.message, exc.errors)
        except RunError as exc:
            await self._send_error("That was not accepted.", exc.errors)
        except (StopConsumer, asyncio.CancelledError):
            raise
        except Exception:  # a bug: log it, tell the viewer, keep the socket and the run
            logger.exception("simulation %s: command failed", getattr(self.engine_cls, "slug", "?"))
            await self._send_error("Something went wrong on the server; the simulation was not changed.")

    def _parse(self, text: str) -> dict[str, Any]:
        try:
            data = loads_strict(text)
        except JSONTooDeep:
            raise CommandError("That message is nested too deeply to read.") from None
        except ValueError:
            raise CommandError("That message was not valid JSON.") from None
        if not isinstance(data, dict):
            raise CommandError("A message must be a JSON object with a 'cmd'.")
        cmd = data.get("cmd")
        if not isinstance(cmd, str) or cmd not in COMMANDS:
            shown = cmd[:40] if isinstance(cmd, str) else cmd
            raise CommandError(f"Unknown command {shown!r}. Known commands: {', '.join(COMMANDS)}.")
        return data

    # -- sending

    async def _send_error(self, message: str, errors: list[FieldError] | None = None) -> None:
        await self.send(text_data=self.panel.error(message, errors or []))

    async def _send_raw_error(self, message: str) -> None:
        # Before a PanelRenderer exists (unknown engine, refused connection).
        from html import escape

        await self.send(
            text_data=f'<div hx-swap-oob="innerHTML:#{self.prefix}-error"><div class="sim-error__box">'
            f"<p>{escape(message)}</p></div></div>"
        )

    async def _send_controls(self, clear_error: bool = True, notice: str = "") -> None:
        html = self.panel.controls(self.session, self.view)
        if clear_error or notice:
            html += self.panel.error(notice)
        await self.send(text_data=html)

    # -- sessions

    def _new_session(self, spec: RunSpec) -> None:
        self.session = viewer_session(self.panel, spec)

    def _load(self, token: str | None, step: Any) -> None:
        """Open a permalink token at a step (both optional). Raises RunError, changing nothing."""
        if token:
            engine_cls, spec = decode_run(token, registry.get)
            if engine_cls is not self.engine_cls:
                raise RunError([FieldError(("run",), f"this link is for the {engine_cls.title} simulation")])
        else:
            spec = default_run(self.engine_cls)
        index = parse_step(step, ("step",), self.engine_cls.max_steps) if step not in (None, "") else 0
        self._new_session(spec)
        self.session.seek(index)

    # -- playing

    def _start_play(self, first_delay: float = 0.0) -> None:
        self._stop_play()
        self.view.playing = True
        self._play_task = self._spawn(self._play(first_delay))

    def _stop_play(self) -> None:
        self.view.playing = False
        if self._play_task is not None:
            self._play_task.cancel()
            self._play_task = None

    async def _play(self, first_delay: float = 0.0) -> None:
        loop = asyncio.get_running_loop()
        if first_delay > 0:
            await asyncio.sleep(first_delay)
        next_at = loop.time()
        while True:
            if self.session.awaiting_input:
                self.view.playing = False
                self._play_task = None
                await self.send(text_data=self.panel.controls(self.session, self.view) + self.panel.waiting())
                return
            frame = self.session.forward()
            if frame is None or self.session.at_end:
                self.view.playing = False
                self._play_task = None
            if frame is None:
                await self._send_controls(clear_error=False)
                return
            await self.send(text_data=step_message(self.panel, self.session, self.view))
            if not self.view.playing:
                return
            next_at += BASE_INTERVAL / self.view.speed
            delay = next_at - loop.time()
            if delay < 0:  # fell behind (slow client or loop): do not burst to catch up
                next_at, delay = loop.time(), 0
            await asyncio.sleep(delay)

    async def _play_unpaced(self, steps: int) -> None:
        """Bench only: `steps` frames, each sent as soon as the previous send returned."""
        for self.session, message in unpaced_messages(self.session, self.panel, self.view, steps):
            await self.send(text_data=message)
            await asyncio.sleep(0)
        self._play_task = None

    # -- commands

    async def cmd_play(self, data: dict[str, Any]) -> None:
        if _text(data, "pace") == "off":
            await self._bench_play(data)
            return
        if self.view.playing:
            await self._send_controls()
            return
        if self.session.at_end:  # Replay: back to the start, then play
            self.session.seek(0)
            self.view.playing = True
            await self.send(text_data=jump_message(self.panel, self.session, self.view))
            self._start_play(first_delay=BASE_INTERVAL / self.view.speed)
            return
        self._start_play()

    async def _bench_play(self, data: dict[str, Any]) -> None:
        if not bench_mode() or _client_key(self.scope) not in LOOPBACK:
            raise CommandError("pace=off is only available to the benchmark (SIMULATIONS_BENCH=1, loopback).")
        try:
            steps = parse_step(_text(data, "steps") or "0", ("steps",), MAX_BENCH_STEPS)
        except RunError as exc:
            raise CommandError("steps: not accepted", exc.errors) from None
        self._stop_play()
        self.view.playing = True
        self._play_task = self._spawn(self._play_unpaced(max(1, steps)))

    async def cmd_pause(self, data: dict[str, Any]) -> None:
        self._stop_play()
        await self._send_controls()

    async def cmd_step(self, data: dict[str, Any]) -> None:
        self._stop_play()
        if self.session.forward() is None:
            await self._send_controls(notice="This run has ended: press Replay, step back, or reset.")
            return
        await self.send(text_data=step_message(self.panel, self.session, self.view) + self.panel.error())

    async def cmd_back(self, data: dict[str, Any]) -> None:
        self._stop_play()
        if self.session.back() is None:
            await self._send_controls(notice="Already at the first step.")
            return
        await self.send(text_data=jump_message(self.panel, self.session, self.view))

    async def cmd_seek(self, data: dict[str, Any]) -> None:
        index = parse_step(_text(data, "index"), ("index",), self.engine_cls.max_steps)
        before = self.session.position
        self.session.seek(index)
        if self.session.position == before + 1:
            message = step_message(self.panel, self.session, self.view) + self.panel.error()
        else:
            message = jump_message(self.panel, self.session, self.view)
        await self.send(text_data=message)

    async def cmd_speed(self, data: dict[str, Any]) -> None:
        self.view.speed = parse_speed(_text(data, "speed"))
        if self.view.playing and self._play_task is not None:
            # The new pace applies from now, not after the old (maybe 2.4 s) interval.
            self._start_play(first_delay=BASE_INTERVAL / self.view.speed)
        await self.send(
            text_data=self.panel.speed(self.view) + self.panel.permalink(self.session, self.view) + self.panel.error()
        )

    async def cmd_reset(self, data: dict[str, Any]) -> None:
        raw = _text(data, "seed")
        seed = secrets.randbelow(MAX_SEED + 1) if raw == "" else parse_seed(raw)
        self._stop_play()
        self._new_session(replace(self.session.spec, seed=seed, actions=()))
        await self.send(text_data=self.panel.state_message(self.session, self.view))

    async def cmd_params(self, data: dict[str, Any]) -> None:
        # A blank field keeps the current value.
        submitted = _form_group(data, "params", skip_blank=True)
        merged = {**self.session.spec.params.model_dump(), **submitted}
        try:
            params = parse_params(self.engine_cls, merged)
        except RunError as exc:
            await self.send(
                text_data=self.panel.error("Those parameters were not accepted; the run is unchanged.", exc.errors)
                + self.panel.params_fieldset(self.session.spec.params, submitted, exc.errors)
            )
            return
        self._stop_play()
        self._new_session(replace(self.session.spec, params=params, actions=()))
        await self.send(text_data=self.panel.state_message(self.session, self.view) + self.panel.analysis_empty())

    async def cmd_action(self, data: dict[str, Any]) -> None:
        raw = _form_group(data, "action", skip_blank=False)
        action = parse_action(self.engine_cls, raw)
        try:
            event = self.session.apply(action)
        except ValueError as exc:
            raise CommandError(f"Not possible now: {exc}") from None
        await self.send(text_data=self.panel.action_message(self.session, self.view, event))

    async def cmd_analyse(self, data: dict[str, Any]) -> None:
        name = _text(data, "name")
        labels = dict(self.engine_cls.analyses)
        if name not in labels:
            known = ", ".join(labels) or "none"
            raise CommandError(f"Unknown analysis {name[:40]!r}. This simulation has: {known}.")
        if self._analysis_task is not None and not self._analysis_task.done():
            raise CommandError("An analysis is already running; wait for it to finish.")
        params = self.session.spec.params
        await self.send(text_data=self.panel.analysis_busy(str(labels[name])) + self.panel.error())
        self._analysis_task = self._spawn(self._analyse(name, params))

    async def _analyse(self, name: str, params: Any) -> None:
        global _analysis_slots
        try:
            if _analysis_slots is None:
                _analysis_slots = asyncio.Semaphore(MAX_CONCURRENT_ANALYSES)
            async with _analysis_slots:
                data = await asyncio.to_thread(analysis, self.engine_cls, name, params)
            html = self.panel.analysis(name, data)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("simulation %s: analysis %r failed", self.engine_cls.slug, name)
            await self.send(
                text_data=self.panel.analysis_empty()
                + self.panel.error("That analysis failed on the server; the simulation is unaffected.")
            )
            return
        await self.send(text_data=html)

    async def cmd_resume(self, data: dict[str, Any]) -> None:
        speed = self.view.speed
        if _text(data, "speed"):
            speed = parse_speed(_text(data, "speed"))
        old = self.session
        self._stop_play()
        try:
            self._load(_text(data, "run") or None, _text(data, "step"))
        except RunError:
            self.session = old
            raise
        self.view.speed = speed
        play = _flag(_text(data, "playing")) and not self.session.at_end
        self.view.playing = play
        await self.send(text_data=self.panel.state_message(self.session, self.view))
        if play:
            self._start_play(first_delay=BASE_INTERVAL / self.view.speed)

    async def cmd_state(self, data: dict[str, Any]) -> None:
        await self.send(text_data=self.panel.state_message(self.session, self.view))


class RejectConsumer(AsyncWebsocketConsumer):
    """Any other WebSocket path: refused at the handshake (HTTP 403), without a traceback."""

    channel_layer_alias = "simulations-no-layer"

    async def connect(self) -> None:
        await self.close()
