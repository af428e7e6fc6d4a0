"""What one client may cost (issue 7): a page that stops reading holds a few messages of the
server's memory, costly work is budgeted per address when it arrives, a socket's waiting
commands are bounded with the latest of a kind winning, and analyses run off the loop."""

from __future__ import annotations

import asyncio
import json
import os
from concurrent.futures import ProcessPoolExecutor

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from simulations import limits, process, protocol
from simulations.routing import websocket_urlpatterns
from simulations.runs import analyses, compute_in, encode_run, parse_run
from tests.simulations.html import Message
from tests.simulations.pingpong import PingPong
from tests.simulations.sockets import acknowledge, receive

APP = URLRouter(websocket_urlpatterns)
URL = "/ws/simulations/ping-pong/?panel=sim-ping-pong"


async def open_socket(client=("10.5.0.1", 1), path=URL):
    comm = WebsocketCommunicator(APP, path)
    comm.scope["client"] = client
    assert (await comm.connect())[0]
    return comm


async def drain(comm, ack: bool) -> list[str]:
    out = []
    while not await comm.receive_nothing(0.05):
        message = await comm.receive_output(1)
        if message["type"] != "websocket.send":
            break
        out.append(message["text"])
        if ack:
            await acknowledge(comm, message["text"])
    return out


# --------------------------------------------------------------------------- the send window


def test_the_window_shuts_after_its_messages_and_opens_only_for_the_right_token():
    window = limits.SendWindow(window=4, every=2)
    markers = [window.marker("p") for _ in range(4)]
    assert not window.is_open
    assert 'data-seq="2"' in markers[1] and 'data-ack="1"' in markers[1] and "data-ack" not in markers[0]
    assert "data-token" in markers[1] and "data-token" not in markers[0], "a token only where one is echoed"
    assert not window.ack(2, "0" * 16), "a guessed token opens nothing"
    assert not window.ack(9, window.token(9)), "a message never sent cannot be acknowledged"
    assert window.ack(2, window.token(2)) and window.is_open
    assert not window.ack(2, window.token(2)), "an acknowledgement counts once"


async def test_a_page_that_never_reads_is_sent_at_most_the_window_then_resynced():
    long_run = encode_run(PingPong, parse_run(PingPong, {"rounds": 50}, 1))
    comm = await open_socket(path=f"{URL}&run={long_run}")
    for _ in range(30):
        await comm.send_to(text_data=json.dumps({"cmd": "step"}))
    await asyncio.sleep(0.2)
    unread = await drain(comm, ack=False)
    assert len(unread) == limits.SEND_WINDOW, "the connect state and the replies up to the window"
    # Reading again: the waiting commands are carried out, and every reply arrives.
    for text in unread:
        await acknowledge(comm, text)
    rest = await drain(comm, ack=True)
    steps = [Message(t).el("sim-ping-pong-counter") for t in unread + rest]
    shown = [s.text.split(" ")[1] for s in steps if s is not None]
    assert shown[-1] == "30", "all 30 steps were done once the page read again"
    await comm.disconnect()


async def test_play_waits_for_a_page_that_stopped_reading_instead_of_computing_ahead():
    long_run = encode_run(PingPong, parse_run(PingPong, {"rounds": 50}, 1))
    comm = await open_socket(path=f"{URL}&speed=8&playing=1&run={long_run}")
    await asyncio.sleep(2.0)  # at 8x, about 26 frames' time
    unread = await drain(comm, ack=False)
    assert len(unread) == limits.SEND_WINDOW
    viewer_last = max(int(Message(t).el("sim-ping-pong-counter").text.split(" ")[1]) for t in unread
                      if Message(t).el("sim-ping-pong-counter") is not None)
    assert viewer_last < limits.SEND_WINDOW, "no frame was computed for the page beyond what it was sent"
    await comm.disconnect()


# --------------------------------------------------------------------------- budgets


def test_a_budget_refuses_what_it_cannot_pay_and_refills_with_time():
    now = [0.0]
    budgets = limits.Budgets(rate=100, burst=200, clock=lambda: now[0])
    assert budgets.charge("a", 150)
    assert not budgets.charge("a", 100), "50 left"
    assert budgets.charge("b", 200), "each address has its own"
    now[0] += 1.0
    assert budgets.charge("a", 100) and budgets.refused == 1
    now[0] += 100
    assert budgets.charge("a", 5000), "one job bigger than the burst runs from a full bucket"
    assert not budgets.charge("a", 1)


def test_budgets_forget_addresses_whose_bucket_has_refilled_so_many_visitors_cannot_grow_them():
    now = [0.0]
    budgets = limits.Budgets(rate=100, burst=200, clock=lambda: now[0])
    for i in range(3 * budgets.TRACKED):
        assert budgets.charge(f"10.0.{i // 256}.{i % 256}", 150)
        now[0] += 0.01  # each spent bucket refills within 0.5 s
    assert len(budgets._buckets) <= budgets.TRACKED
    # One still spending keeps its bucket: forgetting it would hand it a full one.
    budgets.charge("10.9.9.9", 200)
    assert not budgets.charge("10.9.9.9", 100)
    for i in range(budgets.TRACKED):
        budgets.charge(f"10.8.{i // 256}.{i % 256}", 1)
    assert not budgets.charge("10.9.9.9", 100), "its spent bucket was kept"


async def test_long_seeks_from_one_address_are_refused_when_they_arrive_not_after_the_backlog():
    race = "/ws/simulations/race-conditions/?panel=sim-race-conditions"
    socks = [await open_socket(client=("10.6.0.1", n), path=race) for n in range(6)]
    for comm in socks:
        await receive(comm)
    refused_before = process.current().budgets.refused
    texts = []
    for _ in range(12):  # each socket well inside its message rate; the address far over its budget
        for comm in socks:
            await comm.send_to(text_data=json.dumps({"cmd": "seek", "index": "2000"}))
            await comm.send_to(text_data=json.dumps({"cmd": "params", "p.switch_chance": "0.3"}))
        for comm in socks:
            texts += await drain(comm, ack=True)
    assert process.current().budgets.refused - refused_before > 0
    assert any("busy" in t for t in texts), "the client is told"
    other = await open_socket(client=("10.6.0.2", 1))
    await receive(other)
    await other.send_to(text_data=json.dumps({"cmd": "seek", "index": "6"}))
    assert "Step 6" in (await receive(other)).el("sim-ping-pong-counter").text, "another address is served"
    for comm in [*socks, other]:
        await comm.disconnect()


# --------------------------------------------------------------------------- the command queue


async def test_the_queue_is_bounded_and_the_latest_seek_or_params_wins():
    queue = limits.CommandQueue(protocol.LATEST_WINS, length=3)
    assert queue.put(protocol.Seek(5)) and queue.put(protocol.Step()) and queue.put(protocol.Seek(9))
    assert len(queue) == 2 and queue.coalesced == 1
    assert queue.put(protocol.Step()) and not queue.put(protocol.Back()), "full"
    assert [await queue.get() for _ in range(3)] == [protocol.Step(), protocol.Seek(9), protocol.Step()]


# --------------------------------------------------------------------------- analyses


def test_the_explorer_is_computed_once_whatever_the_scheduler_settings():
    from simulations.engines.race_conditions import RaceConditionsEngine as Race

    analyses.clear()
    calls = []
    original = Race.analyse.__func__

    def counting(cls, name, params):
        calls.append(params)
        return original(cls, name, params)

    Race.analyse = classmethod(counting)
    try:
        for chance in (0.1, 0.5, 0.9):
            for scheduler in ("random", "manual"):
                analyses.analysis(Race, "explore", Race.parse_params(
                    {"threads": 2, "increments": 1, "switch_chance": chance, "scheduler": scheduler}))
        analyses.analysis(Race, "explore", Race.parse_params({"threads": 3, "increments": 1}))
    finally:
        Race.analyse = classmethod(original)
    assert len(calls) == 2, "switch chance and scheduler are not the explorer's inputs; threads are"


async def test_analyses_compute_in_a_worker_process():
    analyses.clear()
    pool = process._analysis_pool()
    try:
        assert isinstance(pool, ProcessPoolExecutor)
        result = await compute_in(pool, PingPong, "summary", PingPong.parse_params({"rounds": 3}))
        assert result["best_case_ms"] == 600
        pid, niceness = await asyncio.get_running_loop().run_in_executor(pool, _pid_and_niceness)
        assert pid != os.getpid()
        # The worker yields the CPU to the server (its pages and frames) on a busy machine.
        assert niceness == min(19, os.nice(0) + process.WORKER_NICENESS)
    finally:
        pool.shutdown()


def _pid_and_niceness() -> tuple[int, int]:
    return os.getpid(), os.nice(0)


@pytest.mark.parametrize("text", ['{"cmd": "params", "params": [1, 2]}', '{"cmd": "action", "action": "drop"}'])
def test_a_group_that_is_not_an_object_is_a_field_error(text):
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.parse_message(text, PingPong)
    assert caught.value.errors[0].field in ("params", "action")
