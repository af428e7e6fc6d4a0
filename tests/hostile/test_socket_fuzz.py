"""Hypothesis-generated socket messages against the real server: whatever arrives, the
server never answers with a traceback nor logs one, and a message it refuses (an error in
the panel) leaves the run as it was: the same run, step, play state and speed, read from
a `state` command sent after it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect

from simulations.protocol import COMMANDS
from tests.hostile.clients import ORIGIN, acknowledge_sync, error_text, position, socket_url

EXAMPLES = int(os.environ.get("HOSTILE_FUZZ_EXAMPLES", "150"))
SOURCES = [f"127.0.0.{n}" for n in range(11, 15)]  # spread over addresses: their budgets
SEED_SPAN = 'id="sim-race-conditions-seed"'  # only the full state holds it

FIELDS = ["cmd", "index", "speed", "seed", "name", "run", "step", "playing", "pace", "steps", "seq", "token",
          "p.threads", "p.increments", "p.switch_chance", "p.scenario", "p.fix", "p.scheduler", "a.type",
          "a.thread", "params", "action", "HEADERS", "p.", "a.", ""]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False), st.text(max_size=30),
    st.sampled_from(["0", "1", "2", "4", "8", "2000", "-1", "1e9", "nan", "inf", " 3 ", "٣", "explore",
                     "counter", "mutex", "manual", "run_thread", "preempt", "off", "true"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                          max_size=4), max_leaves=12)
commands = st.fixed_dictionaries({"cmd": st.sampled_from([*COMMANDS, "", "nope", "STATE"])},
                                 optional={k: values for k in FIELDS[1:]})
messages = st.one_of(
    commands.map(json.dumps),
    values.map(json.dumps),
    st.text(max_size=200),
    st.sampled_from(["", "{", "[]", "null", '{"cmd": NaN}', "[" * 5000 + "]" * 5000, '{"cmd": "seek", "index": 1e400}']),
)


@pytest.fixture(scope="module")
def server(production_server):
    log = Path(production_server.log.name)
    offset = log.stat().st_size
    yield production_server
    with open(log, "rb") as f:
        f.seek(offset)
        written = f.read().decode("utf-8", "replace")
    assert "Traceback" not in written and "Exception inside application" not in written, written[-3000:]


def state_after(ws, sent: str) -> tuple[list[str], str]:
    """Send `sent`, then ask for the state: what came before the state, and the state."""
    ws.send(sent)
    ws.send(json.dumps({"cmd": "state"}))
    before = []
    while True:
        message = ws.recv(timeout=10)
        acknowledge_sync(ws, message)
        if SEED_SPAN in message:
            return before, message
        before.append(message)


counter = iter(range(10**9))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message=messages)
def test_any_message_is_answered_without_a_traceback_and_an_error_changes_nothing(server, message):
    source = SOURCES[next(counter) % len(SOURCES)]
    with connect(socket_url(server.port), origin=ORIGIN, source_address=(source, 0), compression=None,
                 max_size=2**22, open_timeout=10, close_timeout=1) as ws:
        first = ws.recv(timeout=10)
        acknowledge_sync(ws, first)
        start = position(first)
        before, state = state_after(ws, message)
    assert all("Traceback" not in m for m in [*before, state])
    errors = [error_text(m) for m in before if error_text(m)]
    assert not any(e.startswith("Something went wrong") for e in errors), errors
    event("refused: the run unchanged" if errors else "accepted")
    if errors:
        assert position(state) == start, (message[:200], errors)
