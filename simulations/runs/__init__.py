"""The run model: what a run is, how it replays, and how it travels in a link.

Framework-free (no Django imports): the page, the WebSocket consumer and the JSON
API all use this package, so they cannot disagree about what a run means. One
module per concern:

- `errors`: FieldError and RunError, naming the field at fault;
- `spec`: a run (engine slug, params, seed, scheduled actions) parsed from untrusted input;
- `permalinks`: a run as a URL-safe token, and the strict JSON reader;
- `tracks`: a run's frames computed once and shared (RunTrack), the bounded RunStore;
- `session`: one viewer's position on a run, seeking and branching (RunSession);
- `analyses`: whole-run analyses, computed once per process.

Because engines are deterministic, replaying a run gives the same frames in any
process, which is what makes seeking, reconnect-and-resume and permalinks work.
"""

from simulations.runs.analyses import ANALYSIS_CACHE_SIZE, analysis, compute_in
from simulations.runs.errors import FieldError, Loc, PermalinkError, RunError, format_loc, pydantic_errors
from simulations.runs.permalinks import JSONTooDeep, decode_run, decode_token, encode_run, loads_strict
from simulations.runs.session import LogEntry, RunSession, replay
from simulations.runs.spec import (
    MAX_ACTIONS,
    MAX_SEED,
    RunSpec,
    ScheduledAction,
    default_run,
    dump_action,
    parse_action,
    parse_actions,
    parse_params,
    parse_run,
    parse_seed,
    parse_whole,
)
from simulations.runs.tracks import RunStore, RunTrack, new_engine

__all__ = [
    "ANALYSIS_CACHE_SIZE", "MAX_ACTIONS", "MAX_SEED", "FieldError", "JSONTooDeep", "Loc", "LogEntry",
    "PermalinkError", "RunError", "RunSession", "RunSpec", "RunStore", "RunTrack", "ScheduledAction",
    "analysis", "compute_in", "decode_run", "decode_token", "default_run", "dump_action", "encode_run", "format_loc",
    "loads_strict", "new_engine", "parse_action", "parse_actions", "parse_params", "parse_run",
    "parse_seed", "parse_whole", "pydantic_errors", "replay",
]
