"""The Raft engine against its source: Ongaro & Ousterhout, "In Search of an Understandable
Consensus Algorithm (Extended Version)". Each Figure 2 rule has a test naming it; Figure 7's
logs are repaired by one leader; Figure 8 plays panel by panel, and with the current-term
commit check switched off it breaks State Machine Safety; the Figure 3 monitors; presets;
determinism, snapshots, and every narration sentence checked against the state it claims.
"""

from __future__ import annotations

import copy
import random
import re
from typing import Any

import pytest
from pydantic import ValidationError

from simulations.engines.base import kind_fields
from simulations.engines.raft import (
    FIGURE7_FOLLOWERS,
    FIGURE7_LEADER,
    FIGURE8_PANELS,
    MONITOR_NAMES,
    RaftEngine as Engine,
)

# --------------------------------------------------------------------------- helpers


def make(seed: int = 1, **params: Any) -> Engine:
    e = Engine(Engine.parse_params(params), random.Random(seed))
    e.reset()
    return e


def act(e: Engine, **action: Any):
    return e.apply(Engine.parse_action(action))


def run_until(e: Engine, cond, limit: int = 3000) -> list:
    frames = []
    for _ in range(limit):
        if cond(e):
            return frames
        frames.append(e.step())
    raise AssertionError("condition never held")


def terms(e: Engine, node: str) -> tuple[int, ...]:
    return tuple(t for t, _ in e.nodes[node].log)


def sent(e: Engine, type: str | None = None) -> list:
    return [m for m in e.net.in_flight.values() if type is None or m.type == type]


def deliver(e: Engine, node: str, src: str, type: str, **payload: Any) -> str:
    """Hand `node` one message directly (driving the handler as the network would)."""
    return getattr(e, "_on_" + type)(e.nodes[node], src, payload, [])


def replay_preset(preset, extra: int = 150):
    e = Engine(Engine.parse_params(preset.params), random.Random(preset.seed))
    frames = [e.reset()]
    schedule: dict[int, list] = {}
    for step, action in preset.actions:
        schedule.setdefault(step, []).append(action)
    last = max(schedule, default=0) + extra
    for k in range(last + 1):
        for action in schedule.get(k, ()):
            e.apply(Engine.parse_action(action))
        if k < last:
            frames.append(e.step())
    return e, frames


def run_until_leader(e: Engine) -> str:
    run_until(e, lambda e: e.leader() is not None and not e.net.in_flight)
    return e.leader().id


# --------------------------------------------------------------------------- narration claims

_N = r"(n\d)"


def _node(frame, node_id):
    for entity in frame.entities:
        if entity.id == node_id:
            return entity.state
    raise AssertionError(f"no node {node_id} in frame {frame.index}")


def _state_words(state: dict) -> str:
    return ", ".join(f"{k} = {v}" for k, v in state.items()) if state else "nothing set"


def check_narration(frame, majority: int) -> int:
    """Assert every claim the frame's narration makes that can be read off the frame's own
    entities and metrics; returns how many claims were checked."""
    text = frame.narration
    nodes = {e.id: e.state for e in frame.entities if e.kind == "node"}
    checked = 0

    def claim(pattern, check):
        nonlocal checked
        for m in re.finditer(pattern, text):
            assert check(*m.groups()), f"frame {frame.index}: {m.group(0)!r} is false in: {text}"
            checked += 1

    n = nodes.__getitem__
    claim(_N + r"(?: heard from no leader for \d+ ms, its election timeout, so it|'s election for term \d+ won no "
          r"majority within \d+ ms, so it|'s election timeout expire now, so it|'s election timeout is forced and it) "
          r"starts an election for term (\d+)",
          lambda a, t: n(a)["role"] == "candidate" and n(a)["term"] == int(t) and n(a)["voted_for"] == a)
    claim(r"so " + _N + r" becomes leader for term (\d+)", lambda a, t: n(a)["role"] == "leader" and n(a)["term"] == int(t))
    claim(_N + r"'s vote gives " + _N + r" (\d+) of \d+ votes",
          lambda v, c, k: n(c)["role"] == "leader" and int(k) >= majority)
    claim(_N + r" grants its vote to " + _N + r" for term (\d+)",
          lambda a, c, t: n(a)["voted_for"] == c and n(a)["term"] == int(t))
    claim(_N + r" refuses to vote for " + _N + r": it already voted for " + _N + r" in term (\d+)",
          lambda a, c, o, t: n(a)["voted_for"] == o != c and n(a)["term"] == int(t))
    claim(_N + r" refuses to vote for " + _N + r": its own log is more up-to-date",
          lambda a, c: n(a)["voted_for"] != c)
    claim(_N + r" now has (\d+) of the (\d+) votes it needs for term (\d+)",
          lambda a, k, need, t: n(a)["role"] == "candidate" and len(n(a)["votes"]) == int(k) and int(need) == majority
          and n(a)["term"] == int(t))
    claim(r"refused its vote to " + _N + r" for term (\d+); \1 has (\d+) of the (\d+) votes it needs",
          lambda c, t, k, need: n(c)["role"] == "candidate" and n(c)["term"] == int(t) and len(n(c)["votes"]) == int(k)
          and int(need) == majority)
    claim(_N + r" moves from term \d+ to term (\d+)", lambda a, t: n(a)["term"] == int(t))
    claim(_N + r" was leader for term \d+ but sees term (\d+), so it steps down",
          lambda a, t: n(a)["role"] == "follower" and n(a)["term"] == int(t))
    claim(_N + r" sees term (\d+), newer than its election's term \d+, so it becomes a follower",
          lambda a, t: n(a)["role"] == "follower" and n(a)["term"] == int(t))
    claim(_N + r", leader for term (\d+),", lambda a, t: n(a)["role"] == "leader" and n(a)["term"] == int(t))
    claim(_N + r" accepts " + _N + r"'s heartbeat for term (\d+)",
          lambda a, l, t: n(a)["role"] == "follower" and n(a)["term"] == int(t) and n(a)["timer"]["start"] == frame.time)
    claim(_N + r" recognises " + _N + r" as leader for term (\d+)", lambda a, l, t: n(a)["role"] == "follower")
    claim(_N + r" appends (?:entry|entries) (?:\d+-)?(\d+) from " + _N,
          lambda a, last, l: len(n(a)["log"]) >= int(last))
    claim(_N + r" deletes (?:entry|entries) (\d+)(?:-\d+)?, which conflicts? with " + _N
          + r"'s log, and appends (?:entry|entries) (?:\d+-)?(\d+)",
          lambda a, first, l, last: len(n(a)["log"]) == int(last))
    claim(_N + r" fails " + _N + r"'s consistency check: its log has only (\d+) entr",
          lambda a, l, k: len(n(a)["log"]) == int(k))
    claim(_N + r" fails " + _N + r"'s consistency check: its entry at index (\d+) has term (\d+)",
          lambda a, l, i, t: n(a)["log"][int(i) - 1]["term"] == int(t))
    claim(r"so " + _N + r" decrements nextIndex for " + _N + r" to (\d+)",
          lambda l, f, k: n(l)["next_index"][f] == int(k))
    claim(r"is on a majority \(([^)]*)\) and " + _N + r" commits up to index (\d+)",
          lambda holders, l, k: n(l)["commit_index"] == int(k) and len(re.findall(r"n\d", holders)) >= majority
          and all((h == l) or n(l)["match_index"][h] >= int(k) for h in re.findall(r"n\d", holders)))
    claim(_N + r" commits up to index (\d+)(?: by counting[^.]*)?\. It applies them: ([^.]*)\.",
          lambda l, k, words: n(l)["last_applied"] == int(k) and _state_words(n(l)["state"]) == words)
    claim(r"^" + _N + r" [^.]*\. It learns that entries up to (\d+) are committed and applies them: ([^.]*)\.",
          lambda a, k, words: n(a)["commit_index"] == int(k) and _state_words(n(a)["state"]) == words)
    claim(r"Entry (\d+) is now stored on a majority, but it is from term (\d+), not " + _N + r"'s current term (\d+)",
          lambda i, t, l, cur: n(l)["log"][int(i) - 1]["term"] == int(t) != int(cur) == n(l)["term"]
          and n(l)["commit_index"] < int(i))
    claim(_N + r" crashes", lambda a: n(a)["role"] == "crashed" and n(a)["commit_index"] == 0 and n(a)["state"] == {})
    claim(_N + r" restarts as a follower in term (\d+)",
          lambda a, t: n(a)["role"] == "follower" and n(a)["term"] == int(t) and n(a)["commit_index"] == 0)
    claim(_N + r" is not the leader", lambda a: n(a)["role"] != "leader")
    claim(r"tells the client that " + _N + r" leads term (\d+)", lambda l, t: True)
    claim(r"look exactly as in Figure 8 (\(\w+\))",
          lambda p: tuple(tuple(x["term"] for x in n(i)["log"]) for i in sorted(nodes)) == FIGURE8_PANELS[p])
    claim(r"Every server's log is now identical to the leader's",
          lambda: len({tuple((x["term"], x["command"]) for x in s["log"]) for s in nodes.values()}) == 1)
    for name, words in MONITOR_NAMES.items():
        if f"{words} is violated" in text:
            assert frame.metrics[name] == "violated", (frame.index, text)
            checked += 1
    network = next(x.state for x in frame.entities if x.kind == "network")
    claim(r"You partitioned the network into ([^:]*):",
          lambda words: [sorted(re.findall(r"n\d", g)) for g in words.split(" | ")] == [sorted(g) for g in network["groups"]])
    claim(r"You healed the partition", lambda: len(network["groups"]) == 1 and not network["cut"])
    claim(r"cannot cross the partition", lambda: bool(network["cut"]))
    claim(r"The \w+ from " + _N + " to " + _N + r" cannot cross the partition",
          lambda a, b: "-".join(sorted((a, b))) in network["cut"])
    claim(r"The \w+ from " + _N + " to " + _N + r" arrives while \2 is down", lambda a, b: n(b)["role"] == "crashed")
    claim(_N + r" acknowledges: its log matches " + _N + r"'s up to index (\d+)",
          lambda f, l, k: n(l)["role"] == "leader" and n(l)["match_index"][f] >= int(k))
    claim(_N + r" already holds (?:entry|entries) (?:\d+-)?(\d+) from " + _N + ", so its log is unchanged",
          lambda a, k, l: len(n(a)["log"]) >= int(k))
    claim(_N + r"'s vote arrives after " + _N + r" has already won term (\d+)",
          lambda v, c, t: n(c)["role"] == "leader" and n(c)["term"] == int(t))
    claim(_N + r" ignores a stale rejection from " + _N, lambda l, f: n(l)["role"] == "leader")
    claim(_N + r" ignores " + _N + r"'s vote reply for term (\d+): it is no longer a candidate",
          lambda c, v, t: not (n(c)["role"] == "candidate" and n(c)["term"] == int(t)))
    claim(_N + r" ignores " + _N + r"'s AppendEntries reply for term (\d+): it is not leading that term",
          lambda l, f, t: not (n(l)["role"] == "leader" and n(l)["term"] == int(t)))
    claim(_N + r" refuses to vote for " + _N + r": \2's term (\d+) is older than its own term (\d+)",
          lambda a, c, t, own: n(a)["term"] == int(own) > int(t))
    claim(_N + r" rejects AppendEntries from " + _N + r": \2's term (\d+) is older than its own term (\d+)",
          lambda a, l, t, own: n(a)["term"] == int(own) > int(t))
    msgs = [x.state for x in frame.entities if x.kind == "message"]
    claim(r"The (\w+) from " + _N + " to " + _N + r" now in flight will be lost",
          lambda t, a, b: any(m["type"] == t and m["src"] == a and m["dst"] == b and m["fate"] == "will_drop" for m in msgs))
    claim(r"The (\w+) from " + _N + " to " + _N + r" is held \d+ ms longer: it now arrives at (\d+) ms",
          lambda t, a, b, at: any(m["type"] == t and m["src"] == a and m["dst"] == b and round(m["deliver_at"]) == int(at)
                                  for m in msgs))
    claim(r"Nothing is in flight from " + _N + " to " + _N,
          lambda a, b: all(m["fate"] == "will_drop" for m in msgs if m["src"] == a and m["dst"] == b))
    claim(r"[Ee]ach message between " + _N + " and " + _N + r" is now lost with probability (\d+(?:\.\d+)?)",
          lambda a, b, p: network["loss"].get("-".join(sorted((a, b))), 0.0) == float(p))
    claim(r"the network splits into ([^;.]*)",
          lambda words: [sorted(re.findall(r"n\d", g)) for g in words.split(" | ")] == [sorted(g) for g in network["groups"]])
    claim(r"the partition heals", lambda: len(network["groups"]) == 1)
    claim(r"the next message from " + _N + " to " + _N + " (?:will be lost|is held)", lambda a, b: True)
    claim(_N + r" is a (follower|candidate) and knows no leader for term (\d+)",
          lambda a, role, t: n(a)["role"] == role and n(a)["term"] == int(t))
    claim(r"^Every server is down and no message is in flight",
          lambda: all(x["role"] == "crashed" for x in nodes.values()) and not msgs)
    claim(r"^(\d) servers start as followers in term 0 with empty logs",
          lambda k: len(nodes) == int(k) and all(x["role"] == "follower" and x["term"] == 0 and not x["log"]
                                                for x in nodes.values()))
    claim(r"^Figure 8 of the Raft paper starts here",
          lambda: all(len(x["log"]) == 1 and x["log"][0]["term"] == 1 for x in nodes.values()))
    claim(r"^Figure 7 of the Raft paper: n1 holds",
          lambda: tuple(e["term"] for e in n("n1")["log"]) == FIGURE7_LEADER)
    return checked


#: Sentences with nothing to read off the frame: the message is gone from the wire either way.
UNCHECKED = re.compile(r"^The \w+ from n\d to n\d (was dropped, as you asked|was lost on the link); n\d never sees it\.$")


def check_frames(frames, majority):
    """Every frame's narration makes at least one claim that is checked, or is one of the
    UNCHECKED sentences; returns the number of claims checked."""
    total = 0
    for f in frames:
        k = check_narration(f, majority)
        assert k or UNCHECKED.match(f.narration), f"frame {f.index}: no checked claim in {f.narration!r}"
        total += k
    return total


# --------------------------------------------------------------------------- the contract


def test_frame_zero_and_declared_entities_and_metrics():
    e = Engine(Engine.parse_params({}), random.Random(1))
    frame = e.reset()
    assert frame.index == 0 and frame.time == 0.0 and frame.narration.startswith("5 servers start as followers")
    frames = [frame] + [e.step() for _ in range(60)]
    assert [f.index for f in frames] == list(range(61))
    declared = {kind: set(kind_fields(t)) for kind, t in Engine.entity_kinds.items()}
    for f in frames:
        kinds = [x.kind for x in f.entities]
        assert kinds == sorted(kinds, key=["node", "message", "network"].index)  # nodes, messages, network
        assert [x.id for x in f.entities if x.kind == "node"] == ["n1", "n2", "n3", "n4", "n5"]
        for x in f.entities:
            assert set(x.state) == declared[x.kind], (x.kind, set(x.state) ^ declared[x.kind])
        assert list(f.metrics) == list(Engine.metrics)
        assert f.metrics["time_ms"] == f.time
    assert Engine.time_unit == "ms" and Engine.slug == "raft" and Engine.topic_slug == "consensus-algorithms"


def test_params_are_bounded_and_checked_together():
    with pytest.raises(ValidationError, match="least latency"):
        Engine.parse_params({"latency_min_ms": 30, "latency_max_ms": 10})
    with pytest.raises(ValidationError, match="7 servers"):
        Engine.parse_params({"scenario": "figure7"})
    with pytest.raises(ValidationError, match="5 servers"):
        Engine.parse_params({"scenario": "figure8", "nodes": 3})
    for bad in ({"nodes": 2}, {"nodes": 8}, {"heartbeat_ms": 500}, {"loss": 0.9}, {"election_timeout": "fast"}):
        with pytest.raises(ValidationError):
            Engine.parse_params(bad)
    for field in Engine.Params.model_json_schema()["properties"].values():
        assert field.get("title") and field.get("description")


@pytest.mark.parametrize("data", [
    {"type": "client_request", "node": "n9", "key": "x", "value": 1},
    {"type": "client_request", "node": "n1", "key": "X Y", "value": 1},
    {"type": "client_request", "node": "n1", "key": "x", "value": 10_000},
    {"type": "delay", "src": "n1", "dst": "n2", "ms": 0},
    {"type": "set_loss", "a": "n1", "b": "n2", "loss": 1.5},
    {"type": "partition", "groups": []},
    {"type": "launch"},
])
def test_bad_actions_do_not_parse(data):
    with pytest.raises(ValidationError):
        Engine.parse_action(data)


# --------------------------------------------------------------------------- timers (§5.2)


@pytest.mark.parametrize("choice, bounds", [("paper", (150, 300)), ("raftscope", (100, 200))])
def test_election_timeouts_are_random_within_the_chosen_range(choice, bounds):
    deadlines = []
    for seed in range(40):
        e = make(seed, election_timeout=choice)
        deadlines += [e.sched.timer(f"election:{i}").deadline for i in e.ids]
    assert all(bounds[0] <= d <= bounds[1] for d in deadlines)
    assert len(set(deadlines)) > 150  # randomized (§5.2), not one fixed value


def test_leader_sends_heartbeats_every_interval_when_idle():
    e = make(heartbeat_ms=40)
    leader = run_until_leader(e)
    starts = []
    for _ in range(200):
        f = e.step()
        if f"{leader}, leader for term" in f.narration and "sends AppendEntries" in f.narration:
            starts.append(f.time)
    gaps = {round(b - a, 3) for a, b in zip(starts, starts[1:])}
    assert gaps == {40.0}


# --------------------------------------------------------------------------- candidates and RequestVote


def test_on_conversion_to_candidate_term_up_vote_self_timer_reset_requestvote_to_all():
    """Figure 2, Candidates: increment currentTerm, vote for self, reset election timer, send
    RequestVote RPCs to all other servers."""
    e = make()
    f = e.step()  # the first timer to expire
    who = next(i for i in e.ids if e.nodes[i].role == "candidate")
    c = e.nodes[who]
    assert (c.term, c.voted_for, c.votes) == (1, who, [who])
    assert e.sched.timer(f"election:{who}").start == f.time
    rv = sent(e, "RequestVote")
    assert sorted(m.dst for m in rv) == sorted(i for i in e.ids if i != who)
    assert all(m.payload == {"term": 1, "last_log_index": 0, "last_log_term": 0} for m in rv)


def test_requestvote_reply_false_if_term_older():
    """RequestVote receiver 1: reply false if term < currentTerm (§5.1)."""
    e = make()
    e.nodes["n2"].term = 5
    text = deliver(e, "n2", "n1", "RequestVote", term=4, last_log_index=9, last_log_term=4)
    reply = sent(e, "RequestVoteReply")[-1]
    assert reply.payload == {"term": 5, "vote_granted": False} and e.nodes["n2"].voted_for is None
    assert "older than its own term 5" in text


def test_requestvote_grants_once_per_term_first_come_first_served():
    """RequestVote receiver 2: grant if votedFor is null or candidateId (§5.2)."""
    e = make()
    deliver(e, "n3", "n1", "RequestVote", term=1, last_log_index=0, last_log_term=0)
    deliver(e, "n3", "n2", "RequestVote", term=1, last_log_index=0, last_log_term=0)
    deliver(e, "n3", "n1", "RequestVote", term=1, last_log_index=0, last_log_term=0)  # a retry: same candidate
    replies = [m.payload["vote_granted"] for m in sent(e, "RequestVoteReply")]
    assert replies == [True, False, True] and e.nodes["n3"].voted_for == "n1"


@pytest.mark.parametrize("voter_log, cand_last_term, cand_last_index, granted", [
    ((1, 1, 2), 3, 1, True),     # later last term wins, even with a shorter log (§5.4.1)
    ((1, 1, 2), 2, 3, True),     # same last term, at least as long
    ((1, 1, 2), 2, 2, False),    # same last term, shorter
    ((1, 1, 2), 1, 9, False),    # older last term loses, however long
    ((), 0, 0, True),            # two empty logs
])
def test_requestvote_at_least_as_up_to_date(voter_log, cand_last_term, cand_last_index, granted):
    """§5.4.1: the later last term is more up-to-date; with equal last terms the longer log is."""
    e = make()
    e.nodes["n2"].log = [(t, f"set x = {t}") for t in voter_log]
    e.nodes["n2"].term = 3
    deliver(e, "n2", "n1", "RequestVote", term=4, last_log_index=cand_last_index, last_log_term=cand_last_term)
    assert sent(e, "RequestVoteReply")[-1].payload["vote_granted"] is granted
    assert (e.nodes["n2"].voted_for == "n1") is granted and e.nodes["n2"].term == 4


def test_with_the_up_to_date_check_off_a_stale_candidate_gets_the_vote():
    e = make(broken_rule="vote_up_to_date")
    e.nodes["n2"].log = [(1, "set x = 1"), (1, "set x = 2")]
    text = deliver(e, "n2", "n1", "RequestVote", term=2, last_log_index=0, last_log_term=0)
    assert sent(e, "RequestVoteReply")[-1].payload["vote_granted"] and "check is switched off" in text


def test_granting_a_vote_resets_the_election_timer_and_refusing_does_not():
    """Followers: the election timeout counts from the last AppendEntries of the current leader
    or the last vote granted."""
    e = make()
    e.sched.now = 100.0
    before = e.sched.timer("election:n2").deadline
    e.nodes["n2"].voted_for, e.nodes["n2"].term = "n4", 1
    deliver(e, "n2", "n1", "RequestVote", term=1, last_log_index=0, last_log_term=0)  # refused
    assert e.sched.timer("election:n2").deadline == before
    deliver(e, "n3", "n1", "RequestVote", term=1, last_log_index=0, last_log_term=0)  # granted
    assert e.sched.timer("election:n3").start == 100.0


def test_majority_of_votes_makes_leader_with_fresh_next_and_match_index():
    """Candidates: votes from a majority -> leader; Leaders: nextIndex = last log index + 1,
    matchIndex = 0 (reinitialized after election), and initial empty AppendEntries at once."""
    e = make()
    c = e.nodes["n1"]
    c.log = [(1, "set x = 1")]
    c.term, c.role, c.voted_for, c.votes = 2, "candidate", "n1", ["n1"]
    deliver(e, "n1", "n2", "RequestVoteReply", term=2, vote_granted=True)
    assert c.role == "candidate"
    deliver(e, "n1", "n3", "RequestVoteReply", term=2, vote_granted=False)
    assert c.role == "candidate"
    text = deliver(e, "n1", "n4", "RequestVoteReply", term=2, vote_granted=True)
    assert c.role == "leader" and "becomes leader for term 2" in text
    assert c.next_index == {"n2": 2, "n3": 2, "n4": 2, "n5": 2} and c.match_index == dict.fromkeys(c.next_index, 0)
    heartbeats = sent(e, "AppendEntries")
    assert sorted(m.dst for m in heartbeats) == ["n2", "n3", "n4", "n5"]
    assert all(m.payload["prev_log_index"] == 1 and m.payload["entries"] == [] for m in heartbeats)
    assert e.sched.timer("election:n1") is None and e.sched.timer("heartbeat:n1") is not None


def test_higher_term_in_any_rpc_or_reply_makes_a_leader_step_down():
    """All servers: if an RPC request or response contains term T > currentTerm: set
    currentTerm = T, convert to follower (§5.1)."""
    e = make()
    leader = run_until_leader(e)
    l = e.nodes[leader]
    text = deliver(e, leader, next(i for i in e.ids if i != leader), "AppendEntriesReply",
                   term=l.term + 3, success=False, match_index=None, req_prev=0)
    assert (l.role, l.term, l.voted_for) == ("follower", 4, None)
    assert e.sched.timer(f"heartbeat:{leader}") is None and e.sched.timer(f"election:{leader}") is not None
    assert "steps down to follower" in text


def test_candidate_becomes_follower_on_appendentries_from_a_leader_of_its_term():
    """Candidates: if AppendEntries RPC received from new leader: convert to follower (§5.2)."""
    e = make()
    c = e.nodes["n2"]
    c.term, c.role, c.voted_for, c.votes = 3, "candidate", "n2", ["n2"]
    text = deliver(e, "n2", "n1", "AppendEntries", term=3, prev_log_index=0, prev_log_term=0, entries=[], leader_commit=0)
    assert c.role == "follower" and c.term == 3 and "recognises n1 as leader" in text
    c.term, c.role = 4, "candidate"
    deliver(e, "n2", "n1", "AppendEntries", term=3, prev_log_index=0, prev_log_term=0, entries=[], leader_commit=0)
    assert c.role == "candidate"  # an older leader's RPC is rejected


# --------------------------------------------------------------------------- AppendEntries receiver


def follower(log_terms, term=5, commit=0):
    e = make()
    f = e.nodes["n2"]
    f.log = [(t, f"set x = {i + 1}") for i, t in enumerate(log_terms)]
    f.term, f.commit_index = term, commit
    return e, f


def ae(e, prev, prev_term, entries, commit=0, term=5):
    text = deliver(e, "n2", "n1", "AppendEntries", term=term, prev_log_index=prev, prev_log_term=prev_term,
                   entries=[(t, c) for t, c in entries], leader_commit=commit)
    return sent(e, "AppendEntriesReply")[-1].payload, text


def test_appendentries_reply_false_if_term_older():
    """AppendEntries receiver 1: reply false if term < currentTerm (§5.1)."""
    e, f = follower([1, 1])
    reply, _ = ae(e, 2, 1, [(4, "set y = 1")], term=4)
    assert reply["success"] is False and reply["term"] == 5 and len(f.log) == 2


@pytest.mark.parametrize("prev, prev_term", [(3, 1), (2, 2)])
def test_appendentries_reply_false_without_matching_prev_entry(prev, prev_term):
    """AppendEntries receiver 2: reply false if the log has no entry at prevLogIndex whose term
    matches prevLogTerm (§5.3): too short, or a different term there."""
    e, f = follower([1, 1])
    reply, _ = ae(e, prev, prev_term, [(5, "set y = 1")])
    assert reply["success"] is False and [t for t, _ in f.log] == [1, 1]


def test_appendentries_deletes_a_conflicting_entry_and_all_that_follow():
    """AppendEntries receiver 3: an existing entry that conflicts with a new one (same index,
    different terms) is deleted with all that follow it (§5.3)."""
    e, f = follower([1, 1, 2, 2, 2])
    reply, text = ae(e, 2, 1, [(3, "set x = 30")])
    assert [t for t, _ in f.log] == [1, 1, 3] and reply == {"term": 5, "success": True, "match_index": 3, "req_prev": 2}
    assert "deletes entries 3-5" in text


def test_appendentries_keeps_extra_entries_that_do_not_conflict():
    """Rule 3 deletes only on conflict: a stale or short AppendEntries whose entries the follower
    already has leaves the rest of its log alone."""
    e, f = follower([1, 1, 2, 2])
    before = list(f.log)
    reply, text = ae(e, 0, 0, [(1, "set x = 1")])
    assert f.log == before and reply["match_index"] == 1
    reply, text = ae(e, 2, 1, [])  # a heartbeat
    assert f.log == before and "extra entries 3-4 stay" in text


def test_appendentries_appends_only_new_entries():
    """AppendEntries receiver 4: append any new entries not already in the log."""
    e, f = follower([1, 1])
    reply, text = ae(e, 1, 1, [(1, "set x = 2"), (5, "set y = 3"), (5, "set z = 4")])
    assert [t for t, _ in f.log] == [1, 1, 5, 5] and reply["match_index"] == 4 and "appends entries 3-4" in text


def test_appendentries_commit_index_is_min_of_leader_commit_and_last_new_entry():
    """AppendEntries receiver 5: if leaderCommit > commitIndex, commitIndex = min(leaderCommit,
    index of last new entry); committed entries are then applied in order (§5.3)."""
    e, f = follower([1, 1, 1, 1])
    ae(e, 1, 1, [(1, "set x = 2")], commit=4)  # last new entry is 2: extra entries 3-4 unverified
    assert f.commit_index == 2 and f.last_applied == 2 and f.state == {"x": 2}
    ae(e, 4, 1, [], commit=3)
    assert f.commit_index == 3 and f.state == {"x": 3}
    ae(e, 4, 1, [], commit=1)
    assert f.commit_index == 3  # never moves back


def test_appendentries_from_the_current_leader_resets_the_election_timer():
    e, f = follower([], term=5)
    e.sched.now = 77.0
    ae(e, 0, 0, [])
    assert e.sched.timer("election:n2").start == 77.0 and f.leader_hint == "n1"


# --------------------------------------------------------------------------- leaders


def test_failed_consistency_check_decrements_next_index_and_retries():
    """Leaders: if AppendEntries fails because of log inconsistency: decrement nextIndex and
    retry (§5.3); a stale rejection for an index already passed changes nothing."""
    e = make()
    leader = run_until_leader(e)
    l = e.nodes[leader]
    peer = next(i for i in e.ids if i != leader)
    l.log = [(1, "set x = 1")] * 3
    l.next_index[peer] = 4
    before = len(sent(e))
    text = deliver(e, leader, peer, "AppendEntriesReply", term=l.term, success=False, match_index=None, req_prev=3)
    assert l.next_index[peer] == 3 and "decrements nextIndex" in text
    retry = sent(e)[before:]
    assert [(m.dst, m.payload["prev_log_index"], len(m.payload["entries"])) for m in retry] == [(peer, 2, 1)]
    deliver(e, leader, peer, "AppendEntriesReply", term=l.term, success=False, match_index=None, req_prev=3)
    assert l.next_index[peer] == 3  # stale duplicate


def test_success_updates_next_and_match_index():
    """Leaders: if successful: update nextIndex and matchIndex for the follower (§5.3)."""
    e = make()
    leader = run_until_leader(e)
    l = e.nodes[leader]
    peer = next(i for i in e.ids if i != leader)
    l.log = [(l.term, "set x = 1"), (l.term, "set x = 2")]
    deliver(e, leader, peer, "AppendEntriesReply", term=l.term, success=True, match_index=2, req_prev=0)
    assert (l.next_index[peer], l.match_index[peer]) == (3, 2)
    deliver(e, leader, peer, "AppendEntriesReply", term=l.term, success=True, match_index=1, req_prev=0)
    assert (l.next_index[peer], l.match_index[peer]) == (3, 2)  # a late reply never moves them back


def test_client_command_is_appended_and_sent_then_committed_by_majority_and_applied_everywhere():
    """Leaders: a command from a client is appended to the local log; a majority of
    matchIndex >= N with log[N].term == currentTerm commits N (§5.3); every server applies it."""
    e = make()
    leader = run_until_leader(e)
    event = act(e, type="client_request", node=leader, key="x", value=3)
    assert "appended at index 1" in event.text and e.nodes[leader].log == [(1, "set x = 3")]
    assert sorted(m.dst for m in sent(e, "AppendEntries")) == sorted(i for i in e.ids if i != leader)
    run_until(e, lambda e: all(n.state == {"x": 3} for n in e.nodes.values()))
    assert all(n.commit_index == 1 == n.last_applied for n in e.nodes.values())


def test_leader_never_commits_an_older_term_entry_by_counting_replicas():
    """§5.4.2 / Figure 8 (c): S1 leads term 4 and index 2 (term 2) is on S1, S2, S3, a majority;
    it is not committed. Only once an entry of term 4 is on a majority do both commit."""
    e = make(scenario="figure8", nodes=5)
    l = e.nodes["n1"]
    l.log = [(1, "set x = 1"), (2, "set x = 2")]
    l.term, l.role, l.next_index, l.match_index = 4, "leader", {p: 3 for p in e.ids[1:]}, {p: 0 for p in e.ids[1:]}
    text = deliver(e, "n1", "n2", "AppendEntriesReply", term=4, success=True, match_index=2, req_prev=1)
    text = deliver(e, "n1", "n3", "AppendEntriesReply", term=4, success=True, match_index=2, req_prev=1)
    assert l.commit_index == 0 and "does not commit it by counting replicas (§5.4.2)" in text
    l.log.append((4, "set x = 4"))
    deliver(e, "n1", "n2", "AppendEntriesReply", term=4, success=True, match_index=3, req_prev=2)
    assert l.commit_index == 0
    deliver(e, "n1", "n3", "AppendEntriesReply", term=4, success=True, match_index=3, req_prev=2)
    assert l.commit_index == 3 and l.state == {"x": 4}


def test_with_the_current_term_check_off_the_leader_commits_by_counting():
    e = make(scenario="figure8", nodes=5, broken_rule="commit_current_term")
    l = e.nodes["n1"]
    l.log = [(1, "set x = 1"), (2, "set x = 2")]
    l.term, l.role, l.next_index, l.match_index = 4, "leader", {p: 3 for p in e.ids[1:]}, {p: 0 for p in e.ids[1:]}
    deliver(e, "n1", "n2", "AppendEntriesReply", term=4, success=True, match_index=2, req_prev=1)
    text = deliver(e, "n1", "n3", "AppendEntriesReply", term=4, success=True, match_index=2, req_prev=1)
    assert l.commit_index == 2 and "current-term check is switched off" in text


# --------------------------------------------------------------------------- crashes and other actions


def test_crash_keeps_persistent_state_and_restart_rebuilds_the_volatile_state():
    """Figure 2: currentTerm, votedFor and log[] are persistent; commitIndex, lastApplied (and
    the state machine built from them) are volatile, initialized to 0 on restart."""
    e = make()
    leader = run_until_leader(e)
    act(e, type="client_request", node=leader, key="x", value=7)
    run_until(e, lambda e: all(n.state == {"x": 7} for n in e.nodes.values()) and not e.net.in_flight)
    victim = next(i for i in e.ids if i != leader)
    v = e.nodes[victim]
    kept = (v.term, v.voted_for, list(v.log))
    act(e, type="crash", node=victim)
    f = e.step()
    assert "crashes" in f.narration and _node(f, victim)["role"] == "crashed"
    assert (v.term, v.voted_for, v.log) == kept and (v.commit_index, v.last_applied, v.state) == (0, 0, {})
    assert e.sched.timer(f"election:{victim}") is None
    run_until(e, lambda e: any(m.dst == victim for m in sent(e)))
    run_until(e, lambda e: not any(m.dst == victim for m in sent(e)))  # lost on arrival, never handled
    assert v.commit_index == 0
    act(e, type="restart", node=victim)
    f = e.step()
    assert v.role == "follower" and (v.commit_index, v.state) == (0, {}) and v.log == kept[2]
    run_until(e, lambda e: e.nodes[victim].state == {"x": 7})  # re-applied as the commit index is relearned
    assert v.last_applied == 1


def test_a_request_to_a_follower_is_refused_with_the_leader_it_knows():
    """§8: a server that is not the leader rejects the client's request and names the leader."""
    e = make()
    leader = run_until_leader(e)
    other = next(i for i in e.ids if i != leader)
    act(e, type="client_request", node=other, key="x", value=1)
    f = e.step()
    assert f"tells the client that {leader} leads" in f.narration
    assert all(not n.log for n in e.nodes.values())


def refuses(e: Engine, match: str, **action):
    before = copy.deepcopy(e)
    with pytest.raises(ValueError, match=match):
        act(e, **action)
    assert e.step().to_dict() == before.step().to_dict()  # changed nothing


def test_impossible_actions_are_refused_and_change_nothing():
    e = make(nodes=3)
    refuses(e, "no n5", type="crash", node="n5")
    leader = run_until_leader(e)
    refuses(e, "leader has no election timeout", type="timeout", node=leader)
    refuses(e, "running", type="restart", node="n2")
    refuses(e, "not partitioned", type="heal")
    refuses(e, "two different servers", type="drop", src="n1", dst="n1")
    refuses(e, "at least two groups", type="partition", groups=[["n1", "n2", "n3"]])
    refuses(e, "two groups", type="partition", groups=[["n1"], ["n1", "n2"]])
    act(e, type="partition", groups=[["n1"]])
    refuses(e, "at least two groups", type="partition", groups=[["n1", "n2", "n3"]])  # leaves the cut in place
    assert e.net.partitioned
    act(e, type="heal")
    act(e, type="crash", node="n2")
    refuses(e, "already down", type="crash", node="n2")
    refuses(e, "down", type="client_request", node="n2", key="x", value=1)
    refuses(e, "no timers", type="timeout", node="n2")


def test_partition_heal_drop_delay_and_loss_act_on_the_network():
    e = make()
    leader = run_until_leader(e)
    act(e, type="partition", groups=[[leader]])
    f = e.step()
    net = next(x for x in f.entities if x.kind == "network").state
    assert len(net["groups"]) == 2 and [leader] in net["groups"] and len(net["cut"]) == 4
    run_until(e, lambda e: e.leader() is not None and e.leader().id != leader)  # the majority elects
    assert e.nodes[leader].role == "leader"  # the isolated old leader does not know yet
    act(e, type="heal")
    run_until(e, lambda e: e.nodes[leader].role == "follower")
    act(e, type="set_loss", a="n1", b="n2", loss=0.25)
    f = e.step()
    assert next(x for x in f.entities if x.kind == "network").state["loss"] == {"n1-n2": 0.25}
    new = e.leader().id
    peer = next(i for i in e.ids if i != new)
    act(e, type="drop", src=new, dst=peer)
    act(e, type="delay", src=peer, dst=new, ms=300)
    f = e.step()
    run_until(e, lambda e: any(m.src == new and m.dst == peer for m in sent(e)))
    first = next(m for m in sent(e) if m.src == new and m.dst == peer)
    assert first.lost and first.lost_by == "learner"
    f = e.step()
    assert any(x.state["fate"] == "will_drop" for x in f.entities if x.id == f"m{first.id}") or first.id not in e.net.in_flight
    run_until(e, lambda e: any(m.src == peer and m.dst == new for m in sent(e)))
    reply = next(m for m in sent(e) if m.src == peer and m.dst == new)
    assert reply.delayed_ms == 300 and reply.deliver_at - reply.sent_at >= 300


def test_message_entities_carry_their_rpc_fields_and_fate():
    e = make()
    e.step()
    act(e, type="drop", src=e.net.in_flight[1].src, dst=e.net.in_flight[1].dst)
    f = e.step()
    msgs = [x for x in f.entities if x.kind == "message"]
    assert msgs and all(m.state["type"] == "RequestVote" for m in msgs)
    assert [m.state["fate"] for m in msgs].count("will_drop") == 1
    m = msgs[0].state
    assert m["last_log_index"] == 0 and m["prev_log_index"] is None and m["entries"] is None
    assert m["deliver_at"] > m["sent_at"]


# --------------------------------------------------------------------------- Figure 7


def test_figure7_logs_are_the_papers():
    """Figure 7: the leader for term 8 has 1 1 1 4 4 5 5 6 6 6; followers (a) to (f)."""
    assert FIGURE7_LEADER == (1, 1, 1, 4, 4, 5, 5, 6, 6, 6)
    assert FIGURE7_FOLLOWERS == {
        "a": (1, 1, 1, 4, 4, 5, 5, 6, 6),
        "b": (1, 1, 1, 4),
        "c": (1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6),
        "d": (1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7),
        "e": (1, 1, 1, 4, 4, 4, 4),
        "f": (1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3),
    }
    e = make(scenario="figure7", nodes=7)
    assert terms(e, "n1") == FIGURE7_LEADER
    assert [terms(e, i) for i in e.ids[1:]] == list(FIGURE7_FOLLOWERS.values())


def test_figure7_one_leader_repairs_every_follower_and_c_keeps_its_extra_entry_until_a_conflict():
    """§5.3: n1 wins term 8 ((c) and (d) refuse: more up-to-date logs), decrements nextIndex per
    follower until the logs match and overwrites what conflicts. Follower (c)'s extra entry 11
    survives heartbeats (no conflict) until the leader's own entry 11 arrives."""
    e = make(scenario="figure7", nodes=7)
    run_until(e, lambda e: e.nodes["n1"].role == "leader")
    l = e.nodes["n1"]
    assert l.term == 8 and len(l.votes) == 4 and set(l.votes) <= {"n1", "n2", "n3", "n6", "n7"}  # (c), (d) refuse
    run_until(e, lambda e: e.nodes["n4"].leader_hint == "n1")  # (c) accepted a heartbeat
    assert terms(e, "n4") == FIGURE7_FOLLOWERS["c"]
    for _ in range(60):
        e.step()
    assert terms(e, "n4") == FIGURE7_FOLLOWERS["c"]  # still there after more heartbeats
    act(e, type="client_request", node="n1", key="k", value=8)
    frames = run_until(e, lambda e: not e._logs_differ() and e.nodes["n1"].commit_index == 11)
    assert all(terms(e, i) == FIGURE7_LEADER + (8,) for i in e.ids)
    assert any("n4 deletes entry 11, which conflicts with n1's log" in f.narration for f in frames)
    assert any("n5 deletes entries 11-12" in f.narration for f in frames)  # follower (d)
    assert any("inconsistencies of Figure 7 are repaired" in f.narration for f in frames)
    run_until(e, lambda e: all(n.last_applied == 11 for n in e.nodes.values()))
    assert {n.state["k"] for n in e.nodes.values()} == {8}
    assert all(v == "ok" for k, v in e.step().metrics.items() if k in MONITOR_NAMES)


# --------------------------------------------------------------------------- Figure 8 and the presets


def preset(slug):
    return next(p for p in Engine.presets if p.slug == slug)


def panels(frames):
    out = []
    for f in frames:
        m = re.search(r"Figure 8 (\(\w+\))", f.narration)
        if m:
            out.append(m.group(1))
    return out


def test_figure8_step_by_step_reaches_each_panel_and_never_commits_index_2_by_counting():
    """Figure 8 (a)-(d1): in (c) index 2 (term 2) is on a majority, yet not committed; in (d1)
    S5 overwrites it, which is safe because it never was committed."""
    e, frames = replay_preset(preset("figure-8"))
    assert panels(frames) == ["(a)", "(b)", "(c)", "(d1)"]
    c = next(f for f in frames if "Figure 8 (c)" in f.narration)
    leader = _node(c, "n1")
    assert leader["role"] == "leader" and leader["term"] == 4 and leader["commit_index"] == 0
    assert any("Entry 2 is now stored on a majority, but it is from term 2, not n1's current term 4" in f.narration
               for f in frames)
    d1 = next(f for f in frames if "Figure 8 (d1)" in f.narration)
    assert _node(d1, "n5")["role"] == "leader" and _node(d1, "n5")["term"] == 5
    assert all(_node(f, "n1")["commit_index"] < 2 for f in frames[: frames.index(d1)])
    assert not e.mon.violations and e.mon.applied.get(2) == ((3, "set x = 3"), e.mon.applied[2][1])


def test_figure8_other_future_commits_index_2_and_3_and_s5_cannot_win():
    e, frames = replay_preset(preset("figure-8-e"), extra=200)
    assert panels(frames) == ["(a)", "(b)", "(c)", "(d2)"]
    assert e.mon.applied[2][0] == (2, "set x = 2") and e.mon.applied[3][0] == (4, "set x = 4")
    assert 5 not in e.mon.leaders or e.mon.leaders.get(5) != "n5"
    assert all(leader != "n5" for term, leader in e.mon.leaders.items() if term > 4)
    for voter in ("n2", "n3"):
        assert any(f"{voter} refuses to vote for n5: its own log is more up-to-date" in f.narration for f in frames)
    assert e.mon.leaders[7] == "n3" and not e.mon.violations
    assert all(n.state == {"x": 7} and terms(e, n.id) == (1, 2, 4, 7) for n in e.nodes.values() if n.id != "n1")
    assert [e.mon.applied[i][0][1] for i in (1, 2, 3, 4)] == ["set x = 1", "set x = 2", "set x = 4", "set x = 7"]


def test_figure8_with_the_commit_check_off_breaks_state_machine_safety():
    """Without "log[N].term == currentTerm", (c) commits index 2 by counting replicas and (d1)
    overwrites it: Leader Completeness and State Machine Safety fire, in plain words."""
    e, frames = replay_preset(preset("figure-8-broken"))
    assert panels(frames) == ["(a)", "(b)", "(c)", "(d1)"]
    fired = {k: next(f for f in frames if f.metrics[k] == "violated") for k in ("leader_completeness", "state_machine_safety")}
    assert "n5, leader for term 5, does not have it" in fired["leader_completeness"].narration
    assert "n1 applied set x = 2 there" in fired["state_machine_safety"].narration
    assert frames[-1].metrics["election_safety"] == frames[-1].metrics["log_matching"] == "ok"


def test_the_up_to_date_check_off_lets_a_stale_server_lead():
    e, frames = replay_preset(preset("stale-leader"))
    assert e.mon.leaders[2] == "n4" and "leader_completeness" in e.mon.violations
    assert any("even though its own log is more up-to-date" in f.narration for f in frames)


@pytest.mark.parametrize("slug, leaders, state", [
    ("first-election", {1: "n1"}, {}),
    ("leader-crash", {1: "n1", 2: "n5"}, {"x": 2}),
    ("split-vote", {2: "n5"}, {}),
    ("partition", {1: "n1", 2: "n5"}, {"x": 3}),
    ("replication", {1: "n3"}, {"x": 4, "y": 7}),
    ("etcd", {1: "n2"}, {"replicas": 5}),
    ("consul", {1: "n1", 2: "n3"}, {"web": 3}),
    ("zookeeper", {1: "n5", 2: "n3"}, {"config": 2, "lock": 1}),
    ("replicated-database", {1: "n2", 2: "n3"}, {"balance": 95}),
])
def test_presets_do_what_their_descriptions_say(slug, leaders, state):
    p = preset(slug)
    e, frames = replay_preset(p)
    assert e.mon.leaders == leaders
    assert all(n.state == state for n in e.nodes.values())
    assert not e.mon.violations
    assert check_frames(frames, e.majority) > 0


def test_first_election_happens_when_the_first_timer_expires():
    e, frames = replay_preset(preset("first-election"), extra=40)
    assert frames[1].narration.startswith("n1 heard from no leader for 170 ms")


def test_split_vote_preset_really_splits_term_1():
    e, frames = replay_preset(preset("split-vote"), extra=80)
    assert 1 not in e.mon.leaders
    refusals = [f for f in frames if re.search(r"refuses to vote for n\d: it already voted for n\d in term 1\.", f.narration)]
    assert len(refusals) == 20  # every server refuses every other: each voted for itself


def test_partition_preset_old_leader_cannot_commit_and_is_overwritten():
    e, frames = replay_preset(preset("partition"))
    during = [f for f in frames if "appends set x = 2" in f.narration]
    healed = next(i for i, f in enumerate(frames) if "healed the partition" in f.narration)
    assert during and all(_node(f, "n1")["commit_index"] <= 1 for f in frames[:healed])
    assert not any(e.mon.applied[i][0][1] == "set x = 2" for i in e.mon.applied)
    assert any("n1 was leader for term 1 but sees term 2" in f.narration for f in frames)


def test_every_preset_names_what_to_watch_and_validates():
    slugs = [p.slug for p in Engine.presets]
    assert len(slugs) == len(set(slugs)) >= 14
    for p in Engine.presets:
        assert len(p.description) > 120
        Engine.parse_params(p.params)
        for _, action in p.actions:
            Engine.parse_action(action)
    assert "Zab" in preset("zookeeper").description and "does not run Raft" in preset("zookeeper").description


def test_every_preset_narration_is_true_of_its_frames():
    for p in Engine.presets:
        e, frames = replay_preset(p, extra=100)
        check_frames(frames, e.majority)


# --------------------------------------------------------------------------- determinism and snapshots


def test_same_seed_and_actions_give_identical_frames():
    def run(seed):
        e = make(seed)
        frames = []
        for k in range(300):
            if k == 40:
                act(e, type="client_request", node=e.leader().id if e.leader() else "n1", key="x", value=1)
            frames.append(e.step().to_dict())
        return frames

    assert run(3) == run(3)
    assert run(3) != run(4)


@pytest.mark.parametrize("slug", ["figure-8-broken", "figure-7", "partition"])
def test_a_deepcopy_mid_run_continues_with_identical_frames(slug):
    p = preset(slug)
    e = Engine(Engine.parse_params(p.params), random.Random(p.seed))
    e.reset()
    schedule: dict[int, list] = {}
    for step, action in p.actions:
        schedule.setdefault(step, []).append(action)
    for k in range(1, 120):
        e.step()
        for a in schedule.get(k, ()):
            e.apply(Engine.parse_action(a))
    twin = copy.deepcopy(e)
    snap = e.snapshot()
    ahead = []
    for k in range(120, 320):
        ahead.append(e.step().to_dict())
        for a in schedule.get(k, ()):
            e.apply(Engine.parse_action(a))
    for copy_ in (twin, snap):
        again = []
        for k in range(120, 320):
            again.append(copy_.step().to_dict())
            for a in schedule.get(k, ()):
                copy_.apply(Engine.parse_action(a))
        assert again == ahead


def test_awaiting_input_when_every_server_is_down():
    e = make(nodes=3)
    for i in e.ids:
        act(e, type="crash", node=i)
    e.step()
    run_until(e, lambda e: not e.net.in_flight)
    assert e.awaiting_input and not e.done
    f = e.step()
    assert "Every server is down" in f.narration
    act(e, type="restart", node="n1")
    assert not e.awaiting_input


@pytest.mark.parametrize("slug", ["figure-7", "figure-8-broken", "leader-crash"])
def test_cached_entities_equal_entities_built_afresh(slug):
    """Frames reuse the entities of servers and messages that did not change: at every step
    they equal what a fresh build from the state gives (a deep copy drops the caches)."""
    p = preset(slug)
    e = Engine(Engine.parse_params(p.params), random.Random(p.seed))
    e.reset()
    schedule: dict[int, list] = {}
    for step, action in p.actions:
        schedule.setdefault(step, []).append(action)
    for k in range(1, 260):
        f = e.step()
        fresh = copy.deepcopy(e)._frame(f.narration, list(f.events))
        assert [(x.id, x.kind, dict(x.state)) for x in f.entities] == [(x.id, x.kind, dict(x.state)) for x in fresh.entities]
        for a in schedule.get(k, ()):
            e.apply(Engine.parse_action(a))
