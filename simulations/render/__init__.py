"""Frame -> HTML. One module per engine, found by convention, plus the panel's shared fragments.

An engine with slug "race-conditions" is drawn by `simulations.render.race_conditions`:
- `render_stage(frame, dom_id) -> str`: one top-level `<svg id="{dom_id}" viewBox=...>`;
- optionally `render_analysis(name, data, dom_id) -> str`: one top-level `<section id="{dom_id}">`.

Both are the hot path: plain f-strings with `html.escape`, no template engine
(DESIGN.md, Performance). An engine without a module gets the generic drawings
below, so a new engine shows something on its first day.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Any

from simulations.engines.base import Engine, Frame

StageRenderer = Callable[[Frame, str], str]
AnalysisRenderer = Callable[[str, Mapping[str, Any], str], str]


@dataclass(frozen=True)
class Renderers:
    stage: StageRenderer
    analysis: AnalysisRenderer


def module_name(slug: str) -> str:
    return "simulations.render." + slug.replace("-", "_")


@lru_cache(maxsize=64)
def _renderers(slug: str) -> Renderers:
    name = module_name(slug)
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:  # the module exists but one of its imports is missing: a real bug
            raise
        module = None
    stage = getattr(module, "render_stage", None) or render_stage_generic
    analysis = getattr(module, "render_analysis", None) or render_analysis_generic
    return Renderers(stage, analysis)


def renderers_for(engine_cls: type[Engine]) -> Renderers:
    return _renderers(engine_cls.slug)


# --------------------------------------------------------------------------- generic fallbacks

_BOX_W, _BOX_H, _GAP = 150, 84, 16


def format_value(value: Any) -> str:
    """A scalar as a viewer reads it: yes/no, thousands separators, at most 3 decimals."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _fmt(value: Any) -> str:
    """Any state value, for the generic drawings: scalars as format_value, containers short."""
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value[:6]) + ("…" if len(value) > 6 else "")
    if isinstance(value, Mapping):
        return "{…}"
    return format_value(value)


def render_stage_generic(frame: Frame, dom_id: str) -> str:
    """Every entity as a labelled card with up to three of its state fields."""
    cols = 4
    parts = []
    for i, entity in enumerate(frame.entities):
        x = _GAP + (i % cols) * (_BOX_W + _GAP)
        y = _GAP + (i // cols) * (_BOX_H + _GAP)
        lines = [
            f'<text x="{x + 10}" y="{y + 40 + 16 * n}" class="sim-generic__state">'
            f"{escape(str(k))}: {escape(_fmt(v))}</text>"
            for n, (k, v) in enumerate(list(entity.state.items())[:3])
        ]
        parts.append(
            f'<g class="sim-generic__entity sim-kind-{escape(entity.kind)}">'
            f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="10"/>'
            f'<text x="{x + 10}" y="{y + 22}" class="sim-generic__title">{escape(entity.id)}'
            f' <tspan class="sim-generic__kind">{escape(entity.kind)}</tspan></text>{"".join(lines)}</g>'
        )
    rows = max(1, -(-len(frame.entities) // cols))
    width = _GAP + cols * (_BOX_W + _GAP)
    height = _GAP + rows * (_BOX_H + _GAP)
    return (
        f'<svg id="{escape(dom_id)}" class="sim-stage sim-generic" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="Step {frame.index}: {len(frame.entities)} elements" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )


def render_analysis_generic(name: str, data: Mapping[str, Any], dom_id: str) -> str:
    rows = "".join(
        f"<div><dt>{escape(str(k))}</dt><dd>{escape(_fmt(v))}</dd></div>" for k, v in data.items()
    )
    return (
        f'<section id="{escape(dom_id)}" class="sim-analysis" aria-label="Analysis: {escape(name)}">'
        f'<dl class="sim-metrics">{rows}</dl></section>'
    )
