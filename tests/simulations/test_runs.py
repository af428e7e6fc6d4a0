"""The run model: replay determinism, seeking, branching, permalinks and their validation."""

from __future__ import annotations

import base64
import json
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from simulations import registry, runs
from simulations.runs import (
    MAX_ACTIONS,
    PermalinkError,
    RunError,
    RunSession,
    decode_run,
    default_run,
    encode_run,
    parse_run,
    replay,
)
from tests.simulations.pingpong import Drop, PingPong


def dicts(frames):
    return [f.to_dict() for f in frames]


def spec(params=None, seed=7, actions=None):
    return parse_run(PingPong, params or {}, seed, actions or [])


def test_replaying_a_run_gives_identical_frames():
    run = spec({"latency_ms": 150, "jitter": 0.9}, 42, [{"step": 1, "action": {"type": "drop"}}])
    first = dicts(replay(PingPong, run, 60))
    second = dicts(replay(PingPong, run, 60))
    assert first == second
    assert any(e["kind"] == "timeout" for f in first for e in f["events"]), "the dropped ball must time out"
    other_seed = dicts(replay(PingPong, spec({"latency_ms": 150, "jitter": 0.9}, 43), 60))
    assert other_seed != first


def test_the_registry_finds_engines_and_rejects_unknown_slugs():
    assert registry.get("ping-pong") is PingPong
    assert registry.get("race-conditions") is not None
    assert registry.get("no-such-engine") is None


def test_seek_back_reads_the_cached_frame_and_renders_once():
    rendered = []

    def render(frame):
        rendered.append(frame.index)
        return f"<svg id='s'>{frame.index}</svg>"

    session = RunSession(PingPong, spec(), render=render)
    session.seek(5)
    html5 = session.rendered()
    fifth = session.frame
    session.seek(2)
    assert session.position == 2 and session.last == 5
    session.rendered()
    session.seek(5)
    assert session.frame is fifth, "seeking forward again within computed frames must not recompute"
    assert session.rendered() == html5
    assert rendered == [5, 2], "each frame is rendered once, however often it is shown"


def test_a_run_keeps_the_html_of_its_last_rendered_frames_only_and_draws_older_ones_again():
    """Every frame's HTML was kept for the whole run: 15 KB a Race Conditions frame, 30 MB
    for a viewer at the 2,000-step bound. A run keeps HTML_KEPT; going back further draws
    the frame again, the same."""
    from simulations.runs.tracks import HTML_KEPT

    rendered = []

    def render(frame):
        rendered.append(frame.index)
        return f"<svg id='s'>{frame.index}</svg>"

    for store in (None, runs.RunStore()):  # a private run, and one shared by its render key
        rendered.clear()
        session = RunSession(PingPong, spec({"rounds": 50}), render=render, store=store, render_key="p")
        first = session.rendered()
        for _ in range(HTML_KEPT * 3):
            session.forward()
            session.rendered()
        assert len(session._html) == HTML_KEPT
        if store is not None:
            assert session._track.bytes < session._track._frame_bytes * len(session._track.frames) + HTML_KEPT * 200
        session.seek(0)
        assert session.rendered() == first and rendered.count(0) == 2, "drawn again when it was let go"
        session.seek(HTML_KEPT * 3)
        session.rendered()
        assert rendered.count(HTML_KEPT * 3) == 1, "a frame still kept is not drawn again"


def test_seek_is_bounded_by_the_end_of_the_run_and_max_steps():
    session = RunSession(PingPong, spec({"rounds": 1}))
    session.seek(10_000)
    assert session.finished and session.at_end
    assert session.position == session.last < PingPong.max_steps
    assert session.forward() is None
    # A run that never ends stops at max_steps.
    endless = RunSession(PingPong, spec({"rounds": 50, "latency_ms": 1000, "timeout_ms": 50}))
    endless.seek(10_000)
    assert endless.last <= PingPong.max_steps


def test_a_long_seek_computed_in_slices_reaches_the_same_frame_without_moving_until_asked():
    sliced = RunSession(PingPong, spec({"rounds": 50}))
    whole = RunSession(PingPong, spec({"rounds": 50}))
    slices = 0
    while not sliced.compute_ahead(25, 4):
        slices += 1
        assert sliced.position == 0, "computing ahead does not move the viewer"
        assert sliced.last == 4 * slices, "each slice computes at most its steps"
    assert sliced.last == 25 and slices == 6
    assert sliced.seek(25) == whole.seek(25)
    # At the run's end it stops there and says it is done.
    assert sliced.compute_ahead(10_000, 10_000) and sliced.finished


def test_an_action_behind_the_live_edge_branches_and_the_branch_replays():
    session = RunSession(PingPong, spec())
    session.seek(6)
    original_after_3 = dicts(session.frames[4:7])
    session.seek(3)
    event = session.apply(PingPong.parse_action({"type": "drop"}))
    assert event is not None and "dropped" in event.text
    assert session.last == 3, "the recorded future after the branch point is dropped"
    session.seek(6)
    assert dicts(session.frames[4:7]) != original_after_3
    branched = session.spec
    assert [(a.step, a.action.type) for a in branched.actions] == [(3, "drop")]
    assert dicts(replay(PingPong, branched, 6)) == dicts(session.frames[:7])


def test_an_action_the_engine_rejects_changes_nothing():
    session = RunSession(PingPong, spec())
    session.seek(4)
    session.seek(2)
    session.apply(PingPong.parse_action({"type": "drop"}))
    before = (session.last, dicts(session.frames), session.spec)
    with pytest.raises(ValueError):
        session.apply(PingPong.parse_action({"type": "drop"}))  # nothing left in flight to drop
    assert (session.last, dicts(session.frames), session.spec) == before


def test_the_log_up_to_a_step_includes_action_lines_in_order():
    session = RunSession(PingPong, spec())
    session.seek(1)
    session.apply(PingPong.parse_action({"type": "delay", "ms": 50}))
    session.seek(3)
    log = [(e.step, e.event.kind) for e in session.log()]
    assert log[:3] == [(0, "send"), (1, "arrive"), (1, "delay")]
    assert [e.step for e in session.log()] == sorted(e.step for e in session.log())
    assert len(session.log(limit=2)) == 2
    assert session.log(limit=2)[-1].step == 3


def test_parse_run_names_every_bad_field():
    with pytest.raises(RunError) as info:
        parse_run(
            PingPong,
            {"latency_ms": 5, "mode": "x", "zz": 1, "jitter": float("nan")},
            -1,
            [{"step": 1, "action": {"type": "pause", "node": "C"}}, {"step": 99999, "action": {"type": "drop"}}],
        )
    fields = {e.field for e in info.value.errors}
    assert {"params.latency_ms", "params.mode", "params.zz", "params.jitter", "seed",
            "actions[0].action.node", "actions[1].step"} <= fields


@pytest.mark.parametrize("seed", ["12", 12, 0, 2**32 - 1])
def test_seeds_accept_whole_numbers_in_range(seed):
    assert parse_run(PingPong, {}, seed).seed == int(seed)


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "1e3", "", True, None, "nan", [1]])
def test_seeds_reject_anything_else(seed):
    with pytest.raises(RunError) as info:
        parse_run(PingPong, {}, seed)
    assert info.value.errors[0].field == "seed"


def test_too_many_actions_are_refused():
    with pytest.raises(RunError) as info:
        parse_run(PingPong, {}, 1, [{"step": 0, "action": {"type": "drop"}}] * (MAX_ACTIONS + 1))
    assert info.value.errors[0].field == "actions"


action_strategy = st.one_of(
    st.just({"type": "drop"}),
    st.builds(lambda ms: {"type": "delay", "ms": ms}, st.integers(0, 500)),
    st.builds(lambda n: {"type": "pause", "node": n}, st.sampled_from(["A", "B"])),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    params=st.fixed_dictionaries(
        {},
        optional={
            "latency_ms": st.integers(10, 1000),
            "rounds": st.integers(1, 50),
            "jitter": st.floats(0, 1, allow_nan=False),
            "mode": st.sampled_from(["ping", "echo"]),
        },
    ),
    seed=st.integers(0, 2**32 - 1),
    actions=st.lists(st.tuples(st.integers(0, 59), action_strategy), max_size=20),
)
def test_permalinks_round_trip(params, seed, actions):
    run = parse_run(PingPong, params, seed, actions)
    token = encode_run(PingPong, run)
    assert token.isascii() and all(c.isalnum() or c in "-_" for c in token)
    engine_cls, decoded = decode_run(token, registry.get)
    assert engine_cls is PingPong and decoded == run


def _token(payload) -> str:
    raw = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return "1" + base64.urlsafe_b64encode(packer.compress(raw) + packer.flush()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("token", "says"),
    [
        ("", "empty"),
        ("2abc", "unknown format"),
        ("1***", "not URL-safe"),
        ("1" + "A" * 30, "does not decode"),
        (_token(b"not json"), "does not decode"),
        (_token([1, 2]), "not a run"),
        (_token({"e": "ping-pong", "x": 1}), "not a run"),
        (_token({"e": "nope", "p": {}, "s": 1}), "unknown simulation"),
        ("1" + "A" * 9000, "too long"),
        (_token(b'{"e":"ping-pong","p":{},"s":NaN}'), "does not decode"),
        # Nested deeper than json.loads goes: a RecursionError, not a ValueError.
        (_token(b'{"e":"ping-pong","p":' + b"[" * 30_000 + b"]" * 30_000 + b"}"), "does not decode"),
    ],
)
def test_bad_permalinks_say_what_is_wrong(token, says):
    with pytest.raises(PermalinkError) as info:
        decode_run(token, registry.get)
    assert says in str(info.value)


def test_a_permalink_with_bad_params_names_the_field():
    with pytest.raises(PermalinkError) as info:
        decode_run(_token({"e": "ping-pong", "p": {"latency_ms": 1}, "s": 1}), registry.get)
    assert "params.latency_ms" in str(info.value)


def test_a_permalink_that_inflates_too_far_is_refused():
    bomb = _token({"e": "ping-pong", "p": {}, "s": 1, "a": [], "pad": "x" * 200_000})
    assert len(bomb) < 8000, "the bomb is small on the wire"
    with pytest.raises(PermalinkError) as info:
        decode_run(bomb, registry.get)
    assert "too much data" in str(info.value)


def test_default_run_uses_the_defaults():
    run = default_run(PingPong, seed=3)
    assert run.params == PingPong.Params() and run.seed == 3 and run.actions == ()


def test_a_session_holds_at_most_max_actions_so_its_permalink_still_opens(monkeypatch):
    # The cap the permalink enforces (decode_run), held by the session too: the socket adds
    # one action per message and used to go past it, leaving a link that no longer opened.
    monkeypatch.setattr(runs.session, "MAX_ACTIONS", 3)
    monkeypatch.setattr(runs.spec, "MAX_ACTIONS", 3)
    session = RunSession(PingPong, spec())
    session.seek(2)
    for _ in range(3):
        session.apply(PingPong.parse_action({"type": "delay", "ms": 10}))
    before = (session.spec, session.token())
    with pytest.raises(ValueError, match="already holds 3 actions"):
        session.apply(PingPong.parse_action({"type": "delay", "ms": 10}))
    assert (session.spec, session.token()) == before
    assert decode_run(session.token(), registry.get)[1] == session.spec
    session.seek(1)  # a branch drops the actions after its step, so there is room again
    session.apply(PingPong.parse_action({"type": "delay", "ms": 10}))
    assert [a.step for a in session.spec.actions] == [1]


def test_an_object_with_thousands_of_unknown_fields_gets_a_short_error_list():
    with pytest.raises(RunError) as info:
        parse_run(PingPong, {f"k{i}": 1 for i in range(5000)}, 1)
    errors = info.value.errors
    assert len(errors) == runs.errors.MAX_FIELD_ERRORS + 1
    assert errors[0].field == "params.k0" and errors[-1].field == "params"
    assert "4980 more errors" in errors[-1].msg


def test_the_action_adapter_is_built_once_per_engine_class():
    # Building a TypeAdapter costs about 0.4 ms, and a permalink or a socket action parses
    # or dumps every action of the run: 500 of them took 200 ms of the event loop.
    assert PingPong.action_adapter() is PingPong.action_adapter()
    race = registry.get("race-conditions")
    assert race.action_adapter() is not PingPong.action_adapter()

    class Narrower(PingPong):  # not registered: only its own adapter matters here
        Action = Drop

    assert Narrower.action_adapter() is not PingPong.action_adapter()
    assert Narrower.parse_action({"type": "drop"}) == Drop()
    with pytest.raises(ValidationError):
        Narrower.parse_action({"type": "delay", "ms": 5})
