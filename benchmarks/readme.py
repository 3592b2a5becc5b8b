"""`python -m benchmarks.readme`: rewrite the READMEs' result blocks from benchmarks/results/.

benchmarks/README.md: <!-- bench-table --> from latest.json (via report.markdown, the same tables as
latest.md) and <!-- quality-table --> from quality.md (make bench-quality). README.md: a short
<!-- speed-summary --> from latest.json and <!-- book-table --> from book.md. So both quote exactly
what the last runs wrote.
"""

import json
import os
import re

from . import report

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(os.path.dirname(HERE), "README.md")
BENCH_README = os.path.join(HERE, "README.md")


def _faster_everywhere(rows):
    """True when nnfast (either dtype) beats every peer engine in every configuration it was timed in."""
    configs = {(tuple(r["sizes"]), r["batch"]) for r in rows}
    for config in configs:
        timed = [r for r in rows if (tuple(r["sizes"]), r["batch"]) == config and r["seconds_per_epoch"]]
        ours = min((r["seconds_per_epoch"] for r in timed if r["engine"] == "nnfast"), default=None)
        peers = [r["seconds_per_epoch"] for r in timed if not r["engine"].startswith("nnfast") and r["engine"] != "reference"]
        if ours is None or any(p <= ours for p in peers):
            return False
    return True


def bench_block(result):
    peers = sorted({r["engine"] for r in result["rows"] if r["seconds_per_epoch"] and
                    not r["engine"].startswith("nnfast") and r["engine"] != "reference"})
    claim = (f"nnfast is faster than {' and '.join(peers)} in every configuration."
             if _faster_everywhere(result["rows"]) else "See the table for where each engine wins.")
    body = report.markdown(result).split("\n", 2)[2]  # the tables, without latest.md's title
    return "\n".join([
        f"Measured side by side in one `make bench` run on this project's 2-core machine ({result['when']}): "
        "seconds per epoch on 50,000 MNIST images, medians of several rounds alternating the engines, the ratio "
        "taken round by round against the book's per-sample loop, and each engine's share of the machine's own "
        f"matmul peak. {claim} Absolute times differ about 3x between machines; the ratios much less.",
        "", body.strip(), "",
        "Full details: `benchmarks/results/latest.md`, `latest.json` and `latest.png`."])


def summary_block(result):
    """A few lines for the main README: nnfast against the book's loop and the best peer, per configuration."""
    rows = [r for r in result["rows"] if r["seconds_per_epoch"]]
    lines = [f"From the last `make bench` ({result['when']}, {result['machine']['cores']} cores), seconds per "
             "epoch on 50,000 MNIST images, one thread each:", "",
             "| network, mini-batch | the book's loop | nnfast float64 | nnfast float32 | best other engine |",
             "|---|---:|---:|---:|---:|"]
    for sizes, batch in dict.fromkeys((tuple(r["sizes"]), r["batch"]) for r in rows):
        here = [r for r in rows if (tuple(r["sizes"]), r["batch"]) == (sizes, batch)]
        ref = next((r for r in here if r["engine"] == "reference"), None)
        ours = {r["dtype"]: r for r in here if r["engine"] == "nnfast"}
        peers = [r for r in here if not r["engine"].startswith("nnfast") and r["engine"] != "reference"]
        best = min(peers, key=lambda r: r["seconds_per_epoch"], default=None)

        def cell(r):
            if r is None:
                return "-"
            ratio = f" ({r['vs_reference']:.0f}x)" if r.get("vs_reference") else ""
            return f"{r['seconds_per_epoch']:.2f} s{ratio}"
        lines.append(f"| {'-'.join(map(str, sizes))}, {batch} | {cell(ref)} | {cell(ours.get('float64'))} | "
                     f"{cell(ours.get('float32'))} | "
                     f"{(best['engine'] + ' ' + best['dtype'] + ' ' + cell(best)) if best else '-'} |")
    return "\n".join(lines + _chapter6_summary(result))


def _chapter6_summary(result):
    """Chapter 6's rows in short: nnfast and each peer, seconds per 50,000 images, one thread and every core."""
    ch6 = result.get("chapter6")
    if not ch6:
        return []
    rows = ch6["rows"]
    threads = sorted({r["threads"] for r in rows})
    engines = [e for e in ("nnfast", "torch", "torch-compile", "jax")
               if any(r["engine"] == e and r["seconds_per_epoch"] for r in rows)]
    names = {"nnfast": "nnfast", "torch": "PyTorch", "torch-compile": "PyTorch torch.compile", "jax": "JAX"}
    lines = ["", "Chapter 6 (`network3`, mini-batch 10), seconds per 50,000 images"
             + (f" ({result['rerun_when']})" if result.get("rerun_when") else "") + ":", "",
             "| net | threads | " + " | ".join(names[e] for e in engines) + " |",
             "|---|---:|" + "---:|" * len(engines)]
    for net in dict.fromkeys(r["net"] for r in rows):
        for t in threads:
            cells = []
            for e in engines:
                r = next((r for r in rows if (r["net"], r["threads"], r["engine"]) == (net, t, e)), None)
                cells.append(f"{r['seconds_per_epoch']:.1f} s" if r and r["seconds_per_epoch"] else "-")
            lines.append(f"| {net} | {t} | " + " | ".join(cells) + " |")
    return lines


def replace_block(text, name, body):
    pattern = re.compile(rf"(<!-- {name} -->\n).*?(<!-- /{name} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"no <!-- {name} --> block to rewrite")
    return pattern.sub(lambda m: m.group(1) + body.strip() + "\n" + m.group(2), text)


def main():
    with open(os.path.join(HERE, "results", "latest.json")) as f:
        result = json.load(f)
    with open(os.path.join(HERE, "results", "book.md")) as f:
        book = f.read()
    with open(README) as f:
        text = f.read()
    text = replace_block(text, "speed-summary", summary_block(result))
    text = replace_block(text, "book-table", book)
    with open(README, "w") as f:
        f.write(text)
    with open(BENCH_README) as f:
        text = f.read()
    text = replace_block(text, "bench-table", bench_block(result))
    quality = os.path.join(HERE, "results", "quality.md")
    if os.path.exists(quality):
        with open(quality) as f:
            text = replace_block(text, "quality-table", f.read().split("\n", 2)[2])
    with open(BENCH_README, "w") as f:
        f.write(text)
    print(f"updated {README} and {BENCH_README}")


if __name__ == "__main__":
    main()
