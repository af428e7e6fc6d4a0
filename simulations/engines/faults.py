"""The faults a learner injects into a cluster on the kernel's network, as actions: crash
and restart a node, lose or hold the next message on a link, partition the network and
heal it. One definition for every message-passing engine (Raft, Paxos, ...), each typed by
its own node ids; what a fault does to the engine's nodes stays the engine's.

    Crash, Restart, DropNext, DelayNext, Partition, Heal = fault_actions(NodeId, __name__, noun="Server")

The classes are made in the engine's module and named as there, so they pickle (runs go
to worker processes) and their JSON schemas read as if written by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import Field, create_model

from simulations.engines.base import Action


class FaultActions(NamedTuple):
    crash: type[Action]
    restart: type[Action]
    drop: type[Action]
    delay: type[Action]
    partition: type[Action]
    heal: type[Action]


def fault_actions(node_id: Any, module: str, *, noun: str = "Node", max_nodes: int = 7, crash_doc: str = "",
                  groups_example: str = '[["a", "b"], ["c"]]') -> FaultActions:
    """The six fault actions over `node_id` (a Literal of the engine's node ids), made in
    `module` (pass `__name__` and bind them there under their names). `crash_doc` says what
    a crash keeps in this engine; `groups_example` shows a partition in its ids."""
    nouns = noun.lower() + "s"

    def action(name: str, kind: str, doc: str, **fields: Any) -> type[Action]:
        return create_model(name, __base__=Action, __module__=module, __doc__=doc,
                            type=(Literal[kind], kind), **fields)  # type: ignore[call-overload]

    node = (node_id, Field(title=noun))
    return FaultActions(
        action("Crash", "crash", crash_doc or f"Crash a {noun.lower()}: it keeps what is on its stable storage.",
               node=node),
        action("Restart", "restart", f"Restart a crashed {noun.lower()}.", node=node),
        action("DropNext", "drop", f"Lose the next message from one {noun.lower()} to another (the one in flight, "
                                   "else the next sent).",
               src=(node_id, Field(title="From")), dst=(node_id, Field(title="To"))),
        action("DelayNext", "delay", f"Hold the next message from one {noun.lower()} to another for longer.",
               src=(node_id, Field(title="From")), dst=(node_id, Field(title="To")),
               ms=(int, Field(100, ge=1, le=1000, title="Extra delay (ms)"))),
        action("Partition", "partition", f"Split the network into groups; {nouns} left out form one more group.",
               groups=(list[Annotated[list[node_id], Field(min_length=1, max_length=max_nodes)]],  # type: ignore[valid-type]
                       Field(min_length=1, max_length=max_nodes, title="Groups",
                             description=f"Lists of {nouns}, e.g. {groups_example}."))),
        action("Heal", "heal", "Join every partition group again."),
    )


def groups_words(groups: Sequence[Sequence[str]]) -> str:
    """A partition as the log and the narration say it: "{n1, n2} | {n3, n4, n5}"."""
    return " | ".join("{" + ", ".join(g) + "}" for g in groups)
