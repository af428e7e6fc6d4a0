"""Every Locks & Synchronization action through the socket, as the panel's forms send it
(`a.<field>` values as strings): the action's log line arrives, the next frames show its
effect, and an action that is not possible now is an error that changes nothing (issue 11:
consumer tests for the actions)."""

from __future__ import annotations

import random

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from simulations.engines.locks import LocksEngine
from simulations.routing import websocket_urlpatterns
from simulations.runs import encode_run, parse_run
from tests.simulations.sockets import PanelReader, act, receive, step

P = "sim-locks"
_panel = PanelReader(P)
error = _panel.error
stage = _panel.stage
APP = URLRouter(websocket_urlpatterns)
MUTEX = {"scenario": "mutex", "threads": 3, "cores": 2, "cs_length": 2, "work_length": 1, "iterations": 3}
CONDVAR = {"scenario": "condvar", "threads": 3, "cores": 3, "iterations": 2, "loop_check": "while"}


def first_step(params: dict, seed: int, test) -> int:
    """The first step whose frame passes `test`, found by running the engine itself."""
    e = LocksEngine(LocksEngine.parse_params(params), random.Random(seed))
    f, i = e.reset(), 0
    while not test(f):
        assert not e.done, "no such step"
        f, i = e.step(), i + 1
    return i


def cv_waiters(frame) -> tuple[str, ...]:
    return next(e.state["waiters"] for e in frame.entities if e.kind == "condvar")


def thread(frame, tid: str) -> dict:
    return next(e.state for e in frame.entities if e.kind == "thread" and e.id == tid)


async def socket_at(params: dict, step: int = 0, seed: int = 1):
    run = encode_run(LocksEngine, parse_run(LocksEngine, params, seed))
    comm = WebsocketCommunicator(APP, f"/ws/simulations/locks/?panel={P}&run={run}&step={step}")
    comm.scope["client"] = ("10.7.1.2", 1)
    assert (await comm.connect())[0]
    await receive(comm)
    return comm


def thread_line(msg, tid: str) -> str:
    """The stage's line for one thread: its glyph, name and what it is doing."""
    node = next(n for n in msg.el(f"{P}-stage").iter()
                if n.tag == "g" and (n.attrs.get("class") or "").startswith("st-") and tid in [c.text for c in n.children if not isinstance(c, str)])
    return node.text


async def test_slowing_a_thread_shows_on_its_line_and_lengthens_its_next_critical_section():
    comm = await socket_at(MUTEX)
    msg = await act(comm, type="slow_cs", thread=2)
    assert error(msg) == "", error(msg)
    assert "T2's next critical section takes 4 ticks longer." in msg.oob(f"{P}-log").text
    after = await step(comm)
    assert "next CS +4" in thread_line(after, "T2")
    assert "next CS" not in thread_line(after, "T1")
    # Then T2's next critical section lasts cs_length + 4 ticks on the stage, and the mark goes.
    inside, msg = 0, after
    for _ in range(60):
        msg = await step(comm)
        line = thread_line(msg, "T2")
        if "in critical section" in line:
            inside += 1
            assert "next CS" not in line
        elif inside:
            break
    assert inside == MUTEX["cs_length"] + 4
    await comm.disconnect()


async def test_a_spurious_wakeup_wakes_the_first_waiter_without_a_signal():
    at = first_step(CONDVAR, 1, lambda f: bool(cv_waiters(f)))
    e = LocksEngine(LocksEngine.parse_params(CONDVAR), random.Random(1))
    f = e.reset()
    for _ in range(at):
        f = e.step()
    waiter = cv_waiters(f)[0]
    comm = await socket_at(CONDVAR, at)
    msg = await act(comm, type="spurious_wakeup")
    assert error(msg) == "", error(msg)
    assert f"{waiter} will wake up without a signal." in msg.oob(f"{P}-log").text
    after = await step(comm)
    assert f"{waiter} wakes up without a signal (a spurious wake-up)" in after.oob(f"{P}-log").text
    assert "without a signal" in after.oob(f"{P}-narration", "innerHTML").text
    # It is back on a core holding the mutex (and, in its while loop, about to wait again).
    line = thread_line(after, waiter)
    assert "blocked" not in line and "holds m" in line, line
    await comm.disconnect()


def finished_t1(f) -> bool:
    return thread(f, "T1")["state"] == "done" and not f.done


@pytest.mark.parametrize(
    ("params", "at", "fields", "says"),
    [
        (MUTEX, 0, {"type": "spurious_wakeup"}, "This scenario has no condition variable"),
        (CONDVAR, 0, {"type": "spurious_wakeup"}, "No thread is waiting on the condition variable"),
        (MUTEX, 0, {"type": "slow_cs", "thread": 5}, "There is no T5: this run has 3 threads."),
        (MUTEX, 0, {"type": "slow_cs", "thread": 9}, "action.thread: Input should be less than or equal to 6"),
        (MUTEX, 0, {"type": "slow_cs", "thread": "two"}, "action.thread: Input should be a valid integer"),
        (MUTEX, 0, {"type": "stop_the_world"}, "does not match any of the expected tags: 'spurious_wakeup', 'slow_cs'"),
        ({**MUTEX, "iterations": 1, "cores": 3}, "finished", {"type": "slow_cs", "thread": 1}, "T1 has finished."),
        ({**MUTEX, "iterations": 1}, "end", {"type": "slow_cs", "thread": 1}, "The run has ended"),
    ],
    ids=["spurious-no-cv", "spurious-no-waiter", "no-such-thread", "thread-out-of-range", "thread-not-a-number",
         "unknown-action", "finished-thread", "ended-run"],
)
async def test_an_impossible_action_is_an_error_and_changes_nothing(params, at, fields, says):
    if at == "finished":
        at = first_step(params, 1, finished_t1)
    elif at == "end":
        at = first_step(params, 1, lambda f: f.done)
    comm = await socket_at(params, at)
    await _panel.refused(comm, fields, says)
    await comm.disconnect()


async def test_the_buttons_say_when_their_action_is_unavailable():
    """The panel marks Spurious wake-up while nobody waits, and a finished thread's Slow button."""
    async def buttons(params, at):
        run = encode_run(LocksEngine, parse_run(LocksEngine, params, 1))
        comm = WebsocketCommunicator(APP, f"/ws/simulations/locks/?panel={P}&run={run}&step={at}")
        comm.scope["client"] = ("10.7.1.3", 1)
        assert (await comm.connect())[0]
        msg = await receive(comm)
        await comm.disconnect()
        return {b.text: b.attrs.get("aria-disabled") for b in msg.el(f"{P}-actions").find_all("button")}

    assert (await buttons(CONDVAR, 0))["Spurious wake-up (no waiter)"] == "true"
    waiting = first_step(CONDVAR, 1, lambda f: bool(cv_waiters(f)))
    assert (await buttons(CONDVAR, waiting))["Spurious wake-up"] is None
    params = {**MUTEX, "iterations": 1, "cores": 3}
    marks = await buttons(params, first_step(params, 1, finished_t1))
    assert marks["Slow T1 (finished)"] == "true" and marks["Slow T2"] is None
