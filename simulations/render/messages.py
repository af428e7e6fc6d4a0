"""Recent step and jump messages, shared by every viewer who would be sent the same one.

Each is a function of the run (its track), the panel prefix, the position, the session's
horizon (`last`) and the view state, so viewers of one run at one step share one message
instead of each rebuilding the log lines and controls. Keyed on the track object, so a
run's branch never meets another's messages (the cache may keep up to `size` evicted
tracks alive a little longer). This holds while PanelRenderer.step_message / jump_message
read nothing else of the session or view:
test_shared_runs.test_cached_messages_are_the_panel_s_messages checks.
"""

from __future__ import annotations

import dataclasses
import operator
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from simulations.render.panel import PanelRenderer, ViewState
from simulations.runs import RunSession

MESSAGE_CACHE_SIZE = 512
#: The view state as a tuple of its fields (a tuple: ViewState has more than one).
_view_key = operator.attrgetter(*(f.name for f in dataclasses.fields(ViewState)))


class MessageCache:
    def __init__(self, size: int = MESSAGE_CACHE_SIZE) -> None:
        self.size = size
        self._messages: OrderedDict[tuple[Any, ...], str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._messages)

    def _get(self, kind: str, build: Callable[[RunSession, ViewState], str], panel: PanelRenderer,
             session: RunSession, view: ViewState) -> str:
        key = (kind, session.track, panel.prefix, session.position, session.last, _view_key(view))
        message = self._messages.get(key)
        if message is None:
            message = self._messages[key] = build(session, view)
            if len(self._messages) > self.size:
                self._messages.popitem(last=False)
        return message

    def step(self, panel: PanelRenderer, session: RunSession, view: ViewState) -> str:
        """`panel.step_message`, built once per (run, prefix, step, horizon, view)."""
        return self._get("step", panel.step_message, panel, session, view)

    def jump(self, panel: PanelRenderer, session: RunSession, view: ViewState) -> str:
        """`panel.jump_message` (clearing the error area), built once per (run, prefix, step, horizon, view)."""
        return self._get("jump", panel.jump_message, panel, session, view)
