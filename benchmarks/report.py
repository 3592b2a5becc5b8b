"""Write the benchmark's results: latest.json (every figure) and latest.md (the table the README quotes)."""

import json
import os
import statistics

from . import unpinned


def _share(value):
    return "-" if value is None else f"{100 * value:.0f}%"


def _fmt_ms(seconds):
    return f"{seconds * 1e3:.3f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _fmt_ratio(x):
    return f"{x:.1f}x" if x == x else "-"


def _vs_best_peer(rows, row):
    """For an nnfast row: the fastest peer's time (numpy-batch, torch, jax) over nnfast's, same net, batch and dtype."""
    if row["engine"] != "nnfast" or not row["seconds_per_epoch"]:
        return "-"
    peers = [r["seconds_per_epoch"] for r in rows if r["sizes"] == row["sizes"] and r["batch"] == row["batch"]
             and r["dtype"] == row["dtype"] and not r["engine"].startswith("nnfast") and r["engine"] != "reference" and r["seconds_per_epoch"]]
    return f"{min(peers) / row['seconds_per_epoch']:.2f}x" if peers else "-"


def markdown(result):
    lim = result["limit"]
    lines = [
        f"# nnfast benchmark ({result['when']})",
        "",
        f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores; "
        f"Python {result['versions']['python']}, numpy {result['versions']['numpy']}, "
        f"numba {result['versions']['numba']}, nnfast {result['versions']['nnfast']}.",
        f"{result['method']}",
        *([f"Partly re-measured: {result['rerun']}."] if result.get("rerun") else []),
        "",
        f"Matmul peak measured in this run (numpy BLAS, {lim['blas_threads']} thread): "
        f"{lim['gflops_float64']:.0f} GFLOP/s float64, {lim['gflops_float32']:.0f} GFLOP/s float32.",
        "",
        "| sizes | batch | engine | dtype | s/epoch (median) | vs reference (median) | vs best peer | "
        "% of matmul peak |",
        "|---|---|---|---|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        share = f"{row['flop_share'] * 100:.0f}%" if row.get("flop_share") else "-"
        secs = f"{row['seconds_per_epoch']:.3f}" if row["seconds_per_epoch"] is not None else row.get("note", "-")
        peer = _vs_best_peer(result["rows"], row)
        lines.append(f"| {'-'.join(map(str, row['sizes']))} | {row['batch']} | {row['engine']} | {row['dtype']} | "
                     f"{secs} | {_fmt_ratio(row['vs_reference']) if row['vs_reference'] else '-'} | "
                     f"{peer} | {share} |")
    lines += ["", "nnfast skips the first layer's products with zero inputs (MNIST's blank pixels, about half of "
              "them; `nnfast/engine/input_layout.py`); nnfast-dense is the same kernels on every pixel. The peak share "
              "counts the multiply-adds of the dense network for every engine, so nnfast's is what a dense engine "
              "would need to match its time; the work its kernels do is nnfast-dense's share.", *unpinned.markdown(
                  result.get("unpinned")),
              "", "How well each engine learns is a separate table over seeds (`make bench-quality`, "
              "`benchmarks/results/quality.md`): one run's accuracy at eta 3.0 is too chaotic to compare engines."]
    ch3 = result.get("chapter3")
    if ch3:
        lines += ["", f"Chapter 3, `network2` (cross-entropy, lmbda {ch3['lmbda']}, eta {ch3['eta']}, batch "
                  f"{ch3['batch']}): training alone against the book's per-sample chapter 3 loop, and what the four "
                  "monitors (training cost and accuracy on 50,000 images, evaluation cost and accuracy on 10,000) "
                  "add to an epoch, measured alternating with and without them:", "",
                  "| sizes | engine | dtype | s/epoch (median) | vs reference (median) | % of FLOP limit | "
                  "s/epoch with 4 monitors | monitors add |",
                  "|---|---|---|---:|---:|---:|---:|---:|"]
        for row in ch3["rows"]:
            mon = row.get("monitored_seconds_per_epoch")
            mon_s = f"{mon:.3f}" if mon else "-"
            added = f"+{100 * row['monitor_overhead']:.0f}%" if mon else "-"
            lines.append(f"| {'-'.join(map(str, row['sizes']))} | {row['engine']} | {row['dtype']} | "
                         f"{row['seconds_per_epoch']:.3f} | "
                         f"{_fmt_ratio(row['vs_reference']) if row['vs_reference'] else '-'} | "
                         f"{row['flop_share'] * 100:.0f}% | {mon_s} | {added} |")
    calls = result.get("call_cost")
    if calls:
        lines += ["", f"Call costs: one call as the book's scripts make it, nnfast against the book's own code "
                  f"(`nnfast.twins`), medians of {calls['rounds']} rounds alternating the two; above 1x nnfast is "
                  "quicker (`benchmarks/call_cost.py`):", "",
                  "| call | nnfast | book | book / nnfast |", "|---|---:|---:|---:|"]
        for row in calls["rows"]:
            lines.append(f"| {row['call']} | {_fmt_ms(row['nnfast_s'])} | {_fmt_ms(row['book_s'])} | "
                         f"{row['vs_book']:.2f}x |")
        own = calls.get("own_list")
        if own:
            lines += ["", "A list built by the learner's own loader (a fresh `(784, 1)` array per image), 784-30-10, "
                      "mini-batch 10: the one-off of an `SGD` call on it (the list as the last call left it) against "
                      "one epoch inside a call, process CPU time, medians alternating: " + "; ".join(
                          f"{name} {1e3 * o['one_off_cpu_s']:.0f} ms against {1e3 * o['epoch_cpu_s']:.0f} ms "
                          f"({o['one_off_per_epoch']:.2f} of an epoch)" for name, o in own.items()) + "."]
        draw = calls.get("draw")
        if draw:
            lines += ["", f"`nnfast draw`'s server work per stroke (decode a 280x280 canvas PNG, prepare it as `nnfast "
                      f"predict` does, predict with 784-100-10, draw the 28x28 preview), {draw['strokes']} drawings: "
                      f"median {draw['median_ms']:.1f} ms, 90th percentile {draw['p90_ms']:.1f} ms (the page asks "
                      "for at most 100 ms)."]
    shots = result.get("photos")
    if shots:
        lines += ["", f"Phone photos of digits under shadows (`benchmarks/photos.py`): MNIST's first {shots['digits']} test "
                  f"digits photographed synthetically ({shots['size']}, uneven light, sensor noise) with no shadow and under "
                  "hard, soft (edge blurred over 40-100 px) and graded shadows at several angles, 30% and 50% dark, read as "
                  f"`nnfast predict` reads photos by the draw page's default 784-100-10 net ({100 * shots['digits_read_right']:.2f}% "
                  f"on MNIST's test digits themselves); CPU time per photo, median: {shots['cpu_ms_per_photo']:.0f} ms.", "",
                  "| shadow | photos | read right |", "|---|---:|---:|"]
        for row in shots["rows"]:
            lines.append(f"| {row['shadow']} | {row['photos']} | {100 * row['read_right']:.1f}% |")
        lines.append(f"| every shadow | {sum(r['photos'] for r in shots['rows'] if r['shadow'] != 'none')} | "
                     f"{100 * shots['read_right_shadowed']:.1f}% |")
    ex = result.get("exercises")
    if ex:
        lines += ["", f"The book's chapter 3 problems: `examples/` (built on `mini_batch_gradient` and "
                  f"`nnfast.engine.matrix_path`) against the same change written per sample in the book's style "
                  f"(`nnfast.twins.exercises`), one epoch of {ex['slice']:,} images, "
                  f"{'-'.join(map(str, ex['sizes']))}, mini-batch 10 unless the row says, medians of {ex['rounds']} rounds alternating "
                  "(`benchmarks/exercises.py`):", "",
                  "| problem | nnfast | book-style | book-style / nnfast |", "|---|---:|---:|---:|"]
        for row in ex["rows"]:
            lines.append(f"| {row['problem']} | {row['nnfast_s']:.3f} s | {row['book_s']:.3f} s | "
                         f"{row['vs_book']:.2f}x |")
    ch6 = result.get("chapter6")
    if ch6:
        lines += chapter6_lines(ch6)
    sw = result.get("sweep")
    if sw:
        lines += ["", f"`nnfast sweep`, the whole command (`{sw['grid']} --workers K --json --study FILE`: "
                  f"{sw['trials']} trials), medians of {sw['rounds']} rounds alternating K; `sweep.run` excludes the "
                  "interpreter and imports, set-up is the data, its conversion and the kernels (what any training "
                  "run pays first), trials is the training runs' own time, all workers together:", "",
                  "| workers | command | sweep.run | set-up | trials | throughput vs 1 worker (command) | "
                  "(sweep.run less set-up) | share of ideal (command) | (sweep.run less set-up) |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for row in sw["rows"]:
            lines.append(f"| {row['workers']} | {row['wall_s']:.2f} s | {row['run_s']:.2f} s | {row['setup_s']:.2f} s "
                         f"| {row['trials_s']:.2f} s | {row['throughput_vs_1']:.2f}x | "
                         f"{row['run_throughput_vs_1']:.2f}x | {_share(row.get('ideal_share'))} | "
                         f"{_share(row.get('run_ideal_share'))} |")
        if sw.get("schedules"):
            lines += ["", "The order alone (the 1-worker run's trial times, each worker taking the next trial as soon as "
                      "it is free; start-up and set-up left out), share of ideal: " + "; ".join(
                          f"{k} workers {100 * v['options_order']:.0f}% in the options' order, "
                          f"{100 * v['longest_first']:.0f}% longest first" for k, v in sw["schedules"].items()) + "."]
        if sw.get("load_before") is not None:
            lines += ["", f"Share of ideal: K workers' throughput over K times one worker's. The machine's load "
                      f"average before the rounds: {sw['load_before']:.2f} on {sw['cores']} cores."]
        one = sw["rows"][0]
        lines += ["", f"The sweep's own overhead at 1 worker (scheduling, Optuna's ask/tell, the journal, the "
                  f"winner's test evaluation): {100 * one['overhead_share']:.1f}% of the trials' time."]
    e2e = result.get("end_to_end")
    if e2e:
        a, b = e2e["nnfast"], e2e["reference"]
        lines += ["", "Whole process, `nnfast train --epochs 30` (784-30-10, batch 10, eta 3.0, test set evaluated "
                  "every epoch) against the book's loop doing the same:", "",
                  "| run | wall time | peak RSS | last epoch |", "|---|---:|---:|---|",
                  f"| nnfast train | {a['wall_s']:.1f} s | {a['peak_rss_mb']:.0f} MB | {a['last_epoch']} |",
                  f"| reference | {b['wall_s']:.1f} s | {b['peak_rss_mb']:.0f} MB | {b['last_epoch']} |",
                  f"| ratio | {b['wall_s'] / a['wall_s']:.1f}x faster | | |"]
    mem = result.get("memory")
    if mem:
        lines += ["", "Reading the book's `mnist_expanded.pkl.gz` (its layout written at full size), each reader in a fresh "
                  "process: peak resident memory above what the process held before reading (VmHWM), against a "
                  "plain (numpy-only) unpickling of the same file; the estimate is what nnfast's check compares with "
                  "the free memory before reading:", "",
                  "| file | unpickled | plain unpickling | `load_data_shared` | ratio | estimate | CPU (plain, nnfast) |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for row in mem["rows"]:
            lines.append(f"| {row['images']:,} images, {row['layout']} | {row['unpickled_mb']:.0f} MB | "
                         f"{row['unpickle_peak_mb']:.0f} MB | {row['load_data_shared_peak_mb']:.0f} MB | "
                         f"{row['ratio']:.2f} | {row['estimate_mb']:.0f} MB | "
                         f"{row['unpickle_cpu_s']:.1f} s, {row['load_data_shared_cpu_s']:.1f} s |")
    st = result.get("startup")
    if st:
        lines += ["", "Start-up, each in a fresh process: "
                  f"`import nnfast` {st['import_s']:.3f} s (median of 5); first `SGD` + `evaluate` "
                  + "; ".join(f"{d}: cold (empty numba cache) {c['cold_s']:.2f} s{_two_cores(c)}, "
                              f"warm (cached) {c['warm_s']:.2f} s" for d, c in st["compile"].items() if d != "conv")
                  + "." + _conv_compile(st["compile"].get("conv"))]
    return "\n".join(lines) + "\n"


def _conv_compile(c):
    """Chapter 6's first run from an empty numba cache (benchmarks.startup.conv_compile), wall and CPU."""
    if not c or "one_thread" not in c:
        return ""
    every = c["every_core"]
    return (" Chapter 6, the two-conv net from an empty numba cache (wall, CPU): the first mini-batch on one thread "
            f"{c['one_thread'][0]:.2f} s, {c['one_thread'][1]:.2f} s; on every core {every['first_step'][0]:.2f} s, "
            f"{every['first_step'][1]:.2f} s, then on the parallel kernels after {every['parallel_step'][0]:.1f} s "
            f"({every['parallel_step'][2]:.0f} mini-batches trained meanwhile; the helper compiling them "
            f"{every['helper_cpu']:.1f} s CPU); a first prediction {c['predict'][0]:.2f} s, {c['predict'][1]:.2f} s; "
            f"the first mini-batch on a warm cache {c['warm'][0]:.2f} s.")


_PEERS = {"torch": "PyTorch eager", "torch-compile": "PyTorch torch.compile"}


def _compile_cell(row):
    """torch.compile's compile, apart from its s/epoch: the first round's (empty inductor cache) and the cached."""
    c = row.get("compile_s")
    if not c:
        return ""
    return f"{c[0]:.1f} s" + (f" ({statistics.median(c[1:]):.1f} s cached)" if len(c) > 1 else "")


def chapter6_lines(ch6):
    """The chapter 6 section: training rows, PyTorch's time over nnfast's against the 2x goal, prediction, load."""
    rows = ch6["rows"]
    lines = ["", "Chapter 6, `network3` at mini-batch 10 (the book's two-conv net, sigmoid, and its dropout net: "
             "ReLU, FC 1000 x 2, dropout 0.5), seconds per 50,000-image epoch (timed on a slice"
             + (f" of {ch6['images']:,} images" if ch6.get("images") else "") + " and scaled; the "
             "plain-numpy twin on 100 images; JAX's epoch under one `jit`, in its own process pinned to the "
             "cores; PyTorch eager in the same process as nnfast, `torch.compile` (inductor, the whole step "
             "function) in a fresh process each round, its compile timed apart), on one thread and on every "
             "core, GFLOP/s with the share of the float32 matmul peak, and each engine's time over nnfast's at "
             "the same net and threads; the process's CPU seconds beside the wall-clock ones (on one thread the "
             "figure a busy machine disturbs least; on more, threads that spin while waiting count too):", "",
             "| net | threads | engine | s/epoch (median) | process CPU s/epoch | GFLOP/s | % of float32 peak | "
             "time / nnfast's | compile, not in s/epoch (first, cached) |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    ours = {(r["net"], r["threads"]): r["seconds_per_epoch"] for r in rows if r["engine"] == "nnfast"}
    for row in rows:
        if row["seconds_per_epoch"] is None:
            lines.append(f"| {row['net']} | {row['threads']} | {row['engine']} | {row.get('note', '-')} | - | - | - | - | |")
            continue
        base = ours.get((row["net"], row["threads"]))
        ratio = f"{row['seconds_per_epoch'] / base:.2f}x" if base and row["engine"] != "nnfast" else ""
        cpu = f"{row['cpu_s_per_epoch']:.1f}" if row.get("cpu_s_per_epoch") is not None else "-"
        lines.append(f"| {row['net']} | {row['threads']} | {row['engine']} | {row['seconds_per_epoch']:.1f} | {cpu} | "
                     f"{row['gflops']:.1f} | {100 * row['flop_share']:.0f}% | {ratio} | {_compile_cell(row)} |")
    goal = []
    for (net, threads), base in ours.items():
        peers = [(r["seconds_per_epoch"] / base, _PEERS[r["engine"]]) for r in rows if r["engine"] in _PEERS
                 and (r["net"], r["threads"]) == (net, threads) and r["seconds_per_epoch"] and base]
        if peers:
            goal.append(f"{net} on {threads} thread(s): " + ", ".join(f"{p} {x:.2f}x" for x, p in peers)
                        + ("" if min(peers)[0] >= 2 else " (under 2x)"))
    if goal:
        lines += ["", "PyTorch's time over nnfast's, the goal being 2x or more against eager and compiled alike: "
                  + "; ".join(goal) + "."]
    if ch6.get("load"):
        lines += ["", "The machine's load average (1 minute) before and after these rows: "
                  + " and ".join(f"{x:.2f}" for x in ch6["load"]) + f" on {ch6.get('cores', '?')} cores."]
    scaling = []
    for net in dict.fromkeys(r["net"] for r in rows):
        counts = sorted(t for n, t in ours if n == net)
        if len(counts) > 1 and ours[(net, counts[0])] and ours[(net, counts[-1])]:
            scaling.append(f"{net} {ours[(net, counts[0])] / ours[(net, counts[-1])]:.2f}x")
    if scaling:
        lines += ["", "nnfast from one thread to every core: " + ", ".join(scaling) + "."]
    predicted = ch6.get("prediction")
    if predicted:
        lines += ["", f"Prediction: the classes of {predicted[0]['images']:,} images (`network3.Network.predict`; "
                  "PyTorch's forward pass of the same net in inference mode, chunks of 1,000, eager and "
                  "`torch.compile`d, when installed):", "",
                  "| net | threads | engine | seconds (median) | images/s | compile, not in seconds (first, cached) |",
                  "|---|---:|---|---:|---:|---:|"]
        for row in predicted:
            if row["seconds"] is None:
                lines.append(f"| {row['net']} | {row['threads']} | {row['engine']} | {row.get('note', '-')} | - | |")
                continue
            lines.append(f"| {row['net']} | {row['threads']} | {row['engine']} | {row['seconds']:.2f} | "
                         f"{row['images'] / row['seconds']:,.0f} | {_compile_cell(row)} |")
    load = ch6.get("under_load")
    if load:
        lines += ["", f"Under load (one other CPU-bound process running), the {load['net']} net on {load['images']:,} "
                  f"images: nnfast's default thread setting {load['default_s']:.2f} s, `--threads 1` "
                  f"{load['one_thread_s']:.2f} s, ratio {load['ratio']:.2f} (threads are kept only while they "
                  "measurably pay: `nnfast/engine/blas_threads.py`)."]
    return lines


_COMPILED = {"conv": "chapter 6 two-conv net (first steps on one thread and on every core, then predict)"}


def _two_cores(c):
    """The compile helper's A/B, where measured: CPU seconds of the process and of its helper, and the one-core
    compile beside it (benchmarks.startup.compile_ab)."""
    if "one_core_s" not in c:
        return ""
    return (f" (CPU {c['cold_cpu_s']:.2f} s + helper {c['cold_helper_cpu_s']:.2f} s; on one core, no helper: "
            f"{c['one_core_s']:.2f} s, CPU {c['one_core_cpu_s']:.2f} s)")


def write(result, folder, name="latest"):
    """Write ``name``.json and ``name``.md into ``folder``; returns the markdown."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{name}.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    text = markdown(result)
    with open(os.path.join(folder, f"{name}.md"), "w") as f:
        f.write(text)
    return text
