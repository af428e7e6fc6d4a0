"""Whole-run analyses, computed once per process for what they depend on."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from simulations.engines.base import Engine

#: Distinct (engine, analysis, params) results kept, per process.
ANALYSIS_CACHE_SIZE = 64


@functools.lru_cache(maxsize=ANALYSIS_CACHE_SIZE)
def analysis(engine_cls: type[Engine], name: str, params: Any) -> Mapping[str, Any]:
    """`engine_cls.analyse(name, params)`, computed once per process for each (engine, name,
    params) among the last ANALYSIS_CACHE_SIZE asked for (Params are frozen, so hashable):
    an analysis walks a whole run space (tenths of a second), and a class asks for the
    same few again and again. The API and the socket share this cache; results are
    read-only."""
    return MappingProxyType(dict(engine_cls.analyse(name, params)))
