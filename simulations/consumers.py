"""The WebSocket at ws/simulations/<slug>/: await, call the controller, send.

The wire protocol is in `protocol`, what each command does in `controller`, what one
client may cost in `limits`, what the process shares in `process`. Server -> client:
HTML only, each top-level element swapped out of band by id (render/panel.py lists
them); errors go to `{panel}-error`, never as a traceback. Close codes: `wire.Close`.
"""

from __future__ import annotations

import asyncio
import logging
from html import escape

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from simulations import controller, limits, process, protocol, registry
from simulations.controller import Pacer, Reply, Viewer
from simulations.protocol import ProtocolError
from simulations.runs import FieldError, RunError, analysis
from simulations.wire import Close

logger = logging.getLogger("simulations")


class SimulationConsumer(AsyncWebsocketConsumer):
    # No channel layer: each viewer owns its session (viewers of one run share its frames
    # through the process's store), nothing is broadcast. Channels then never looks a
    # layer up (joining one would also cost a task and a queue per socket).
    channel_layer_alias = None

    viewer: Viewer | None = None

    # -- lifecycle

    async def __call__(self, scope, receive, send):
        self._tasks: set[asyncio.Task] = set()
        self._play_task: asyncio.Task | None = None
        self._client: str | None = None
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
        slug = protocol.parse_slug(self.scope)
        request = protocol.parse_connect(self.scope, slug)
        engine_cls = registry.get(slug) if protocol.SLUG_RE.match(slug) else None
        if engine_cls is None:
            await self._refuse(request.prefix, f"There is no simulation called {slug[:64]!r}.", Close.UNKNOWN)
        proc = process.current()
        client = limits.client_key(self.scope)
        if not proc.sockets.try_open(client):
            limit = limits.max_sockets_per_client(client)
            await self._refuse(request.prefix, f"Too many simulations are open from your address ({limit}). "
                               "Close a few tabs and reload.", Close.BUSY)
        self._client = client
        self.guard = limits.FloodGuard()
        await self.accept()
        self.viewer, reply = controller.connect(engine_cls, request, proc)
        await self._carry_out(reply)

    async def _refuse(self, prefix: str, message: str, code: Close) -> None:
        await self.accept()
        await self.send(text_data=f'<div hx-swap-oob="innerHTML:#{prefix}-error"><div class="sim-error__box">'
                        f"<p>{escape(message)}</p></div></div>")
        await self.close(code=code)
        raise StopConsumer

    async def disconnect(self, code) -> None:
        await self._shutdown()

    async def _shutdown(self) -> None:
        tasks = [t for t in getattr(self, "_tasks", ()) if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if getattr(self, "_client", None) is not None:
            process.current().sockets.close(self._client)
            self._client = None

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- receiving

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.viewer is None:
            return
        if text_data is None:
            await self._send_error("This socket takes text (JSON) messages only.")
            await self.close(code=Close.BINARY)
            raise StopConsumer
        if len(text_data) > limits.MAX_MESSAGE_BYTES or len(text_data.encode("utf-8")) > limits.MAX_MESSAGE_BYTES:
            await self._send_error(f"Message too large (over {limits.MAX_MESSAGE_BYTES // 1024} KB); closing.")
            await self.close(code=Close.TOO_BIG)
            raise StopConsumer
        verdict = self.guard.admit()
        if verdict == limits.FloodGuard.CLOSE:
            await self._send_error("Too many messages; the connection is closed. Reload to continue.")
            await self.close(code=Close.FLOOD)
            raise StopConsumer
        if verdict == limits.FloodGuard.WARN:
            await self._send_error("Too many messages at once: slow down.")
        if verdict != limits.FloodGuard.ADMIT:
            return
        try:
            bench = limits.bench_client(limits.client_key(self.scope))
            command = protocol.parse_message(text_data, self.viewer.engine_cls, bench=bench)
            reply = controller.handle(self.viewer, command)
            if isinstance(command, protocol.Play) and command.unpaced_steps is not None:
                self._stop_play()
                self._play_task = self._spawn(self._play_unpaced(command.unpaced_steps))
                return
            await self._carry_out(reply)
        except ProtocolError as exc:
            await self._send_error(exc.message, exc.errors)
        except RunError as exc:
            await self._send_error("That was not accepted.", exc.errors)
        except (StopConsumer, asyncio.CancelledError):
            raise
        except Exception:  # a bug: log it, tell the viewer, keep the socket and the run
            logger.exception("simulation %s: command failed", self.viewer.engine_cls.slug)
            await self._send_error("Something went wrong on the server; the simulation was not changed.")

    async def _carry_out(self, reply: Reply) -> None:
        if reply.stop or reply.play_after is not None:
            self._stop_play()
        if reply.text:
            await self.send(text_data=reply.text)
        if reply.play_after is not None:
            self._play_task = self._spawn(self._play(reply.play_after))
        if reply.analyse is not None:
            self.viewer.analysing = True
            self._spawn(self._analyse(*reply.analyse))

    async def _send_error(self, message: str, errors: list[FieldError] | None = None) -> None:
        await self.send(text_data=self.viewer.panel.error(message, errors or []))

    # -- playing

    def _stop_play(self) -> None:
        if self._play_task is not None:
            self._play_task.cancel()
            self._play_task = None

    async def _play(self, first_delay: float) -> None:
        if first_delay > 0:
            await asyncio.sleep(first_delay)
        pacer = Pacer(asyncio.get_running_loop().time)
        while True:
            tick = controller.tick(self.viewer)
            if tick.next_in is None:
                self._play_task = None
            await self.send(text_data=tick.text)
            if tick.next_in is None:
                return
            await asyncio.sleep(pacer.delay(tick.next_in))

    async def _play_unpaced(self, steps: int) -> None:
        """Bench only: `steps` frames, each sent as soon as the previous send returned."""
        for message in controller.unpaced_messages(self.viewer, steps):
            await self.send(text_data=message)
            await asyncio.sleep(0)
        self._play_task = None

    async def _analyse(self, name: str, params) -> None:
        viewer = self.viewer
        try:
            async with process.current().analysis_slots:
                data = await asyncio.to_thread(analysis, viewer.engine_cls, name, params)
            html = controller.analysis_result(viewer, name, data)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("simulation %s: analysis %r failed", viewer.engine_cls.slug, name)
            html = controller.analysis_failed(viewer)
        finally:
            viewer.analysing = False
        await self.send(text_data=html)


class RejectConsumer(AsyncWebsocketConsumer):
    """Any other WebSocket path: refused at the handshake (HTTP 403), without a traceback."""

    channel_layer_alias = None

    async def connect(self) -> None:
        await self.close()
