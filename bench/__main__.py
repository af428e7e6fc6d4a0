"""`make bench`: how fast one Daphne process streams Race Conditions (and Raft) frames,
against a bare `websockets` server sending the same pre-rendered frames, measured in one run.

Prints one line per row, `SLUG viewers=N ours=F/s bare=F/s ratio=R` (targets: 0.5 at 100
and 1,000) and each server's CPU time per frame sent (what a busy machine disturbs least), the average frame size and the server memory per open socket, then every
engine's step and render time per frame and its median frame message (bench/engines.py;
budgets 100 µs, 100 µs, 8 KB). Then the capacity row (bench/capacity.py): 500
viewers on the one process, each playing its own run (distinct seeds) at 10 frames a
second, paced as for the page: frames delivered per second, p50 and p99 lag behind each
frame's due time (target: p99 under 100 ms), and server memory per viewer; then the same
with every viewer on one shared run, whose CPU per frame is the cost of serving a frame
without its engine step and render. Ratios are
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
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learning_platform.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "k" * 50)

from bench import engines  # noqa: E402
from tests.hostile.clients import cpu_seconds, percentile, rss_kib  # noqa: E402
from tests.loopback import free_port, wait_for_port  # noqa: E402

SLUG = "race-conditions"
#: (engine, viewers, frames each viewer plays): each row moves tens of thousands of frames.
#: Raft's row: 5 servers, 100 viewers of one run (issue 9).
ROWS = ((SLUG, 1, 3000), (SLUG, 100, 200), (SLUG, 1000, 40), ("raft", 100, 200))
#: The capacity row: viewers (BENCH_CAPACITY_VIEWERS, to find how many one process carries),
#: seconds of play, client processes sharing them.
CAPACITY_VIEWERS = int(os.environ.get("BENCH_CAPACITY_VIEWERS", "500"))
CAPACITY_SECONDS, CAPACITY_PROCESSES = 20, 2


def panel_of(slug: str) -> str:
    return f"sim-{slug}"


def messages_for(slug: str, steps: int) -> list[str]:
    """What our consumer sends one viewer: the state on connect, then unpaced play."""
    import django

    django.setup()
    from simulations import controller, process, protocol, registry

    engine_cls = registry.get(slug)
    request = protocol.Connect(panel_of(slug), None, None, False, None)
    viewer, reply = controller.connect(engine_cls, request, process.current())
    viewer.view.playing = True
    return [reply.text, *controller.unpaced_messages(viewer, steps)]


def run_load(url: str, viewers: int, expected: int, start: str, server_pid: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.load", url, str(viewers), str(expected), start, str(server_pid)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    if out.returncode:
        raise RuntimeError(f"bench.load for {viewers} viewers failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def capacity(port: int, server_pid: int, shared: bool = False) -> str:
    """The capacity row: CAPACITY_VIEWERS viewers, each on its own run at 10 frames a second
    (`shared`: all on the same runs, the frames computed and rendered once: what serving
    a frame costs without its engine step and render, measured beside it)."""
    before = rss_kib(server_pid)
    share = CAPACITY_VIEWERS // CAPACITY_PROCESSES
    clients = [subprocess.Popen([sys.executable, "-m", "bench.capacity", str(port), str(share), str(i * share),
                                 str(CAPACITY_SECONDS), *(["shared"] if shared else [])], cwd=ROOT,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for i in range(CAPACITY_PROCESSES)]
    try:
        for client in clients:
            json.loads(client.stdout.readline())  # {"opened": n}
        cpu_before = cpu_seconds(server_pid)  # play only: opening the sockets is not a frame's cost
        for client in clients:
            client.stdin.write("go\n")
            client.stdin.flush()
        # Each client's result (every frame's lag) is larger than a pipe holds: read it as
        # it comes (communicate), sampling the server's memory meanwhile.
        peaks, done = [before], threading.Event()

        def sample() -> None:
            while not done.wait(0.5):
                peaks.append(rss_kib(server_pid))

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            outputs = [client.communicate(timeout=CAPACITY_SECONDS + 120)[0] for client in clients]
        finally:
            done.set()
            sampler.join()
        peak = max(peaks)
        results = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()
    cpu = cpu_seconds(server_pid) - cpu_before
    frames = sum(r["frames"] for r in results)
    seconds = max(r["seconds"] for r in results)
    lags = [lag for r in results for lag in r["lags_ms"]]
    runs = "one run shared by all" if shared else "own runs"
    # A shared run's memory is not measured: the server's heap does not shrink after the row before.
    memory = "" if shared else f"memory={(peak - before) / CAPACITY_VIEWERS:.0f}KiB/viewer "
    return (f"capacity viewers={CAPACITY_VIEWERS} {runs} at 10 frames/s: delivered={frames / seconds:.0f}/s "
            f"(due {CAPACITY_VIEWERS * 10}/s) lag p50={percentile(lags, 50):.0f}ms p99={percentile(lags, 99):.0f}ms "
            f"{memory}server_cpu={cpu / seconds:.0%} "
            f"({cpu / max(frames, 1) * 1e6:.0f}us per frame delivered)")


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))

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
        [sys.executable, "-m", "tests.serve", "-v", "0", "-b", "127.0.0.1", "-p", str(ours_port),
         "learning_platform.asgi:application"], cwd=ROOT, env=env)
    bare = None
    sizes: list[int] = []
    try:
        wait_for_port(ours_port)
        lines = []
        for slug, viewers, steps in ROWS if which != "capacity" else ():
            messages = messages_for(slug, steps)
            if slug == SLUG:
                sizes.extend(len(m.encode()) for m in messages[1:-1])
            frames_file = workdir / f"frames-{slug}-{steps}.json"
            frames_file.write_text(json.dumps(messages))
            bare = subprocess.Popen([sys.executable, "-m", "bench.bare_server", str(bare_port), str(frames_file)],
                                    cwd=ROOT, env=env)
            wait_for_port(bare_port)
            expected = steps + 1  # the frames, then the done marker
            start = json.dumps({"cmd": "play", "pace": "off", "steps": str(steps)})
            ours_before, bare_before = rss_kib(ours.pid), rss_kib(bare.pid)
            ours_result = run_load(f"ws://127.0.0.1:{ours_port}/ws/simulations/{slug}/?panel={panel_of(slug)}",
                                   viewers, expected, start, ours.pid)
            bare_result = run_load(f"ws://127.0.0.1:{bare_port}/", viewers, expected, start, bare.pid)
            bare.terminate()
            bare.wait()
            bare = None
            ours_fps = ours_result["frames"] / ours_result["seconds"]
            bare_fps = bare_result["frames"] / bare_result["seconds"]
            ours_cpu = ours_result["server_cpu_seconds"] / ours_result["frames"] * 1e6
            bare_cpu = bare_result["server_cpu_seconds"] / bare_result["frames"] * 1e6
            lines.append(f"{slug} viewers={viewers} ours={ours_fps:.0f}/s bare={bare_fps:.0f}/s "
                         f"ratio={ours_fps / bare_fps:.2f} server_cpu_per_frame ours={ours_cpu:.0f}us "
                         f"bare={bare_cpu:.0f}us")
            print(lines[-1], flush=True)
            if viewers == 1000:  # memory per open socket (with its run), from the largest row
                ours_kib = (ours_result["server_rss_open_kib"] - ours_before) / viewers
                bare_kib = (bare_result["server_rss_open_kib"] - bare_before) / viewers
        if which != "capacity":
            print(f"{SLUG} frame_bytes={sum(sizes) / len(sizes):.0f} (average message of its rows)")
            print(f"memory viewers=1000 ours={ours_kib:.0f}KiB/viewer bare={bare_kib:.0f}KiB/viewer "
                  f"ratio={ours_kib / max(bare_kib, 1):.1f}", flush=True)
            # Every engine's own costs (bench/engines.py), measured here while the server idles.
            engines.main()
        if which != "shared":
            print(capacity(ours_port, ours.pid), flush=True)
            print(capacity(ours_port, ours.pid, shared=True), flush=True)
    finally:
        if bare is not None:
            bare.terminate()
        ours.terminate()
        ours.wait()


if __name__ == "__main__":
    main()
