"""The runs the contract suite looks at for an engine (no Django: subprocesses import it)."""

from __future__ import annotations

from simulations.render.schema_controls import action_controls
from simulations.runs import default_run, parse_run

#: Frames looked at per run: enough to pass a snapshot and reach most runs' ends.
HORIZON = 80


def runs_of(engine):
    """The default run, every built-in preset's run, and a run with an action at step 1."""
    runs = [default_run(engine)] + [parse_run(engine, **p.run_data()) for p in engine.presets]
    for control in action_controls(engine, engine.parse_params({})):
        if control.inputs:
            continue
        action = control.action if control.action is not None else dict(control.fixed)
        runs.append(parse_run(engine, {}, 3, [{"step": 1, "action": action}]))
        break
    return runs


def dicts(frames):
    return [f.to_dict() for f in frames]
