"""Raft: leader election, log replication and the safety rules, on the timed kernel.

Follows Figure 2 of Ongaro & Ousterhout, "In Search of an Understandable Consensus
Algorithm (Extended Version)", rule by rule:

* Persistent state (currentTerm, votedFor, log[]) survives a crash; volatile state
  (commitIndex, lastApplied, the state machine, nextIndex[], matchIndex[]) does not: a
  restarted server is a follower with commitIndex = lastApplied = 0 and re-applies its
  log as it learns the commit index again.
* All servers: a term T > currentTerm in any RPC or reply sets currentTerm = T and
  makes the server a follower (§5.1); committed entries are applied in log order (§5.3).
* Followers: an election timeout (randomized, 150-300 ms as in §5.2, or RaftScope's
  100-200 ms) without AppendEntries from the current leader or granting a vote makes the
  server a candidate.
* Candidates: increment currentTerm, vote for self, reset the election timer, send
  RequestVote to all others; a majority of votes makes it leader; AppendEntries from a
  leader of its term makes it a follower; a timeout starts a new election.
* RequestVote receiver: reply false if term < currentTerm; grant if votedFor is null or
  the candidate, and the candidate's log is at least as up-to-date (§5.4.1: the later
  last term wins, equal last terms the longer log wins).
* AppendEntries receiver: reply false if term < currentTerm, or if the log has no entry
  at prevLogIndex with prevLogTerm; delete an existing entry that conflicts with a new one
  (same index, different term) and all that follow it, and only then; append the new
  entries not already there; commitIndex = min(leaderCommit, index of last new entry).
* Leaders: heartbeats on election and every `heartbeat_ms`; a client command is
  appended to the leader's log and sent to each follower from its nextIndex; success
  moves nextIndex/matchIndex, a consistency failure decrements nextIndex and retries
  (§5.3); commitIndex = N for the largest N with a majority of matchIndex >= N and
  log[N].term == currentTerm (§5.3, §5.4.2).

RequestVote is sent once per election (a lost one costs the candidate its timeout, and
it tries again); AppendEntries repeats with every heartbeat, so lost entries are resent.
Latency, loss, partitions and crashes come from the kernel's network.

Monitors for the five properties of Figure 3 run after every step, over the whole
history. A per-run `broken_rule` switches one rule off to show what it is for: without
the current-term commit check the Figure 8 run commits an entry that a later leader
overwrites; without the up-to-date vote check a stale server can win an election.

A client request sent to a server that is not the leader is refused with the leader it
last heard from, as §8 of the paper describes (the engine does not forward it).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any, Literal, TypedDict, Union

from pydantic import Field, model_validator

from simulations.engines.base import Action, Engine, Entity, Event, Frame, Params, Preset
from simulations.engines.faults import fault_actions, groups_words
from simulations.engines.kernel import Network, Scheduler, link_key
from simulations.engines.kernel.network import CUT, DOWN, LOST

NodeId = Literal["n1", "n2", "n3", "n4", "n5", "n6", "n7"]
ELECTION_TIMEOUTS: dict[str, tuple[float, float]] = {"paper": (150.0, 300.0), "raftscope": (100.0, 200.0)}
MONITORS = ("election_safety", "leader_append_only", "log_matching", "leader_completeness", "state_machine_safety")
MONITOR_NAMES = {
    "election_safety": "Election Safety",
    "leader_append_only": "Leader Append-Only",
    "log_matching": "Log Matching",
    "leader_completeness": "Leader Completeness",
    "state_machine_safety": "State Machine Safety",
}

#: Figure 7: the leader for term 8 (top) and the possible followers (a) to (f), as terms.
FIGURE7_LEADER = (1, 1, 1, 4, 4, 5, 5, 6, 6, 6)
FIGURE7_FOLLOWERS = {
    "a": (1, 1, 1, 4, 4, 5, 5, 6, 6),
    "b": (1, 1, 1, 4),
    "c": (1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6),
    "d": (1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7),
    "e": (1, 1, 1, 4, 4, 4, 4),
    "f": (1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3),
}
#: Figure 8: S1..S5's log terms in each panel. (d1) and (d2) are the two futures after (c)
#: (the caption's "(d)" and "(e)"): S1 crashes with index 2 uncommitted, or first
#: replicates its term-4 entry to a majority.
FIGURE8_PANELS: dict[str, tuple[tuple[int, ...], ...]] = {
    "(a)": ((1, 2), (1, 2), (1,), (1,), (1,)),
    "(b)": ((1, 2), (1, 2), (1,), (1,), (1, 3)),
    "(c)": ((1, 2, 4), (1, 2), (1, 2), (1,), (1, 3)),
    "(d1)": ((1, 2, 4), (1, 3), (1, 3), (1, 3), (1, 3)),
    "(d2)": ((1, 2, 4), (1, 2, 4), (1, 2, 4), (1,), (1, 3)),
}


# --------------------------------------------------------------------------
# Params and actions
# --------------------------------------------------------------------------


class RaftParams(Params):
    nodes: int = Field(5, ge=3, le=7, title="Servers", description="How many servers form the cluster (n1 to nN).")
    election_timeout: Literal["paper", "raftscope"] = Field(
        "paper",
        title="Election timeout",
        description=(
            "paper: each timeout is drawn from 150-300 ms, the range §5.2 of the Raft paper gives; "
            "raftscope: 100-200 ms, as in the RaftScope visualisation."
        ),
    )
    heartbeat_ms: int = Field(
        50, ge=10, le=90, title="Heartbeat interval (ms)",
        description="How often a leader sends AppendEntries to every follower (below the shortest election timeout).",
    )
    latency_min_ms: int = Field(10, ge=1, le=50, title="Least latency (ms)", description="Shortest one-way message delay.")
    latency_max_ms: int = Field(20, ge=1, le=50, title="Most latency (ms)", description="Longest one-way message delay.")
    loss: float = Field(
        0.0, ge=0.0, le=0.5, title="Message loss", description="Chance that any message is lost on its link."
    )
    scenario: Literal["fresh", "figure7", "figure8"] = Field(
        "fresh",
        title="Starting logs",
        description=(
            "fresh: empty logs, term 0. figure7: 7 servers, n1 holds the term-8 leader's log of Figure 7 and "
            "n2..n7 the follower logs (a) to (f); n1's timer fires first. figure8: 5 servers whose logs hold one "
            "term-1 entry, n1's timer first, for scripting Figure 8."
        ),
    )
    broken_rule: Literal["none", "commit_current_term", "vote_up_to_date"] = Field(
        "none",
        title="Break a rule",
        description=(
            "none: Raft as in Figure 2. commit_current_term: a leader commits any entry stored on a majority, "
            "even from an older term (Figure 8 shows why that is unsafe). vote_up_to_date: voters skip the "
            "§5.4.1 check that the candidate's log is at least as up-to-date as theirs."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> RaftParams:
        if self.latency_min_ms > self.latency_max_ms:
            raise ValueError("the least latency must not exceed the most latency")
        if self.scenario == "figure7" and self.nodes != 7:
            raise ValueError("the figure7 scenario needs 7 servers: the leader and followers (a) to (f)")
        if self.scenario == "figure8" and self.nodes != 5:
            raise ValueError("the figure8 scenario needs 5 servers, S1 to S5 of the figure")
        return self


class ClientRequest(Action):
    """A client sends `set <key> = <value>` to one server."""

    type: Literal["client_request"] = "client_request"
    node: NodeId = Field(title="Server", description="The server the client sends the command to.")
    key: str = Field("x", pattern=r"^[a-z][a-z0-9_]{0,7}$", title="Key", description="A short lower-case name.")
    value: int = Field(1, ge=-999, le=999, title="Value")


Crash, Restart, DropNext, DelayNext, Partition, Heal = fault_actions(
    NodeId, __name__, noun="Server", max_nodes=7,
    crash_doc="Crash a server: it keeps its term, vote and log (stable storage) and loses the rest.",
    groups_example='[["n1", "n2"], ["n3", "n4", "n5"]]',
)


class ForceTimeout(Action):
    """Make a follower's or candidate's election timeout expire now."""

    type: Literal["timeout"] = "timeout"
    node: NodeId = Field(title="Server")


class SetLoss(Action):
    """Set the chance that a message on the link between two servers is lost."""

    type: Literal["set_loss"] = "set_loss"
    a: NodeId = Field(title="Server")
    b: NodeId = Field(title="Other server")
    loss: float = Field(0.5, ge=0.0, le=1.0, title="Loss")


RaftAction = Annotated[
    Union[ClientRequest, Crash, Restart, ForceTimeout, Partition, Heal, DropNext, DelayNext, SetLoss],
    Field(discriminator="type"),
]


# --------------------------------------------------------------------------
# Entity kinds (the stage contract: .coord/raft-shape.md)
# --------------------------------------------------------------------------


class LogEntryState(TypedDict):
    term: int
    command: str


class TimerState(TypedDict):
    kind: Literal["election", "heartbeat"]
    start: float
    deadline: float


class RaftNodeState(TypedDict):
    role: Literal["follower", "candidate", "leader", "crashed"]
    term: int
    voted_for: str | None
    log: list[LogEntryState]
    commit_index: int
    last_applied: int
    state: dict[str, int | str]
    next_index: dict[str, int] | None
    match_index: dict[str, int] | None
    votes: list[str]
    timer: TimerState | None


class RaftMessageState(TypedDict):
    type: Literal["RequestVote", "RequestVoteReply", "AppendEntries", "AppendEntriesReply"]
    src: str
    dst: str
    term: int
    sent_at: float
    deliver_at: float
    last_log_index: int | None
    last_log_term: int | None
    vote_granted: bool | None
    prev_log_index: int | None
    prev_log_term: int | None
    entries: list[LogEntryState] | None
    leader_commit: int | None
    success: bool | None
    match_index: int | None
    fate: Literal["in_flight", "will_drop"]


class RaftNetworkState(TypedDict):
    groups: list[list[str]]
    loss: dict[str, float]
    cut: list[str]


# --------------------------------------------------------------------------
# State (plain data)
# --------------------------------------------------------------------------

Entry = tuple[int, str]  # (term, command)


@dataclass(slots=True)
class Node:
    id: str
    # Persistent state on all servers (Figure 2).
    term: int = 0
    voted_for: str | None = None
    log: list[Entry] = field(default_factory=list)
    # Volatile state.
    role: str = "follower"  # follower | candidate | leader | crashed
    commit_index: int = 0
    last_applied: int = 0
    state: dict[str, int] = field(default_factory=dict)
    next_index: dict[str, int] | None = None
    match_index: dict[str, int] | None = None
    votes: list[str] = field(default_factory=list)
    leader_hint: str | None = None  # the leader it last heard from in its current term

    @property
    def last_index(self) -> int:
        return len(self.log)

    @property
    def last_term(self) -> int:
        return self.log[-1][0] if self.log else 0

    def term_at(self, index: int) -> int:
        return self.log[index - 1][0] if 0 < index <= len(self.log) else 0


@dataclass(slots=True)
class Monitors:
    """Figure 3's properties, checked over the whole history."""

    leaders: dict[int, str] = field(default_factory=dict)  # term -> the server elected leader in it
    leader_logs: dict[str, tuple[int, tuple[Entry, ...]]] = field(default_factory=dict)  # leader -> (term, its log)
    committed: dict[int, tuple[Entry, int]] = field(default_factory=dict)  # index -> (entry, term it was committed in)
    applied: dict[int, tuple[Entry, str]] = field(default_factory=dict)  # index -> (entry, first server to apply it)
    violations: dict[str, str] = field(default_factory=dict)  # monitor -> what broke it first


@lru_cache(maxsize=8192)
def _entry_state(entry: Entry) -> LogEntryState:
    # Shared between frames: entries never change, and frames are read-only.
    return {"term": entry[0], "command": entry[1]}


@lru_cache(maxsize=8192)
def _parse(command: str) -> tuple[str, int]:
    key, value = command[4:].split(" = ")
    return key, int(value)


def _span(a: int, b: int) -> str:
    return f"entry {a}" if a == b else f"entries {a}-{b}"


def _names(nodes: list[str]) -> str:
    if len(nodes) <= 1:
        return "".join(nodes)
    return ", ".join(nodes[:-1]) + " and " + nodes[-1]


def _state_words(state: dict[str, int]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in state.items()) if state else "nothing set"


# --------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------


class RaftEngine(Engine):
    slug = "raft"
    topic_slug = "consensus-algorithms"
    title = "Raft: leader election and log replication"
    description = (
        "Three to seven servers elect a leader with randomized timeouts and replicate a key-value log, "
        "exactly by Figure 2 of the Raft paper. Crash and restart servers, partition the network, drop or "
        "delay messages, and watch the five safety properties of Figure 3 hold, or break when you switch "
        "a rule off."
    )
    lead = (
        "Press Play: the servers elect a leader, then the leader copies its log to the others. "
        "Then crash the leader and watch a new one take over."
    )
    Params = RaftParams
    Action = RaftAction
    time_unit = "ms"
    wall_seconds_per_time_unit = 0.01  # at 1x, a second of wall time per 100 ms of virtual time
    max_steps = 2000
    entity_kinds = {"node": RaftNodeState, "message": RaftMessageState, "network": RaftNetworkState}
    metrics = {
        "time_ms": "Virtual time in milliseconds.",
        "leader": "The live leader with the highest term, or none.",
        "term": "The highest current term of any live server.",
        "commit_index": "The leader's commit index (the highest of any server's when there is no leader).",
        "election_safety": "At most one leader is elected in a term (Figure 3): ok or violated, over the run.",
        "leader_append_only": "A leader never overwrites or deletes entries in its log, only appends.",
        "log_matching": "Two logs with an entry of the same index and term are identical up to that index.",
        "leader_completeness": "An entry committed in a term is in the log of every leader of a later term.",
        "state_machine_safety": "No two servers apply different commands at the same log index.",
    }
    presets = ()  # filled in below the class

    # -- set-up -------------------------------------------------------------

    @classmethod
    def action_choices(cls, params: Params) -> Mapping[str, tuple[Any, ...]]:
        """Only the servers this run has (n1 to nN) in the actions' server fields."""
        nodes = tuple(f"n{i}" for i in range(1, params.nodes + 1))  # type: ignore[attr-defined]
        return {name: nodes for name in ("node", "src", "dst", "a", "b")}

    def reset(self) -> Frame:
        p: RaftParams = self.params  # type: ignore[assignment]
        self.ids = [f"n{i}" for i in range(1, p.nodes + 1)]
        self.majority = p.nodes // 2 + 1
        self.timeout_range = ELECTION_TIMEOUTS[p.election_timeout]
        self.sched = Scheduler()
        self.net = Network(list(self.ids), latency=(float(p.latency_min_ms), float(p.latency_max_ms)), loss=p.loss)
        self.nodes: dict[str, Node] = {i: Node(i) for i in self.ids}
        self.mon = Monitors()
        self.index = 0
        self._pending: list[tuple[str, str]] = []  # narration of actions applied since the last step
        self._pending_events: list[Event] = []
        self._dirty_logs: set[str] = set()
        self._new_violations: list[str] = []
        self._panel: str | None = None  # the Figure 8 panel last announced
        self._logs_differed = False
        # Frame caches: an entity is rebuilt only when its node (or message, or the network) changed.
        self._node_entities: dict[str, Entity] = {}
        self._dirty: set[str] = set(self.ids)
        self._msg_entities: dict[int, tuple[str, float, Entity]] = {}
        #: A message's fate (arrives or not) changes only through an action (crash, restart,
        #: partition, heal, drop, delay): until one, frames reuse the messages' entities.
        self._fates_stale = False
        self._net_entity: Entity | None = None
        self._log_states: dict[str, list[LogEntryState]] = {}
        #: node -> the first log index (1-based) that changed since its log was last drawn
        self._log_changed: dict[str, int] = dict.fromkeys(self.ids, 1)

        intro = self._setup_scenario(p.scenario)
        for node_id in self.ids:
            first = None
            if p.scenario in ("figure7", "figure8") and node_id == "n1":
                first = 5.0  # n1's timer fires first: the leader "at the top comes to power"
            self._arm_election(self.nodes[node_id], first)
        self._logs_differed = self._logs_differ()
        return self._frame(intro, [])

    def _setup_scenario(self, scenario: str) -> str:
        nodes = self.nodes
        if scenario == "figure7":
            # Commands are named by index and carry the term: entries that agree in index
            # and term hold the same command (the Log Matching Property).
            def log_of(terms: tuple[int, ...]) -> list[Entry]:
                return [(t, f"set {'abcdefghijkl'[i]} = {t}") for i, t in enumerate(terms)]

            nodes["n1"].log = log_of(FIGURE7_LEADER)
            for node_id, terms in zip(self.ids[1:], FIGURE7_FOLLOWERS.values()):
                nodes[node_id].log = log_of(terms)
            for node in nodes.values():
                node.term = 7
            return (
                "Figure 7 of the Raft paper: n1 holds the log that the leader for term 8 has; n2 to n7 hold the "
                "follower logs (a) to (f). All are in term 7, and n1's election timer fires first."
            )
        if scenario == "figure8":
            for node in nodes.values():
                node.log = [(1, "set x = 1")]
                node.term = 1
            return (
                "Figure 8 of the Raft paper starts here: S1 to S5 (n1 to n5) each hold one entry from term 1. "
                "n1's election timer fires first."
            )
        return (
            f"{len(self.ids)} servers start as followers in term 0 with empty logs; each waits a random election "
            f"timeout of {self.timeout_range[0]:.0f}-{self.timeout_range[1]:.0f} ms for a leader."
        )

    # -- the contract ------------------------------------------------------------

    @property
    def done(self) -> bool:
        return False  # Raft never finishes; the app bounds a run by max_steps

    @property
    def awaiting_input(self) -> bool:
        """Every server is down and nothing is in flight: only an action can move the run."""
        return not self._pending and self.sched.peek_time() is None

    def step(self) -> Frame:
        if self._pending:
            if len(self._pending) == 1:
                narration = self._pending[0][0]
            else:
                text = "; ".join(short for _, short in self._pending)
                narration = f"At this moment {text}."
            events = self._pending_events
            self._pending, self._pending_events = [], []
            return self._finish(narration, events)
        occ = self.sched.pop()
        if occ is None:
            return self._finish("Every server is down and no message is in flight: restart a server to go on.", [])
        events: list[Event] = []
        if occ.kind == "timer":
            node = self.nodes[occ.timer.owner]  # type: ignore[union-attr]
            if occ.timer.kind == "election":  # type: ignore[union-attr]
                narration = self._election_timeout(node, occ.time - occ.timer.start, events)  # type: ignore[union-attr]
            else:
                narration = self._heartbeat(node, events)
        else:
            msg, outcome = self.net.receive(occ.ref)  # type: ignore[arg-type]
            self._msg_entities.pop(msg.id, None)
            if outcome != "delivered":
                narration = self._lost(msg, outcome, events)
            else:
                narration = getattr(self, "_on_" + msg.type)(self.nodes[msg.dst], msg.src, msg.payload, events)
        return self._finish(narration, events)

    def _finish(self, narration: str, events: list[Event]) -> Frame:
        extra = self._check_monitors(events)
        if extra:
            narration = f"{narration} {extra}"
        self.index += 1
        return self._frame(narration, events)

    # -- timers -------------------------------------------------------------------

    def _arm_election(self, node: Node, delay: float | None = None) -> None:
        lo, hi = self.timeout_range
        if delay is None:
            delay = round(lo + (hi - lo) * self.rng.random(), 1)
        self.sched.set_timer("election:" + node.id, delay, owner=node.id, kind="election", priority=1)
        self._dirty.add(node.id)

    def _election_timeout(self, node: Node, waited: float, events: list[Event]) -> str:
        was = node.role
        old_term = node.term
        self._start_election(node, events)
        if was == "candidate":
            return (
                f"{node.id}'s election for term {old_term} won no majority within {waited:.0f} ms, so it starts an "
                f"election for term {node.term}, with a new random timeout."
            )
        return (
            f"{node.id} heard from no leader for {waited:.0f} ms, its election timeout, so it starts an election "
            f"for term {node.term}: it votes for itself and asks the others for their votes."
        )

    def _start_election(self, node: Node, events: list[Event]) -> None:
        node.term += 1
        node.role = "candidate"
        node.voted_for = node.id
        node.votes = [node.id]
        node.leader_hint = None
        node.next_index = node.match_index = None
        self._arm_election(node)
        payload = {"term": node.term, "last_log_index": node.last_index, "last_log_term": node.last_term}
        for peer in self.ids:
            if peer != node.id:
                self._send(node.id, peer, "RequestVote", dict(payload))
        events.append(Event("election", f"{node.id} starts an election for term {node.term}.", actor=node.id, severity="warn"))

    def _heartbeat(self, leader: Node, events: list[Event]) -> str:
        carrying = self._broadcast_append(leader)
        self.sched.set_timer("heartbeat:" + leader.id, float(self.params.heartbeat_ms), owner=leader.id,
                             kind="heartbeat", priority=1)
        self._dirty.add(leader.id)
        events.append(Event("heartbeat", f"{leader.id} sends heartbeats for term {leader.term}.", actor=leader.id))
        text = (
            f"{leader.id}, leader for term {leader.term}, sends AppendEntries to every follower: a heartbeat "
            "that resets each one's election timer when it arrives"
        )
        if carrying:
            text += f", carrying the entries that {_names(carrying)} still {'lacks' if len(carrying) == 1 else 'lack'}"
        return text + "."

    # -- sending --------------------------------------------------------------------

    def _send(self, src: str, dst: str, type: str, payload: dict[str, Any]) -> None:
        self.net.send(self.sched, self.rng, src, dst, type, payload)

    def _send_append(self, leader: Node, peer: str) -> bool:
        """AppendEntries to `peer` with every entry from its nextIndex; True when it carries entries."""
        nxt = leader.next_index[peer]  # type: ignore[index]
        prev = nxt - 1
        entries = leader.log[prev:]
        self._send(leader.id, peer, "AppendEntries", {
            "term": leader.term, "prev_log_index": prev, "prev_log_term": leader.term_at(prev),
            "entries": entries, "leader_commit": leader.commit_index,
        })
        return bool(entries)

    def _broadcast_append(self, leader: Node) -> list[str]:
        return [peer for peer in self.ids if peer != leader.id and self._send_append(leader, peer)]

    # -- term rule (all servers) ---------------------------------------------------

    def _see_term(self, node: Node, term: int) -> str:
        """If an RPC or reply carries a term newer than currentTerm: adopt it and become a
        follower (§5.1). Returns a sentence when that happened."""
        if term <= node.term:
            return ""
        old_term, was = node.term, node.role
        node.term = term
        node.voted_for = None
        node.leader_hint = None
        node.votes = []
        node.next_index = node.match_index = None
        node.role = "follower"
        self._dirty.add(node.id)
        if was == "leader":
            self.sched.cancel_timer("heartbeat:" + node.id)
            self._arm_election(node)
            return f"{node.id} was leader for term {old_term} but sees term {term}, so it steps down to follower."
        if was == "candidate":
            return f"{node.id} sees term {term}, newer than its election's term {old_term}, so it becomes a follower."
        return f"{node.id} moves from term {old_term} to term {term}."

    # -- RequestVote --------------------------------------------------------------

    def _up_to_date(self, node: Node, last_term: int, last_index: int) -> bool:
        """§5.4.1: the candidate's log is at least as up-to-date as `node`'s."""
        return last_term > node.last_term or (last_term == node.last_term and last_index >= node.last_index)

    def _on_RequestVote(self, node: Node, cand: str, m: dict[str, Any], events: list[Event]) -> str:
        before = self._see_term(node, m["term"])
        term = node.term
        granted = False
        broken_note = ""
        if m["term"] < term:
            why = f"{cand}'s term {m['term']} is older than its own term {term}"
        elif node.voted_for not in (None, cand):
            why = f"it already voted for {node.voted_for} in term {term}"
        elif not self._up_to_date(node, m["last_log_term"], m["last_log_index"]) and \
                self.params.broken_rule != "vote_up_to_date":
            why = (
                f"its own log is more up-to-date (last entry index {node.last_index}, term {node.last_term}; "
                f"{cand}'s is index {m['last_log_index']}, term {m['last_log_term']})"
            )
        else:
            granted = True
            if not self._up_to_date(node, m["last_log_term"], m["last_log_index"]):
                broken_note = ", even though its own log is more up-to-date: the up-to-date check is switched off"
        if granted:
            node.voted_for = cand
            self._arm_election(node)
        self._send(node.id, cand, "RequestVoteReply", {"term": term, "vote_granted": granted})
        self._dirty.add(node.id)
        if granted:
            events.append(Event("vote", f"{node.id} votes for {cand} in term {term}.", actor=node.id))
            text = f"{node.id} grants its vote to {cand} for term {term}{broken_note or ' and resets its election timer'}."
        else:
            events.append(Event("vote", f"{node.id} refuses {cand} a vote in term {term}.", actor=node.id))
            text = f"{node.id} refuses to vote for {cand}: {why}."
        return f"{before} {text}" if before else text

    def _on_RequestVoteReply(self, node: Node, voter: str, m: dict[str, Any], events: list[Event]) -> str:
        before = self._see_term(node, m["term"])
        if before:
            return f"{before} ({voter}'s reply to its vote request carried the newer term.)"
        if node.role == "leader" and m["term"] == node.term:
            return f"{voter}'s vote arrives after {node.id} has already won term {node.term}, so it changes nothing."
        if node.role != "candidate" or m["term"] != node.term:
            return (
                f"{node.id} ignores {voter}'s vote reply for term {m['term']}: it is no longer a candidate in that term."
            )
        if not m["vote_granted"]:
            return f"{voter} refused its vote to {node.id} for term {node.term}; {node.id} has {len(node.votes)} of the {self.majority} votes it needs."
        if voter not in node.votes:
            node.votes.append(voter)
            self._dirty.add(node.id)
        if len(node.votes) >= self.majority:
            self._become_leader(node, events)
            return (
                f"{voter}'s vote gives {node.id} {len(node.votes)} of {len(self.ids)} votes, a majority, so {node.id} "
                f"becomes leader for term {node.term} and sends heartbeats to every server."
            )
        return f"{node.id} now has {len(node.votes)} of the {self.majority} votes it needs for term {node.term}."

    def _become_leader(self, node: Node, events: list[Event]) -> None:
        node.role = "leader"
        node.leader_hint = node.id
        node.next_index = {p: node.last_index + 1 for p in self.ids if p != node.id}
        node.match_index = {p: 0 for p in self.ids if p != node.id}
        self.sched.cancel_timer("election:" + node.id)
        self._broadcast_append(node)
        self.sched.set_timer("heartbeat:" + node.id, float(self.params.heartbeat_ms), owner=node.id,
                             kind="heartbeat", priority=1)
        self._dirty.add(node.id)
        self._on_elected(node)
        events.append(Event("leader", f"{node.id} is leader for term {node.term}.", actor=node.id, severity="success"))

    # -- AppendEntries ------------------------------------------------------------

    def _on_AppendEntries(self, node: Node, leader: str, m: dict[str, Any], events: list[Event]) -> str:
        before = self._see_term(node, m["term"])
        term = node.term
        prev, prev_term, entries = m["prev_log_index"], m["prev_log_term"], m["entries"]

        def reply(success: bool, match: int | None) -> None:
            self._send(node.id, leader, "AppendEntriesReply",
                       {"term": term, "success": success, "match_index": match, "req_prev": prev})

        if m["term"] < term:
            reply(False, None)
            self._dirty.add(node.id)
            return (
                f"{node.id} rejects AppendEntries from {leader}: {leader}'s term {m['term']} is older than its own "
                f"term {term}, and the reply will tell {leader} so."
            )
        lead = ""
        if node.role == "candidate":
            node.role = "follower"
            node.votes = []
            lead = f"{node.id} recognises {leader} as leader for term {term} and gives up its own candidacy."
        elif node.role == "leader":  # two leaders in one term: only if Election Safety broke
            node.role = "follower"
            node.next_index = node.match_index = None
            self.sched.cancel_timer("heartbeat:" + node.id)
            lead = f"{node.id} hears from {leader}, another leader for term {term}, and becomes its follower."
        node.leader_hint = leader
        self._arm_election(node)
        self._dirty.add(node.id)
        intro = " ".join(s for s in (before, lead) if s)
        if prev > node.last_index or node.term_at(prev) != prev_term:
            reply(False, None)
            events.append(Event("reject", f"{node.id} rejects {leader}'s entries after index {prev}.", actor=node.id,
                                severity="warn"))
            if prev > node.last_index:
                why = (f"its log has only {node.last_index} {'entry' if node.last_index == 1 else 'entries'}, "
                       f"none at index {prev}")
            else:
                why = f"its entry at index {prev} has term {node.term_at(prev)}, not {prev_term}"
            text = f"{node.id} fails {leader}'s consistency check: {why} (§5.3)."
            return f"{intro} {text}" if intro else text
        # Rules 3 and 4: delete only on conflict, append what is new.
        deleted_from = deleted_to = 0
        appended = 0
        index = prev
        log = node.log
        first_change = 0
        for entry in entries:
            index += 1
            if index <= len(log):
                if log[index - 1][0] == entry[0]:
                    continue  # already there
                deleted_from, deleted_to = index, len(log)
                del log[index - 1:]
            log.append(entry)
            appended += 1
            first_change = first_change or index
        last_new = prev + len(entries)
        if appended or deleted_from:
            self._dirty_logs.add(node.id)
            self._log_changed[node.id] = min(self._log_changed.get(node.id, first_change), first_change)
        # Rule 5.
        committed = applied = None
        if m["leader_commit"] > node.commit_index:
            new_commit = min(m["leader_commit"], last_new)
            if new_commit > node.commit_index:
                node.commit_index = new_commit
                committed = new_commit
                applied = self._apply_committed(node)
        reply(True, last_new)
        parts = []
        if deleted_from:
            parts.append(
                f"{node.id} deletes {_span(deleted_from, deleted_to)}, which "
                f"{'conflicts' if deleted_from == deleted_to else 'conflict'} with {leader}'s log, and "
                f"appends {_span(deleted_from, last_new)} from {leader} (§5.3)."
            )
            events.append(Event("conflict", f"{node.id} deletes conflicting {_span(deleted_from, deleted_to)}.",
                                actor=node.id, severity="warn"))
        elif appended:
            parts.append(f"{node.id} appends {_span(last_new - appended + 1, last_new)} from {leader}.")
            events.append(Event("append", f"{node.id} appends {_span(last_new - appended + 1, last_new)}.", actor=node.id))
        elif entries:
            parts.append(f"{node.id} already holds {_span(prev + 1, last_new)} from {leader}, so its log is unchanged.")
        else:
            extra = ""
            if node.last_index > prev:
                one = node.last_index == prev + 1
                extra = (f"; its extra {_span(prev + 1, node.last_index)} {'stays' if one else 'stay'}, since no "
                         f"entry from {leader} conflicts with {'it' if one else 'them'} yet")
            parts.append(f"{node.id} accepts {leader}'s heartbeat for term {term} and resets its election timer{extra}.")
        if committed is not None:
            parts.append(
                f"It learns that entries up to {committed} are committed and applies them: {_state_words(node.state)}."
                if applied else f"It learns that entries up to {committed} are committed."
            )
        text = " ".join(parts)
        return f"{intro} {text}" if intro else text

    def _on_AppendEntriesReply(self, node: Node, peer: str, m: dict[str, Any], events: list[Event]) -> str:
        before = self._see_term(node, m["term"])
        if before:
            return f"{before} ({peer}'s reply to AppendEntries carried the newer term.)"
        if node.role != "leader" or m["term"] != node.term:
            return f"{node.id} ignores {peer}'s AppendEntries reply for term {m['term']}: it is not leading that term."
        nxt, match = node.next_index, node.match_index
        if not m["success"]:
            if nxt[peer] != m["req_prev"] + 1:  # type: ignore[index]
                return f"{node.id} ignores a stale rejection from {peer}: it has already moved nextIndex for {peer}."
            nxt[peer] = max(1, nxt[peer] - 1)  # type: ignore[index]
            self._send_append(node, peer)
            self._dirty.add(node.id)
            return (
                f"{peer}'s log did not match at index {m['req_prev']}, so {node.id} decrements nextIndex for {peer} "
                f"to {nxt[peer]} and retries AppendEntries from there (§5.3)."  # type: ignore[index]
            )
        before_match = match[peer]  # type: ignore[index]
        match[peer] = max(match[peer], m["match_index"])  # type: ignore[index]
        nxt[peer] = max(nxt[peer], m["match_index"] + 1)  # type: ignore[index]
        self._dirty.add(node.id)
        old = node.commit_index
        new = self._advance_commit(node)
        if new > old:
            self._apply_committed(node)
            holders = [node.id] + [p for p, i in match.items() if i >= new]  # type: ignore[union-attr]
            how = ""
            if node.term_at(new) != node.term:
                how = (f" by counting replicas of an entry from term {node.term_at(new)}, not its current term "
                       f"{node.term}: the current-term check is switched off")
            events.append(Event("commit", f"{node.id} commits up to index {new}.", actor=node.id, severity="success"))
            return (
                f"{peer} now holds entries up to {m['match_index']}, so {_span(new, new)} is on a majority "
                f"({_names(holders)}) and {node.id} commits up to index {new}{how}. It applies them: "
                f"{_state_words(node.state)}."
            )
        text = f"{peer} acknowledges: its log matches {node.id}'s up to index {m['match_index']}."
        waiting = self._majority_but_old_term(node)
        if waiting and before_match < waiting <= match[peer] and self._replicas(node, waiting) == self.majority:  # type: ignore[index]
            text += (
                f" Entry {waiting} is now stored on a majority, but it is from term {node.term_at(waiting)}, not "
                f"{node.id}'s current term {node.term}, so {node.id} does not commit it by counting replicas (§5.4.2)."
            )
        return text

    def _replicas(self, node: Node, index: int) -> int:
        return 1 + sum(1 for i in node.match_index.values() if i >= index)  # type: ignore[union-attr]

    def _advance_commit(self, node: Node) -> int:
        """The leader's rule: the largest N > commitIndex with a majority of matchIndex >= N
        and log[N].term == currentTerm (unless that check is switched off)."""
        check_term = self.params.broken_rule != "commit_current_term"
        for n in range(node.last_index, node.commit_index, -1):
            if check_term and node.log[n - 1][0] != node.term:
                if node.log[n - 1][0] < node.term:
                    break  # terms only grow along a log: no lower N is from the current term
                continue
            if self._replicas(node, n) >= self.majority:
                node.commit_index = n
                self._on_commit(node, n)
                break
        return node.commit_index

    def _majority_but_old_term(self, node: Node) -> int | None:
        for n in range(node.last_index, node.commit_index, -1):
            if node.log[n - 1][0] != node.term and self._replicas(node, n) >= self.majority:
                return n
        return None

    def _apply_committed(self, node: Node) -> list[int]:
        """If commitIndex > lastApplied: apply log[lastApplied + 1...] in order (§5.3)."""
        done = []
        while node.last_applied < node.commit_index:
            node.last_applied += 1
            entry = node.log[node.last_applied - 1]
            key, value = _parse(entry[1])
            node.state[key] = value
            self._on_apply(node, node.last_applied, entry)
            done.append(node.last_applied)
        if done:
            self._dirty.add(node.id)
        return done

    # -- lost messages ---------------------------------------------------------------

    def _lost(self, msg: Any, outcome: str, events: list[Event]) -> str:
        what = f"The {msg.type} from {msg.src} to {msg.dst}"
        if outcome == LOST:
            why = "was dropped, as you asked" if msg.lost_by == "learner" else "was lost on the link"
            text = f"{what} {why}; {msg.dst} never sees it."
        elif outcome == DOWN:
            text = f"{what} arrives while {msg.dst} is down, so it is lost."
        else:
            text = f"{what} cannot cross the partition between them, so it is lost."
        events.append(Event("lost", text, actor=msg.src, severity="warn"))
        return text

    # -- actions ----------------------------------------------------------------------

    def _node(self, node_id: str) -> Node:
        node = self.nodes.get(node_id)
        if node is None:
            raise ValueError(f"There is no {node_id}: this cluster has {len(self.ids)} servers, n1 to n{len(self.ids)}.")
        return node

    def _effect(self, narration: str, short: str, event: Event, *side: Event) -> Event:
        """Record an action's effect for the next step's frame: its narration when it is the
        only action at that step, else its `short` clause, joined with the others'."""
        self._pending.append((narration, short))
        self._pending_events.extend(side)
        return event

    def apply(self, action: Any) -> Event | None:
        self._fates_stale = True
        if isinstance(action, ClientRequest):
            return self._client_request(action)
        if isinstance(action, Crash):
            node = self._node(action.node)
            if node.role == "crashed":
                raise ValueError(f"{node.id} is already down; restart it first.")
            node.role = "crashed"
            node.commit_index = node.last_applied = 0
            node.state = {}
            node.next_index = node.match_index = None
            node.votes = []
            node.leader_hint = None
            self.sched.cancel_timers_of(node.id)
            self.net.crash(node.id)
            self._dirty.add(node.id)
            return self._effect(
                f"{node.id} crashes. Its term {node.term}, its vote and its {node.last_index}-entry log are on stable "
                "storage and survive; its commit index, applied state and leader bookkeeping are lost, and messages "
                f"to {node.id} are lost until it restarts.",
                f"{node.id} crashes, keeping its term {node.term}, its vote and its log",
                Event("crash", f"You crashed {node.id}.", actor=node.id, severity="error"),
            )
        if isinstance(action, Restart):
            node = self._node(action.node)
            if node.role != "crashed":
                raise ValueError(f"{node.id} is running; only a crashed server can restart.")
            node.role = "follower"
            self.net.restart(node.id)
            self._arm_election(node)
            return self._effect(
                f"{node.id} restarts as a follower in term {node.term} with its {node.last_index}-entry log; its commit "
                "index is back to 0, so it re-applies entries as it learns again what is committed.",
                f"{node.id} restarts as a follower in term {node.term}",
                Event("restart", f"You restarted {node.id}.", actor=node.id, severity="success"),
            )
        if isinstance(action, ForceTimeout):
            node = self._node(action.node)
            if node.role == "crashed":
                raise ValueError(f"{node.id} is down: a crashed server has no timers. Restart it first.")
            if node.role == "leader":
                raise ValueError(
                    f"{node.id} is the leader for term {node.term}: a leader has no election timeout. "
                    "Crash it or partition it away to force an election."
                )
            side: list[Event] = []
            self._start_election(node, side)
            return self._effect(
                f"You made {node.id}'s election timeout expire now, so it starts an election for term {node.term}: "
                "it votes for itself and asks the others for their votes.",
                f"{node.id}'s election timeout is forced and it starts an election for term {node.term}",
                Event("timeout", f"You forced {node.id}'s election timeout.", actor=node.id, severity="warn"),
                *side,
            )
        if isinstance(action, Partition):
            for group in action.groups:
                for node_id in group:
                    self._node(node_id)
            if len(self.net.plan_partition([list(g) for g in action.groups])) < 2:
                raise ValueError("Those groups hold every server together: a partition needs at least two groups.")
            groups = self.net.partition([list(g) for g in action.groups])
            self._net_entity = None
            words = groups_words(groups)
            return self._effect(
                f"You partitioned the network into {words}: messages between the groups are lost.",
                f"the network splits into {words}",
                Event("partition", f"Partition: {words}.", severity="error"),
            )
        if isinstance(action, Heal):
            if not self.net.partitioned:
                raise ValueError("The network is not partitioned: there is nothing to heal.")
            self.net.heal()
            self._net_entity = None
            return self._effect(
                "You healed the partition: every server can reach every other again.",
                "the partition heals",
                Event("heal", "The partition healed.", severity="success"),
            )
        if isinstance(action, DropNext):
            src, dst = self._node(action.src), self._node(action.dst)
            if src is dst:
                raise ValueError("A link joins two different servers: pick a sender and another receiver.")
            msg = self.net.drop_next(src.id, dst.id)
            self._msg_entities.pop(msg.id, None) if msg is not None else None
            text = (
                f"The {msg.type} from {src.id} to {dst.id} now in flight will be lost." if msg is not None
                else f"Nothing is in flight from {src.id} to {dst.id}, so the next message {src.id} sends there will be lost."
            )
            return self._effect(text, f"the next message from {src.id} to {dst.id} will be lost", Event("drop", f"You dropped the next message {src.id} -> {dst.id}.", severity="warn"))
        if isinstance(action, DelayNext):
            src, dst = self._node(action.src), self._node(action.dst)
            if src is dst:
                raise ValueError("A link joins two different servers: pick a sender and another receiver.")
            msg = self.net.delay_next(self.sched, src.id, dst.id, float(action.ms))
            if msg is not None:
                self._msg_entities.pop(msg.id, None)
            text = (
                f"The {msg.type} from {src.id} to {dst.id} is held {action.ms} ms longer: it now arrives at "
                f"{msg.deliver_at:.0f} ms." if msg is not None
                else f"Nothing is in flight from {src.id} to {dst.id}, so the next message {src.id} sends there "
                     f"will take {action.ms} ms longer."
            )
            return self._effect(text, f"the next message from {src.id} to {dst.id} is held {action.ms} ms longer", Event("delay", f"You delayed the next message {src.id} -> {dst.id} by {action.ms} ms."))
        if isinstance(action, SetLoss):
            a, b = self._node(action.a), self._node(action.b)
            if a is b:
                raise ValueError("A link joins two different servers: pick two.")
            self.net.set_loss(a.id, b.id, action.loss)
            self._net_entity = None
            return self._effect(
                f"Each message between {a.id} and {b.id} is now lost with probability {action.loss:g}.",
                f"each message between {a.id} and {b.id} is now lost with probability {action.loss:g}",
                Event("loss", f"Loss on {link_key(a.id, b.id)} set to {action.loss:g}.", severity="warn"),
            )
        raise ValueError(f"Unknown action {action!r}")

    def _client_request(self, action: ClientRequest) -> Event:
        node = self._node(action.node)
        command = f"set {action.key} = {action.value}"
        if node.role == "crashed":
            raise ValueError(f"{node.id} is down, so the client cannot reach it; send {command} to a running server.")
        if node.role != "leader":
            hint = node.leader_hint
            if hint is not None and hint != node.id:
                text = (
                    f"{node.id} is not the leader, so it refuses {command} and tells the client that {hint} leads "
                    f"term {node.term}, the leader it last heard from (§8); the client should send it there."
                )
            else:
                text = (
                    f"{node.id} is a {node.role} and knows no leader for term {node.term}, so it refuses {command}; "
                    "the client must try again once a leader is elected."
                )
            return self._effect(text, f"{node.id} refuses {command}, as it is not the leader", Event("redirect", f"{node.id} refused {command}: not the leader.", actor=node.id))
        node.log.append((node.term, command))
        self._dirty_logs.add(node.id)
        self._log_changed[node.id] = min(self._log_changed.get(node.id, node.last_index), node.last_index)
        self._dirty.add(node.id)
        self._broadcast_append(node)
        return self._effect(
            f"{node.id}, leader for term {node.term}, appends {command} to its log at index {node.last_index} and "
            "sends it to every follower; it commits once a majority stores it.",
            f"{node.id}, leader for term {node.term}, appends {command} at index {node.last_index}",
            Event("client", f"Client: {command} -> {node.id}, appended at index {node.last_index}.", actor=node.id),
        )

    # -- monitors (Figure 3) ------------------------------------------------------------

    def _violate(self, name: str, text: str) -> None:
        if name not in self.mon.violations:
            self.mon.violations[name] = text
            self._new_violations.append(text)

    def _on_elected(self, node: Node) -> None:
        mon = self.mon
        other = mon.leaders.get(node.term)
        if other is not None and other != node.id:
            self._violate("election_safety", f"Election Safety is violated: {other} and {node.id} were both elected leader for term {node.term}.")
        mon.leaders.setdefault(node.term, node.id)
        mon.leader_logs[node.id] = (node.term, tuple(node.log))
        for index, (entry, in_term) in sorted(mon.committed.items()):
            if in_term < node.term and (index > node.last_index or node.log[index - 1] != entry):
                self._violate(
                    "leader_completeness",
                    f"Leader Completeness is violated: entry {index} ({entry[1]}, term {entry[0]}) was committed in "
                    f"term {in_term}, but {node.id}, leader for term {node.term}, does not have it.",
                )
                break

    def _on_commit(self, node: Node, upto: int) -> None:
        committed = self.mon.committed
        for index in range(1, upto + 1):
            if index not in committed:
                committed[index] = (node.log[index - 1], node.term)

    def _on_apply(self, node: Node, index: int, entry: Entry) -> None:
        first = self.mon.applied.get(index)
        if first is None:
            self.mon.applied[index] = (entry, node.id)
        elif first[0] != entry:
            self._violate(
                "state_machine_safety",
                f"State Machine Safety is violated: {node.id} applies {entry[1]} at index {index}, but {first[1]} "
                f"applied {first[0][1]} there.",
            )

    def _check_monitors(self, events: list[Event]) -> str:
        mon = self.mon
        nodes = self.nodes
        # Leader Append-Only: each leader's log only grows while it leads its term.
        for node_id, (term, old) in list(mon.leader_logs.items()):
            node = nodes[node_id]
            if node.role != "leader" or node.term != term:
                del mon.leader_logs[node_id]
                continue
            if node_id in self._dirty_logs:
                if len(node.log) < len(old) or tuple(node.log[: len(old)]) != old:
                    self._violate("leader_append_only", f"Leader Append-Only is violated: {node_id} changed entries of its own log while leading term {term}.")
                mon.leader_logs[node_id] = (term, tuple(node.log))
        # Log Matching: for each changed log against every other log.
        if self._dirty_logs and "log_matching" not in mon.violations:
            for a in sorted(self._dirty_logs):
                la = nodes[a].log
                for b in self.ids:
                    if b == a:
                        continue
                    lb = nodes[b].log
                    for i in range(min(len(la), len(lb)) - 1, -1, -1):
                        if la[i][0] == lb[i][0]:
                            if la[: i + 1] != lb[: i + 1]:
                                self._violate(
                                    "log_matching",
                                    f"Log Matching is violated: {a} and {b} both hold an entry with index {i + 1} "
                                    f"and term {la[i][0]}, yet their logs differ before it.",
                                )
                            break
        extra = ""
        if self.params.scenario == "figure8" and self._dirty_logs:
            terms = tuple(tuple(e[0] for e in nodes[i].log) for i in self.ids)
            for panel, logs in FIGURE8_PANELS.items():
                if logs == terms and panel != self._panel:
                    self._panel = panel
                    extra = f"The five logs now look exactly as in Figure 8 {panel} of the Raft paper."
                    break
        if self.params.scenario == "figure7" and self._dirty_logs:
            if self._logs_differed and not self._logs_differ():
                extra = "Every server's log is now identical to the leader's: the inconsistencies of Figure 7 are repaired."
            self._logs_differed = self._logs_differ()
        self._dirty_logs.clear()
        if self._new_violations:
            for text in self._new_violations:
                events.append(Event("violation", text, severity="error"))
            extra = " ".join(([extra] if extra else []) + self._new_violations)
            self._new_violations = []
        return extra

    def _logs_differ(self) -> bool:
        first = self.nodes[self.ids[0]].log
        return any(self.nodes[i].log != first for i in self.ids[1:])

    # -- frames ---------------------------------------------------------------------------

    #: Frame caches: rebuilt from the state on demand, so a snapshot leaves them behind.
    _CACHES = ("_node_entities", "_msg_entities", "_net_entity", "_log_states", "_log_changed", "_dirty")

    def __deepcopy__(self, memo: dict[int, Any]) -> RaftEngine:
        """An exact copy of the state without the frame caches (the copy rebuilds them on
        its next frame, with the same content), and sharing the immutable params."""
        cls = type(self)
        twin = cls.__new__(cls)
        memo[id(self)] = twin
        memo[id(self.params)] = self.params
        rng = random.Random()
        rng.setstate(self.rng.getstate())  # the same stream, without deep-copying 625 ints one by one
        memo[id(self.rng)] = rng
        for name, value in self.__dict__.items():
            if name not in self._CACHES:
                setattr(twin, name, copy.deepcopy(value, memo))
        twin._node_entities, twin._msg_entities, twin._net_entity = {}, {}, None
        twin._log_states, twin._log_changed, twin._dirty = {}, dict.fromkeys(self.ids, 1), set(self.ids)
        return twin

    def leader(self) -> Node | None:
        best = None
        for node in self.nodes.values():
            if node.role == "leader" and (best is None or node.term > best.term):
                best = node
        return best

    def _node_entity(self, node: Node) -> Entity:
        timer = self.sched.timers.get(("heartbeat:" if node.role == "leader" else "election:") + node.id)
        first = self._log_changed.pop(node.id, 0)
        if first:
            # Logs change by truncating and appending: keep the drawn prefix, redraw the rest.
            kept = self._log_states.get(node.id, [])[: first - 1]
            self._log_states[node.id] = kept + [_entry_state(e) for e in node.log[first - 1:]]
        return Entity(node.id, "node", {
            "role": node.role,
            "term": node.term,
            "voted_for": node.voted_for,
            "log": self._log_states[node.id],  # shared by the frames between two changes: read-only
            "commit_index": node.commit_index,
            "last_applied": node.last_applied,
            "state": dict(node.state),
            "next_index": dict(node.next_index) if node.next_index is not None else None,
            "match_index": dict(node.match_index) if node.match_index is not None else None,
            "votes": list(node.votes) if node.role == "candidate" else [],
            "timer": {"kind": timer.kind, "start": timer.start, "deadline": timer.deadline}
            if timer is not None else None,
        })

    def _message_entity(self, msg: Any) -> Entity:
        fate = "in_flight" if self.net.outcome(msg) == "delivered" else "will_drop"
        cached = self._msg_entities.get(msg.id)
        if cached is not None and cached[0] == fate and cached[1] == msg.deliver_at:
            return cached[2]
        m = msg.payload
        entries = m.get("entries")
        entity = Entity(f"m{msg.id}", "message", {
            "type": msg.type, "src": msg.src, "dst": msg.dst, "term": m["term"],
            "sent_at": msg.sent_at, "deliver_at": msg.deliver_at,  # the kernel keeps times to the microsecond
            "last_log_index": m.get("last_log_index"), "last_log_term": m.get("last_log_term"),
            "vote_granted": m.get("vote_granted"),
            "prev_log_index": m.get("prev_log_index"), "prev_log_term": m.get("prev_log_term"),
            "entries": [_entry_state(e) for e in entries] if entries is not None else None,
            "leader_commit": m.get("leader_commit"),
            "success": m.get("success"),
            "match_index": m.get("match_index") if msg.type == "AppendEntriesReply" else None,
            "fate": fate,
        })
        self._msg_entities[msg.id] = (fate, msg.deliver_at, entity)
        return entity

    def _network_entity(self) -> Entity:
        if self._net_entity is None:
            net = self.net
            loss = {}
            for i, a in enumerate(self.ids):
                for b in self.ids[i + 1:]:
                    p = net.loss_of(a, b)
                    if p > 0:
                        loss[link_key(a, b)] = p
            self._net_entity = Entity("network", "network", {"groups": net.groups(), "loss": loss, "cut": net.cut_links()})
        return self._net_entity

    def _frame(self, narration: str, events: list[Event]) -> Frame:
        cache = self._node_entities
        for node_id in self._dirty:
            cache[node_id] = self._node_entity(self.nodes[node_id])
        self._dirty.clear()
        entities = [cache[i] for i in self.ids]
        in_flight = self.net.in_flight
        if self._fates_stale:
            entities.extend(self._message_entity(msg) for msg in in_flight.values())
            self._fates_stale = False
        else:
            drawn = self._msg_entities
            for msg_id, msg in in_flight.items():
                hit = drawn.get(msg_id)
                entities.append(hit[2] if hit is not None else self._message_entity(msg))
        entities.append(self._network_entity())
        leader = None
        top_term = top_commit = 0
        for node in self.nodes.values():
            if node.role == "crashed":
                top_commit = max(top_commit, node.commit_index)
                continue
            if node.term > top_term:
                top_term = node.term
            if node.commit_index > top_commit:
                top_commit = node.commit_index
            if node.role == "leader" and (leader is None or node.term > leader.term):
                leader = node
        violations = self.mon.violations
        metrics: dict[str, Any] = {
            "time_ms": self.sched.now,
            "leader": leader.id if leader is not None else "none",
            "term": top_term,
            "commit_index": leader.commit_index if leader is not None else top_commit,
        }
        for name in MONITORS:
            metrics[name] = "violated" if name in violations else "ok"
        return Frame(
            index=self.index,
            time=self.sched.now,
            entities=tuple(entities),
            metrics=metrics,
            events=tuple(events),
            narration=narration,
        )
#: Scripted runs (step, action): generated by running the engine and waiting for each
#: moment (a leader elected, an entry applied...); tests/simulations/test_raft_engine.py
#: checks that each preset still reaches what its description promises.
_SCRIPTS: dict[str, tuple[tuple[int, dict[str, Any]], ...]] = {
    "leader-crash": (
        (17, {"type": "client_request", "node": "n1", "key": "x", "value": 1}),
        (40, {"type": "crash", "node": "n1"}),
        (60, {"type": "client_request", "node": "n5", "key": "x", "value": 2}),
        (81, {"type": "restart", "node": "n1"}),
    ),
    "split-vote": (
        (0, {"type": "timeout", "node": "n1"}),
        (0, {"type": "timeout", "node": "n2"}),
        (0, {"type": "timeout", "node": "n3"}),
        (0, {"type": "timeout", "node": "n4"}),
        (0, {"type": "timeout", "node": "n5"}),
    ),
    "partition": (
        (17, {"type": "client_request", "node": "n1", "key": "x", "value": 1}),
        (40, {"type": "partition", "groups": [["n1", "n2"], ["n3", "n4", "n5"]]}),
        (41, {"type": "client_request", "node": "n1", "key": "x", "value": 2}),
        (166, {"type": "client_request", "node": "n5", "key": "x", "value": 3}),
        (179, {"type": "heal"}),
    ),
    "replication": (
        (26, {"type": "client_request", "node": "n3", "key": "x", "value": 3}),
        (49, {"type": "client_request", "node": "n3", "key": "y", "value": 7}),
        (50, {"type": "client_request", "node": "n1", "key": "z", "value": 1}),
        (51, {"type": "client_request", "node": "n3", "key": "x", "value": 4}),
    ),
    "figure-7": (
        (18, {"type": "client_request", "node": "n1", "key": "k", "value": 8}),
    ),
    "stale-leader": (
        (17, {"type": "crash", "node": "n4"}),
        (17, {"type": "crash", "node": "n5"}),
        (18, {"type": "client_request", "node": "n1", "key": "x", "value": 1}),
        (37, {"type": "crash", "node": "n1"}),
        (38, {"type": "restart", "node": "n4"}),
        (38, {"type": "restart", "node": "n5"}),
        (39, {"type": "timeout", "node": "n4"}),
        (56, {"type": "client_request", "node": "n4", "key": "x", "value": 9}),
    ),
    "etcd": (
        (9, {"type": "client_request", "node": "n2", "key": "replicas", "value": 3}),
        (22, {"type": "crash", "node": "n1"}),
        (23, {"type": "client_request", "node": "n2", "key": "replicas", "value": 5}),
        (29, {"type": "restart", "node": "n1"}),
    ),
    "consul": (
        (9, {"type": "client_request", "node": "n1", "key": "web", "value": 2}),
        (22, {"type": "partition", "groups": [["n1"]]}),
        (47, {"type": "client_request", "node": "n3", "key": "web", "value": 3}),
        (55, {"type": "heal"}),
    ),
    "zookeeper": (
        (17, {"type": "client_request", "node": "n5", "key": "config", "value": 1}),
        (18, {"type": "client_request", "node": "n5", "key": "lock", "value": 1}),
        (49, {"type": "crash", "node": "n5"}),
        (77, {"type": "client_request", "node": "n3", "key": "config", "value": 2}),
        (97, {"type": "restart", "node": "n5"}),
    ),
    "replicated-database": (
        (9, {"type": "client_request", "node": "n2", "key": "balance", "value": 100}),
        (10, {"type": "client_request", "node": "n2", "key": "balance", "value": 70}),
        (27, {"type": "crash", "node": "n2"}),
        (37, {"type": "client_request", "node": "n3", "key": "balance", "value": 95}),
        (45, {"type": "restart", "node": "n2"}),
    ),
    "figure-8": (
        (17, {"type": "crash", "node": "n3"}),
        (17, {"type": "crash", "node": "n4"}),
        (17, {"type": "crash", "node": "n5"}),
        (18, {"type": "client_request", "node": "n1", "key": "x", "value": 2}),
        (30, {"type": "crash", "node": "n1"}),
        (31, {"type": "restart", "node": "n3"}),
        (31, {"type": "restart", "node": "n4"}),
        (31, {"type": "restart", "node": "n5"}),
        (32, {"type": "timeout", "node": "n5"}),
        (47, {"type": "crash", "node": "n2"}),
        (47, {"type": "crash", "node": "n3"}),
        (47, {"type": "crash", "node": "n4"}),
        (48, {"type": "client_request", "node": "n5", "key": "x", "value": 3}),
        (58, {"type": "crash", "node": "n5"}),
        (59, {"type": "restart", "node": "n1"}),
        (59, {"type": "restart", "node": "n2"}),
        (59, {"type": "restart", "node": "n3"}),
        (60, {"type": "timeout", "node": "n1"}),
        (61, {"type": "timeout", "node": "n1"}),
        (89, {"type": "client_request", "node": "n1", "key": "x", "value": 4}),
        (89, {"type": "drop", "src": "n1", "dst": "n2"}),
        (89, {"type": "drop", "src": "n1", "dst": "n3"}),
        (90, {"type": "crash", "node": "n1"}),
        (91, {"type": "restart", "node": "n4"}),
        (91, {"type": "restart", "node": "n5"}),
        (92, {"type": "timeout", "node": "n5"}),
        (93, {"type": "timeout", "node": "n5"}),
        (135, {"type": "client_request", "node": "n5", "key": "x", "value": 5}),
    ),
    "figure-8-e": (
        (17, {"type": "crash", "node": "n3"}),
        (17, {"type": "crash", "node": "n4"}),
        (17, {"type": "crash", "node": "n5"}),
        (18, {"type": "client_request", "node": "n1", "key": "x", "value": 2}),
        (30, {"type": "crash", "node": "n1"}),
        (31, {"type": "restart", "node": "n3"}),
        (31, {"type": "restart", "node": "n4"}),
        (31, {"type": "restart", "node": "n5"}),
        (32, {"type": "timeout", "node": "n5"}),
        (47, {"type": "crash", "node": "n2"}),
        (47, {"type": "crash", "node": "n3"}),
        (47, {"type": "crash", "node": "n4"}),
        (48, {"type": "client_request", "node": "n5", "key": "x", "value": 3}),
        (58, {"type": "crash", "node": "n5"}),
        (59, {"type": "restart", "node": "n1"}),
        (59, {"type": "restart", "node": "n2"}),
        (59, {"type": "restart", "node": "n3"}),
        (60, {"type": "timeout", "node": "n1"}),
        (61, {"type": "timeout", "node": "n1"}),
        (89, {"type": "client_request", "node": "n1", "key": "x", "value": 4}),
        (103, {"type": "crash", "node": "n1"}),
        (104, {"type": "restart", "node": "n4"}),
        (104, {"type": "restart", "node": "n5"}),
        (105, {"type": "timeout", "node": "n5"}),
        (106, {"type": "timeout", "node": "n5"}),
        (176, {"type": "client_request", "node": "n3", "key": "x", "value": 7}),
    ),
    "figure-8-broken": (
        (17, {"type": "crash", "node": "n3"}),
        (17, {"type": "crash", "node": "n4"}),
        (17, {"type": "crash", "node": "n5"}),
        (18, {"type": "client_request", "node": "n1", "key": "x", "value": 2}),
        (30, {"type": "crash", "node": "n1"}),
        (31, {"type": "restart", "node": "n3"}),
        (31, {"type": "restart", "node": "n4"}),
        (31, {"type": "restart", "node": "n5"}),
        (32, {"type": "timeout", "node": "n5"}),
        (47, {"type": "crash", "node": "n2"}),
        (47, {"type": "crash", "node": "n3"}),
        (47, {"type": "crash", "node": "n4"}),
        (48, {"type": "client_request", "node": "n5", "key": "x", "value": 3}),
        (58, {"type": "crash", "node": "n5"}),
        (59, {"type": "restart", "node": "n1"}),
        (59, {"type": "restart", "node": "n2"}),
        (59, {"type": "restart", "node": "n3"}),
        (60, {"type": "timeout", "node": "n1"}),
        (61, {"type": "timeout", "node": "n1"}),
        (89, {"type": "client_request", "node": "n1", "key": "x", "value": 4}),
        (89, {"type": "drop", "src": "n1", "dst": "n2"}),
        (89, {"type": "drop", "src": "n1", "dst": "n3"}),
        (90, {"type": "crash", "node": "n1"}),
        (91, {"type": "restart", "node": "n4"}),
        (91, {"type": "restart", "node": "n5"}),
        (92, {"type": "timeout", "node": "n5"}),
        (93, {"type": "timeout", "node": "n5"}),
        (135, {"type": "client_request", "node": "n5", "key": "x", "value": 5}),
    ),
}


#: Which seed key feature or use case of Consensus Algorithms each preset shows (the page's
#: "See it" links), word for word as topics/content/seed.py names them.
_SHOWS = {
    "leader-crash": ("Fault tolerance guarantees", ""),
    "replication": ("Replicated state machines", ""),
    "figure-8-e": ("Ordering guarantees", ""),
    "partition": ("Split-brain prevention", ""),
    "etcd": ("", "etcd for Kubernetes"),
    "consul": ("", "Consul for service discovery"),
    "zookeeper": ("", "ZooKeeper coordination"),
    "replicated-database": ("", "Distributed database replication"),
}


def _preset(slug: str, name: str, description: str, params: dict[str, Any] | None = None, seed: int = 1) -> Preset:
    feature, use_case = _SHOWS.get(slug, ("", ""))
    return Preset(slug, name, description, params or {}, seed, _SCRIPTS.get(slug, ()), feature=feature, use_case=use_case)


_FIG8 = {"scenario": "figure8", "nodes": 5}

RaftEngine.presets = (
    _preset(
        "first-election", "First election",
        "Five servers start in term 0 with no leader. Watch the election timers run down: the first to expire "
        "(n1's, at 170 ms) makes n1 a candidate for term 1; the others grant their votes and with 3 of 5 n1 "
        "becomes leader. Its heartbeats, every 50 ms, reset the others' timers so that none of them starts an "
        "election.",
    ),
    _preset(
        "leader-crash", "Leader crash and re-election",
        "Fault tolerance: n1 leads term 1 and set x = 1 is committed and applied everywhere. Then n1 crashes. "
        "The followers hear no heartbeat; the first timer to expire (n5's) starts term 2, n5 wins with the "
        "votes of the other survivors and set x = 2 commits with 4 of 5 servers up. Watch n1 restart: it "
        "learns term 2 from n5, gets the entry it lacks and re-applies its log from index 1.",
    ),
    _preset(
        "split-vote", "Split vote, resolved by random timeouts",
        "All five election timers are forced to expire at the same moment: every server votes for itself in "
        "term 1 and refuses the others, so no one reaches a majority and term 1 ends without a leader. Each "
        "candidate then waits a fresh random timeout (§5.2); the first to expire starts term 2 while the "
        "others still wait, and wins it.",
        seed=3,
    ),
    _preset(
        "partition", "Minority partition: no split brain",
        "n1 leads and set x = 1 is committed. Then the network splits into {n1, n2} and {n3, n4, n5}. n1 still "
        "thinks it leads and accepts set x = 2, but only n2 stores it, 2 of 5: it never commits. The majority "
        "side times out, elects n5 for term 2 and commits set x = 3. When the partition heals, n1 sees term 2, "
        "steps down, and its uncommitted entry is overwritten: only one side could ever commit.",
    ),
    _preset(
        "replication", "Replicating client requests",
        "n3 leads term 1. The client sends set x = 3, set y = 7 and set x = 4 to it: each becomes a log entry, "
        "is committed once a majority stores it, and every server applies the entries in the same order, "
        "ending with x = 4, y = 7. A request sent to follower n1 instead is refused with the name of the "
        "leader, as §8 of the paper describes.",
        seed=2,
    ),
    _preset(
        "figure-8", "Figure 8, step by step",
        "The time sequence of Figure 8, scripted with crashes so that it replays exactly. (a) n1 leads term 2 "
        "and copies index 2 to n2 only. (b) n1 crashes; n5 wins term 3 with votes from n3, n4 and itself and "
        "puts a different entry at index 2. (c) n5 crashes; n1 restarts, wins term 4 and copies index 2 to n3: "
        "it is on a majority, yet n1 does not commit it, because it is not from term 4. n1 appends set x = 4, "
        "but both messages carrying it are lost and n1 crashes. (d1) n5 wins term 5 with votes from n2, n3 and "
        "n4 and overwrites index 2 on them: safe, because it was never committed. No monitor fires.",
        _FIG8,
    ),
    _preset(
        "figure-8-e", "Figure 8, the other future",
        "Figure 8 up to (c), then the other ending, (d2) (the caption's (e)): n1 replicates its term-4 entry "
        "set x = 4 to n2 and n3 before it crashes. That commits index 3 and with it index 2. When n5 tries to "
        "win an election afterwards, n2 and n3 refuse: their logs end in term 4, more up-to-date than n5's. "
        "n3 wins term 7 instead, overwrites n5's stale index 2, and once its own set x = 7 is on a majority "
        "every live server applies x = 1, 2, 4 and 7 in that order.",
        _FIG8,
    ),
    _preset(
        "figure-8-broken", "Figure 8 with the commit rule broken",
        "The same script as Figure 8, with the leader's current-term check switched off: in (c) n1 commits "
        "index 2 (set x = 2, from term 2) because it is on a majority, and applies it. In (d1) n5 still wins "
        "term 5 without that entry: the Leader Completeness monitor fires. n5 then overwrites index 2 and, "
        "counting replicas the same way, commits set x = 3 there: State Machine Safety fires, since n1 applied "
        "a different command at index 2.",
        {**_FIG8, "broken_rule": "commit_current_term"},
    ),
    _preset(
        "figure-7", "Figure 7: one leader repairs six logs",
        "Seven servers hold the logs of Figure 7: n1 the term-8 leader's (terms 1 1 1 4 4 5 5 6 6 6) and n2 to "
        "n7 the followers (a) to (f). n1 wins term 8 with the votes of (a), (b), (e) and (f); (c) and (d) "
        "refuse, their logs being more up-to-date. Watch nextIndex step back on each refusal until the logs "
        "match. Follower (c), n4, keeps its extra entry 11 through the heartbeats, since nothing conflicts with "
        "it, until the client's set k = 8 arrives at index 11. When that entry is on a majority everything "
        "commits and every log is the leader's.",
        {"scenario": "figure7", "nodes": 7},
    ),
    _preset(
        "stale-leader", "A stale leader, with the vote check broken",
        "With the up-to-date check of §5.4.1 switched off. n4 and n5 are down while n1 commits set x = 1 on n1, "
        "n2 and n3. Then n1 crashes, n4 and n5 come back, and n4 times out first: without the check the others "
        "vote for it although its log is empty, so a leader without a committed entry is elected and the "
        "Leader Completeness monitor fires. Its set x = 9 then overwrites index 1 on n2 and n3: State Machine "
        "Safety fires too.",
        {"broken_rule": "vote_up_to_date"},
    ),
    _preset(
        "etcd", "etcd: a three-member cluster",
        "etcd, the key-value store behind Kubernetes, replicates every write through Raft. Three members: the "
        "leader, n2, commits replicas = 3. A follower crashes; with 2 of 3 members up the quorum is still there, "
        "so replicas = 5 commits too, and the restarted member catches up from the leader's log. (etcd's "
        "defaults are a 100 ms heartbeat and a 1,000 ms election timeout; this run uses the paper's timing.)",
        {"nodes": 3}, seed=4,
    ),
    _preset(
        "consul", "Consul: the leader cut off",
        "Consul's servers keep the service catalog in a Raft log. Three servers; the leader, n1, commits "
        "web = 2, then a partition leaves it alone. It cannot reach a quorum, so nothing it accepts could "
        "commit; the other two elect n3 and commit web = 3. When the partition heals, n1 sees the newer term "
        "and steps down. (As in the paper, the isolated leader here keeps believing it leads until it hears a "
        "newer term; Consul's Raft library also steps down once it has lost contact with a quorum.)",
        {"nodes": 3}, seed=5,
    ),
    _preset(
        "zookeeper", "ZooKeeper's use case: an ordered, quorum-committed log",
        "ZooKeeper does not run Raft: its servers use Zab (ZooKeeper Atomic Broadcast), whose election and "
        "recovery differ in detail. What a ZooKeeper user relies on is the mechanism both share, shown here with "
        "Raft: one leader orders every write (config = 1, then lock = 1) in a replicated log, a write commits "
        "once a quorum, 3 of 5, stores it, and when the leader crashes the new one holds every committed write, "
        "so config = 2 follows them in the same order on every server.",
        seed=6,
    ),
    _preset(
        "replicated-database", "Replicated database: committed writes survive",
        "Databases such as CockroachDB and TiKV replicate each range of keys with Raft. Three replicas: "
        "balance = 100, then balance = 70, commit. The leader replica crashes; the new leader holds both "
        "committed writes (Leader Completeness), commits balance = 95, and when the old replica restarts it "
        "catches up and re-applies all three writes in order.",
        {"nodes": 3}, seed=7,
    ),
)
