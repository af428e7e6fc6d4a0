"""The TCP engine under generated fault schedules (hypothesis, bounded, deadline=None): loss,
duplication, reordering (delays) and corruption, on every scenario that moves data.

Whatever happens on the wire:
* each application receives every byte its peer wrote, exactly once and in order (when the
  run ends; before that, what it has is a prefix of what was written);
* cwnd never falls below 1 SMSS on an open connection (RFC 5681: the loss window is 1 SMSS);
* the receiver's buffer is never overrun: data held (unread plus out of order) <= its size;
* no state transition outside RFC 9293 Figure 5 (and the resets of §3.10.7.4);
* the narration's claims are true of the frame they describe: the states it names, and the
  cwnd, ssthresh, RTO and window numbers it gives.
"""

from __future__ import annotations

import random
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulations.engines.tcp import FIGURE5, RESET_TRANSITIONS, SYNCHRONIZED, TcpEngine as Engine

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
LIMIT = 1500

FAULT = st.tuples(
    st.integers(0, 120),  # before which step
    st.sampled_from(["drop", "corrupt", "delay", "duplicate"]),
    st.integers(0, 30),  # which segment on the wire (index into those in flight), or the next one sent
    st.sampled_from(["client", "server"]),
    st.integers(1, 400),  # delay ms
)
PARAMS = st.fixed_dictionaries({
    "scenario": st.sampled_from(["transfer", "http", "smtp", "ftp", "handshake", "simultaneous"]),
    "loss_rate": st.sampled_from([0.0, 0.0, 0.05, 0.2]),
    "jitter_ms": st.sampled_from([0, 0, 30]),
    "delayed_ack": st.booleans(),
    "data_bytes": st.integers(1, 20000),
    "mss": st.sampled_from([536, 1000, 1460]),
    "rcv_buffer": st.sampled_from([65535, 6000, 2000]),
    "read_bytes_per_s": st.sampled_from([0, 0, 20000]),
    "initial_window": st.sampled_from(["rfc5681", "rfc6928"]),
    "msl_s": st.just(0.5),
})

_CWND = re.compile(r"cwnd (?:\+= [^.]*?, now |= ssthresh = |grows by SMSS to |= ssthresh \+ 3·SMSS = |= 1 SMSS = )([\d,]+)")
_SENDS = re.compile(r"; cwnd ([\d,]+), FlightSize ([\d,]+), peer window ([\d,]+)\.")
_SAMPLE = re.compile(r"SRTT ([\d.]+) ms, RTTVAR ([\d.]+) ms, RTO ([\d,]+) ms")
_SS = re.compile(r"ssthresh = max\(FlightSize/2, 2·SMSS\) = max\([\d,]+, [\d,]+\) = ([\d,]+)")
_RTO = re.compile(r"doubles the RTO to ([\d,]+) ms")
_MOVE = re.compile(r"(\S+): ([A-Z0-9-]+) → ([A-Z0-9-]+)\.")


def _n(s: str) -> int:
    return int(s.replace(",", ""))


def check_narration(frame, before) -> None:
    """Each checked claim of a frame's narration against the frame's own endpoints (and, for
    transitions, the frame before). Only the single-event frames are checked (frame_ms 0)."""
    eps = {e.id: e.state for e in frame.entities if e.kind == "endpoint"}
    text = frame.narration
    actor = text.split(" ", 1)[0]
    if actor in eps:
        st_ = eps[actor]
        for m in _CWND.finditer(text):
            assert _n(m.group(1)) == st_["cwnd"], (text, st_["cwnd"])
        for m in _SS.finditer(text):
            assert _n(m.group(1)) == st_["ssthresh"], (text, st_["ssthresh"])
        for m in _RTO.finditer(text):
            assert _n(m.group(1)) == round(st_["rto"] * 1000), (text, st_["rto"])
        for m in _SENDS.finditer(text):
            assert (_n(m.group(1)), _n(m.group(2)), _n(m.group(3))) == (
                st_["cwnd"], st_["flight_size"], st_["peer_window"]), text
        for m in _SAMPLE.finditer(text):
            assert abs(float(m.group(1)) - st_["srtt"] * 1000) <= 0.051, text  # shown to 0.1 ms
            assert abs(float(m.group(2)) - st_["rttvar"] * 1000) <= 0.051, text
            assert _n(m.group(3)) == round(st_["rto"] * 1000), text
    if "zero-window probe" in text:
        prober = text.split(" so ", 1)[1].split(" ", 1)[0]
        assert eps[prober]["peer_window"] == 0, text
    if "the checksum does not match" in text:
        assert frame.metrics["discarded"] >= 1, text
    for m in _MOVE.finditer(text):
        who, a, b = m.groups()
        assert eps[who]["state"] == b and before[who]["state"] == a, text
    if "TIME-WAIT" in text and "enters TIME-WAIT" in text:
        assert eps[actor]["state"] == "TIME-WAIT", text


def _play(params, faults, seed):
    e = Engine(Engine.parse_params(params), random.Random(seed))
    frame = e.reset()
    by_step: dict[int, list] = {}
    for f in faults:
        by_step.setdefault(f[0], []).append(f)
    frames = [frame]
    for n in range(LIMIT):
        if e.done:
            break
        for _, verb, which, side, ms in by_step.get(n, ()):
            on_wire = sorted(e.segs)
            seg = 0 if which >= len(on_wire) else on_wire[which]
            action = {"type": verb, "segment": seg, "side": side}
            if verb == "delay":
                action["ms"] = ms
            try:
                e.apply(Engine.parse_action(action))
            except ValueError:
                pass
        frames.append(e.step())
        _invariants(e)
    return e, frames


def _invariants(e: Engine) -> None:
    for t in e.tcbs.values():
        if t.state in SYNCHRONIZED and t.cwnd:
            assert t.cwnd >= t.mss, (t.id, t.cwnd)
        held = t.unread + sum(len(v) for v in t.ooo.values())
        assert held <= t.rcv_buf, (t.id, held, t.rcv_buf)
        peer = e.tcbs[t.peer]
        assert bytes(t.received) == bytes(peer.out[: len(t.received)])  # in order, no byte twice
    assert not e.violation


@SETTINGS
@given(PARAMS, st.lists(FAULT, max_size=6), st.integers(0, 50))
def test_every_byte_exactly_once_in_order_under_any_fault_schedule(params, faults, seed):
    e, frames = _play(params, faults, seed)
    seen = {(a, b) for _, a, b, _ in e.transitions}
    assert seen <= set(FIGURE5) | RESET_TRANSITIONS
    resets = [w for w, a, b, _ in e.transitions if (a, b) in RESET_TRANSITIONS and (a, b) not in FIGURE5]
    if e.done and not resets:
        for t in e.tcbs.values():
            assert bytes(e.tcbs[t.peer].received) == bytes(t.out), t.id
    assert frames[-1].metrics["in_order_exactly_once"] == "ok"


@SETTINGS
@given(PARAMS, st.lists(FAULT, max_size=4), st.integers(0, 50))
def test_narration_claims_hold_under_any_fault_schedule(params, faults, seed):
    _, frames = _play(params, faults, seed)
    for before, frame in zip(frames, frames[1:]):
        check_narration(frame, {e.id: e.state for e in before.entities if e.kind == "endpoint"})


def test_narration_claims_hold_in_every_preset():
    for p in Engine.presets:
        if p.params.get("frame_ms"):
            continue  # many events per frame: checked through the single-event runs
        e = Engine(Engine.parse_params(dict(p.params)), random.Random(p.seed))
        frames = [e.reset()]
        acts = dict(p.actions)
        for n in range(LIMIT):
            if e.done:
                break
            if n in acts:
                e.apply(Engine.parse_action(dict(acts[n])))
            frames.append(e.step())
        for before, frame in zip(frames, frames[1:]):
            check_narration(frame, {x.id: x.state for x in before.entities if x.kind == "endpoint"})
