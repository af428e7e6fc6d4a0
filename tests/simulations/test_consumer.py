"""The WebSocket consumer, driven the way htmx's ws extension drives it: form fields as
strings plus a HEADERS dict. Every control, every bad input, and task cleanup."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import tracemalloc

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from simulations import limits, process, runs
from simulations.wire import Close
from simulations.render.panel import PanelRenderer
from simulations.routing import websocket_urlpatterns
from simulations.runs import RunSession, decode_run, default_run, encode_run, parse_run
from simulations import registry
from tests.simulations.html import Message
from tests.simulations.sockets import acknowledge, receive
from tests.simulations.pingpong import PingPong

APP = URLRouter(websocket_urlpatterns)
P = "sim-ping-pong"
URL = f"/ws/simulations/ping-pong/?panel={P}"


async def open_socket(path: str = URL, client: tuple[str, int] | None = ("10.0.0.1", 5000)):
    comm = WebsocketCommunicator(APP, path)
    if client is not None:
        comm.scope["client"] = client
    connected, _ = await comm.connect()
    assert connected
    return comm


async def recv(comm, timeout: float = 2.0) -> Message:
    return await receive(comm, timeout)


async def send(comm, cmd: str, **fields) -> None:
    await comm.send_to(text_data=json.dumps({"cmd": cmd, **fields, "HEADERS": {"HX-Request": "true"}}))


async def command(comm, cmd: str, **fields) -> Message:
    await send(comm, cmd, **fields)
    return await recv(comm)


def counter(msg: Message) -> str:
    node = msg.el(f"{P}-counter")
    return node.text if node else ""


def step_of(msg: Message) -> int:
    return int(msg.el(f"{P}-permalink").attrs["data-step"])


def play_label(msg: Message) -> str:
    return msg.el(f"{P}-play").find(f"{P}-play-button").text.strip()


def error_text(msg: Message) -> str:
    node = msg.oob(f"{P}-error", "innerHTML")
    return node.text if node else ""


def token_of(msg: Message) -> str:
    href = msg.el(f"{P}-permalink").attrs["href"]
    return re.search(r"run=([A-Za-z0-9_-]+)", href).group(1)


def expected_stage(run, index: int) -> str:
    session = RunSession(PingPong, run)
    session.seek(index)
    return PanelRenderer(PingPong, P).stage(session.frame)


# --------------------------------------------------------------------------- connect and state


async def test_connect_sends_the_full_state_of_frame_zero():
    comm = await open_socket()
    msg = await recv(comm)
    assert msg.raw(f"{P}-stage") == expected_stage(default_run(PingPong), 0)
    assert counter(msg) == "Step 0 of at most 60"
    assert play_label(msg) == "Play"
    assert "A serves" in msg.oob(f"{P}-narration", "innerHTML").text
    assert "A serves the ball to B" in msg.oob(f"{P}-log", "innerHTML").text
    assert msg.el(f"{P}-seed").text == "Seed 1"
    assert msg.el(f"{P}-params").find(f"{P}-p-latency_ms").attrs["value"] == "100"
    assert {b.text for b in msg.el(f"{P}-actions").find_all("button")} >= {"Drop", "Pause A", "Pause B"}
    assert error_text(msg) == ""
    await comm.disconnect()


async def test_unknown_simulation_is_closed_with_a_clear_code():
    for path in ("/ws/simulations/no-such-sim/", "/ws/simulations/Bad%20Slug!/"):
        comm = WebsocketCommunicator(APP, path)
        connected, _ = await comm.connect()
        assert connected
        msg = Message(await comm.receive_from())
        assert "There is no simulation called" in msg.html
        assert (await comm.receive_output())["code"] == Close.UNKNOWN
        await comm.wait()


async def test_other_websocket_paths_are_refused():
    comm = WebsocketCommunicator(APP, "/ws/elsewhere/")
    connected, _ = await comm.connect()
    assert not connected


# --------------------------------------------------------------------------- playback controls


async def test_play_sends_frames_in_order_and_pause_stops_them():
    comm = await open_socket(URL + "&speed=8")
    await recv(comm)
    await send(comm, "play")
    steps = []
    for _ in range(3):
        msg = await recv(comm)
        steps.append(step_of(msg))
        assert play_label(msg) == "Pause"
        assert msg.raw(f"{P}-stage") == expected_stage(default_run(PingPong), steps[-1])
    assert steps == [1, 2, 3]
    paused = await command(comm, "pause")
    # A frame may have been on its way when the pause arrived; after the pause answer, silence.
    while play_label(paused) != "Play":
        paused = await recv(comm)
    assert await comm.receive_nothing(timeout=0.3)
    await comm.disconnect()


async def test_play_stops_at_the_end_and_replay_starts_over():
    run = parse_run(PingPong, {"rounds": 1}, 1)
    comm = await open_socket(f"{URL}&speed=8&run={encode_run(PingPong, run)}")
    await recv(comm)
    await send(comm, "play")
    last = None
    while True:
        msg = await recv(comm)
        if msg.el(f"{P}-play") is not None:
            last = msg
            if play_label(msg) == "Replay":
                break
    assert counter(last).endswith("· end")
    assert await comm.receive_nothing(timeout=0.3)
    again = await command(comm, "play")
    assert step_of(again) == 0 and play_label(again) == "Pause"
    assert step_of(await recv(comm)) == 1
    await comm.disconnect()


async def test_step_and_back():
    comm = await open_socket()
    await recv(comm)
    one = await command(comm, "step")
    assert counter(one) == "Step 1 of at most 60"
    assert one.oob(f"{P}-log", "beforeend") is not None, "stepping forward appends only the new log lines"
    two = await command(comm, "step")
    assert counter(two) == "Step 2 of at most 60"
    back = await command(comm, "back")
    assert counter(back) == "Step 1 of at most 60"
    assert back.raw(f"{P}-stage") == one.raw(f"{P}-stage")
    assert back.oob(f"{P}-log", "innerHTML") is not None, "a jump back replaces the log"
    assert len(back.oob(f"{P}-log", "innerHTML").find_all("li")) == 2, "the log shows steps 0 and 1 only"
    await command(comm, "back")
    first = await command(comm, "back")
    assert "Already at the first step" in error_text(first)
    await comm.disconnect()


async def test_seek_forward_and_back_returns_the_same_frame_html_as_the_first_time():
    comm = await open_socket()
    await recv(comm)
    seen = {}
    for _ in range(6):
        msg = await command(comm, "step")
        seen[step_of(msg)] = msg.raw(f"{P}-stage")
    back = await command(comm, "seek", index="2")
    assert step_of(back) == 2 and back.raw(f"{P}-stage") == seen[2]
    assert counter(back) == "Step 2 of at most 60"
    fwd = await command(comm, "seek", index="5")
    assert fwd.raw(f"{P}-stage") == seen[5]
    beyond = await command(comm, "seek", index="7")  # not computed yet: steps on
    assert step_of(beyond) == 7
    assert beyond.raw(f"{P}-stage") == expected_stage(default_run(PingPong), 7)
    past_end = await command(comm, "seek", index="50")  # the default game ends at step 8
    assert step_of(past_end) == 8 and counter(past_end) == "Step 8 of 8 · end"
    bad = await command(comm, "seek", index="-3")
    assert "index" in error_text(bad)
    bad = await command(comm, "seek", index="two")
    assert "index" in error_text(bad)
    await comm.disconnect()


@pytest.mark.parametrize("speed", ["0.25", "1", "8"])
async def test_speed_within_bounds_is_accepted(speed):
    comm = await open_socket()
    await recv(comm)
    msg = await command(comm, "speed", speed=speed)
    assert error_text(msg) == ""
    selected = [o for o in msg.el(f"{P}-speed").find_all("option") if "selected" in o.attrs]
    assert float(selected[0].attrs["value"]) == float(speed)
    assert msg.el(f"{P}-permalink").attrs["data-speed"] == f"{float(speed):g}"
    await comm.disconnect()


@pytest.mark.parametrize("speed", ["0.1", "9", "nan", "inf", "fast", ""])
async def test_speed_out_of_bounds_is_an_error_naming_the_field(speed):
    comm = await open_socket()
    await recv(comm)
    msg = await command(comm, "speed", speed=speed)
    assert "speed" in error_text(msg)
    await comm.disconnect()


# --------------------------------------------------------------------------- reset and params


async def test_reset_with_a_seed_gives_the_same_frames_as_a_fresh_run_with_that_seed():
    comm = await open_socket()
    await recv(comm)
    await command(comm, "step")
    msg = await command(comm, "reset", seed="99")
    assert msg.el(f"{P}-seed").text == "Seed 99" and counter(msg) == "Step 0 of at most 60"
    fresh = default_run(PingPong, seed=99)
    for i in range(1, 5):
        stepped = await command(comm, "step")
        assert stepped.raw(f"{P}-stage") == expected_stage(fresh, i)
    await comm.disconnect()


async def test_reset_with_a_blank_seed_keeps_the_seed_and_new_seed_draws_one():
    """Issue 8: Reset replays the run's own seed; "New seed" (new=1) draws a random one."""
    comm = await open_socket()
    first = (await recv(comm)).el(f"{P}-seed").text
    for _ in range(2):
        msg = await command(comm, "reset", seed="")
        assert msg.el(f"{P}-seed").text == first
    seeds = set()
    for _ in range(3):
        msg = await command(comm, "reset", seed="", new="1")
        seeds.add(msg.el(f"{P}-seed").text)
    assert len(seeds) == 3
    bad = await command(comm, "reset", seed="-4")
    assert "seed" in error_text(bad)
    await comm.disconnect()


async def test_params_change_resets_the_run_keeping_the_seed():
    comm = await open_socket()
    await recv(comm)
    await command(comm, "step")
    msg = await command(comm, "params", **{"p.latency_ms": "500", "p.mode": "echo"})
    assert counter(msg) == "Step 0 of at most 60"
    assert msg.el(f"{P}-params").find(f"{P}-p-latency_ms").attrs["value"] == "500"
    run = parse_run(PingPong, {"latency_ms": 500, "mode": "echo"}, 1)
    assert token_of(msg) == encode_run(PingPong, run)
    partial = await command(comm, "params", **{"p.rounds": "2", "p.latency_ms": ""})
    _, spec = decode_run(token_of(partial), registry.get)
    assert spec.params.latency_ms == 500 and spec.params.rounds == 2, "blank and missing fields keep their values"
    await comm.disconnect()


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"p.latency_ms": "5"}, "params.latency_ms"),
        ({"p.latency_ms": "abc"}, "params.latency_ms"),
        ({"p.jitter": "nan"}, "params.jitter"),
        ({"p.jitter": "Infinity"}, "params.jitter"),
        ({"p.mode": "<script>"}, "params.mode"),
        ({"p.unknown": "1"}, "params.unknown"),
    ],
)
async def test_bad_params_are_an_error_naming_the_field_and_change_nothing(fields, named):
    comm = await open_socket()
    await recv(comm)
    await command(comm, "step")
    msg = await command(comm, "params", **fields)
    assert named in error_text(msg)
    assert "<script>" not in msg.html
    field = next(iter(fields))[2:]
    node = msg.el(f"{P}-params").find(f"{P}-p-{field}")
    if node is not None:
        assert node.attrs.get("aria-invalid") == "true"
    still = await command(comm, "step")
    assert counter(still) == "Step 2 of at most 60", "the run went on unchanged"
    await comm.disconnect()


# --------------------------------------------------------------------------- actions


async def test_actions_while_playing_are_logged_and_join_the_permalink():
    comm = await open_socket(URL + "&speed=8")
    await recv(comm)
    await send(comm, "play")
    await recv(comm)
    await send(comm, "action", **{"a.type": "delay", "a.ms": "250"})
    for _ in range(6):
        msg = await recv(comm)
        if msg.oob(f"{P}-log", "beforeend") and "held the ball" in msg.oob(f"{P}-log", "beforeend").text:
            break
    else:
        pytest.fail("no log line for the action")
    _, spec = decode_run(token_of(msg), registry.get)
    assert [(a.action.type, a.action.ms) for a in spec.actions] == [("delay", 250)]
    assert "held the ball" in msg.oob(f"{P}-narration").text
    assert step_of(await recv(comm)) > spec.actions[0].step, "it keeps playing"
    await comm.disconnect()


async def test_bad_actions_are_errors_naming_the_field():
    comm = await open_socket()
    await recv(comm)
    msg = await command(comm, "action", **{"a.type": "pause", "a.node": "C"})
    assert "action.node" in error_text(msg)
    msg = await command(comm, "action", **{"a.type": "fly"})
    assert "action" in error_text(msg) and "fly" in error_text(msg)
    msg = await command(comm, "action", **{"a.type": "delay", "a.ms": "9999"})
    assert "action.ms" in error_text(msg)
    await command(comm, "action", **{"a.type": "drop"})
    msg = await command(comm, "action", **{"a.type": "drop"})
    assert "Not possible now" in error_text(msg)
    await comm.disconnect()


async def test_an_action_after_seeking_back_branches():
    comm = await open_socket()
    await recv(comm)
    for _ in range(5):
        await command(comm, "step")
    await command(comm, "seek", index="2")
    msg = await command(comm, "action", **{"a.type": "drop"})
    # The recorded future is gone: the run's length is unknown again (the timeline spans
    # its bound, issue 8) and only the new action is in the run.
    assert counter(msg) == "Step 2 of at most 60" and msg.el(f"{P}-timeline").attrs["max"] == "60"
    _, spec = decode_run(token_of(msg), registry.get)
    assert [(a.step, a.action.type) for a in spec.actions] == [(2, "drop")]
    await comm.disconnect()


async def test_a_run_takes_at_most_max_actions_and_its_link_still_opens(monkeypatch):
    from simulations import runs

    monkeypatch.setattr(runs.session, "MAX_ACTIONS", 3)
    monkeypatch.setattr(runs.spec, "MAX_ACTIONS", 3)
    comm = await open_socket()
    await recv(comm)
    await command(comm, "step")
    for _ in range(3):
        msg = await command(comm, "action", **{"a.type": "delay", "a.ms": "10"})
        assert error_text(msg) == ""
    refused = await command(comm, "action", **{"a.type": "delay", "a.ms": "10"})
    assert "Not possible now" in error_text(refused) and "3 actions" in error_text(refused)
    _, spec = decode_run(token_of(msg), registry.get)
    assert len(spec.actions) == 3
    await comm.disconnect()


# --------------------------------------------------------------------------- analyses


async def test_analyse_shows_the_result_in_the_panel():
    comm = await open_socket()
    await recv(comm)
    busy = await command(comm, "analyse", name="summary")
    assert busy.el(f"{P}-analysis").attrs.get("aria-busy") == "true"
    result = await recv(comm)
    section = result.el(f"{P}-analysis")
    assert section is not None and "best_case_ms" in section.text and "800" in section.text
    unknown = await command(comm, "analyse", name="nope")
    assert "Unknown analysis" in error_text(unknown)
    await comm.disconnect()


async def test_an_analysis_is_computed_once_for_every_viewer_and_the_api(monkeypatch):
    """A whole-run analysis is deterministic: the second viewer (and the API) asking for the
    same one with the same params gets the first's result, not another 0.3 s walk."""
    runs.analyses.clear()
    calls = []
    original = PingPong.analyse.__func__

    def counting(cls, name, params):
        calls.append((name, params.rounds))
        return original(cls, name, params)

    monkeypatch.setattr(PingPong, "analyse", classmethod(counting))
    for _ in range(2):
        comm = await open_socket()
        await recv(comm)
        await command(comm, "analyse", name="summary")
        assert "800" in (await recv(comm)).el(f"{P}-analysis").text
        await comm.disconnect()
    params = PingPong.parse_params({})
    assert runs.analysis(PingPong, "summary", params)["best_case_ms"] == 800
    assert calls == [("summary", params.rounds)]
    assert runs.analysis(PingPong, "summary", PingPong.parse_params({"rounds": 1}))["best_case_ms"] == 200
    assert len(calls) == 2


async def test_a_failing_analysis_is_an_error_not_a_broken_socket(caplog):
    comm = await open_socket()
    await recv(comm)
    await command(comm, "analyse", name="boom")
    failed = await recv(comm)
    assert "analysis failed" in error_text(failed)
    assert "Traceback" not in failed.html
    assert counter(await command(comm, "step")) == "Step 1 of at most 60"
    await comm.disconnect()


# --------------------------------------------------------------------------- resume and permalinks


async def test_resume_at_step_n_gives_the_same_frame_as_the_original_run():
    original = await open_socket()
    await recv(original)
    for _ in range(3):
        await command(original, "step")
    await command(original, "action", **{"a.type": "drop"})
    for _ in range(3):
        shown = await command(original, "step")
    token, step = token_of(shown), step_of(shown)
    await original.disconnect()

    by_command = await open_socket()
    await recv(by_command)
    resumed = await command(by_command, "resume", run=token, step=str(step))
    assert step_of(resumed) == step
    assert resumed.raw(f"{P}-stage") == shown.raw(f"{P}-stage")
    assert (await command(by_command, "step")).raw(f"{P}-stage") == expected_stage(
        decode_run(token, registry.get)[1], step + 1
    )
    await by_command.disconnect()

    by_url = await open_socket(f"{URL}&run={token}&step={step}")
    reconnected = await recv(by_url)
    assert reconnected.raw(f"{P}-stage") == shown.raw(f"{P}-stage")
    assert counter(reconnected) == counter(shown)
    await by_url.disconnect()


async def test_reconnect_while_playing_keeps_playing_at_the_same_speed():
    comm = await open_socket(f"{URL}&step=2&playing=1&speed=8")
    state = await recv(comm)
    assert step_of(state) == 2 and play_label(state) == "Pause"
    assert state.el(f"{P}-permalink").attrs["data-speed"] == "8"
    assert step_of(await recv(comm)) == 3
    await comm.disconnect()


async def test_a_bad_resume_keeps_the_run():
    comm = await open_socket()
    await recv(comm)
    await command(comm, "step")
    msg = await command(comm, "resume", run="1garbage!", step="1")
    assert "run" in error_text(msg).lower()
    other = encode_run(registry.get("race-conditions"), default_run(registry.get("race-conditions")))
    msg = await command(comm, "resume", run=other, step="0")
    assert "link is for" in error_text(msg)
    assert counter(await command(comm, "step")) == "Step 2 of at most 60"
    await comm.disconnect()


async def test_a_bad_run_in_the_connect_url_shows_the_default_run_and_says_why():
    comm = await open_socket(f"{URL}&run=1nonsense&step=3")
    msg = await recv(comm)
    assert counter(msg) == "Step 0 of at most 60"
    assert "could not be opened" in error_text(msg)
    await comm.disconnect()


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"cmd": "explode"}', "Unknown command"),
        ('{"nocmd": 1}', "Unknown command"),
        ('{"cmd": "seek", "index": NaN}', "not valid JSON"),
        ('{"cmd": "reset", "seed": {"a": 1}}', "seed"),
        # 10 KB of "[[[[": valid JSON too deep for json.loads (a RecursionError, once logged
        # as a server bug and answered "Something went wrong on the server").
        ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ],
)
async def test_bad_messages_get_an_error_fragment_and_the_socket_stays(text, says):
    comm = await open_socket()
    await recv(comm)
    await comm.send_to(text_data=text)
    msg = await recv(comm)
    assert says in error_text(msg)
    assert "Traceback" not in msg.html
    assert counter(await command(comm, "step")) == "Step 1 of at most 60"
    await comm.disconnect()


async def test_a_message_over_16_kb_closes_the_socket():
    comm = await open_socket()
    await recv(comm)
    await comm.send_to(text_data=json.dumps({"cmd": "step", "pad": "x" * (1024 * 1024)}))
    msg = await recv(comm)
    assert "too large" in error_text(msg)
    assert (await comm.receive_output())["code"] == Close.TOO_BIG
    await comm.wait()


async def test_binary_messages_close_the_socket():
    comm = await open_socket()
    await recv(comm)
    await comm.send_to(bytes_data=b"\x00\x01")
    assert "text" in error_text(await recv(comm))
    assert (await comm.receive_output())["code"] == Close.BINARY
    await comm.wait()


async def test_a_flood_of_messages_is_refused_then_closed_without_touching_other_sockets():
    other = await open_socket(client=("10.0.0.2", 1))
    await recv(other)
    comm = await open_socket()
    await recv(comm)
    warned = closed = False

    async def read_what_came():
        # Read (and acknowledge, as the page does) whatever the server has sent so far.
        nonlocal warned, closed
        while not closed and not await comm.receive_nothing(0.01):
            out = await comm.receive_output(1)
            if out["type"] == "websocket.close":
                assert out["code"] == Close.FLOOD
                closed = True
                return
            warned = warned or "slow down" in out.get("text", "")
            await acknowledge(comm, out.get("text", ""))

    for n in range(200):
        await comm.send_to(text_data=json.dumps({"cmd": "state"}))
        if n % 10 == 9:
            await read_what_came()
        if closed:
            break
    await read_what_came()
    assert warned and closed
    assert counter(await command(other, "step")) == "Step 1 of at most 60", "another socket is unaffected"
    await other.disconnect()


async def test_a_brief_burst_is_fine():
    comm = await open_socket()
    await recv(comm)
    for _ in range(30):
        await send(comm, "step")
    for _ in range(30):
        msg = await recv(comm)
    assert counter(msg).startswith("Step")
    assert "slow down" not in msg.html
    await comm.disconnect()


async def test_connections_per_client_are_capped():
    socks = [await open_socket(client=("10.9.9.9", n)) for n in range(limits.MAX_SOCKETS_PER_CLIENT)]
    for s in socks:
        await recv(s)
    extra = WebsocketCommunicator(APP, URL)
    extra.scope["client"] = ("10.9.9.9", 999)
    assert (await extra.connect())[0]
    assert "Too many simulations" in error_text(Message(await extra.receive_from()))
    assert (await extra.receive_output())["code"] == Close.BUSY
    elsewhere = await open_socket(client=("10.9.9.10", 1))
    await recv(elsewhere)
    await socks[0].disconnect()
    again = await open_socket(client=("10.9.9.9", 1000))
    await recv(again)
    for s in [*socks[1:], elsewhere, again]:
        await s.disconnect()
    assert "10.9.9.9" not in process.current().sockets.open


# --------------------------------------------------------------------------- bench-only mode


async def test_unpaced_play_is_refused_outside_bench_mode():
    comm = await open_socket(client=("127.0.0.1", 1))
    await recv(comm)
    msg = await command(comm, "play", pace="off", steps="50")
    assert "only available to the benchmark" in error_text(msg)
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()


@override_settings(SIMULATIONS_BENCH=True)
async def test_unpaced_play_in_bench_mode_sends_n_frames_across_runs():
    remote = await open_socket(client=("10.0.0.5", 1))
    await recv(remote)
    assert "only available" in error_text(await command(remote, "play", pace="off", steps="5"))
    await remote.disconnect()
    comm = await open_socket(client=("127.0.0.1", 1))
    await recv(comm)
    await send(comm, "play", pace="off", steps="100")  # several ping-pong runs
    frames = 0
    while True:
        msg = await recv(comm)
        if msg.raw(f"{P}-bench-done"):
            break
        assert msg.raw(f"{P}-stage")
        frames += 1
    assert frames == 100
    await comm.disconnect()


@override_settings(SIMULATIONS_BENCH=True)
async def test_bench_mode_lifts_the_socket_cap_for_loopback_only():
    many = [await open_socket(client=("127.0.0.1", n)) for n in range(limits.MAX_SOCKETS_PER_CLIENT + 5)]
    for s in many:
        await recv(s)
    remote = [await open_socket(client=("10.7.7.7", n)) for n in range(limits.MAX_SOCKETS_PER_CLIENT)]
    extra = WebsocketCommunicator(APP, URL)
    extra.scope["client"] = ("10.7.7.7", 999)
    await extra.connect()
    assert "Too many simulations" in error_text(Message(await extra.receive_from()))
    for s in many + remote:
        await s.disconnect()


# --------------------------------------------------------------------------- cleanup


async def test_every_task_is_cancelled_when_connections_go():
    # A run that goes on for seconds: a play task that leaked would still be alive at the end.
    endless = encode_run(PingPong, parse_run(PingPong, {"rounds": 50, "latency_ms": 1000, "timeout_ms": 50}, 1))

    clients = iter(range(1_000_000))

    async def cycle():
        # A new address each time: this is about tasks, not one address's budget of new runs.
        n = next(clients)
        comm = await open_socket(f"{URL}&speed=8&playing=1&run={endless}", client=(f"10.8.{n // 250}.{n % 250}", 1))
        assert play_label(await recv(comm)) == "Pause"  # the play task is running
        await send(comm, "analyse", name="summary")  # and an analysis task starts
        await comm.disconnect()

    for _ in range(20):  # warm up caches and lazy imports
        await cycle()
    gc.collect()
    tasks_before = len(asyncio.all_tasks())
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            await cycle()
        await asyncio.sleep(0.05)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert len(asyncio.all_tasks()) <= tasks_before
    assert grown < 512 * 1024, f"memory grew by {grown} bytes over 200 cycles"
    assert process.current().sockets.open == {}


async def test_a_connection_that_ends_abruptly_cancels_its_play_task():
    comm = await open_socket(URL + "&speed=8&playing=1")
    await recv(comm)
    before = len(asyncio.all_tasks())
    comm.future.cancel()  # the server drops the application (e.g. a worker shutting down)
    await asyncio.sleep(0.05)
    assert len(asyncio.all_tasks()) < before
    assert process.current().sockets.open == {}


async def test_play_stops_where_the_engine_waits_for_the_viewer():
    """An engine may say it is awaiting input (race-conditions' manual scheduler): playing
    pauses there instead of streaming empty "your move" frames."""
    engine_cls = registry.get("race-conditions")
    run = parse_run(engine_cls, {"scheduler": "manual", "increments": 1}, 1)
    prefix = "sim-race-conditions"
    comm = await open_socket(f"/ws/simulations/race-conditions/?panel={prefix}&speed=8&run={encode_run(engine_cls, run)}")
    await recv(comm)
    await send(comm, "play")
    msg = await recv(comm)
    assert "waits for you" in msg.oob(f"{prefix}-narration").text
    assert msg.el(f"{prefix}-play").find(f"{prefix}-play-button").text.strip() == "Play"
    assert msg.el(f"{prefix}-permalink").attrs["data-step"] == "0"
    # Issue 8: "Run T2" runs T2's next instruction at once (the pick and its step, one frame).
    picked = await command(comm, "action", **{"a.type": "run_thread", "a.thread": "2"})
    assert "T2 will run next" in picked.oob(f"{prefix}-log", "beforeend").text
    assert picked.el(f"{prefix}-permalink").attrs["data-step"] == "1"
    assert "T2" in picked.oob(f"{prefix}-narration").text
    await send(comm, "play")
    assert "waits for you" in (await recv(comm)).oob(f"{prefix}-narration").text
    # Step without a pick adds no empty "your move" frame: it says what to do.
    still = await command(comm, "step")
    assert still.el(f"{prefix}-permalink").attrs["data-step"] == "1"
    assert "your move" in still.oob(f"{prefix}-error", "innerHTML").text
    await comm.disconnect()
