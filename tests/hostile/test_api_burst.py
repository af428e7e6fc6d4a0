"""Issue 7, item 3: the simulation API is rate-limited per client address. A burst of
concurrent POSTs from one address gets 429s with Retry-After (django-ninja's throttling,
simulations/api.py: BURST_RATE, SUSTAINED_RATE), while another address is still served."""

from __future__ import annotations

import asyncio
import json

from simulations.api import BURST_RATE
from tests.hostile.clients import http

RUNS = "/api/simulations/race-conditions/runs"
BURST = 30


async def test_a_burst_of_runs_from_one_address_gets_429_with_retry_after(production_server):
    port = production_server.port
    body = json.dumps({"seed": 3, "steps": 20}).encode()
    answers = await asyncio.gather(*(http(port, "POST", RUNS, body, source="127.0.0.8") for _ in range(BURST)))
    statuses = [status for status, *_ in answers]
    allowed = int(BURST_RATE.split("/")[0])
    print(f"\n{BURST} concurrent POSTs from one address: {statuses.count(200)} x 200, {statuses.count(429)} x 429")
    assert set(statuses) <= {200, 429}
    assert 0 < statuses.count(200) <= allowed and statuses.count(429) >= BURST - allowed
    for status, headers, content, _ in answers:
        if status == 429:
            assert int(headers["retry-after"]) >= 1, headers
            assert headers["content-type"].startswith("application/json")
            assert isinstance(json.loads(content)["detail"], str)
        else:
            assert json.loads(content)["frames"]
    # Per address: another one is served at once.
    status, _, content, _ = await http(port, "POST", RUNS, body, source="127.0.0.9")
    assert status == 200 and json.loads(content)["run"]["seed"] == 3


async def test_429_is_documented_on_every_simulation_operation(production_server):
    status, _, content, _ = await http(production_server.port, "GET", "/api/openapi.json")
    paths = json.loads(content)["paths"]
    operations = [op for path, ops in paths.items() if path.startswith("/api/simulations") for op in ops.values()]
    assert len(operations) == 4
    assert all("429" in op["responses"] for op in operations)


async def test_the_worker_takes_one_job_at_a_time_and_refuses_past_the_waiting_limit():
    """simulations.api.Workers, with a thread standing in for the worker process."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import pytest

    from simulations.api import Busy, Workers

    workers = Workers(processes=1, waiting=3)
    workers._executor = ThreadPoolExecutor(1)
    release, ran = threading.Event(), []

    def job(name: str) -> str:
        ran.append(name)
        release.wait(10)
        return name

    first = asyncio.create_task(workers.run(job, "first"))
    second = asyncio.create_task(workers.run(job, "second"))
    third = asyncio.create_task(workers.run(job, "third"))
    await asyncio.sleep(0.2)
    assert ran == ["first"], "the others wait for the worker, not in its queue"
    with pytest.raises(Busy):
        await workers.run(job, "fourth")
    third.cancel()  # its client left while it waited: it never runs
    release.set()
    assert await asyncio.gather(first, second) == ["first", "second"]
    await asyncio.sleep(0.1)
    assert ran == ["first", "second"] and workers.waiting == 0
    workers._executor.shutdown()
