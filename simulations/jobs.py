"""The API's costly work, done in a worker process (framework-free: no Django import).

A 2,000-step Raft run is about 3 s of CPU (replay, each frame as a dict, 6 MB of JSON).
Done on the server, that holds either Django's one thread for sync views (so every page
waits behind it) or the event loop (so every viewer's frames wait). `simulations.api`
sends it here instead, through a small pool: the server only writes the bytes back.
"""

from __future__ import annotations

import json
from typing import Any

from simulations.engines.base import Engine
from simulations.runs import RunSpec, encode_run, replay


def run_body(engine_cls: type[Engine], spec: RunSpec, steps: int) -> dict[str, Any]:
    """A run's frames as the API answers them (RunOut)."""
    frames = replay(engine_cls, spec, steps)
    last = frames[-1]
    return {
        "run": {**spec.to_dict(engine_cls), "steps": last.index, "permalink": encode_run(engine_cls, spec)},
        "frames": [f.to_dict() for f in frames],
        "done": bool(last.done or len(frames) < steps + 1),
    }


def run_json(engine_cls: type[Engine], spec: RunSpec, steps: int) -> bytes:
    """`run_body` as the JSON django-ninja would render it (json.dumps, default separators:
    the same bytes, since a frame holds only plain JSON values)."""
    return json.dumps(run_body(engine_cls, spec, steps)).encode()
