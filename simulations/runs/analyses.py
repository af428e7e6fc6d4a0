"""Whole-run analyses, computed once per process for what they depend on.

An analysis walks a whole run space (tenths of a second of CPU), and a class asks for
the same few again and again: results are kept per (engine, analysis, the params it
depends on: `Engine.analysis_inputs`), the last ANALYSIS_CACHE_SIZE of them. The API and
the socket share this cache; results are read-only. The socket computes a missing one in
a worker process (`compute_in`), so the event loop that streams every viewer's frames
never runs it.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import Executor
from types import MappingProxyType
from typing import Any

from simulations.engines.base import Engine

#: Distinct (engine, analysis, inputs) results kept, per process.
ANALYSIS_CACHE_SIZE = 64

_results: OrderedDict[tuple[Any, ...], Mapping[str, Any]] = OrderedDict()
_lock = threading.Lock()  # the API computes in worker threads


def _key(engine_cls: type[Engine], name: str, params: Any) -> tuple[Any, ...]:
    return (engine_cls, name, engine_cls.analysis_inputs(name, params))


def _remember(key: tuple[Any, ...], result: Mapping[str, Any]) -> Mapping[str, Any]:
    with _lock:
        _results[key] = result
        _results.move_to_end(key)
        while len(_results) > ANALYSIS_CACHE_SIZE:
            _results.popitem(last=False)
    return result


def _cached(key: tuple[Any, ...]) -> Mapping[str, Any] | None:
    with _lock:
        result = _results.get(key)
        if result is not None:
            _results.move_to_end(key)
        return result


def compute(engine_cls: type[Engine], name: str, params: Any) -> Mapping[str, Any]:
    """The analysis as plain data (in whichever process runs it)."""
    return MappingProxyType(dict(engine_cls.analyse(name, params)))


def analysis(engine_cls: type[Engine], name: str, params: Any) -> Mapping[str, Any]:
    """The analysis, from the cache or computed here."""
    key = _key(engine_cls, name, params)
    result = _cached(key)
    if result is None:
        result = _remember(key, compute(engine_cls, name, key[2]))
    return result


async def compute_in(executor: Executor, engine_cls: type[Engine], name: str, params: Any) -> Mapping[str, Any]:
    """The analysis, from the cache or computed by `executor` (a process pool)."""
    key = _key(engine_cls, name, params)
    result = _cached(key)
    if result is None:
        data = await asyncio.get_running_loop().run_in_executor(executor, _plain, engine_cls, name, key[2])
        result = _remember(key, MappingProxyType(data))
    return result


def _plain(engine_cls: type[Engine], name: str, params: Any) -> dict[str, Any]:
    # A mappingproxy does not pickle across the process boundary; a dict does.
    return dict(engine_cls.analyse(name, params))


def clear() -> None:
    with _lock:
        _results.clear()
