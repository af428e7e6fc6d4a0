"""Per-engine costs, for every engine the site serves: the engine's step and the frame's
render (stage, metrics and narration: what a track renders once per frame), in µs per
frame (median over the runs of its presets, each frame timed alone), and the size of a
frame message (median, bytes). Budgets (DESIGN.md): under 100 µs each, under 8 KB.

    python -m bench.engines [FRAMES]
"""

from __future__ import annotations

import os
import sys
import time
from statistics import median

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")

PANEL = "bench"


def engine_costs(engine_cls, frames: int = 1500) -> tuple[float, float, int]:
    """(engine µs, render µs, message bytes), medians over up to `frames` frames of the
    engine's preset runs (its default run when it has none), each run played to its end."""
    from simulations.controller import Viewer
    from simulations.process import ProcessState
    from simulations.render.panel import PanelRenderer, ViewState
    from simulations.runs import default_run, new_engine, parse_run

    panel = PanelRenderer(engine_cls, PANEL)
    runs = [parse_run(engine_cls, **p.run_data()) for p in engine_cls.presets] or [default_run(engine_cls)]
    engine_us: list[float] = []
    render_us: list[float] = []
    sizes: list[int] = []
    per_run = max(1, frames // len(runs))
    for run in runs:
        engine = new_engine(engine_cls, run)
        engine.reset()
        schedule: dict[int, list] = {}
        for scheduled in run.actions:
            schedule.setdefault(scheduled.step, []).append(scheduled.action)
        for action in schedule.get(0, ()):
            try:
                engine.apply(action)
            except ValueError:
                pass
        for i in range(1, min(per_run, engine_cls.max_steps) + 1):
            if engine.done:
                break
            t0 = time.perf_counter()
            frame = engine.step()
            t1 = time.perf_counter()
            panel.frame_html(frame)
            t2 = time.perf_counter()
            engine_us.append((t1 - t0) * 1e6)
            render_us.append((t2 - t1) * 1e6)
            for action in schedule.get(i, ()):
                try:
                    engine.apply(action)
                except ValueError:
                    pass
    # The message a viewer is sent for one step forward, as the socket builds it.
    viewer = Viewer(panel, ProcessState())
    viewer.open(runs[0])
    view = ViewState(playing=True)
    for _ in range(min(200, engine_cls.max_steps)):
        if viewer.session.forward() is None:
            break
        sizes.append(len(panel.step_message(viewer.session, view).encode()))
    return median(engine_us), median(render_us), int(median(sizes)) if sizes else 0


def main(frames: int = 1500) -> list[str]:
    import django

    django.setup()
    from learning_platform import gc_tuning
    from simulations import registry

    gc_tuning.tune()  # as the server runs (learning_platform/asgi.py)

    lines = []
    for engine_cls in registry.all_engines():
        engine_us, render_us, size = engine_costs(engine_cls, frames)
        lines.append(f"engine={engine_cls.slug} step={engine_us:.1f}us render={render_us:.1f}us "
                     f"frame_bytes={size} (budget: 100us, 100us, 8192)")
        print(lines[-1], flush=True)
    return lines


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1500)
