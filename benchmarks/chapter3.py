"""Chapter 3 rows of `make bench`: network2 (cross-entropy, lmbda 5.0, batch 10) against its per-sample twin.

Two measurements, each side by side in one process:

- training alone: the twin and nnfast float64/float32, rounds alternating
  the engines (``timing.compare``), the ratio taken round by round;
- the cost of the book's four monitors: each nnfast engine runs an epoch
  without and an epoch with all four monitors (training cost and accuracy
  over the 50,000 training images, evaluation cost and accuracy over the
  10,000 validation images), alternating, and the overhead is the ratio
  round by round. The twin is not timed with monitors: its per-sample
  monitoring alone takes longer than its training.
"""

import statistics
import sys

from nnfast.peers.engines import chapter, engine_id

from . import limits, timing

CONFIGS = [30, 100]  # hidden units of [784, h, 10]
ETA, LMBDA, BATCH = 0.5, 5.0, 10


def run(training, validation, rounds, reference_slice, gflops):
    engines = [e for e in chapter(3) if not e.missing()]
    monitors = dict(evaluation_data=validation, monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                    monitor_training_cost=True, monitor_training_accuracy=True)
    rows = []
    for hidden in CONFIGS:
        sizes = [784, hidden, 10]
        print(f"[chapter 3: {'-'.join(map(str, sizes))}, batch {BATCH}, cross-entropy, lmbda {LMBDA}] {rounds} rounds ...",
              file=sys.stderr, flush=True)
        plain = timing.compare(engines, sizes, training, BATCH, ETA, rounds, reference_slice,
                               sgd_kwargs={"lmbda": LMBDA})
        overheads = _monitor_overheads(engines[1:], sizes, training, rounds, monitors)
        limit_s = {d: limits.flops_per_epoch(sizes, len(training)) / (g * 1e9) for d, g in gflops.items()}
        for engine in engines:
            r = plain[engine_id(engine)]
            secs = timing.median(r["seconds"])
            is_ref = engine is engines[0]
            o = overheads.get(engine_id(engine))
            rows.append({"engine": engine.name, "dtype": engine.dtype, "sizes": sizes, "batch": BATCH,
                         "seconds_per_epoch": secs, "seconds_rounds": r["seconds"],
                         "vs_reference": None if is_ref else timing.median(r["ratios"]),
                         "monitored_seconds_per_epoch": timing.median(o["monitored"]) if o else None,
                         "monitor_overhead": statistics.median(o["ratios"]) - 1 if o else None,
                         "flop_share": limit_s[engine.dtype] / secs})
            print(f"  {engine_id(engine):16s} {secs:7.3f} s/epoch"
                  + (f", with 4 monitors +{100 * rows[-1]['monitor_overhead']:.0f}%" if o else ""),
                  file=sys.stderr, flush=True)
    return {"eta": ETA, "lmbda": LMBDA, "batch": BATCH, "rows": rows}


def _monitor_overheads(engines, sizes, training, rounds, monitors):
    """Per engine: epoch seconds with all four monitors, and the ratio to the same round's plain epoch."""
    import random

    import numpy as np
    out = {}
    for engine in engines:
        np.random.seed(0)
        net = engine.make(sizes)
        timing.timed_sgd(net, list(training[:200]), 1, BATCH, ETA, lmbda=LMBDA, **monitors)  # compile
        plain, monitored = [], []
        for r in range(rounds):
            for with_monitors in ((False, True) if r % 2 == 0 else (True, False)):  # A B B A
                random.seed(2000 + r)
                kwargs = monitors if with_monitors else {}
                start, stamps = timing.timed_sgd(net, list(training), 2, BATCH, ETA, lmbda=LMBDA, **kwargs)
                (monitored if with_monitors else plain).append(stamps[1] - stamps[0])
        out[engine_id(engine)] = {"monitored": monitored, "ratios": [m / p for p, m in zip(plain, monitored)]}
    return out
