"""`python -m benchmarks` (`make bench`): every engine and configuration side by side on real MNIST.

Options: --quick (one configuration, fewer rounds; writes results/quick.*), --rounds N,
--slice N (reference samples per timed epoch), --out FOLDER, --no-startup, --no-e2e, --no-chapter3,
--no-chapter6, --no-unpinned (the dense nets against JAX on every core), --no-sweep, --no-calls (the
call-cost and chapter 3 problem rows), --no-memory (reading the expanded set), --no-photos (shadowed phone
photos read by a trained net).
"""

import os
import sys

# Measure numpy engines at their best and alike: OpenBLAS's own choice of kernels
# for the CPU it runs on (OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, when the
# environment sets them, force other kernels: an older core type's can halve
# matmul speed), and one thread for every engine, as nnfast's training is
# single-threaded (PyTorch follows OMP_NUM_THREADS, JAX XLA_FLAGS). All must
# be set before the libraries load, so this process re-runs itself once.
if "NNFAST_BENCH_ENV" not in os.environ:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env.update(NNFAST_BENCH_ENV="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               # JAX/XLA's CPU client runs its own thread pool: one thread, like every other engine's epoch
               XLA_FLAGS=(env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                          "intra_op_parallelism_threads=1").strip())
    os.execve(sys.executable, [sys.executable, "-m", "benchmarks", *sys.argv[1:]], env)

import argparse  # noqa: E402
import datetime  # noqa: E402
import platform  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

import nnfast  # noqa: E402
from nnfast import mnist_loader  # noqa: E402
from nnfast.peers.engines import chapter, engine_id  # noqa: E402

ENGINES = chapter(1)

from . import (call_cost, chapter3, chapter6, chart, end_to_end, exercises, limits, memory, photos,  # noqa: E402
               report, startup, sweep, timing, unpinned)

CONFIGS = [(30, 10), (30, 100), (100, 10), (100, 100)]


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="784-30-10, batch 10 only, 3 rounds")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per configuration (default 5, quick 3)")
    parser.add_argument("--slice", type=int, default=5000, help="reference samples per timed epoch (scaled up)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument("--no-startup", action="store_true", help="skip import and compile timings")
    parser.add_argument("--no-e2e", action="store_true", help="skip the 30-epoch whole-process runs")
    parser.add_argument("--no-chapter3", action="store_true", help="skip network2's rows")
    parser.add_argument("--no-chapter6", action="store_true", help="skip network3's convolutional rows")
    parser.add_argument("--no-unpinned", action="store_true",
                        help="skip the dense nets against JAX with every core allowed (needs jax)")
    parser.add_argument("--no-sweep", action="store_true", help="skip the nnfast sweep rows")
    parser.add_argument("--no-calls", action="store_true",
                        help="skip the call-cost rows and the chapter 3 problems (examples/) against the book's code")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the peak memory of reading a 250,000-image mnist_expanded.pkl.gz")
    parser.add_argument("--no-photos", action="store_true",
                        help="skip the shadowed phone photos (read right by a trained net, time per photo)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 5)
    configs = CONFIGS[:1] if args.quick else CONFIGS
    eta = 3.0

    print("Loading MNIST ...", file=sys.stderr)
    training, validation, test = mnist_loader.load_data_wrapper()
    n = len(training)
    gflops = {d: limits.matmul_gflops(getattr(np, d)) for d in ("float64", "float32")}
    rows = []
    usable = [e for e in ENGINES if not e.missing()]
    # The engine tables are one core each: pin this thread (and the threads libraries start from it, such as
    # XLA's pool, which does not keep to one thread through XLA_FLAGS alone) to one CPU until they are done.
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    if cpus:
        os.sched_setaffinity(0, {cpus[0]})
    for hidden, batch in configs:
        sizes = [784, hidden, 10]
        print(f"[{'-'.join(map(str, sizes))}, batch {batch}] {rounds} rounds ...", file=sys.stderr, flush=True)
        results = timing.compare(usable, sizes, training, batch, eta, rounds, args.slice)
        limit_s = {d: limits.flops_per_epoch(sizes, n) / (g * 1e9) for d, g in gflops.items()}
        for engine in ENGINES:
            if engine.missing():
                rows.append({"engine": engine.name, "dtype": engine.dtype, "sizes": sizes, "batch": batch,
                             "seconds_per_epoch": None, "vs_reference": None, "accuracy": None,
                             "flop_share": None, "note": engine.missing()})
                continue
            r = results[engine_id(engine)]
            secs = timing.median(r["seconds"])
            is_ref = engine.name == "reference"
            rows.append({
                "engine": engine.name, "dtype": engine.dtype, "sizes": sizes, "batch": batch,
                "seconds_per_epoch": secs, "seconds_rounds": r["seconds"],
                "vs_reference": None if is_ref else timing.median(r["ratios"]),
                "accuracy": None if is_ref else r["net"].evaluate(test) / len(test),
                "flop_share": limit_s[engine.dtype] / secs,
            })
            print(f"  {engine_id(engine):16s} {secs:7.3f} s/epoch", file=sys.stderr, flush=True)
    result = {
        "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "platform": platform.platform()},
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "numba": numba.__version__, "nnfast": nnfast.__version__},
        "method": (f"{n:,} MNIST training samples, eta {eta}; {rounds} rounds alternating the engines, "
                   "each engine timed on its second epoch of an SGD call (same seeds, same mini-batches for all); "
                   f"the reference timed on {args.slice:,} samples and scaled to {n:,}; "
                   "ratios taken round by round; 'vs best peer' is the fastest other engine's time (numpy-batch, "
                   "PyTorch, JAX, the same dtype) over nnfast's; the matmul peak share counts the multiply-adds of "
                   "forward and backward passes against numpy's BLAS on one thread; every engine of this table pinned to one core."),
        "limit": {"gflops_float64": gflops["float64"], "gflops_float32": gflops["float32"],
                  "blas_threads": int(os.environ.get("OPENBLAS_NUM_THREADS", "0")),
                  "flops_per_epoch": {"-".join(map(str, [784, h, 10])): limits.flops_per_epoch([784, h, 10], n)
                                      for h, _ in configs}},
        "rows": rows,
    }
    if cpus:  # chapter 3's monitors evaluate on every core by design; chapter 6, the sweep, whole processes too
        os.sched_setaffinity(0, set(cpus))
    if not (args.quick or args.no_unpinned):  # every core, as a user runs them: the threads each engine chooses
        result["unpinned"] = unpinned.run_in_fresh_process(min(rounds, 3))
    if not (args.quick or args.no_chapter3):
        result["chapter3"] = chapter3.run(training, validation, rounds, args.slice, gflops)
    if not (args.quick or args.no_calls):
        result["call_cost"] = call_cost.run(training, rounds)
        result["exercises"] = exercises.run(training, validation, min(rounds, 3))
    if not (args.quick or args.no_photos):
        print("Phone photos under shadows ...", file=sys.stderr, flush=True)
        result["photos"] = photos.run(training, test)
    if not (args.quick or args.no_chapter6):
        result["chapter6"] = chapter6.run_in_fresh_process(min(rounds, 3), gflops)
    if not (args.quick or args.no_sweep):
        result["sweep"] = sweep.run()
    if not (args.quick or args.no_memory) and sys.platform.startswith("linux"):
        result["memory"] = memory.run()
    if not args.no_startup:
        print("Start-up timings ...", file=sys.stderr, flush=True)
        result["startup"] = {"import_s": startup.import_seconds(),
                             "compile": {**{d: startup.compile_ab(d) for d in ("float64", "float32")},
                                         "conv": startup.conv_compile()}}
    if not (args.quick or args.no_e2e):
        result["end_to_end"] = end_to_end.run(30)
    name = "quick" if args.quick else "latest"  # a quick run never overwrites the full run's results
    text = report.write(result, args.out, name)
    if chart.draw(result, os.path.join(args.out, f"{name}.png")):
        text += f"\nChart: {os.path.join(args.out, name + '.png')}\n"
    print(text)


if __name__ == "__main__":
    main()
