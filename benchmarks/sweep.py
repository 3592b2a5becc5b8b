"""The sweep row of `make bench`: a 16-trial grid (784-{30,100}-10, 3 epochs each) as a user runs it, on 1, 2, ... workers.

Each run is the whole command, `python -m nnfast sweep ... --json --study FILE`, in a fresh process with
a fresh study file, worker counts alternating round by round (1, 2, 1, 2, ...). Reported per worker
count: the median wall time of the whole command, of `sweep.run` alone (workers, scheduling, recording
and the trials), the trials' own time, the throughput relative to one worker, and its share of the ideal
(K workers doing K times one worker's work: ``throughput_vs_1 / K``), with the machine's load average
before the rounds (other processes share the cores). At one worker the
sweep's own overhead is what `sweep.run` spends beyond the set-up any training run pays (the data, its
conversion, the kernels) and the trials themselves: scheduling, Optuna's ask/tell, the journal writes,
the winner's test evaluation.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

# Trials of unequal length (784-30-10 and 784-100-10, mini-batch 10 and 20: about 0.5-2 s each on 2 cores), as a
# learner's grid is: the order they run in decides how long the last worker runs alone.
GRID = ["--eta", "0.5,1.5,2.5,3.5", "--batch-size", "10,20", "--hidden", "30,100", "--epochs", "3"]
TRIALS = 16


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def worker_counts(cores):
    """1, 2, then 4, 8, 16 as far as the machine has cores."""
    return [k for k in (1, 2, 4, 8, 16) if k <= max(cores, 2)]


def _once(workers, folder):
    study = os.path.join(folder, f"sweep-{workers}-{time.monotonic_ns()}.journal")
    env = {k: v for k, v in os.environ.items() if k not in ("NNFAST_THREADS",)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nnfast", "sweep", *GRID, "--workers", str(workers), "--json",
                           "--study", study], capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"nnfast sweep --workers {workers} failed: {done.stderr.strip()[-500:]}")
    doc = json.loads(done.stdout)
    states = {t["state"] for t in doc["trials"]}
    if len(doc["trials"]) != TRIALS or states != {"complete"}:
        raise RuntimeError(f"nnfast sweep --workers {workers}: {len(doc['trials'])} trials, states {states}")
    return {"wall_s": wall, "run_s": doc["seconds"], "setup_s": doc["setup_seconds"], "trials_s": doc["trial_seconds"],
            "best": doc["best"]["params"], "trials": doc["trials"]}


def run(rounds=3, cores=None):
    cores = cores or _cores()
    counts = worker_counts(cores)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(f"[sweep: {TRIALS}-trial grid, 784-{{30,100}}-10, 3 epochs, workers {counts}] {rounds} rounds ...",
          file=sys.stderr, flush=True)
    samples = {k: [] for k in counts}
    with tempfile.TemporaryDirectory() as folder:
        for r in range(rounds):
            for k in (counts if r % 2 == 0 else counts[::-1]):
                samples[k].append(_once(k, folder))
    rows = []
    base = None
    for k in counts:
        med = {key: statistics.median(s[key] for s in samples[k]) for key in ("wall_s", "run_s", "setup_s", "trials_s")}
        if base is None:
            base = med
        row = {"workers": k, **med, "throughput_vs_1": base["wall_s"] / med["wall_s"],
               "run_throughput_vs_1": (base["run_s"] - base["setup_s"]) / (med["run_s"] - med["setup_s"]),
               "ideal_share": base["wall_s"] / med["wall_s"] / k,
               "run_ideal_share": (base["run_s"] - base["setup_s"]) / (med["run_s"] - med["setup_s"]) / k,
               "best_params_agree": len({json.dumps(s["best"], sort_keys=True) for s in samples[k]}) == 1}
        if k == 1:
            row["overhead_share"] = (med["run_s"] - med["setup_s"] - med["trials_s"]) / med["trials_s"]
        rows.append(row)
        print(f"  {k:2d} workers: command {med['wall_s']:.2f} s, sweep.run {med['run_s']:.2f} s "
              f"(set-up {med['setup_s']:.2f} s), trials {med['trials_s']:.2f} s, {100 * row['ideal_share']:.0f}% of "
              f"ideal (sweep.run less set-up: {100 * row['run_ideal_share']:.0f}%)", file=sys.stderr, flush=True)
    schedules = scheduled_shares(samples[1][0]["trials"])
    for k, share in schedules.items():
        print(f"  the 1-worker trials' own times scheduled on {k:2d} workers: options' order "
              f"{100 * share['options_order']:.0f}% of ideal, longest first {100 * share['longest_first']:.0f}%",
              file=sys.stderr, flush=True)
    return {"trials": TRIALS, "grid": " ".join(GRID), "rounds": rounds, "cores": cores, "rows": rows,
            "load_before": load, "schedules": schedules}


def scheduled_shares(trials, counts=(2, 4, 8, 16)):
    """Share of ideal throughput of K workers taking the grid's trials, each as soon as one is free, in the options'
    order and longest first, with each trial's own time as one worker measured it (``trials``: the --json
    document's): what the order alone is worth, whatever the machine's load (start-up and set-up left out)."""
    import heapq

    from nnfast.sweep import space as sweep_space
    options = {GRID[i][2:].replace("-", "_"): GRID[i + 1] for i in range(0, len(GRID), 2) if GRID[i] != "--data"}
    grid = sweep_space.parse(options).grid()
    seconds = {json.dumps(t["params"], sort_keys=True): t["seconds"] for t in trials}
    total = sum(seconds.values())

    def share(order, k):
        free = [0.0] * k
        for point in order:
            heapq.heappush(free, heapq.heappop(free) + seconds[json.dumps(sweep_space.as_json(point), sort_keys=True)])
        return total / k / max(free)
    return {k: {"options_order": share(grid, k), "longest_first": share(sweep_space.longest_first(grid, 10), k)}
            for k in counts}
