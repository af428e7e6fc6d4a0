"""The generic stage: every entity as a labelled card. Only for an engine whose entry in
`simulations.render.STAGES` asks for it (tests' toy engines); a site engine has its own."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from simulations.engines.base import Frame
from simulations.render.svg import escape

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
            f'<text x="{x + 10}" y="{y + 22}" class="sim-generic__title" font-size="15">{escape(entity.id)}'
            f' <tspan class="sim-generic__kind" font-size="12">{escape(entity.kind)}</tspan></text>{"".join(lines)}</g>'
        )
    rows = max(1, -(-len(frame.entities) // cols))
    width = _GAP + cols * (_BOX_W + _GAP)
    height = _GAP + rows * (_BOX_H + _GAP)
    return (
        f'<svg id="{escape(dom_id)}" class="sim-stage sim-generic" viewBox="0 0 {width} {height}" font-size="13" '
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
