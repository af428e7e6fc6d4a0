"""The capacity row's work without sockets: VIEWERS viewers, each on its own Race
Conditions run (the capacity client's runs: 4 threads x 5 increments, distinct seeds, a
new seed when a run ends), ticked in turn through the controller as the consumer ticks
them. Prints the process CPU time per frame: the engine step, the render and the step
message, and what the session and the caches around them cost, without Daphne.

    python -m bench.inprocess [VIEWERS] [FRAMES]

Under `valgrind --tool=cachegrind` (PYTHONHASHSEED=0), the difference in instructions
between two frame counts is a figure the machine's speed does not move.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 50)


def main(viewers: int = 500, frames: int = 50_000) -> None:
    import django

    django.setup()
    from bench.capacity import NEXT_SEED, SPEED, run_token
    from learning_platform import gc_tuning
    from simulations import controller, process, protocol, registry

    engine_cls = registry.get("race-conditions")
    players = []
    for n in range(viewers):
        request = protocol.Connect("sim-race-conditions", run_token(n + 1), None, False, float(SPEED))
        viewer, _ = controller.connect(engine_cls, request, process.current())
        controller.handle(viewer, protocol.Play())
        players.append([viewer, n + 1])
    gc_tuning.tune()  # as the server runs (learning_platform/asgi.py)

    def play(count: int) -> None:
        done = 0
        while done < count:
            for player in players:
                viewer = player[0]
                done += 1
                if controller.tick(viewer).next_in is None:  # the run ended: the next seed, and play
                    player[1] += NEXT_SEED
                    controller.handle(viewer, protocol.Reset(player[1]))
                    controller.handle(viewer, protocol.Play())

    play(min(frames, 5 * viewers))  # every run past its first frames
    started = time.process_time()
    play(frames)
    print(f"inprocess viewers={viewers} frames={frames}: "
          f"{(time.process_time() - started) / frames * 1e6:.1f}us per frame")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
