"""The socket's controller without a socket: commands in, what to send and schedule out,
and play paced on a fake clock (no test here waits on the wall clock)."""

from __future__ import annotations

import pytest

from simulations import controller, process, protocol
from simulations.controller import BASE_INTERVAL, Pacer
from simulations.protocol import ProtocolError
from simulations.runs import RunError
from tests.simulations.html import Message
from tests.simulations.pingpong import PingPong

P = "sim-ping-pong"


def viewer(**connect):
    request = protocol.Connect(P, connect.get("run"), connect.get("step"), connect.get("playing", False),
                               connect.get("speed"))
    return controller.connect(PingPong, request, process.current())


def parse(text: str):
    return protocol.parse_message(text, PingPong)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_frames_are_due_on_a_fixed_schedule_from_the_first():
    clock = FakeClock()
    pacer = Pacer(clock)
    clock.now += 0.1  # sending the first frame took 0.1 s
    assert pacer.delay(0.6) == pytest.approx(0.5)
    clock.now += 0.5
    assert pacer.delay(0.6) == pytest.approx(0.6)


def test_a_player_that_fell_behind_starts_again_from_now_instead_of_bursting():
    clock = FakeClock()
    pacer = Pacer(clock)
    clock.now += 2.0  # a slow client: three intervals late
    assert pacer.delay(0.6) == 0.0
    clock.now += 0.01
    assert pacer.delay(0.6) == pytest.approx(0.59), "the next frame is one interval after now, not at once"


def test_players_due_within_one_grid_slot_wake_together_and_none_before_its_frame_is_due():
    clock = FakeClock()
    starts = [100.0006, 100.0011, 100.0032, 100.0049]  # four players' first frames, within one slot
    wakes = []
    for start in starts:
        clock.now = start
        pacer = Pacer(clock)
        clock.now = start + 0.02  # its first frame took a while to send
        wakes.append(clock.now + pacer.delay(0.1))
    assert all(wake >= start + 0.1 for wake, start in zip(wakes, starts)), "no frame goes before it is due"
    assert max(wakes) - min(wakes) < 1e-9, "one turn of the loop wakes all four"
    assert max(wake - (start + 0.1) for wake, start in zip(wakes, starts)) <= controller.WAKE_GRID + 1e-9


@pytest.mark.parametrize("speed", [0.25, 1.0, 8.0])
def test_play_at_a_speed_spaces_frames_by_the_base_interval_over_the_speed(speed):
    v, _ = viewer()
    reply = controller.handle(v, protocol.Speed(speed))
    assert reply.play_after is None, "not playing: nothing starts"
    reply = controller.handle(v, parse('{"cmd": "play"}'))
    assert reply.play_after == 0.0
    tick = controller.tick(v)
    assert tick.next_in == pytest.approx(BASE_INTERVAL / speed)
    assert Message(tick.text).el(f"{P}-counter").text.startswith("Step 1")


def test_changing_speed_while_playing_restarts_the_schedule_at_the_new_pace():
    v, _ = viewer()
    controller.handle(v, parse('{"cmd": "play"}'))
    reply = controller.handle(v, protocol.Speed(4.0))
    assert reply.play_after == pytest.approx(BASE_INTERVAL / 4)


def test_play_stops_by_itself_at_the_end_of_the_run():
    v, _ = viewer()
    controller.handle(v, parse('{"cmd": "play"}'))
    ticks = []
    while True:
        tick = controller.tick(v)
        ticks.append(tick)
        if tick.next_in is None:
            break
        assert len(ticks) <= PingPong.max_steps + 1
    assert v.session.at_end and not v.view.playing
    assert "Replay" in ticks[-1].text


def test_a_bad_command_changes_nothing():
    v, _ = viewer()
    controller.handle(v, protocol.Step())
    before = (v.session.spec, v.session.position)
    with pytest.raises(RunError):
        controller.handle(v, protocol.ApplyAction({"type": "no-such-action"}))
    with pytest.raises(ProtocolError):
        parse('{"cmd": "params", "params": [1, 2]}')
    with pytest.raises(RunError):
        parse('{"cmd": "seek", "index": "\\u00b2"}')
    assert (v.session.spec, v.session.position) == before
