"""Every Threads & Processes action through the socket, as the panel's forms send it (the
button's own hidden `a.<field>` inputs, values as strings): the action's log line arrives,
the next frame draws its effect, and an action that is not possible is a clear error that
changes nothing (issue 11: consumer tests for the actions)."""

from __future__ import annotations

import json
import re

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from simulations.engines.threads_processes import ThreadsProcessesEngine as TP
from simulations.routing import websocket_urlpatterns
from simulations.runs import encode_run, parse_run
from tests.simulations.html import Node
from tests.simulations.sockets import PanelReader, act, receive, step

P = "sim-threads-processes"
_panel = PanelReader(P)
error = _panel.error
log = _panel.log
metric = _panel.metric
narration = _panel.narration
APP = URLRouter(websocket_urlpatterns)


def preset_params(slug: str) -> dict:
    return dict(next(p for p in TP.presets if p.slug == slug).params)


async def socket_at(params: dict, step: int):
    run = encode_run(TP, parse_run(TP, params, 1))
    comm = WebsocketCommunicator(APP, f"/ws/simulations/threads-processes/?panel={P}&run={run}&step={step}")
    comm.scope["client"] = ("10.7.1.11", 1)
    assert (await comm.connect())[0]
    return comm, await receive(comm)


def button_fields(actions: Node, label: str) -> dict[str, str]:
    """What pressing the button labelled `label` sends: its form's inputs (htmx's ws-send
    sends the form's fields; its HEADERS dict is left out here)."""
    for form in actions.find_all("form"):
        button = next(n for n in form.iter() if n.tag == "button")
        if button.text.strip() == label:
            return {n.attrs["name"]: n.attrs.get("value") or "" for n in form.find_all("input")}
    raise AssertionError(f"no button {label!r} in {actions.text!r}")


async def press(comm, actions: Node, label: str):
    await comm.send_to(text_data=json.dumps(button_fields(actions, label)))
    return await receive(comm)


async def to_end(comm):
    """Jump to the run's last frame (a seek past the end stops there), one message, not a
    burst of steps that the socket's token bucket would refuse."""
    await comm.send_to(text_data=json.dumps({"cmd": "seek", "index": str(TP.max_steps)}))
    return await receive(comm)


async def state(comm):
    await comm.send_to(text_data='{"cmd": "state"}')
    return await receive(comm)


def thread_rows(msg) -> dict[str, str]:
    """The stage's thread rows: thread id -> the words beside it."""
    rows = {}
    for g in msg.el(f"{P}-stage").iter():
        if g.tag == "g" and (g.attrs.get("class") or "").startswith("tp-thread "):
            texts = [n.text for n in g.find_all("text")]
            rows[texts[0]] = texts[1]
    return rows


def gantt_runs(msg) -> list[tuple[str, int, int]]:
    svg = msg.el(f"{P}-stage")
    out = []
    for title in svg.find_all("title"):
        m = re.fullmatch(r"(\w+) ran (\d+)-(\d+)", title.text)
        if m:
            out.append((m.group(1), int(m.group(2)), int(m.group(3))))
    return out


async def test_the_panel_offers_the_engines_actions_as_buttons():
    comm, first = await socket_at(preset_params("round-robin"), 3)
    actions = first.el(f"{P}-actions")
    labels = [b.text.strip() for b in actions.find_all("button")]
    assert labels == ["Add a job of 10", "Crash A", "Crash B", "Crash C"]
    assert button_fields(actions, "Add a job of 10") == {"cmd": "action", "a.type": "add_job", "a.length": "10"}
    assert button_fields(actions, "Crash B") == {"cmd": "action", "a.type": "crash", "a.thread": "B"}
    await comm.disconnect()


async def test_adding_a_job_draws_a_new_thread_that_runs_to_completion():
    """Round robin, quantum 1 (OSTEP chapter 7, §7.6): at tick 3 a job D of 10 arrives; it joins
    the queue's tail, runs its slices between the others and finishes last."""
    comm, first = await socket_at(preset_params("round-robin"), 3)
    assert set(thread_rows(first)) == {"A", "B", "C"}
    msg = await press(comm, first.el(f"{P}-actions"), "Add a job of 10")
    assert error(msg) == "", error(msg)
    assert "D (10 ticks) added" in log(msg)
    after = await step(comm)
    assert "Job D of 10 ticks arrives at tick 3." in narration(after)
    assert "D" in thread_rows(after), "the new thread has its row on the stage"
    end = await to_end(comm)
    rows = thread_rows(end)
    # At tick 3 A, B and C have run one slice each (4 ticks left) and A has the core again; D
    # arrives with 10 and joins the queue's tail, behind B and C: A, B, C, D take turns until
    # A, B, C finish at 16, 17, 18, and D, alone, runs on to 25 (its slices drawn as one bar).
    assert gantt_runs(end)[-4:] == [("A", 15, 16), ("B", 16, 17), ("C", 17, 18), ("D", 18, 25)]
    assert metric(end, "Time") == "25"
    assert rows["D"] == "\u2713 done: resp 3, turn 22", "first run 6 - arrival 3; completion 25 - 3"
    turn = {tid: int(re.search(r"turn (\d+)", words).group(1)) for tid, words in rows.items()}
    assert turn == {"A": 16, "B": 17, "C": 18, "D": 22}
    assert metric(end, "Avg turnaround") == "18.25"
    await comm.disconnect()


async def test_crashing_a_thread_kills_its_process_and_marks_its_button():
    """fork(2)/signal(7): SIGSEGV ends the whole process; the other jobs' processes run on."""
    comm, first = await socket_at(preset_params("round-robin"), 3)
    msg = await press(comm, first.el(f"{P}-actions"), "Crash B")
    assert error(msg) == "", error(msg)
    assert "B crashed (SIGSEGV)" in log(msg)
    after = await step(comm)
    assert "B faults on a bad pointer (SIGSEGV): the kernel ends process 2." in narration(after)
    assert thread_rows(after)["B"].startswith("\u2713 done: killed")
    assert "job B: killed by SIGSEGV" in after.el(f"{P}-stage").text
    # Its button now says why it is no longer available (the panel judges it per frame).
    now = await state(comm)
    crash_b = next(b for b in now.el(f"{P}-actions").find_all("button") if b.text.startswith("Crash B"))
    assert crash_b.attrs.get("aria-disabled") == "true" and "(done)" in crash_b.text
    end = await to_end(comm)
    rows = thread_rows(end)
    assert all(rows[t].startswith("\u2713 done: resp") for t in "AC"), rows
    assert not any(tid == "B" and start >= 3 for tid, start, _ in gantt_runs(end)), "B never runs again"
    await comm.disconnect()


async def test_a_button_for_a_job_not_yet_arrived_says_not_yet():
    comm, first = await socket_at(preset_params("sjf-late"), 0)
    buttons = {b.text.strip(): b for b in first.el(f"{P}-actions").find_all("button")}
    assert "Crash B (not yet)" in buttons and buttons["Crash B (not yet)"].attrs.get("aria-disabled") == "true"
    assert set(thread_rows(first)) == {"A"}, "B and C have not arrived: no thread yet"
    await comm.disconnect()


@pytest.mark.parametrize(
    ("params", "at", "fields", "says"),
    [
        ("round-robin", 3, {"type": "crash", "thread": "Z"}, "there is no thread Z in this run"),
        ("sjf-late", 0, {"type": "crash", "thread": "B"}, "B has not arrived yet (at tick 10)"),
        ("fifo-equal", 12, {"type": "crash", "thread": "A"}, "A has already finished"),
        ("fork-cow", 1, {"type": "add_job", "length": 5}, "jobs can be added in the scheduler scenario only"),
        ("round-robin", 3, {"type": "add_job", "length": 0}, "action.length"),
        ("round-robin", 3, {"type": "add_job", "length": "ten"}, "action.length"),
        ("round-robin", 3, {"type": "crash", "thread": "b; rm"}, "action.thread"),
        ("round-robin", 3, {"type": "block_on_io", "thread": "A"}, "action"),
    ],
)
async def test_an_impossible_action_is_an_error_and_changes_nothing(params, at, fields, says):
    comm, _ = await socket_at(preset_params(params), at)
    msg = await _panel.refused(comm, fields, says)
    assert log(msg) == ""
    await comm.disconnect()
