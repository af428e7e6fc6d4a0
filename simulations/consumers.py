"""The WebSocket at ws/simulations/<slug>/: await, call the controller, send.

The wire protocol is in `protocol`, what each command does in `controller`, what one
client may cost in `limits`, what the process shares in `process`. Server -> client:
HTML only, each top-level element swapped out of band by id (render/panel.py lists
them); errors go to `{panel}-error`, never as a traceback. Close codes: `wire.Close`.

A message is judged when it arrives (size, rate, its cost against the client address's
budget) and queued; one task per socket carries the queued commands out in order, so a
backlog is bounded and visible. Every message sent ends with a marker the page echoes
(limits.SendWindow): past a small window of unread messages nothing more is sent, play
waits, and the page gets the full state once it reads again.
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
from simulations.runs import FieldError, RunError, compute_in
from simulations.wire import Close

logger = logging.getLogger("simulations")
#: Engine steps a seek computes before letting the loop serve others (a few ms).
SEEK_SLICE = 100


class SimulationConsumer(AsyncWebsocketConsumer):
    # No channel layer: each viewer owns its session (viewers of one run share its frames
    # through the process's store), nothing is broadcast. `get_channel_layer` returns None
    # for an alias that is not configured, so Channels never joins one (which would cost
    # a task and a queue per socket).
    channel_layer_alias = None

    viewer: Viewer | None = None

    # -- lifecycle

    async def __call__(self, scope, receive, send):
        self._tasks: set[asyncio.Task] = set()
        self._play_task: asyncio.Task | None = None
        self._client: str | None = None
        self._closed = False
        # What Channels' AsyncConsumer.__call__ sets up, without a channel layer: with one
        # source of messages, read it directly. Channels' await_many_dispatch merges two
        # sources with a task and an asyncio.wait per message, most of the cost of each
        # acknowledgement a page sends.
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
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
        self.window = limits.SendWindow()
        self.queue = limits.CommandQueue(protocol.LATEST_WINS)
        await self.accept()
        if not proc.budgets.charge(client, controller.connect_cost(request)):
            request = protocol.Connect(request.prefix, None, None, False, request.speed)
        self.viewer, reply = controller.connect(engine_cls, request, proc)
        self._spawn(self._work())
        await self._carry_out(reply)

    async def _refuse(self, prefix: str, message: str, code: Close) -> None:
        await self.accept()
        await self.send(text_data=f'<div hx-swap-oob="innerHTML:#{prefix}-error"><div class="sim-error__box">'
                        f"<p>{escape(message)}</p></div></div>")
        await self.close(code=code)
        raise StopConsumer

    async def websocket_disconnect(self, message) -> None:
        # Channels' default also closes stale DB connections, a hop to Django's one thread
        # for sync code (the one that renders pages) per closed socket: a class leaving at
        # once queued a thousand of them, and Daphne killed consumers still waiting. This
        # consumer never touches the database (no groups either: no channel layer).
        await self.disconnect(message["code"])
        raise StopConsumer

    async def disconnect(self, code) -> None:
        self._closed = True
        await self._shutdown()

    async def _shutdown(self) -> None:
        self._closed = True
        current = asyncio.current_task()
        tasks = [t for t in getattr(self, "_tasks", ()) if not t.done() and t is not current]
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

    # -- receiving: judged and queued on arrival

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
        try:
            bench = limits.bench_client(self._client or "")
            command = protocol.parse_message(text_data, self.viewer.engine_cls, bench=bench)
        except (ProtocolError, RunError) as exc:
            command = exc
        if isinstance(command, protocol.Ack) and self.window.ack(command.seq, command.token):
            # A fresh acknowledgement is flow control, not a request: it costs no budget.
            if self.window.is_open and self.window.stale:
                self.window.stale = False
                self.queue.put(protocol.SendState())
            return
        verdict = self.guard.admit()
        if verdict == limits.FloodGuard.CLOSE:
            await self._send_error("Too many messages; the connection is closed. Reload to continue.")
            await self.close(code=Close.FLOOD)
            raise StopConsumer
        if verdict == limits.FloodGuard.WARN:
            await self._send_error("Too many messages at once: slow down.")
        if verdict != limits.FloodGuard.ADMIT:
            return
        if isinstance(command, ProtocolError):
            await self._send_error(command.message, command.errors)
            return
        if isinstance(command, RunError):
            await self._send_error("That was not accepted.", command.errors)
            return
        if isinstance(command, protocol.Ack):
            return  # stale or forged: ignored (and charged as a message)
        if not process.current().budgets.charge(self._client, controller.cost(self.viewer, command)):
            await self._send_error("The server is busy with your other simulations: that was not done. "
                                   "Try again in a moment.")
            return
        if not self.queue.put(command):
            await self._send_error("Too many commands are waiting: that one was dropped.")

    async def _work(self) -> None:
        """Carry out the queued commands, one at a time, in order."""
        while True:
            command = await self.queue.get()
            # A page that has stopped reading gets nothing more done for it: its commands
            # wait here (the queue is bounded) until it reads again.
            await self.window.wait_open()
            try:
                if isinstance(command, protocol.Seek):
                    await self._compute_ahead(command.index)
                reply = controller.handle(self.viewer, command)
                if isinstance(command, protocol.Play) and command.unpaced_steps is not None:
                    self._stop_play()
                    self._play_task = self._spawn(self._play_unpaced(command.unpaced_steps))
                    continue
                await self._carry_out(reply)
            except ProtocolError as exc:
                await self._send_error(exc.message, exc.errors)
            except RunError as exc:
                await self._send_error("That was not accepted.", exc.errors)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug: log it, tell the viewer, keep the socket and the run
                logger.exception("simulation %s: command failed", self.viewer.engine_cls.slug)
                await self._send_error("Something went wrong on the server; the simulation was not changed.")

    async def _compute_ahead(self, index: int) -> None:
        # A long seek computes in slices, the loop serving every other socket and page
        # between them: 2,000 steps at once held them all for tens of milliseconds.
        while not self.viewer.session.compute_ahead(index, SEEK_SLICE):
            await asyncio.sleep(0)

    async def _carry_out(self, reply: Reply) -> None:
        if reply.stop or reply.play_after is not None:
            self._stop_play()
        if reply.text:
            await self._send(reply.text)
        if reply.play_after is not None:
            self._play_task = self._spawn(self._play(reply.play_after))
        if reply.analyse is not None:
            self.viewer.analysing = True
            self._spawn(self._analyse(*reply.analyse))

    # -- sending, within the window

    async def _send(self, text: str) -> bool:
        """Send `text` with its window marker; False (nothing sent) when the page has not read
        enough of what it was sent, or the socket has closed."""
        if self._closed:
            return False
        if not self.window.is_open:
            self.window.stale = True
            return False
        try:
            # Straight to the server: what AsyncWebsocketConsumer.send builds, minus two calls a frame.
            await self.base_send({"type": "websocket.send", "text": text + self.window.marker(self.viewer.panel.prefix)})
        except Exception:  # the socket closed under us: end this work quietly
            self._closed = True
            return False
        return True

    async def _send_error(self, message: str, errors: list[FieldError] | None = None) -> None:
        await self._send(self.viewer.panel.error(message, errors or []))

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
            if not self.window.is_open:
                # The page has stopped reading: compute nothing until it reads again.
                await self.window.wait_open()
                pacer = Pacer(asyncio.get_running_loop().time)
            tick = controller.tick(self.viewer)
            if tick.next_in is None:
                self._play_task = None
            if not await self._send(tick.text) and self._closed:
                return
            if tick.next_in is None:
                return
            await asyncio.sleep(pacer.delay(tick.next_in))

    async def _play_unpaced(self, steps: int) -> None:
        """Bench only: `steps` frames, each sent as soon as the previous send returned, as the
        bare baseline sends them: no yield between sends (it yields when the window shuts),
        so Twisted writes a burst to the socket at once instead of one write and two epoll
        changes per frame (the server's CPU per frame fell from about 44 to 35 µs)."""
        for message in controller.unpaced_messages(self.viewer, steps):
            await self.window.wait_open()
            if not await self._send(message) and self._closed:
                return
        self._play_task = None

    async def _analyse(self, name: str, params) -> None:
        viewer = self.viewer
        try:
            data = await compute_in(process.current().analyses, viewer.engine_cls, name, params)
            html = controller.analysis_result(viewer, name, data)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("simulation %s: analysis %r failed", viewer.engine_cls.slug, name)
            html = controller.analysis_failed(viewer)
        finally:
            viewer.analysing = False
        await self._send(html)


class RejectConsumer(AsyncWebsocketConsumer):
    """Any other WebSocket path: refused at the handshake (HTTP 403), without a traceback."""

    channel_layer_alias = None

    async def connect(self) -> None:
        await self.close()
