"""The race-conditions panel's action buttons: the engine chooses them from the params
(`action_buttons`) and judges them frame by frame (`action_unavailable`); the panel
renders them, marks the unavailable ones, and sends them again only when that changes."""

from __future__ import annotations

import copy
import random

import pytest

from simulations.engines.base import Engine as BaseEngine
from simulations.engines.race_conditions import RaceConditionsEngine as Engine
from simulations.engines.race_conditions import RunThread
from simulations.render.panel import PanelRenderer, ViewState
from simulations.runs import RunSession, encode_run, parse_run
from tests.simulations.html import Message, parse

P = "sim-race-conditions"


def started(params, seed: int) -> Engine:
    engine = Engine(params, random.Random(seed))
    engine.reset()  # frame 0, as the app builds it
    return engine


def buttons(params: dict) -> list[tuple[str, dict]]:
    return Engine.action_buttons(Engine.parse_params(params))


def labels(params: dict) -> list[str]:
    return [label for label, _ in buttons(params)]


def fieldset(html: str):
    node = parse(html).find(f"{P}-actions")
    assert node is not None and node.tag == "fieldset"
    return node


def shown(node) -> list[tuple[str, str | None]]:
    """(label without its mark, aria-disabled) per button."""
    out = []
    for b in node.find_all("button"):
        notes = [n.text for n in b.iter() if n.attrs.get("class") == "sim-action__note"]
        text = b.text
        for note in notes:
            text = text.replace(note, "")
        out.append((text.strip(), b.attrs.get("aria-disabled")))
    return out


def session(params: dict, seed: int = 1, actions=()) -> RunSession:
    panel = PanelRenderer(Engine, P)
    return RunSession(Engine, parse_run(Engine, params, seed, list(actions)), render=panel.frame_html)


# --------------------------------------------------------------------------- the engine's choice


def test_the_base_engine_keeps_schema_generated_buttons():
    assert BaseEngine.action_buttons(Engine.parse_params({})) is None
    assert BaseEngine.action_unavailable(started(Engine.parse_params({}), 1).frame, {}) is None


@pytest.mark.parametrize("threads", [2, 3, 4])
def test_one_run_button_per_thread_that_exists_and_preempt_for_the_random_scheduler(threads):
    assert labels({"threads": threads}) == [f"Run T{t}" for t in range(1, threads + 1)] + ["Preempt"]
    assert buttons({"threads": threads})[0][1] == {"type": "run_thread", "thread": 1}
    assert buttons({"threads": threads})[-1][1] == {"type": "preempt"}


def test_processes_are_named_p_in_the_file_scenario():
    assert labels({"scenario": "file_access", "threads": 3}) == ["Run P1", "Run P2", "Run P3", "Preempt"]


def test_no_preempt_where_it_means_nothing():
    # Manual: the engine refuses it (you pick every step). Switch chance 1: it switches anyway.
    assert labels({"scheduler": "manual"}) == ["Run T1", "Run T2"]
    assert labels({"switch_chance": 1.0}) == ["Run T1", "Run T2"]
    assert "Preempt" in labels({"switch_chance": 0.0})


@pytest.mark.parametrize(
    "params",
    [{"threads": 4}, {"scenario": "file_access", "threads": 3}, {"scheduler": "manual", "threads": 3}],
)
def test_every_button_is_a_valid_action_the_engine_accepts_at_the_start(params):
    for _, action in buttons(params):
        engine = started(Engine.parse_params(params), 1)
        engine.apply(Engine.parse_action(action))  # raises if the button could never work


@pytest.mark.parametrize("preset", Engine.presets, ids=lambda p: p.slug)
def test_unavailable_marks_agree_with_what_apply_refuses_on_every_frame(preset):
    params = Engine.parse_params(preset.params)
    engine = started(params, preset.seed)
    choices = buttons(preset.params)
    for _ in range(200):
        for _, action in choices:
            mark = Engine.action_unavailable(engine.frame, action)
            try:
                copy.deepcopy(engine).apply(Engine.parse_action(action))
                refused = False
            except ValueError:
                refused = True
            assert refused == (mark is not None), (engine.index, action, mark)
        if engine.done:
            break
        if engine.awaiting_input:
            s = engine.state
            t = next(t for t in range(engine.program.threads) if s.pcs[t] < engine.program.end and not s.waiting[t])
            engine.apply(RunThread(thread=t + 1))
        engine.step()
    assert engine.done


# --------------------------------------------------------------------------- the rendered fragment


def test_a_two_thread_run_shows_exactly_run_t1_and_run_t2():
    s = session({"threads": 2, "scheduler": "manual"})
    node = fieldset(PanelRenderer(Engine, P).actions_fieldset(s.spec.params, s.frame))
    assert shown(node) == [("Run T1", None), ("Run T2", None)]
    forms = node.find_all("form")
    hidden = [{i.attrs["name"]: i.attrs["value"] for i in f.find_all("input")} for f in forms]
    assert hidden == [
        {"cmd": "action", "a.type": "run_thread", "a.thread": "1"},
        {"cmd": "action", "a.type": "run_thread", "a.thread": "2"},
    ]
    ids = [b.attrs.get("id") for b in node.find_all("button")]
    assert ids == [f"{P}-action-0", f"{P}-action-1"], "ids let focus survive a swap"


def test_the_full_state_message_has_one_actions_fieldset_for_this_run():
    s = session({"threads": 3})
    msg = PanelRenderer(Engine, P).state_message(s, ViewState())
    assert msg.count(f'id="{P}-actions"') == 1
    assert shown(Message(msg).el(f"{P}-actions")) == [("Run T1", None), ("Run T2", None), ("Run T3", None), ("Preempt", None)]


def blocked_run() -> RunSession:
    """Manual mutex counter: T1 takes m, then T2 tries and blocks (frame 2)."""
    picks = [{"step": 0, "action": {"type": "run_thread", "thread": 1}},
             {"step": 1, "action": {"type": "run_thread", "thread": 2}}]
    return session({"fix": "mutex", "scheduler": "manual", "increments": 1}, actions=picks)


def test_a_blocked_or_finished_thread_is_marked_but_stays_focusable():
    s = blocked_run()
    panel = PanelRenderer(Engine, P)
    s.seek(2)
    assert [e.state["status"] for e in s.frame.entities[:2]] == ["ready", "blocked"]
    node = fieldset(panel.actions_fieldset(s.spec.params, s.frame))
    assert shown(node) == [("Run T1", None), ("Run T2", "true")]
    button = node.find_all("button")[1]
    assert "blocked" in button.text and "disabled" not in button.attrs
    while not s.frame.done:  # finish by hand: T1 first, then T2
        t = next(i for i, e in enumerate(s.frame.entities[:2]) if e.state["status"] not in ("done", "blocked"))
        s.apply(Engine.parse_action({"type": "run_thread", "thread": t + 1}))
        s.forward()
    node = fieldset(panel.actions_fieldset(s.spec.params, s.frame))
    assert shown(node) == [("Run T1", "true"), ("Run T2", "true")]
    assert all("done" in b.text for b in node.find_all("button"))


def test_preempt_is_marked_when_no_other_thread_is_ready():
    s = session({"threads": 2, "switch_chance": 0.0})
    while not any(e.kind == "thread" and e.state["status"] == "done" for e in s.frame.entities):
        s.forward()
    # T1 has just finished: T2 is ready, so a switch away from T1 still means something.
    assert dict(shown(fieldset(PanelRenderer(Engine, P).actions_fieldset(s.spec.params, s.frame))))["Preempt"] is None
    s.forward()
    # T2 runs and is the only one left: nothing to switch to.
    node = fieldset(PanelRenderer(Engine, P).actions_fieldset(s.spec.params, s.frame))
    marks = dict(shown(node))
    assert marks["Run T1"] == "true" and marks["Preempt"] == "true"


def test_a_step_sends_the_actions_only_when_a_button_changes():
    s = blocked_run()
    panel, view = PanelRenderer(Engine, P), ViewState()
    s.seek(1)  # T1 holds m; both can be picked
    s.forward()  # T2 blocks: its button changes
    msg = Message(panel.step_message(s, view))
    assert shown(msg.el(f"{P}-actions")) == [("Run T1", None), ("Run T2", "true")]
    s.apply(Engine.parse_action({"type": "run_thread", "thread": 1}))
    s.forward()  # T1 reads counter: nothing changes for the buttons
    assert f'id="{P}-actions"' not in panel.step_message(s, view)
    # A jump (seek, back, reconnect) always brings them, for the frame it lands on.
    s.seek(0)
    msg = Message(panel.jump_message(s, view))
    assert shown(msg.el(f"{P}-actions")) == [("Run T1", None), ("Run T2", None)]


@pytest.mark.django_db
def test_the_page_shows_the_buttons_of_the_run_at_the_step_it_opens_at(client):
    s = blocked_run()
    response = client.get(f"/topics/race-conditions/?run={encode_run(Engine, s.spec)}&step=2")
    assert response.status_code == 200
    node = parse(response.content.decode()).find(f"{P}-actions")
    assert shown(node) == [("Run T1", None), ("Run T2", "true")]


def test_the_topic_body_sends_the_learner_to_controls_the_panel_has():
    """The body's "Try it" told students to "turn on the race detector": there is no such
    switch (the detector runs on every step), so they looked for one."""
    from topics.content.seed import topic_body

    try_it = topic_body("race-conditions").split("## Try it in the simulation", 1)[1]
    assert "turn on the race detector" not in try_it
    assert "every step" in try_it
    assert "detector" not in " ".join(label.lower() for label, _ in Engine.action_buttons(Engine.parse_params({})))
