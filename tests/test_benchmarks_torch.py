"""Chapter 6's PyTorch peer rows: eager and torch.compile, each either timed or saying in one line why not.

Where PyTorch is installed the compiled harness runs for real on a tiny slice (its fresh process, the data
handed over, the compile timed apart); the absence of PyTorch or of a C++ compiler is simulated in every
environment, so each path is tested wherever the suite runs.
"""

import json
import os
import sys

import numpy as np

from benchmarks import chapter6, chapter6_torch, report

GFLOPS = {"float64": 1.0, "float32": 2.0}


def _slice(n=20):
    rng = np.random.default_rng(0)
    return rng.random((n, 784)).astype(np.float32), rng.integers(0, 10, n)


def _report(ch6):
    return "\n".join(report.chapter6_lines(ch6))


def test_the_compiled_step_is_timed_in_its_own_process_with_its_compile_apart(tmp_path):
    """The harness of the torch.compile row on 20 images: the step's graphs through AOTAutograd ('aot_eager':
    the same dynamo graphs, forward, backward and update, without inductor's C++ compile, which the next
    test covers), or, without PyTorch here, the note its row carries."""
    X, y = _slice()
    got = chapter6_torch.compiled("train", "dropout", X, y, 1, str(tmp_path / "cache"), backend="aot_eager")
    why = chapter6_torch.missing("torch-compile")
    if why:
        assert got == {"note": why}
        return
    assert set(got) == {"seconds", "cpu_s", "compile_s", "graphs"}, got
    assert got["seconds"] > 0 and got["cpu_s"] > 0 and got["compile_s"] > 0 and got["graphs"] >= 1


def test_inductor_compiles_here_into_the_cache_folder_it_is_given(tmp_path):
    """Inductor itself (C++ from gcc) on the prediction task, a forward pass: timed, and its cache written
    where the caller said, so `make bench`'s first round compiles from an empty folder."""
    X, _ = _slice()
    cache = tmp_path / "cache"
    got = chapter6_torch.compiled("predict", "two-conv", X, None, 1, str(cache), chunk=10)
    why = chapter6_torch.missing("torch-compile")
    if why:
        assert got == {"note": why}
        return
    assert got["seconds"] > 0 and got["compile_s"] > 0, got
    assert any(files for _, _, files in os.walk(cache))


def test_without_pytorch_both_rows_say_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # find_spec answers None, `import torch` fails: as uninstalled
    monkeypatch.setattr(chapter6.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    out = chapter6.run(_slice(), 1, GFLOPS, engines=["nnfast", "torch", "torch-compile"], images=10, load=False)
    notes = {(r["net"], r["engine"]): r.get("note") for r in out["rows"]}
    for net in chapter6.NETS:
        assert notes[(net, "nnfast")] is None
        assert notes[(net, "torch")].startswith("not installed") and notes[(net, "torch-compile")].startswith(
            "not installed")
    assert all(r["seconds_per_epoch"] > 0 for r in out["rows"] if r["engine"] == "nnfast")
    assert out["under_load"] is None and len(out["load"]) in (0, 2)  # load=False: no busy-process rows
    predicted = {(r["net"], r["engine"]): r for r in out["prediction"]}
    assert predicted[("dropout", "torch-compile")]["seconds"] is None and predicted[("dropout", "nnfast")]["seconds"] > 0
    text = _report(out)
    assert "| two-conv | 1 | torch-compile | not installed" in text and "| dropout | 1 | torch | not installed" in text
    assert "PyTorch's time over nnfast's" not in text  # no ratio against a peer that did not run


def test_without_a_cxx_compiler_the_compiled_row_says_so_in_one_line(monkeypatch):
    monkeypatch.setattr(chapter6_torch, "_torch_installed", lambda: True)
    monkeypatch.setattr(chapter6_torch.shutil, "which", lambda name: None)
    monkeypatch.delenv("CXX", raising=False)
    why = chapter6_torch.missing("torch-compile")
    assert "C++ compiler" in why and "\n" not in why
    assert chapter6_torch.compiled("train", "two-conv", *_slice(), 1, "unused") == {"note": why}
    assert chapter6_torch.missing("torch") is None  # eager needs no compiler


def test_a_compile_that_fails_answers_one_line_not_a_traceback(capsys, tmp_path):
    """The fresh process's answer when inductor (or anything before it) raises: one JSON line with a note."""
    job = {"task": "train", "name": "two-conv", "threads": 1, "data": str(tmp_path / "absent"), "chunk": 10}
    chapter6_torch.main([json.dumps(job)])
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    note = json.loads(out[0])["note"]
    assert note.startswith("torch.compile failed: ") and "\n" not in note and "Traceback" not in note


def test_the_report_holds_eager_and_compiled_against_the_2x_goal():
    def row(engine, secs, **extra):
        return {"net": "two-conv", "threads": 1, "engine": engine, "seconds_per_epoch": secs,
                "gflops": 1.0, "flop_share": 0.5, **extra}
    ch6 = {"rows": [row("nnfast", 10.0), row("torch", 25.0),
                    row("torch-compile", 15.0, compile_s=[40.0, 5.0, 7.0], cpu_s_per_epoch=14.0)],
           "images": 3000, "load": [2.5, 3.0], "cores": 2}
    text = _report(ch6)
    assert "| two-conv | 1 | torch-compile | 15.0 | 14.0 | 1.0 | 50% | 1.50x | 40.0 s (6.0 s cached) |" in text
    assert ("two-conv on 1 thread(s): PyTorch eager 2.50x, PyTorch torch.compile 1.50x (under 2x)") in text
    assert "slice of 3,000 images" in text and "2.50 and 3.00 on 2 cores" in text
