"""The names the server, the panel template and static/js/simulations.js share: the ids
of a panel's parts and the socket's close codes. One source: the template reads them from
`PanelRenderer.ids`, the script from the panel's `data-sim-wire` attribute (`wire_json`).
"""

from __future__ import annotations

import json
from enum import IntEnum
from functools import lru_cache

#: Every part of a panel with an id of its own: `{prefix}-{name}`.
PART_NAMES = (
    "stage", "narration", "log", "metrics", "counter", "timeline", "play", "permalink",
    "error", "seed", "speed", "params", "actions", "analysis", "status", "notice",
    "step", "back", "reset", "params-form", "seek", "title", "seed-input", "seed-help", "log-title",
    "ack", "new-seed",
)


def part_ids(prefix: str) -> dict[str, str]:
    """Part name (hyphens as underscores, so templates can read it) -> its DOM id."""
    return {name.replace("-", "_"): f"{prefix}-{name}" for name in PART_NAMES}


class Close(IntEnum):
    """Close codes the socket sends. Daphne lets an application send only 1000 and
    3000-4999, so the standard meanings appear with 3000 added (1003 -> 4003)."""

    BINARY = 4003
    FLOOD = 4008
    TOO_BIG = 4009
    BUSY = 4013
    UNKNOWN = 4404


#: What the page says when the socket closes with each code.
CLOSE_REASONS = {
    Close.BINARY: "Closed: the page sent data the server does not accept.",
    Close.FLOOD: "Closed: too many messages. Reload the page to continue.",
    Close.TOO_BIG: "Closed: a message was too large. Reload the page to continue.",
    Close.BUSY: "Closed: too many simulations are open. Close some tabs and reload.",
    Close.UNKNOWN: "This simulation is not available.",
}

#: The codes htmx's ws extension reconnects on (its own rule; none of ours is among them,
#: so a refused socket never retries in a loop).
RETRY_CODES = (1006, 1011, 1012, 1013)


@lru_cache(maxsize=1)
def wire_json() -> str:
    """Close reasons and retry codes for the page's script, as JSON."""
    return json.dumps({
        "close": {str(int(code)): text for code, text in CLOSE_REASONS.items()},
        "retry": list(RETRY_CODES),
    }, separators=(",", ":"))
