"""Identical runs share their frames and rendered HTML across sessions (runs.RunStore):
one engine step and one render per frame however many sessions show the run, while each
session keeps its own position, horizon and branches."""

from __future__ import annotations

import threading
from typing import ClassVar

import pytest

from simulations import process, registry
from simulations.render.messages import MessageCache
from simulations.render.panel import PanelRenderer, ViewState
from simulations.runs import (
    RunSession,
    RunStore,
    RunTrack,
    decode_run,
    encode_run,
    parse_run,
    replay,
)
from tests.simulations.pingpong import PingPong


class CountingPingPong(PingPong):
    """PingPong that counts engine work: the same slug, so the same runs, but its own class
    (a store keys runs by engine class, so it never shares with the real PingPong)."""

    steps: ClassVar[list[int]] = []
    resets: ClassVar[int] = 0

    def reset(self):
        type(self).resets += 1
        return super().reset()

    def step(self):
        frame = super().step()
        type(self).steps.append(frame.index)
        return frame


@pytest.fixture
def counting():
    CountingPingPong.steps = []
    CountingPingPong.resets = 0
    return CountingPingPong


def spec(params=None, seed=7, actions=None, engine=PingPong):
    return parse_run(engine, params or {}, seed, actions or [])


def dicts(frames):
    return [f.to_dict() for f in frames]


def renderer(log):
    def render(frame):
        log.append(frame.index)
        return f"<svg id='s'>{frame.index}</svg>"
    return render


def test_two_sessions_of_one_run_share_frames_and_step_the_engine_once_per_frame(counting):
    store = RunStore()
    run = spec(engine=counting)
    a = RunSession(counting, run, store=store)
    b = RunSession(counting, run, store=store)
    assert a.track is b.track and len(store) == 1
    a.seek(10)
    b.seek(4)
    b.seek(12)
    while a.forward() is not None:
        pass
    while b.forward() is not None:
        pass
    assert dicts(a.frames) == dicts(b.frames) == dicts(replay(PingPong, spec(), 1000))
    assert all(x is y for x, y in zip(a.frames, b.frames)), "one Frame object per step, not one per session"
    assert counting.resets == 1
    assert sorted(counting.steps) == list(range(1, a.last + 1)), "step() once per frame index in total"


def test_a_session_keeps_its_own_horizon_and_position_on_a_shared_track(counting):
    store = RunStore()
    run = spec({"rounds": 20}, engine=counting)
    ahead = RunSession(counting, run, store=store)
    ahead.seek(9)
    behind = RunSession(counting, run, store=store)
    assert (behind.position, behind.last) == (0, 0), "another session's frames do not show up in mine"
    assert len(behind.frames) == 1 and not behind.finished
    assert behind.forward().index == 1 and behind.last == 1
    assert behind.seek(5).index == 5 and behind.last == 5
    assert counting.steps == list(range(1, 10)), "frames the track already had were not recomputed"


def test_finished_at_end_and_awaiting_input_are_answered_per_frame():
    engine_cls = registry.get("race-conditions")
    store = RunStore()
    run = parse_run(engine_cls, {"scheduler": "manual", "increments": 1}, 1)
    solo = RunSession(engine_cls, run)  # private: the reference
    shared = RunSession(engine_cls, run, store=store)
    other = RunSession(engine_cls, run, store=store)
    for session in (solo, shared):
        assert session.awaiting_input and not session.finished
    pick = engine_cls.parse_action({"type": "run_thread", "thread": 1})
    assert solo.apply(pick) == shared.apply(pick)
    assert not shared.awaiting_input and other.awaiting_input, "the other session's run is unchanged"
    for session in (solo, shared):
        session.forward()
        assert session.awaiting_input
    assert shared.last == solo.last == 1
    # Play both to the end by always picking the first thread that can run.
    while not solo.finished:
        for t in (1, 2, 3, 4):
            try:
                solo.apply(engine_cls.parse_action({"type": "run_thread", "thread": t}))
                shared.apply(engine_cls.parse_action({"type": "run_thread", "thread": t}))
                break
            except ValueError:
                continue
        solo.forward()
        shared.forward()
        assert (shared.finished, shared.at_end, shared.awaiting_input) == (solo.finished, solo.at_end,
                                                                          solo.awaiting_input)
    assert shared.at_end and dicts(shared.frames) == dicts(solo.frames)
    assert shared.token() == solo.token()


def test_a_branch_in_one_session_does_not_change_the_other():
    store = RunStore()
    a = RunSession(PingPong, spec(), store=store)
    b = RunSession(PingPong, spec(), store=store)
    a.seek(8)
    b.seek(8)
    before = dicts(b.frames)
    token = b.token()
    a.seek(3)
    event = a.apply(PingPong.parse_action({"type": "drop"}))
    assert event is not None and a.last == 3 and a.track is not b.track
    a.seek(8)
    assert dicts(a.frames) != before
    assert dicts(b.frames) == before and b.last == 8 and b.token() == token
    assert b.spec == spec() and a.spec != spec()
    assert all(x is y for x, y in zip(a.frames[:4], b.frames[:4])), "frames before the branch are shared"
    # Both go on as replays of their own runs.
    assert dicts(a.frames_upto(20)) == dicts(replay(PingPong, a.spec, 20))
    assert dicts(b.frames_upto(20)) == dicts(replay(PingPong, spec(), 20))


def test_the_same_branch_twice_reuses_the_branched_track(counting):
    store = RunStore()
    run = spec(engine=counting)
    a = RunSession(counting, run, store=store)
    b = RunSession(counting, run, store=store)
    a.seek(6)
    b.seek(6)
    drop = counting.parse_action({"type": "drop"})
    a.seek(2)
    first = a.apply(drop)
    a.seek(6)
    counting.steps = []
    b.seek(2)
    second = b.apply(drop)
    assert a.track is b.track and first == second
    assert counting.steps == [], "the second session found the branch computed already"
    b.seek(6)
    assert dicts(b.frames) == dicts(a.frames)
    # The engine refuses an action the same way when its run's track exists already (here
    # opened from a link whose second drop is recorded as refused).
    a.seek(2)
    with pytest.raises(ValueError) as fresh_refusal:
        a.apply(drop)  # the ball is already lost
    twice = spec(actions=[{"step": 2, "action": {"type": "drop"}}] * 2, engine=counting)
    linked = RunSession(counting, twice, store=store)
    linked.seek(3)
    assert [e.event.kind for e in linked.log() if e.step == 2][-1] == "rejected"
    b.seek(2)
    with pytest.raises(ValueError) as reused_refusal:
        b.apply(drop)
    assert str(reused_refusal.value) == str(fresh_refusal.value)
    assert a.track is b.track and (a.last, b.last) == (6, 6), "a refused action changes nothing"


def test_an_action_at_the_live_edge_takes_over_the_engine_and_the_old_run_still_grows(counting):
    store = RunStore()
    run = spec(engine=counting)
    a = RunSession(counting, run, store=store)
    b = RunSession(counting, run, store=store)
    a.seek(3)
    old = a.track
    counting.steps = []
    a.apply(counting.parse_action({"type": "delay", "ms": 50}))
    assert counting.steps == [], "at the live edge no replay: the old track's engine moved on"
    assert old.engine is None and a.track.engine is not None
    a.seek(8)
    b.seek(8)  # the old run must grow past 3 again: it replays, then steps on
    assert dicts(b.frames) == dicts(replay(PingPong, spec(), 8))
    assert dicts(a.frames) == dicts(replay(PingPong, a.spec, 8))


def test_rendered_html_is_shared_per_render_key_and_separate_across_keys():
    store = RunStore()
    calls = {"one": [], "two": []}
    one = [RunSession(PingPong, spec(), render=renderer(calls["one"]), store=store, render_key="one")
           for _ in range(3)]
    two = RunSession(PingPong, spec(), render=renderer(calls["two"]), store=store, render_key="two")
    for session in (*one, two):
        session.seek(5)
        for i in range(6):
            session.rendered(i)
    assert calls["one"] == list(range(6)), "one render per frame for every session of the key"
    assert calls["two"] == list(range(6)), "another key (panel prefix) renders its own HTML"
    # A session without a key never shares (its render function could draw anything).
    mine = []
    private = RunSession(PingPong, spec(), render=renderer(mine), store=store)
    private.seek(2)
    private.rendered()
    assert mine == [2]


def test_real_panels_render_per_prefix():
    store = RunStore()
    panels = [PanelRenderer(PingPong, p) for p in ("sim-a", "sim-b")]
    sessions = [RunSession(PingPong, spec(), render=p.frame_html, store=store, render_key=p.prefix) for p in panels]
    for s in sessions:
        s.seek(3)
    html_a, html_b = (s.rendered() for s in sessions)
    assert 'id="sim-a-stage"' in html_a and 'id="sim-b-stage"' in html_b
    assert html_a.replace("sim-a", "sim-b") == html_b
    assert set(sessions[0].track.html) == {"sim-a", "sim-b"}


def test_seek_back_and_forward_on_a_shared_track_renders_each_frame_once():
    store = RunStore()
    rendered = []
    s = RunSession(PingPong, spec(), render=renderer(rendered), store=store, render_key="k")
    s.seek(5)
    html5, fifth = s.rendered(), s.frame
    s.seek(2)
    assert (s.position, s.last) == (2, 5)
    s.rendered()
    assert s.back().index == 1
    s.seek(5)
    assert s.frame is fifth and s.rendered() == html5
    assert rendered == [5, 2]


def test_permalinks_reopen_the_shared_run():
    store = RunStore()
    a = RunSession(PingPong, spec(), store=store)
    a.seek(4)
    a.apply(PingPong.parse_action({"type": "delay", "ms": 80}))
    a.seek(9)
    engine_cls, decoded = decode_run(a.token(), registry.get)
    assert a.token() == encode_run(PingPong, a.spec)
    reopened = RunSession(engine_cls, decoded, store=store)
    assert reopened.track is a.track, "the link's run is the same run"
    reopened.seek(9)
    assert dicts(reopened.frames) == dicts(a.frames)
    assert [(e.step, e.event.kind) for e in reopened.log()] == [(e.step, e.event.kind) for e in a.log()]


def test_the_store_evicts_the_least_recently_used_runs(counting):
    store = RunStore(max_runs=3)
    sessions = [RunSession(counting, spec(seed=s, engine=counting), store=store) for s in range(5)]
    assert len(store) == 3 and store.evictions == 2
    # Sessions of evicted runs go on working; their track is simply no longer shared.
    assert sessions[0].seek(5).index == 5 and sessions[0].track.store is None
    fresh = RunSession(counting, spec(seed=0, engine=counting), store=store)
    assert fresh.track is not sessions[0].track
    # Using a run keeps it: seed 2 is touched, so seed 3 (the oldest now) goes next.
    RunSession(counting, spec(seed=2, engine=counting), store=store)
    RunSession(counting, spec(seed=9, engine=counting), store=store)
    keys = {track.spec.seed for track in store._tracks.values()}
    assert keys == {0, 2, 9}


def test_the_store_bounds_the_bytes_of_frames_and_html_it_holds():
    from simulations.runs.tracks import approx_size, html_size

    bound = 40_000
    store = RunStore(max_runs=100, max_bytes=bound)
    sessions = []
    for seed in range(6):
        s = RunSession(PingPong, spec(seed=seed), render=renderer([]), store=store, render_key="k")
        s.seek(10)
        for i in range(s.last + 1):
            s.rendered(i)
        sessions.append(s)
        assert store.bytes <= bound or len(store) == 1
    assert len(store) < 6 and store.evictions > 0
    held = sum(approx_size(f) for t in store._tracks.values() for f in t.frames) + sum(
        html_size(h) for t in store._tracks.values() for cache in t.html.values() for h in cache.values())
    assert 0.5 * held <= store.bytes <= 2 * held, "the count is near what the store really holds"
    assert sessions[-1].track.store is store, "the run in use is the last to go"


def test_html_is_kept_for_a_bounded_number_of_render_keys():
    from simulations.runs.tracks import MAX_RENDER_KEYS

    store = RunStore()
    sessions = [RunSession(PingPong, spec(), render=renderer([]), store=store, render_key=f"p{i}")
                for i in range(MAX_RENDER_KEYS + 2)]
    for s in sessions:
        s.rendered()
    track = sessions[0].track
    assert len(track.html) == MAX_RENDER_KEYS
    assert sessions[0].rendered() == "<svg id='s'>0</svg>", "a session whose key was dropped keeps its HTML"


def test_each_thread_has_its_own_store():
    mine = process.current().store
    assert process.current().store is mine
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(process.current().store))
    thread.start()
    thread.join()
    assert theirs[0] is not mine


def test_sessions_without_a_store_are_private(counting):
    a = RunSession(counting, spec(engine=counting))
    b = RunSession(counting, spec(engine=counting))
    assert a.track is not b.track and a.track.store is None
    a.seek(3)
    b.seek(3)
    assert counting.steps == [1, 2, 3, 1, 2, 3]


def test_a_track_is_a_plain_replay():
    track = RunTrack.start(PingPong, spec())
    track.reach(10)
    assert dicts(track.frames) == dicts(replay(PingPong, spec(), 10))


def test_cached_messages_are_the_panel_s_messages():
    store = RunStore()
    panel = PanelRenderer(PingPong, "sim-ping-pong")
    a, b = (RunSession(PingPong, spec(), render=panel.frame_html, store=store, render_key=panel.prefix)
            for _ in range(2))
    view = ViewState(playing=True, speed=2.0)
    messages = MessageCache()
    for _ in range(5):
        a.forward()
        b.forward()
        first = messages.step(panel, a, view)
        assert messages.step(panel, b, view) is first, "built once for both viewers"
        assert first == panel.step_message(b, view)
    b.seek(2)
    assert messages.jump(panel, b, view) == panel.jump_message(b, view)
    paused = ViewState(playing=False, speed=2.0)
    assert messages.step(panel, a, paused) == panel.step_message(a, paused)
    assert messages.step(panel, a, paused) != messages.step(panel, a, view)


def test_a_failing_engine_step_leaves_the_track_replayable(monkeypatch):
    store = RunStore()
    real_step = PingPong.step
    failures = []

    def flaky(self):
        if self.index == 2 and not failures:  # the step to frame 3 fails, once
            failures.append(1)
            raise RuntimeError("engine bug")
        return real_step(self)

    monkeypatch.setattr(PingPong, "step", flaky)
    session = RunSession(PingPong, spec(), store=store)
    with pytest.raises(RuntimeError):
        session.seek(5)
    assert session.last == 2 and session.track.engine is None, "the broken engine is dropped"
    session.seek(5)
    assert dicts(session.frames) == dicts(replay(PingPong, spec(), 5))


async def test_viewers_of_one_run_on_the_socket_share_its_steps_and_renders(monkeypatch):
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator

    from simulations.routing import websocket_urlpatterns

    steps, renders = [], []
    real_step, real_render = PingPong.step, PanelRenderer.frame_html

    def step(self):
        frame = real_step(self)
        steps.append(frame.index)
        return frame

    def frame_html(self, frame):
        renders.append((self.prefix, frame.index))
        return real_render(self, frame)

    monkeypatch.setattr(PingPong, "step", step)
    monkeypatch.setattr(PanelRenderer, "frame_html", frame_html)
    comms = []
    for n in range(3):
        comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/simulations/ping-pong/?panel=sim-ping-pong")
        comm.scope["client"] = ("10.0.0.9", 6000 + n)
        assert (await comm.connect())[0]
        await comm.receive_from(2)
        comms.append(comm)
    messages = []
    for _ in range(4):
        for comm in comms:
            await comm.send_to(text_data='{"cmd": "step"}')
            messages.append(await comm.receive_from(2))
    assert steps == [1, 2, 3, 4], "one engine step per frame for three viewers"
    assert renders == [("sim-ping-pong", i) for i in range(5)], "one render per frame for three viewers"
    # Each socket's flow-control marker (limits.SendWindow) ends its message; the rest is one.
    bodies = [m.rsplit('<i id="sim-ping-pong-ack"', 1)[0] for m in messages]
    assert bodies[0] == bodies[1] == bodies[2], "every viewer at a step gets the same message"
    for comm in comms:
        await comm.disconnect()
