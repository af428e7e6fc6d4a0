"""Reading the simulation socket in tests as the page does: every message the server marks
for it is acknowledged (limits.SendWindow), or the server stops sending after a few."""

from __future__ import annotations

import json

from tests.hostile.clients import marker_of
from tests.simulations.html import Message


async def acknowledge(comm, text: str) -> None:
    """Echo the message's marker if the server asked for it, as the page's script does."""
    marker = marker_of(text)
    if marker and marker.group(3):
        await comm.send_to(text_data=json.dumps({"cmd": "ack", "seq": marker.group(1), "token": marker.group(2)}))


async def receive(comm, timeout: float = 2.0, ack: bool = True) -> Message:
    text = await comm.receive_from(timeout)
    if ack:
        await acknowledge(comm, text)
    return Message(text)


async def act(comm, **fields) -> Message:
    """An action as the panel's forms send it: each field a string under `a.`."""
    await comm.send_to(text_data=json.dumps({"cmd": "action", **{f"a.{k}": str(v) for k, v in fields.items()}}))
    return await receive(comm)


async def step(comm, n: int = 1) -> Message:
    """`n` steps forward, one message each; the last."""
    msg = None
    for _ in range(n):
        await comm.send_to(text_data='{"cmd": "step"}')
        msg = await receive(comm)
    return msg


async def steps_until(comm, pred, limit: int = 60) -> list[Message]:
    """Step until `pred(message)` holds; the messages seen on the way."""
    seen = []
    for _ in range(limit):
        msg = await step(comm)
        seen.append(msg)
        if pred(msg):
            return seen
    raise AssertionError("the awaited frame never came")


class PanelReader:
    """What a learner reads in one panel's parts of a message (prefix `prefix`)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def error(self, msg: Message) -> str:
        node = msg.oob(f"{self.prefix}-error", "innerHTML")
        return node.text if node else ""

    def narration(self, msg: Message) -> str:
        node = msg.oob(f"{self.prefix}-narration", "innerHTML")
        return node.text if node else ""

    def log(self, msg: Message) -> str:
        node = msg.oob(f"{self.prefix}-log")
        return node.text if node else ""

    def stage(self, msg: Message) -> str:
        """The stage's words and its description for screen readers."""
        node = msg.el(f"{self.prefix}-stage")
        return node.text + " " + node.attrs.get("aria-label", "") if node else ""

    async def acted(self, comm, fields: dict, logged: str, narrated: str) -> Message:
        """Send a possible action: no error, `logged` in the log at once, and `narrated` in the
        next frame's narration. That next frame."""
        msg = await act(comm, **fields)
        assert self.error(msg) == "", self.error(msg)
        assert logged in self.log(msg)
        after = await step(comm)
        assert narrated in self.narration(after), self.narration(after)
        return after

    async def refused(self, comm, fields: dict, says: str) -> Message:
        """Send an action that is impossible now: its error says `says`, and the run (its
        permalink) and the stage are as they were. The message with the error."""
        await comm.send_to(text_data='{"cmd": "state"}')
        before = await receive(comm)
        msg = await act(comm, **fields)
        assert says in self.error(msg), self.error(msg)
        await comm.send_to(text_data='{"cmd": "state"}')
        after = await receive(comm)
        link = f"{self.prefix}-permalink"
        assert after.el(link).attrs["href"] == before.el(link).attrs["href"], "the run is the same"
        stage = f"{self.prefix}-stage"
        assert after.raw(stage) == before.raw(stage), "the stage is drawn the same"
        return msg

    def metric(self, msg: Message, name: str) -> str:
        for row in msg.el(f"{self.prefix}-metrics").find_all("div"):
            dt = row.find_all("dt")
            if dt and dt[0].text.strip() == name:
                return row.find_all("dd")[0].text.strip()
        raise KeyError(name)
