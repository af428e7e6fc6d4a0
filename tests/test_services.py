"""PostgreSQL and Redis used for real (127.0.0.1:5432 and :6379 on the development and CI machines).

Each test skips with its reason when the server is unreachable; under CI=true that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import require

BASE_DIR = Path(__file__).resolve().parent.parent
PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def clean_env(**env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    base.pop("PYTEST_CURRENT_TEST", None)
    return {**base, **env}


#: The test files (and the one contract test) that use the database.
DATABASE_SUITES = [
    "tests/topics",
    *sorted(str(p.relative_to(BASE_DIR)) for p in (BASE_DIR / "tests" / "simulations").glob("test_*.py")
            if "django_db" in p.read_text()),
    "tests/simulations/contract/test_contract.py::test_every_preset_validates_and_plays_to_its_end",
]


@pytest.mark.postgres
def test_the_database_suites_pass_on_postgresql():
    require(reachable(PG_HOST, PG_PORT), f"no PostgreSQL server at {PG_HOST}:{PG_PORT}")
    # A database name of our own, so pytest-django's test_<name> never collides with another
    # run of the whole suite on PostgreSQL (which uses test_postgres) on the same server.
    name = f"svc_{os.getpid()}"
    result = subprocess.run(
        # Every test that touches the database: content, admin, pages, API, presets (the
        # engines' own tests never do, and rerunning them here only costs minutes).
        [sys.executable, "-m", "pytest", *DATABASE_SUITES, "-p", "no:cacheprovider", "-q",
         # Compares two files, no database; it skips where ../shared is absent.
         "--deselect", "tests/topics/test_seed.py::test_committed_seed_matches_the_shared_seed"],
        cwd=BASE_DIR,
        env=clean_env(DATABASE_URL=f"postgres://postgres@{PG_HOST}:{PG_PORT}/{name}"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    summary = output.strip().splitlines()[-1]
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summary)}
    assert counts.get("passed", 0) > 0, summary
    for bad in ("failed", "skipped", "error", "errors"):
        assert not counts.get(bad), summary


REDIS_ROUND_TRIP = r"""
import asyncio, json, sys, time
import django
django.setup()
from channels.layers import get_channel_layer

async def main(group, wait):
    layer = get_channel_layer()
    member = await layer.new_channel()
    outsider = await layer.new_channel()
    await layer.group_add(group, member)
    await layer.group_send(group, {"type": "frame.step", "step": 1, "html": "<p>hi</p>"})
    got = await asyncio.wait_for(layer.receive(member), timeout=5)
    try:
        leaked = await asyncio.wait_for(layer.receive(outsider), timeout=0.5)
    except asyncio.TimeoutError:
        leaked = None
    # A receive that waits longer than redis-py 8's 5 s default socket timeout must
    # survive (the channels_redis 4.3 trap in DESIGN.md).
    started = time.monotonic()
    waiting = asyncio.ensure_future(layer.receive(member))
    await asyncio.sleep(wait)
    await layer.group_send(group, {"type": "frame.step", "step": 2})
    late = await asyncio.wait_for(waiting, timeout=5)
    await layer.group_discard(group, member)
    await layer.group_send(group, {"type": "frame.step", "step": 3})
    try:
        after_discard = await asyncio.wait_for(layer.receive(member), timeout=0.5)
    except asyncio.TimeoutError:
        after_discard = None
    print(json.dumps({
        "backend": type(layer).__module__ + "." + type(layer).__name__,
        "got": got, "leaked": leaked, "late": late, "waited": time.monotonic() - started,
        "after_discard": after_discard,
    }))

asyncio.run(main(sys.argv[1], float(sys.argv[2])))
"""


@pytest.mark.redis
def test_channels_redis_layer_round_trip():
    require(reachable(REDIS_HOST, REDIS_PORT), f"no Redis server at {REDIS_HOST}:{REDIS_PORT}")
    group = f"test-{uuid.uuid4().hex}"
    result = subprocess.run(
        [sys.executable, "-c", REDIS_ROUND_TRIP, group, "6"],
        cwd=BASE_DIR,
        env=clean_env(
            DJANGO_SETTINGS_MODULE="learning_platform.settings",
            DJANGO_DEBUG="1",
            REDIS_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-6000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["backend"] == "channels_redis.core.RedisChannelLayer"
    assert out["got"] == {"type": "frame.step", "step": 1, "html": "<p>hi</p>"}
    assert out["leaked"] is None, "a channel outside the group received the message"
    assert out["waited"] >= 6
    assert out["late"] == {"type": "frame.step", "step": 2}
    assert out["after_discard"] is None, "a discarded channel still received group messages"
