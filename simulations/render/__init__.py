"""Frame -> HTML: the panel's fragments, shared stage parts, and one layout per engine.

`STAGES` maps each engine's slug to how its frames are drawn, explicitly: a Django system
check (simulations.checks) refuses to start when a registered engine has no entry. A
stage is
- `stage(frame, dom_id) -> str`: one top-level `<svg id="{dom_id}" viewBox=...>`;
- `analysis(name, data, dom_id) -> str`: one top-level `<section id="{dom_id}">`.

Both are the hot path: plain f-strings with `html.escape`, no template engine
(DESIGN.md, Performance).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from simulations.engines.base import Engine, Frame
from simulations.render import generic, locks, paxos, race_conditions, raft, tcp, threads_processes, ws_protocol
from simulations.render.generic import format_value

__all__ = ["GENERIC", "STAGES", "Stage", "format_value", "installed", "stage_for"]

StageRenderer = Callable[[Frame, str], str]
AnalysisRenderer = Callable[[str, Mapping[str, Any], str], str]


@dataclass(frozen=True)
class Stage:
    stage: StageRenderer
    analysis: AnalysisRenderer = generic.render_analysis_generic


#: Every entity as a card: for an engine that asks for it (tests' toy engines).
GENERIC = Stage(generic.render_stage_generic)

#: Engine slug -> its stage.
STAGES: dict[str, Stage] = {
    "race-conditions": Stage(race_conditions.render_stage, race_conditions.render_analysis),
    "raft": Stage(raft.render_stage),
    "threads-processes": Stage(threads_processes.render_stage),
    "tcp": Stage(tcp.render_stage),
    "paxos": Stage(paxos.render_stage),
    "websockets": Stage(ws_protocol.render_stage),
    "locks": Stage(locks.render_stage, locks.render_analysis),
}


def stage_for(engine_cls: type[Engine]) -> Stage:
    """The engine's stage; KeyError for an engine without one (the system check says which)."""
    return STAGES[engine_cls.slug]


@contextmanager
def installed(slug: str, stage: Stage) -> Iterator[None]:
    """Draw `slug` with `stage` while the block runs (tests' toy engines)."""
    before = STAGES.get(slug)
    STAGES[slug] = stage
    try:
        yield
    finally:
        if before is None:
            STAGES.pop(slug, None)
        else:
            STAGES[slug] = before
