"""``nnfast sweep`` as a library: try many training settings, keep the best, honestly.

- ``study``: the loop (Optuna chooses points, prunes and records; ``run`` is the entry point);
- ``space``: the search space parsed from ``nnfast sweep``'s options;
- ``trial``: one training run as a worker runs it;
- ``workers``: where runs execute (this process, local processes, a Dask cluster).

Imports flow study -> workers -> trial -> runs / faces / engine, and space beside them.
"""

from .space import Space, SpaceError, parse
from .study import (PRUNE_STARTUP, PRUNE_WARMUP, STUDY_NAME, OptunaMissing, SweepError, SweepResult, TrialRecord,
                    run, run_seed)

__all__ = ["PRUNE_STARTUP", "PRUNE_WARMUP", "STUDY_NAME", "OptunaMissing", "Space", "SpaceError", "SweepError",
           "SweepResult", "TrialRecord", "parse", "run", "run_seed"]
