"""Simulation engines: pure Python, deterministic, no Django imports.

`ENGINES` is the one list of engine classes the site serves; `simulations.registry`
builds its slug map from it. Adding an engine means writing its module, adding its
class here, and giving it a stage in `simulations.render.STAGES`; the contract suite
(tests/simulations/contract/) then tests it.
"""

from simulations.engines.race_conditions import RaceConditionsEngine
from simulations.engines.paxos import PaxosEngine
from simulations.engines.raft import RaftEngine
from simulations.engines.threads_processes import ThreadsProcessesEngine
from simulations.engines.tcp import TcpEngine
from simulations.engines.ws_protocol import WebSocketsEngine
from simulations.engines.locks import LocksEngine

ENGINES = (RaceConditionsEngine, RaftEngine, ThreadsProcessesEngine, PaxosEngine, TcpEngine, WebSocketsEngine, LocksEngine)
