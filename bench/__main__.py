"""`make bench`: how fast one Daphne process streams Race Conditions frames, against a
bare `websockets` server sending the same pre-rendered frames, measured in one run.

Prints one line per viewer count, `viewers=N ours=F/s bare=F/s ratio=R` (targets: 0.5
at 100 and 1,000), then the engine and render time per frame, the average frame size,
and the server memory per open socket. Then the capacity row (bench/capacity.py): 500
viewers on the one process, each playing its own run (distinct seeds) at 10 frames a
second, paced as for the page: frames delivered per second, p50 and p99 lag behind each
frame's due time (target: p99 under 100 ms), and server memory per viewer. Ratios are
what to compare across machines: the machines are shared and noisy, so no figure here is
a pass/fail threshold.

    python -m bench [shared|capacity]   # both by default
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 50)

from bench.load import rss_kib  # noqa: E402
from tests.loopback import free_port, wait_for_port  # noqa: E402

SLUG = "race-conditions"
PANEL = f"sim-{SLUG}"
#: (viewers, frames each viewer plays): each row moves tens of thousands of frames.
ROWS = ((1, 3000), (100, 200), (1000, 40))
#: The capacity row: viewers, seconds of play, client processes sharing them.
CAPACITY_VIEWERS, CAPACITY_SECONDS, CAPACITY_PROCESSES = 500, 20, 2


def messages_for(steps: int) -> list[str]:
    """What our consumer sends one viewer: the state on connect, then unpaced play."""
    import django

    django.setup()
    from simulations import controller, process, protocol, registry

    engine_cls = registry.get(SLUG)
    viewer, reply = controller.connect(engine_cls, protocol.Connect(PANEL, None, None, False, None), process.current())
    viewer.view.playing = True
    return [reply.text, *controller.unpaced_messages(viewer, steps)]


def per_frame_costs(frames: int = 3000) -> tuple[float, float]:
    """Median µs per frame over runs of the default params: the engine's step, and the
    frame's HTML (stage, metrics, narration: what a session renders once per frame)."""
    from simulations import registry
    from simulations.render.panel import PanelRenderer
    from simulations.runs import RunSpec, default_run, new_engine

    engine_cls = registry.get(SLUG)
    panel = PanelRenderer(engine_cls, PANEL)
    base = default_run(engine_cls)
    engine_times, render_times = [], []
    seed, done = 1, 0
    while done < frames:
        engine = new_engine(engine_cls, RunSpec(SLUG, base.params, seed))
        engine.reset()
        while not engine.done and done < frames:
            t0 = time.perf_counter()
            frame = engine.step()
            t1 = time.perf_counter()
            panel.frame_html(frame)
            t2 = time.perf_counter()
            engine_times.append(t1 - t0)
            render_times.append(t2 - t1)
            done += 1
        seed += 1
    return median(engine_times) * 1e6, median(render_times) * 1e6


def run_load(url: str, viewers: int, expected: int, start: str, server_pid: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.load", url, str(viewers), str(expected), start, str(server_pid)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    if out.returncode:
        raise RuntimeError(f"bench.load for {viewers} viewers failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def capacity(port: int, server_pid: int) -> str:
    """The capacity row: CAPACITY_VIEWERS viewers, each on its own run at 10 frames a second."""
    before = rss_kib(server_pid)
    share = CAPACITY_VIEWERS // CAPACITY_PROCESSES
    clients = [subprocess.Popen([sys.executable, "-m", "bench.capacity", str(port), str(share), str(i * share),
                                 str(CAPACITY_SECONDS)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True) for i in range(CAPACITY_PROCESSES)]
    try:
        for client in clients:
            json.loads(client.stdout.readline())  # {"opened": n}
        for client in clients:
            client.stdin.write("go\n")
            client.stdin.flush()
        peak = before
        while any(client.poll() is None for client in clients):
            peak = max(peak, rss_kib(server_pid))
            time.sleep(0.5)
        results = [json.loads(client.stdout.read().strip().splitlines()[-1]) for client in clients]
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()
    frames = sum(r["frames"] for r in results)
    seconds = max(r["seconds"] for r in results)
    lags = [lag for r in results for lag in r["lags_ms"]]
    return (f"capacity viewers={CAPACITY_VIEWERS} own runs at 10 frames/s: delivered={frames / seconds:.0f}/s "
            f"(due {CAPACITY_VIEWERS * 10}/s) lag p50={percentile(lags, 50):.0f}ms p99={percentile(lags, 99):.0f}ms "
            f"memory={(peak - before) / CAPACITY_VIEWERS:.0f}KiB/viewer")


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))
    engine_us, render_us = per_frame_costs() if which != "capacity" else (0.0, 0.0)

    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SIMULATIONS_BENCH": "1",
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
    }
    env.pop("REDIS_URL", None)
    ours_port, bare_port = free_port(), free_port()
    ours = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(ours_port),
         "learning_platform.asgi:application"], cwd=ROOT, env=env)
    bare = None
    sizes: list[int] = []
    try:
        wait_for_port(ours_port)
        lines = []
        for viewers, steps in ROWS if which != "capacity" else ():
            messages = messages_for(steps)
            sizes.extend(len(m.encode()) for m in messages[1:-1])
            frames_file = workdir / f"frames-{steps}.json"
            frames_file.write_text(json.dumps(messages))
            bare = subprocess.Popen([sys.executable, "-m", "bench.bare_server", str(bare_port), str(frames_file)],
                                    cwd=ROOT, env=env)
            wait_for_port(bare_port)
            expected = steps + 1  # the frames, then the done marker
            start = json.dumps({"cmd": "play", "pace": "off", "steps": str(steps)})
            ours_before, bare_before = rss_kib(ours.pid), rss_kib(bare.pid)
            ours_result = run_load(f"ws://127.0.0.1:{ours_port}/ws/simulations/{SLUG}/?panel={PANEL}",
                                   viewers, expected, start, ours.pid)
            bare_result = run_load(f"ws://127.0.0.1:{bare_port}/", viewers, expected, start, bare.pid)
            bare.terminate()
            bare.wait()
            bare = None
            ours_fps = ours_result["frames"] / ours_result["seconds"]
            bare_fps = bare_result["frames"] / bare_result["seconds"]
            lines.append(f"viewers={viewers} ours={ours_fps:.0f}/s bare={bare_fps:.0f}/s "
                         f"ratio={ours_fps / bare_fps:.2f}")
            print(lines[-1], flush=True)
            # Memory per open socket (with its run), from the row with the most viewers.
            ours_kib = (ours_result["server_rss_open_kib"] - ours_before) / viewers
            bare_kib = (bare_result["server_rss_open_kib"] - bare_before) / viewers
        if which != "capacity":
            print(f"engine={engine_us:.1f}us/frame render={render_us:.1f}us/frame "
                  f"frame_bytes={sum(sizes) / len(sizes):.0f}")
            print(f"memory viewers={ROWS[-1][0]} ours={ours_kib:.0f}KiB/viewer bare={bare_kib:.0f}KiB/viewer "
                  f"ratio={ours_kib / max(bare_kib, 1):.1f}", flush=True)
        if which != "shared":
            print(capacity(ours_port, ours.pid), flush=True)
    finally:
        if bare is not None:
            bare.terminate()
        ours.terminate()
        ours.wait()


if __name__ == "__main__":
    main()
