"""The TCP/IP engine against its sources.

The figures and rules below were checked against the RFCs' own text (RFC 9293 §3.5-3.6
Figures 6, 7, 8, 12 and 13; RFC 5681 §2, §3.1, §3.2; RFC 6298 §2, §3, §5; RFC 6928 §2):
each test quotes the lines it reproduces.

* RFC 9293: Figure 6 (three-way handshake), Figure 7 (simultaneous open), Figure 8 (old
  duplicate SYN), Figure 12 (normal close), Figure 13 (simultaneous close), each as a
  sequence of (sender, sender's state, segment) with the RFC's own sequence numbers; the
  transitions of Figure 5, every one reachable and no other; §3.10.7.4's acceptability test.
* RFC 5681 §3.1 equation (1) and RFC 6928 §2: the initial window for MSS 536 .. 2191.
* RFC 6298 §2: RTO for a sample sequence worked by hand; §5.5 doubling.
* RFC 5681 §3.1/§3.2: cwnd traces for a timeout and a fast retransmit, worked by hand.
* Checksums (RFC 9293 §3.1): a flipped bit is caught, the segment discarded and resent.
* Presets: every seed key feature and use case of "tcp-ip-model" has one, and each does what
  its description says.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from simulations.engines.tcp import (
    CLOSE_WAIT, CLOSED, CLOSING, ESTABLISHED, FIGURE5, FIN_WAIT_1, FIN_WAIT_2, LAST_ACK, LISTEN, RESET_TRANSITIONS,
    SYN_RECEIVED, SYN_SENT, TIME_WAIT, Step, TcpEngine as Engine, initial_window, inet_checksum,
)

C, S = "client:49152", "server:5001"


def make(seed: int = 1, **params: Any) -> Engine:
    params.setdefault("msl_s", 1.0)
    e = Engine(Engine.parse_params(params), random.Random(seed))
    e.frame0 = e.reset()
    return e


def act(e: Engine, **action: Any):
    return e.apply(Engine.parse_action(action))


def run(e: Engine, limit: int = 2000, actions: dict[int, dict] | None = None) -> list:
    frames = []
    n = 0
    while not e.done and n < limit:
        if actions and n in actions:
            act(e, **actions[n])
        frames.append(e.step())
        n += 1
    return frames


def segments(e: Engine) -> list[tuple[str, str, str]]:
    """(sender, sender's state, the segment in the RFC's notation), for every segment sent."""
    out = []
    for _, src, state, seq, ack, flags, n in e.log:
        s = f"<SEQ={seq}>" + (f"<ACK={ack}>" if "ACK" in flags else "")
        shown = ",".join(f for f in flags if f != "PSH")
        s += f"<CTL={shown}>" + ("<DATA>" if n else "")
        out.append((src, state, s))
    return out


def states(e: Engine, who: str) -> list[str]:
    """The states `who` passed through, in order (from its first)."""
    seq = [CLOSED]
    for tid, a, b, _ in e.transitions:
        if tid == who:
            seq.append(b)
    return seq


# --------------------------------------------------------------------------- RFC 9293 figures


def test_figure_6_three_way_handshake():
    """RFC 9293 §3.5, Figure 6, lines 2-5: the SYN takes one sequence number, the ACK none.

        2.  SYN-SENT    --> <SEQ=100><CTL=SYN>               --> SYN-RECEIVED
        3.  ESTABLISHED <-- <SEQ=300><ACK=101><CTL=SYN,ACK>  <-- SYN-RECEIVED
        4.  ESTABLISHED --> <SEQ=101><ACK=301><CTL=ACK>       --> ESTABLISHED
        5.  ESTABLISHED --> <SEQ=101><ACK=301><CTL=ACK><DATA> --> ESTABLISHED
    """
    e = make(scenario="handshake")
    run(e)
    assert segments(e)[:4] == [
        (C, SYN_SENT, "<SEQ=100><CTL=SYN>"),
        (S, SYN_RECEIVED, "<SEQ=300><ACK=101><CTL=SYN,ACK>"),
        (C, ESTABLISHED, "<SEQ=101><ACK=301><CTL=ACK>"),
        (C, ESTABLISHED, "<SEQ=101><ACK=301><CTL=ACK><DATA>"),  # line 5: the data carries PSH as well
    ]
    assert states(e, S)[:4] == [CLOSED, LISTEN, SYN_RECEIVED, ESTABLISHED]


def test_figure_7_simultaneous_open():
    """RFC 9293 §3.5, Figure 7 (simultaneous connection synchronization): each end goes
    CLOSED -> SYN-SENT -> SYN-RECEIVED -> ESTABLISHED.

        2.  SYN-SENT     --> <SEQ=100><CTL=SYN>              ...
        3.  SYN-RECEIVED <-- <SEQ=300><CTL=SYN>              <-- SYN-SENT
        4.               ... <SEQ=100><CTL=SYN>              --> SYN-RECEIVED
        5.  SYN-RECEIVED --> <SEQ=100><ACK=301><CTL=SYN,ACK> ...
        6.  ESTABLISHED  <-- <SEQ=300><ACK=101><CTL=SYN,ACK> <-- SYN-RECEIVED
        7.               ... <SEQ=100><ACK=301><CTL=SYN,ACK> --> ESTABLISHED

    Line 7 is RFC 9293's: the SYN,ACK itself establishes the second end, with no further ACK
    (RFC 793's Figure 8 had <SEQ=101><ACK=301><CTL=ACK> there). The engine trims the SYN the
    end already has (§3.10.7.4) and takes the ACK of its own SYN."""
    e = make(scenario="simultaneous")
    run(e)
    segs = segments(e)
    # Lines 2-3, then 5-6 (the two ends act at the same instants, in either order).
    assert set(segs[:2]) == {(C, SYN_SENT, "<SEQ=100><CTL=SYN>"), (S, SYN_SENT, "<SEQ=300><CTL=SYN>")}
    assert set(segs[2:4]) == {(C, SYN_RECEIVED, "<SEQ=100><ACK=301><CTL=SYN,ACK>"),
                              (S, SYN_RECEIVED, "<SEQ=300><ACK=101><CTL=SYN,ACK>")}
    # Figure 7 ends there: the SYN,ACKs establish both ends and no further segment is needed.
    assert all("FIN" in s for _, _, s in segs[4:6])
    for who in (C, S):
        assert states(e, who)[:4] == [CLOSED, SYN_SENT, SYN_RECEIVED, ESTABLISHED]


def test_figure_8_old_duplicate_syn_answered_by_rst():
    """RFC 9293 §3.5, Figure 8 (recovery from old duplicate SYN), with the RFC's numbers:

        1.  CLOSED                                               LISTEN
        2.  SYN-SENT    --> <SEQ=100><CTL=SYN>               ...
        3.  (duplicate) ... <SEQ=90><CTL=SYN>               --> SYN-RECEIVED
        4.  SYN-SENT    <-- <SEQ=300><ACK=91><CTL=SYN,ACK>  <-- SYN-RECEIVED
        5.  SYN-SENT    --> <SEQ=91><CTL=RST>               --> LISTEN
        6.              ... <SEQ=100><CTL=SYN>               --> SYN-RECEIVED
        7.  ESTABLISHED <-- <SEQ=400><ACK=101><CTL=SYN,ACK>  <-- SYN-RECEIVED
        8.  ESTABLISHED --> <SEQ=101><ACK=401><CTL=ACK>      --> ESTABLISHED

    Line 5 is §3.10.7.3's rule for SYN-SENT: SEG.ACK =< ISS, so <SEQ=SEG.ACK><CTL=RST>."""
    e = make(scenario="old_duplicate_syn")
    run(e)
    assert segments(e)[:5] == [
        (C, SYN_SENT, "<SEQ=100><CTL=SYN>"),
        (S, SYN_RECEIVED, "<SEQ=300><ACK=91><CTL=SYN,ACK>"),  # line 4, answering the old <SEQ=90>
        (C, SYN_SENT, "<SEQ=91><CTL=RST>"),  # line 5
        (S, SYN_RECEIVED, "<SEQ=400><ACK=101><CTL=SYN,ACK>"),  # line 7
        (C, ESTABLISHED, "<SEQ=101><ACK=401><CTL=ACK>"),  # line 8
    ]
    assert states(e, S)[:6] == [CLOSED, LISTEN, SYN_RECEIVED, LISTEN, SYN_RECEIVED, ESTABLISHED]
    assert states(e, C)[:3] == [CLOSED, SYN_SENT, ESTABLISHED]  # SYN-SENT throughout lines 2-6


def _no_data(e: Engine, close: str = "close") -> None:
    """Figures 12 and 13 start in ESTABLISHED at SEQ 100 / 300: ISNs 99 and 299, no data."""
    e.scripts[0][:] = [Step("open" if close == "close" else "open_both"), Step(close)]


def test_figure_12_normal_close_and_time_wait():
    """RFC 9293 §3.6, Figure 12 (normal close sequence): FIN-WAIT-1, FIN-WAIT-2, TIME-WAIT for
    2 MSL on the side that closed first (MUST-13).

        1.  ESTABLISHED                                          ESTABLISHED
        2.  (Close)
            FIN-WAIT-1  --> <SEQ=100><ACK=300><CTL=FIN,ACK>  --> CLOSE-WAIT
        3.  FIN-WAIT-2  <-- <SEQ=300><ACK=101><CTL=ACK>      <-- CLOSE-WAIT
        4.                                                       (Close)
            TIME-WAIT   <-- <SEQ=300><ACK=101><CTL=FIN,ACK>  <-- LAST-ACK
        5.  TIME-WAIT   --> <SEQ=101><ACK=301><CTL=ACK>      --> CLOSED
        6.  (2 MSL)
            CLOSED
    """
    e = make(scenario="handshake", isn_client=99, isn_server=299, msl_s=2.5)
    _no_data(e)
    run(e)
    assert segments(e)[3:] == [
        (C, FIN_WAIT_1, "<SEQ=100><ACK=300><CTL=FIN,ACK>"),  # line 2
        (S, CLOSE_WAIT, "<SEQ=300><ACK=101><CTL=ACK>"),  # line 3
        (S, LAST_ACK, "<SEQ=300><ACK=101><CTL=FIN,ACK>"),  # line 4
        (C, TIME_WAIT, "<SEQ=101><ACK=301><CTL=ACK>"),  # line 5
    ]
    assert states(e, C)[-5:] == [ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT, CLOSED]
    assert states(e, S)[-4:] == [ESTABLISHED, CLOSE_WAIT, LAST_ACK, CLOSED]
    t_in = next(t for w, a, b, t in e.transitions if w == C and b == TIME_WAIT)
    t_out = next(t for w, a, b, t in e.transitions if w == C and a == TIME_WAIT)
    assert t_out - t_in == 2 * 2.5 * 1000  # line 6: (2 MSL)
    assert not any(a == TIME_WAIT for w, a, b, t in e.transitions if w == S)


def test_figure_13_simultaneous_close():
    """RFC 9293 §3.6, Figure 13 (simultaneous close sequence), from ESTABLISHED at 100 / 300:

        1.  ESTABLISHED                                          ESTABLISHED
        2.  (Close)                                              (Close)
            FIN-WAIT-1  --> <SEQ=100><ACK=300><CTL=FIN,ACK>  ... FIN-WAIT-1
                        <-- <SEQ=300><ACK=100><CTL=FIN,ACK>  <--
                        ... <SEQ=100><ACK=300><CTL=FIN,ACK>  -->
        3.  CLOSING     --> <SEQ=101><ACK=301><CTL=ACK>      ... CLOSING
                        <-- <SEQ=301><ACK=101><CTL=ACK>      <--
                        ... <SEQ=101><ACK=301><CTL=ACK>      -->
        4.  TIME-WAIT                                            TIME-WAIT
            (2 MSL)                                              (2 MSL)
            CLOSED                                               CLOSED
    """
    e = make(scenario="simultaneous", isn_client=99, isn_server=299)
    run(e)
    segs = segments(e)[4:]
    assert set(segs[:2]) == {(C, FIN_WAIT_1, "<SEQ=100><ACK=300><CTL=FIN,ACK>"),
                             (S, FIN_WAIT_1, "<SEQ=300><ACK=100><CTL=FIN,ACK>")}
    assert set(segs[2:]) == {(C, CLOSING, "<SEQ=101><ACK=301><CTL=ACK>"), (S, CLOSING, "<SEQ=301><ACK=101><CTL=ACK>")}
    assert len(segs) == 4  # no other segment
    for who in (C, S):
        assert states(e, who)[-4:] == [FIN_WAIT_1, CLOSING, TIME_WAIT, CLOSED]
    # Both wait 2 MSL (line 4).
    for who in (C, S):
        t_in = next(t for w, a, b, t in e.transitions if w == who and b == TIME_WAIT)
        t_out = next(t for w, a, b, t in e.transitions if w == who and a == TIME_WAIT)
        assert t_out - t_in == 2 * 1.0 * 1000


def test_msl_default_is_two_minutes():
    assert Engine.parse_params({}).msl_s == 120.0
    e = Engine(Engine.parse_params({}), random.Random(1))
    assert "2 minutes" in e.reset().narration


# --------------------------------------------------------------------------- Figure 5


def _all_transitions() -> set[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()

    def collect(e: Engine) -> None:
        seen.update((a, b) for _, a, b, _ in e.transitions)

    for p in Engine.presets:
        e = make(p.seed, **dict(p.params))
        run(e, actions={k: dict(v) for k, v in p.actions})
        collect(e)
    # LISTEN -> CLOSED: the server stops listening.
    e = make(scenario="handshake")
    act(e, type="close", side="server")
    run(e)
    collect(e)
    # LISTEN -> SYN-SENT: SEND on a listening socket (RFC 9293 §3.10.2).
    e = make(scenario="handshake")
    act(e, type="send", side="server", bytes=100)
    run(e)
    collect(e)
    # SYN-SENT -> CLOSED: CLOSE before the answer.
    e = make(scenario="handshake")
    e.step()
    act(e, type="close", side="client")
    run(e)
    collect(e)
    # SYN-RECEIVED -> FIN-WAIT-1: CLOSE in SYN-RECEIVED.
    e = make(scenario="handshake")
    run(e, 2)
    assert e.tcbs[S].state == SYN_RECEIVED
    act(e, type="close", side="server")
    run(e)
    collect(e)
    return seen


def test_every_figure_5_transition_is_reachable_and_no_other():
    seen = _all_transitions()
    assert set(FIGURE5) <= seen, set(FIGURE5) - seen
    assert seen <= set(FIGURE5) | RESET_TRANSITIONS, seen - set(FIGURE5) - RESET_TRANSITIONS


def test_an_unknown_transition_is_refused():
    e = make()
    with pytest.raises(AssertionError):
        e._to(e.tcbs[C], ESTABLISHED)  # CLOSED -> ESTABLISHED is not in Figure 5


def test_acceptability_test_four_cases():
    """RFC 9293 §3.10.7.4: SEG.LEN 0 / >0 against RCV.WND 0 / >0."""
    ok = Engine._acceptable
    assert ok(500, 0, 500, 0) and not ok(501, 0, 500, 0)
    assert ok(500, 0, 500, 100) and ok(599, 0, 500, 100) and not ok(600, 0, 500, 100)
    assert not ok(500, 10, 500, 0)
    assert ok(495, 10, 500, 100) and not ok(480, 10, 500, 100) and not ok(600, 1, 500, 100)


# --------------------------------------------------------------------------- initial window


@pytest.mark.parametrize("mss, rfc5681, rfc6928", [
    (536, 4 * 536, 10 * 536),  # IW 4*SMSS for SMSS <= 1095; RFC 6928: min(5360, max(1072, 14600)) = 5360
    (1095, 4 * 1095, 10 * 1095),
    (1096, 3 * 1096, 10 * 1096),  # 1095 < SMSS <= 2190: 3*SMSS
    (1460, 3 * 1460, 14600),  # min(14600, max(2920, 14600)) = 14600: ten segments
    (2190, 3 * 2190, 14600),  # min(21900, max(4380, 14600)) = 14600
    (2191, 2 * 2191, 14600),  # SMSS > 2190: 2*SMSS; min(21910, max(4382, 14600))
])
def test_initial_window(mss, rfc5681, rfc6928):
    """RFC 5681 §3.1: "If SMSS > 2190 bytes: IW = 2 * SMSS bytes ...; If (SMSS > 1095 bytes) and
    (SMSS <= 2190 bytes): IW = 3 * SMSS bytes ...; if SMSS <= 1095 bytes: IW = 4 * SMSS bytes".
    RFC 6928 §2: "the upper bound for the initial window will be min (10*MSS, max (2*MSS, 14600))"."""
    assert initial_window(mss, "rfc5681") == rfc5681
    assert initial_window(mss, "rfc6928") == rfc6928


def test_the_connection_starts_with_that_window():
    """RFC 5681 §3.1 (and RFC 6928 §2): IW is the window of the first RTT of data, and "the
    SYN/ACK and the acknowledgment of the SYN/ACK MUST NOT increase the size of the congestion
    window"."""
    for rule, want in (("rfc5681", 3 * 1460), ("rfc6928", 14600)):
        e = make(scenario="transfer", initial_window=rule, data_bytes=60000)
        run(e, 5)
        assert e.tcbs[C].cwnd == want
        assert e.tcbs[C].snd_nxt - e.tcbs[C].snd_una == want  # IW worth of data sent at once
        assert e.tcbs[S].cwnd == initial_window(1460, rule)  # its SYN,ACK's ACK added nothing


def test_the_handshake_does_not_grow_either_window():
    """RFC 5681 §3.1: neither the SYN,ACK nor its ACK increases cwnd, on either end."""
    e = make(scenario="handshake")
    while not (e.tcbs[C].state == ESTABLISHED and e.tcbs[S].state == ESTABLISHED):
        e.step()
    assert e.tcbs[C].cwnd == e.tcbs[S].cwnd == initial_window(1460, "rfc5681") == 4380


# --------------------------------------------------------------------------- RFC 6298


class _T:
    srtt = rttvar = None
    rto = 1000.0


def test_rto_for_a_sample_sequence_worked_by_hand():
    """RFC 6298 §2.2-2.4 with G = 1 ms; samples 100, 140, 60, 500, 900 ms.

    (2.2) SRTT <- R, RTTVAR <- R/2, RTO <- SRTT + max (G, K*RTTVAR), K = 4.
    (2.3) RTTVAR <- (1 - beta) * RTTVAR + beta * |SRTT - R'|, then SRTT <- (1 - alpha) * SRTT +
          alpha * R' ("The value of SRTT used in the update to RTTVAR is its value before
          updating SRTT"), alpha = 1/8, beta = 1/4.
    (2.4) an RTO under 1 second is rounded up to 1 second."""
    t = _T()
    Engine.rtt_update(t, 100.0)  # §2.2: SRTT = R = 100, RTTVAR = R/2 = 50, RTO = 100 + 4*50 = 300 -> 1 s (§2.4)
    assert (t.srtt, t.rttvar, t.rto) == (100.0, 50.0, 1000.0)
    Engine.rtt_update(t, 140.0)  # RTTVAR = 3/4*50 + 1/4*|100-140| = 47.5; SRTT = 7/8*100 + 1/8*140 = 105
    assert (t.srtt, t.rttvar, t.rto) == (105.0, 47.5, 1000.0)
    Engine.rtt_update(t, 60.0)  # RTTVAR = 35.625 + 11.25 = 46.875; SRTT = 91.875 + 7.5 = 99.375
    assert (t.srtt, t.rttvar) == (99.375, 46.875)
    Engine.rtt_update(t, 500.0)  # RTTVAR = 35.15625 + 100.15625 = 135.3125; SRTT = 86.953125 + 62.5 = 149.453125
    assert (t.srtt, t.rttvar) == (149.453125, 135.3125)
    # RTO = 149.453125 + 4 * 135.3125 = 690.703125 ms < 1 s: rounded up to 1 s (§2.4)
    assert t.rto == 1000.0
    Engine.rtt_update(t, 900.0)  # RTTVAR = 101.484375 + 1/4*|149.453125-900| = 289.12109375
    assert t.rttvar == 289.12109375 and t.srtt == 149.453125 * 7 / 8 + 112.5
    assert t.rto == pytest.approx(t.srtt + 4 * 289.12109375)  # 243.27 + 1156.48 = 1399.76 ms


def test_rto_rounds_up_to_one_second_and_caps_at_sixty():
    t = _T()
    Engine.rtt_update(t, 400.0)  # 400 + 4*200 = 1200 ms: above the floor
    assert t.rto == 1200.0
    t = _T()
    Engine.rtt_update(t, 50000.0)  # 50 s + 100 s: capped at 60 s (§2.5)
    assert t.rto == 60000.0


def test_initial_rto_is_one_second_and_doubles_on_each_expiry():
    """RFC 6298 §2.1 (RTO 1 s until a sample, "though the backing off ... discussed in (5.5)
    still applies") and §5.5 (RTO <- RTO * 2): the SYN is lost twice; resent after 1 s, then
    2 s more. §5.7: the timer expired awaiting the ACK of a SYN with an RTO under 3 s, so "the
    RTO MUST be re-initialized to 3 seconds when data transmission begins". RFC 5681 §3.1: "if
    the SYN or SYN/ACK is lost, the initial window ... MUST be one segment"."""
    e = make(scenario="handshake")
    act(e, type="drop", side="client")
    e.step()
    e.step()  # the SYN is sent and lost on the way
    act(e, type="drop", side="client")
    frames = []
    while e.tcbs[C].state != ESTABLISHED:
        frames.append(e.step())
    assert e.tcbs[C].cwnd == 1460  # RFC 5681 §3.1: one segment after a lost SYN
    syns = [(t, seq) for t, src, _, seq, _, flags, _ in e.log if src == C and flags == ("SYN",)]
    assert [t for t, _ in syns] == [0.0, 1000.0, 3000.0]
    assert any("doubles the RTO to 2,000 ms" in f.narration for f in frames)
    assert e.tcbs[C].rto == 3000.0  # §5.7 (the SYN,ACK answered a retransmission: no sample, Karn)


def test_karn_no_sample_from_a_retransmitted_segment():
    """RFC 6298 §3: "RTT samples MUST NOT be made using segments that were retransmitted"."""
    e = make(scenario="handshake")
    act(e, type="drop", side="client")
    run(e, 6)
    # The only SYN,ACK answers the retransmitted SYN: no sample, SRTT stays unset on the client.
    assert e.tcbs[C].state == ESTABLISHED and e.tcbs[C].srtt is None


def test_karn_the_ack_of_a_retransmitted_data_segment_gives_no_sample():
    """RFC 6298 §3 for data: the last segment (2101..3100) is lost and resent when the timer
    expires; its ACK changes neither SRTT nor RTTVAR, and the RTO stays backed off (§5: it may
    "collapse" only once "a new RTT measurement is obtained")."""
    e = make(scenario="transfer", mss=1000, data_bytes=3000)
    hook = _drop_at(2101)
    tcb = e.tcbs[C]
    while True:
        hook(e)
        f = e.step()
        if "retransmission timer expired" in f.narration:
            break
    before = (tcb.srtt, tcb.rttvar, tcb.rto)
    assert before[0] is not None and before[2] == 2000.0  # earlier samples; RTO 1 s doubled
    while tcb.snd_una < 3101:
        f = e.step()
    assert "RTT sample" not in f.narration
    assert (tcb.srtt, tcb.rttvar, tcb.rto) == before


# --------------------------------------------------------------------------- RFC 5681 traces


def _drop_at(seq: int):
    """A drop of the first transmission of the data segment starting at `seq`, whenever it is sent."""
    def hook(e: Engine) -> None:
        for s in e.segs.values():
            if s.seq == seq and s.data and not s.retransmission and s.fate == "in_flight":
                s.fate, s.lost_by = "will_drop", "learner"
    return hook


def _trace(e: Engine, hook, limit: int = 3000) -> list[tuple[str, int, int]]:
    """(event, cwnd, ssthresh) each time the sender's cwnd or ssthresh changes."""
    tcb = e.tcbs[C]
    out = []
    last = (tcb.cwnd, tcb.ssthresh)
    n = 0
    while not e.done and n < limit:
        hook(e)
        f = e.step()
        n += 1
        now = (tcb.cwnd, tcb.ssthresh)
        if now != last:
            out.append((f.narration.split(":")[0][-40:], *now))
            last = now
    return out


def test_fast_retransmit_trace_worked_by_hand():
    """RFC 5681 §3.2 steps 2-6 (step 1's limited transmit, a SHOULD from RFC 3042, is not
    modelled): on the third duplicate ACK ssthresh = max (FlightSize / 2, 2*SMSS) (equation
    4), "The lost segment starting at SND.UNA MUST be retransmitted and cwnd set to ssthresh
    plus 3*SMSS"; "For each additional duplicate ACK received (after the third), cwnd MUST be
    incremented by SMSS"; on the ACK of new data "a TCP MUST set cwnd to ssthresh".

    MSS 1000, IW 4000 (RFC 5681 §3.1: 4 segments for SMSS <= 1095), fixed RTT.
    The 10th segment (at 9101) is lost. Slow start adds min(N, SMSS) = 1000 per ACK: the ACKs
    of segments 1-9 take cwnd from 4000 to 13000, and 13 segments (9101..22100) are then
    outstanding. The 12 behind the lost one each bring a duplicate ACK. On the third,
    FlightSize = 13000, so ssthresh = max(13000/2, 2*1000) = 6500 and cwnd = 6500 + 3*1000 =
    9500; each of the 9 further duplicates adds 1000 (to 18500); the ACK of new data sets
    cwnd = ssthresh = 6500; then congestion avoidance adds 1000*1000//cwnd per ACK:
    6500 + 153 = 6653, + 150 = 6803, + 146 = 6949."""
    e = make(scenario="transfer", mss=1000, data_bytes=30000, initial_ssthresh=65535)
    trace = _trace(e, _drop_at(9101))
    assert [(c, s) for _, c, s in trace[:21]] == (
        [(c, 65535) for c in range(4000, 14000, 1000)]
        + [(c, 6500) for c in range(9500, 19000, 1000)]
        + [(6500, 6500)]
    )
    assert [c for _, c, _ in trace[21:24]] == [6653, 6803, 6949]


def test_timeout_trace_worked_by_hand():
    """RFC 5681 §3.1: on a timeout, ssthresh = max (FlightSize / 2, 2*SMSS) (equation 4) and
    "cwnd MUST be set to no more than the loss window, LW, which equals 1 full-sized segment";
    RFC 6298 §5.4: "Retransmit the earliest segment that has not been acknowledged".

    The last data segment (a tail loss: nothing behind it brings duplicate ACKs) is lost:
    the RTO expires, ssthresh = max(FlightSize/2, 2*SMSS) and cwnd = 1 SMSS (loss window);
    then slow start again, +SMSS per ACK."""
    e = make(scenario="transfer", mss=1000, data_bytes=12000)
    trace = _trace(e, _drop_at(11101))
    tcb = e.tcbs[C]
    k = next(i for i, (what, c, s) in enumerate(trace) if c == 1000)
    what, cwnd, ssthresh = trace[k]
    # Outstanding at the timeout: 11101..12100 (1000 bytes) -> max(500, 2000) = 2000.
    assert (cwnd, ssthresh) == (1000, 2000)
    assert e.counts["retransmissions"] == 1 and e.tcbs[S].received == tcb.out


def test_ssthresh_is_held_when_the_same_segment_times_out_again():
    """RFC 5681 §3.1: "when a TCP sender detects segment loss using the retransmission timer and
    the given segment has already been retransmitted by way of the retransmission timer at least
    once, the value of ssthresh is held constant"; RFC 6298 §5.5 doubles the RTO again."""
    e = make(scenario="transfer", mss=1000, data_bytes=3000)
    hook = _drop_at(2101)
    n = 0
    dropped: list[int] = []
    timeouts = []
    while not e.done and n < 400:
        hook(e)
        for s in e.segs.values():  # lose the first retransmission too
            if s.seq == 2101 and s.retransmission and s.fate == "in_flight" and not dropped:
                s.fate = "will_drop"
                dropped.append(s.id)
        f = e.step()
        n += 1
        if "retransmission timer expired" in f.narration:
            timeouts.append((e.tcbs[C].ssthresh, e.tcbs[C].rto))
    assert len(timeouts) == 2
    assert timeouts[0][0] == timeouts[1][0] == 2000  # held
    assert timeouts[1][1] == 2 * timeouts[0][1]  # RTO doubled again


def test_flight_size_not_cwnd_sets_ssthresh():
    """RFC 5681 §3.1's implementation note: "An easy mistake to make is to simply use cwnd,
    rather than FlightSize". A receiver window of 3000 bytes keeps FlightSize below cwnd: ssthresh halves FlightSize."""
    e = make(scenario="transfer", mss=1000, data_bytes=20000, rcv_buffer=3000)
    trace = _trace(e, _drop_at(5101))
    halved = [s for _, _, s in trace if s != 65535]
    assert halved and halved[0] == 2000  # max(3000/2, 2*1000), though cwnd was larger
    assert e.tcbs[S].received == e.tcbs[C].out


# --------------------------------------------------------------------------- checksums, order, flow control


def test_internet_checksum_of_rfc1071_example():
    """RFC 1071 §3's example bytes 00 01 f2 03 f4 f5 f6 f7: sum ddf2, checksum 220d."""
    assert inet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D


def test_a_corrupted_segment_is_discarded_then_repaired():
    e = make(scenario="transfer", data_bytes=6000)
    frames = run(e, actions={5: {"type": "corrupt", "segment": 0, "side": "client"}})
    assert e.counts["discarded"] == 1 and e.counts["retransmissions"] >= 1
    assert bytes(e.tcbs[S].received) == bytes(e.tcbs[C].out)
    said = next(f.narration for f in frames if "checksum does not match" in f.narration)
    assert "discards" in said and "error checking" in said and "retransmission" in said


def test_out_of_order_segments_are_held_and_delivered_in_order():
    e = make(scenario="transfer", data_bytes=12000)
    frames = run(e, actions={8: {"type": "delay", "segment": 0, "side": "client", "ms": 60}})
    assert any("holds them out of order" in f.narration for f in frames)
    assert any("held out of order go to the application in order" in f.narration for f in frames)
    assert bytes(e.tcbs[S].received) == bytes(e.tcbs[C].out)


def test_zero_window_and_probe():
    p = next(p for p in Engine.presets if p.slug == "flow-control")
    e = make(**dict(p.params))
    frames = run(e)
    windows = [s["rwnd"] for f in frames for en in f.entities if en.kind == "endpoint" and en.id == S
               for s in [en.state]]
    assert 0 in windows
    assert any("zero-window probe" in f.narration for f in frames)
    probe = next(f for f in frames if "zero-window probe" in f.narration)
    assert any(en.state["peer_window"] == 0 for en in probe.entities if en.id == C)
    assert bytes(e.tcbs[S].received) == bytes(e.tcbs[C].out)


def test_delayed_acks_ack_every_second_segment():
    e = make(scenario="transfer", data_bytes=20000, delayed_ack=True)
    run(e)
    acks = [x for x in e.log if x[1] == S and x[5] == ("ACK",)]
    plain = make(scenario="transfer", data_bytes=20000)
    run(plain)
    acks_plain = [x for x in plain.log if x[1] == S and x[5] == ("ACK",)]
    assert len(acks) < len(acks_plain)
    assert bytes(e.tcbs[S].received) == bytes(e.tcbs[C].out)


def test_every_segment_carries_the_layers_to_draw():
    e = make(scenario="handshake")
    frames = run(e)
    seen = [en for f in frames for en in f.entities if en.kind == "segment"]
    syn = next(en for en in seen if en.state["flags"] == ["SYN"])
    assert syn.state["layers"] == {"eth": 18, "ip": 20, "tcp": 24, "data": 0}  # MSS option: 4 bytes
    data = next(en for en in seen if en.state["len"])
    assert data.state["layers"] == {"eth": 18, "ip": 20, "tcp": 20, "data": 14}
    pk = next(en for f in frames for en in f.entities if en.kind == "packet" and en.state["payload"])
    names = [l["name"] for l in pk.state["layers"]]
    assert names == ["Ethernet II frame", "IPv4 packet", "TCP segment", "data"]


def test_inspect_opens_a_segment_and_refuses_one_not_on_the_wire():
    e = make(scenario="transfer")
    run(e, 5)
    sid = min(e.segs)
    act(e, type="inspect", segment=sid)
    f = e.step()
    pk = next(en for en in f.entities if en.kind == "packet")
    assert pk.state["segment"] == sid and pk.state["chosen"]
    before = e.snapshot().__dict__.keys()
    with pytest.raises(ValueError):
        act(e, type="inspect", segment=99999)
    assert e.inspected == sid and e.__dict__.keys() == before


def test_refused_actions_change_nothing():
    e = make(scenario="handshake")
    run(e, 3)
    snap = [f.to_dict() for f in [e.snapshot().step()]]
    for bad in ({"type": "drop", "segment": 4242}, {"type": "send", "side": "client", "flow": 2, "bytes": 5},
                {"type": "duplicate", "segment": 0}):
        with pytest.raises(ValueError):
            act(e, **bad)
    assert [e.step().to_dict()] == snap


# --------------------------------------------------------------------------- presets


SEED_FEATURES = ["Connection-oriented communication", "Error checking and correction", "Packet ordering guarantees",
                 "Congestion control mechanisms"]
SEED_USES = ["Web browsing (HTTP over TCP)", "Email transmission (SMTP)", "File transfer (FTP)", "Streaming services"]


def test_seed_items_are_the_ones_listed_here():
    from topics.content import seed

    topic = next(t for c in seed.CATEGORIES for t in c["topics"] if t["slug"] == "tcp-ip-model")
    assert topic["key_features"] == SEED_FEATURES and topic["use_cases"] == SEED_USES


def test_every_seed_feature_and_use_case_has_a_preset():
    assert {p.feature for p in Engine.presets} - {""} == set(SEED_FEATURES)
    assert {p.use_case for p in Engine.presets} - {""} == set(SEED_USES)
    for p in Engine.presets:
        assert bool(p.feature) != bool(p.use_case), p.slug


def _play(slug: str) -> tuple[Engine, list]:
    p = next(p for p in Engine.presets if p.slug == slug)
    e = make(p.seed, **dict(p.params))
    return e, run(e, actions={k: dict(v) for k, v in p.actions})


@pytest.mark.parametrize("slug", [p.slug for p in Engine.presets])
def test_each_preset_ends_closed_with_every_byte_delivered(slug):
    e, frames = _play(slug)
    assert e.done and frames[-1].metrics["in_order_exactly_once"] == "ok"
    for tcb in e.tcbs.values():
        assert tcb.state == CLOSED
        assert bytes(e.tcbs[tcb.peer].received) == bytes(tcb.out)
    assert "MSL is 1 s here (RFC 9293's is 2 minutes)" in e.frame0.narration


def test_congestion_preset_has_both_loss_kinds_on_one_chart():
    e, frames = _play("congestion-control")
    labels = [m[1] for m in e.marks]
    assert labels == ["3 dup ACKs", "timeout"]
    names = {en.state["name"] for en in frames[-1].entities if en.kind == "series"}
    assert names == {"cwnd", "ssthresh"}  # one bulk sender: the client


def test_reordering_preset_holds_two_and_sends_nothing_again():
    """The preset's words: two segments overtake the late one, two duplicate ACKs (fewer than
    RFC 5681 §3.2's three), so no retransmission."""
    e, frames = _play("reordering")
    said = [f.narration for f in frames]
    assert sum("holds them out of order" in n for n in said) == 2
    assert sum("receives duplicate ACK" in n for n in said) == 2
    assert e.counts["retransmissions"] == 0 and not any("third duplicate ACK" in n for n in said)
    assert any("held out of order go to the application in order" in n for n in said)


def test_corrupt_and_lost_preset_repairs_both_by_fast_retransmit():
    e, frames = _play("corrupt-and-lost")
    said = " ".join(f.narration for f in frames)
    assert said.count("the third duplicate ACK") == 2 and "retransmission timer expired" not in said


def test_corrupt_and_lost_preset_repairs_both():
    e, frames = _play("corrupt-and-lost")
    assert e.counts["discarded"] == 1 and e.counts["lost"] == 1 and e.counts["retransmissions"] == 2


def test_two_flows_converge_toward_fair_shares():
    e, frames = _play("two-flows-one-bottleneck")
    # While both are sending (each has more than 20 KB still to deliver), compare what each
    # delivered over the later half of that time: each near half of the link.
    def got(f, flow):
        return next(en.state["received_bytes"] for en in f.entities if en.kind == "endpoint"
                    and en.state["flow"] == flow and en.state["host"] == "server")
    both = [f for f in frames if 0 < got(f, 2) and got(f, 1) < 180000 and got(f, 2) < 180000]
    assert len(both) > 40
    mid, end = both[len(both) // 2], both[-1]
    d1, d2 = got(end, 1) - got(mid, 1), got(end, 2) - got(mid, 2)
    assert 0.5 < d1 / d2 < 2.0, (d1, d2)
    assert e.router_drops > 0


def test_http_server_closes_first_and_waits_in_time_wait():
    e, _ = _play("http")
    srv = "server:80"
    assert any(w == srv and b == TIME_WAIT for w, a, b, t in e.transitions)
    assert not any(w == C and b == TIME_WAIT for w, a, b, t in e.transitions)
    assert bytes(e.tcbs[srv].received).startswith(b"GET / HTTP/1.1\r\n")


def test_smtp_commands_wait_for_replies():
    e, _ = _play("smtp")
    srv = e.tcbs["server:25"]
    cli = e.tcbs[C]
    assert bytes(cli.received).startswith(b"220 ") and bytes(srv.received).startswith(b"EHLO ")
    assert b"QUIT\r\n" in bytes(srv.received) and bytes(cli.received).endswith(b"221 Bye\r\n")


def test_ftp_uses_a_control_and_a_data_connection():
    e, _ = _play("ftp")
    ctl, data = e.tcbs["server:21"], e.tcbs["server:20"]
    assert b"RETR report.txt" in bytes(ctl.received)
    assert len(e.tcbs["client:49153"].received) == 8000 and bytes(e.tcbs["client:49153"].received).startswith(b"report.txt")
    assert states(e, "server:20")[1] == SYN_SENT  # the server opens the data connection (active mode)


def test_streaming_under_loss_repairs_every_loss():
    e, frames = _play("streaming")
    assert e.counts["lost"] > 0 and e.counts["retransmissions"] > 0
    assert frames[-1].metrics["in_order_exactly_once"] == "ok"


def test_connection_2_is_offered_only_where_there_is_one():
    """The panel's buttons: "Close client" in a one-connection run, "Close client 2" with two."""
    from simulations.render.schema_controls import action_controls

    labels = {sc: [c.label for c in action_controls(Engine, Engine.parse_params({"scenario": sc}))]
              for sc in ("handshake", "transfer", "ftp", "fairness")}
    assert "Close client" in labels["transfer"] and not any(" 2" in x for x in labels["handshake"])
    assert "Close client 2" in labels["ftp"] and "Close server 2" in labels["fairness"]
