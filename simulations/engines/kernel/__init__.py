"""Shared mechanics for timed engines: a virtual clock with an event queue and timers
(`clock`), and a network of nodes and links carrying messages (`network`).

Everything here is plain data (dataclasses, dicts, lists, tuples): no generators,
closures or lambdas in state, so `copy.deepcopy` of an engine that holds these is exact
and cheap, and a copy taken at step k goes on exactly as the original would.
Standard library only.
"""

from simulations.engines.kernel.clock import Occurrence, Scheduler, Timer
from simulations.engines.kernel.network import Link, Message, Network, link_key

__all__ = ["Link", "Message", "Network", "Occurrence", "Scheduler", "Timer", "link_key"]
