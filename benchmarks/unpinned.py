"""The dense nets against JAX with nothing pinned: every core each engine chooses to use, as a user runs them.

The main table pins every engine to one core. Here, in a fresh process with
the BLAS and XLA thread limits of ``benchmarks.__main__`` removed and every
CPU allowed, nnfast runs with its default thread choice (the first layer's
units on every core where its measurement says it pays:
``nnfast/engine/dense_threads.py``) and JAX with XLA's own thread pool;
rounds alternate the two (``timing.compare``: the second epoch of each SGD
call, same seeds and mini-batches). ``under_load``: nnfast's default against
``NNFAST_THREADS=1`` with one other CPU-bound process running, whole
two-epoch calls (the probing included), alternating.

Run alone: ``python -m benchmarks.unpinned [ROUNDS]`` (prints the JSON; ``--help`` says more).
"""

import json
import os
import random
import statistics
import subprocess
import sys
import time

CONFIGS = [(30, 10), (30, 100), (100, 10), (100, 100)]
LOAD_CELL = (100, 100, "float32")  # hidden units, mini-batch, dtype: where threads pay most on two cores


def _engines(dtype):
    from nnfast.peers.engines import chapter
    return [e for e in chapter(1) if e.name in ("jax", "nnfast") and e.dtype == dtype]


def run(rounds=3):
    """Rows per net, batch and dtype: nnfast's and JAX's seconds per epoch, unpinned; and the under-load row."""
    from nnfast import mnist_loader
    from nnfast.peers.engines import engine_id

    from . import timing
    training = mnist_loader.load_data_wrapper()[0]
    rows = []
    for dtype in ("float32", "float64"):
        engines = _engines(dtype)
        if len(engines) < 2 or any(e.missing() for e in engines):
            return {"rows": [], "note": "jax not installed (pip install 'jax[cpu]')"}
        jax_first = sorted(engines, key=lambda e: e.name != "jax")  # ratios: JAX's time over nnfast's
        for hidden, batch in CONFIGS:
            sizes = [784, hidden, 10]
            print(f"[unpinned: {'-'.join(map(str, sizes))}, batch {batch}, {dtype}] {rounds} rounds ...",
                  file=sys.stderr, flush=True)
            result = timing.compare(jax_first, sizes, training, batch, 3.0, rounds, 0)
            ours = result[engine_id(jax_first[1])]
            theirs = result[engine_id(jax_first[0])]
            row = {"sizes": sizes, "batch": batch, "dtype": dtype,
                   "nnfast_s": timing.median(ours["seconds"]), "jax_s": timing.median(theirs["seconds"]),
                   "nnfast_rounds": ours["seconds"], "jax_rounds": theirs["seconds"],
                   "vs_jax": timing.median(ours["ratios"])}
            rows.append(row)
            print(f"  nnfast {row['nnfast_s']:.3f} s, jax {row['jax_s']:.3f} s: {row['vs_jax']:.2f}x",
                  file=sys.stderr, flush=True)
    return {"rows": rows, "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "under_load": under_load(training, rounds)}


def under_load(training, rounds, epochs=2):
    """nnfast's default threads against ``NNFAST_THREADS=1`` beside one busy process: whole SGD calls."""
    import contextlib
    import io

    import numpy as np

    from nnfast import network
    hidden, batch, dtype = LOAD_CELL
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    times = {"default": [], "1": []}
    try:
        for r in range(rounds):
            for key in (("default", "1") if r % 2 == 0 else ("1", "default")):
                if key == "default":
                    os.environ.pop("NNFAST_THREADS", None)
                else:
                    os.environ["NNFAST_THREADS"] = "1"
                np.random.seed(0)
                random.seed(r)
                net = network.Network([784, hidden, 10], dtype=getattr(np, dtype))
                start = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    net.SGD(training, epochs, batch, 3.0)
                times[key].append(time.perf_counter() - start)
    finally:
        busy.kill()
        os.environ.pop("NNFAST_THREADS", None)
    default, one = statistics.median(times["default"]), statistics.median(times["1"])
    print(f"  under load: default {default:.2f} s, NNFAST_THREADS=1 {one:.2f} s, ratio {default / one:.2f}",
          file=sys.stderr, flush=True)
    return {"sizes": [784, hidden, 10], "batch": batch, "dtype": dtype, "epochs": epochs,
            "default_s": default, "one_thread_s": one, "ratio": default / one}


def run_in_fresh_process(rounds):
    """``run`` in a new process, every CPU allowed, without the one-thread limits the engine tables run under."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "XLA_FLAGS", "NNFAST_THREADS")}
    code = ("import json, os; os.sched_setaffinity(0, range(os.cpu_count())) if hasattr(os, 'sched_setaffinity') "
            f"else None; from benchmarks import unpinned; print(json.dumps(unpinned.run({int(rounds)})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.stderr.write(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def markdown(unpinned):
    """The unpinned table's lines for latest.md."""
    if not unpinned or not unpinned.get("rows"):
        return ["", f"Unpinned (every core): {unpinned.get('note', 'not run') if unpinned else 'not run'}."]
    lines = ["", f"Unpinned: nnfast (its default thread choice) and JAX (XLA's thread pool), every core of "
             f"{unpinned['cores']} allowed, one-minute load average {unpinned['load_average']:.1f} when it ended; "
             "seconds per epoch (medians of rounds alternating the two) and JAX's time over nnfast's "
             "(`benchmarks/unpinned.py`):", "",
             "| sizes | batch | dtype | nnfast s/epoch | JAX s/epoch | JAX / nnfast |", "|---|---|---|---:|---:|---:|"]
    for row in unpinned["rows"]:
        lines.append(f"| {'-'.join(map(str, row['sizes']))} | {row['batch']} | {row['dtype']} | "
                     f"{row['nnfast_s']:.3f} | {row['jax_s']:.3f} | {row['vs_jax']:.2f}x |")
    load = unpinned.get("under_load")
    if load:
        lines += ["", f"Under load (one other CPU-bound process running), {'-'.join(map(str, load['sizes']))} "
                  f"batch {load['batch']} {load['dtype']}, whole {load['epochs']}-epoch `SGD` calls: nnfast's default "
                  f"{load['default_s']:.2f} s, `NNFAST_THREADS=1` {load['one_thread_s']:.2f} s, ratio "
                  f"{load['ratio']:.2f} (threads are kept only while they measurably pay: "
                  "`nnfast/engine/dense_threads.py`)."]
    return lines


def _rounds(text):
    """argparse's type for ROUNDS: a whole number of at least 1, else one line saying so."""
    import argparse
    try:
        rounds = int(text)
    except ValueError:
        rounds = 0
    if rounds < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return rounds


def main(argv=None):
    """The dense nets against JAX on every core, printed as JSON: ``python -m benchmarks.unpinned [ROUNDS]``."""
    import argparse
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.unpinned",
        description="The dense nets (784-{30,100}-10, mini-batch 10 and 100, float32 and float64) against JAX with "
                    "nothing pinned, each engine on the cores it chooses, and nnfast's default threads against one "
                    "thread beside a busy process; prints the figures as JSON. Needs MNIST and jax.",
        epilog="example: python -m benchmarks.unpinned 3")
    parser.add_argument("rounds", nargs="?", type=_rounds, default=3, metavar="ROUNDS",
                        help="rounds alternating the engines (default 3)")
    args = parser.parse_args(argv)
    try:
        print(json.dumps(run(args.rounds), indent=1))
    except KeyboardInterrupt:  # the busy process of the under-load row is ended by run's own finally
        parser.exit(130, "interrupted\n")


if __name__ == "__main__":
    main()
