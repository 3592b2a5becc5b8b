"""Smoke test: the benchmark code runs end to end on a tiny configuration and writes its results."""

import json

import numpy as np
import pytest

from benchmarks import limits, report, timing
from conftest import synthetic_digits
from nnfast.peers.engines import ENGINES, engine_id


def test_compare_and_report_on_a_tiny_config(tmp_path):
    training, test = synthetic_digits(60, n_in=20)
    engines = [e for e in ENGINES if not e.missing()][:4]
    results = timing.compare(engines, [20, 6, 10], training, 10, 3.0, rounds=2, reference_slice=30)
    ref = results[engine_id(engines[0])]
    assert len(ref["seconds"]) == 2 and all(s > 0 for s in ref["seconds"])
    for engine in engines[1:]:
        r = results[engine_id(engine)]
        assert len(r["ratios"]) == 2
        assert r["ratios"][0] == ref["seconds"][0] / r["seconds"][0]
    rows = [{"engine": e.name, "dtype": e.dtype, "sizes": [20, 6, 10], "batch": 10,
             "seconds_per_epoch": timing.median(results[engine_id(e)]["seconds"]),
             "vs_reference": None if e is engines[0] else timing.median(results[engine_id(e)]["ratios"]),
             "accuracy": results[engine_id(e)]["net"].evaluate(test) / len(test), "flop_share": 0.5}
            for e in engines]
    result = {"when": "now", "machine": {"cpu": "test", "cores": 1}, "method": "tiny",
              "versions": {"python": "3", "numpy": np.__version__, "numba": "x", "nnfast": "y"},
              "limit": {"gflops_float64": 1.0, "gflops_float32": 2.0, "blas_threads": 1}, "rows": rows}
    text = report.write(result, tmp_path)
    saved = json.loads((tmp_path / "latest.json").read_text())
    assert [r["engine"] for r in saved["rows"]] == [e.name for e in engines]
    assert "| 20-6-10 | 10 | nnfast |" in text and (tmp_path / "latest.md").read_text() == text


def test_epoch_clock_times_the_books_lines():
    clock = timing.EpochClock()
    clock.write("Epoch 0 complete\nEpo")
    clock.write("ch 1: 5 / 10\nnoise\n")
    assert len(clock.stamps) == 2 and clock.stamps[0] <= clock.stamps[1]


def test_flop_count_of_the_books_network():
    # forward 784*30 + 30*10, the same for weight gradients, and 30*10 for the delta sent back
    assert limits.flops_per_epoch([784, 30, 10], 1) == 2 * (2 * (784 * 30 + 30 * 10) + 30 * 10)


def test_chapter3_rows_time_training_and_the_monitors(tmp_path, monkeypatch):
    from benchmarks import chapter3
    training, test = synthetic_digits(60, n_in=784)
    monkeypatch.setattr(chapter3, "CONFIGS", [6])
    out = chapter3.run(training, test, rounds=2, reference_slice=30, gflops={"float64": 1.0, "float32": 2.0})
    rows = out["rows"]
    assert [r["engine"] for r in rows][:2] == ["reference2", "nnfast2"]
    assert rows[0]["monitor_overhead"] is None and rows[1]["monitored_seconds_per_epoch"] > 0
    assert rows[1]["vs_reference"] > 0
    result = {"when": "now", "machine": {"cpu": "test", "cores": 1}, "method": "tiny",
              "versions": {"python": "3", "numpy": np.__version__, "numba": "x", "nnfast": "y"},
              "limit": {"gflops_float64": 1.0, "gflops_float32": 2.0, "blas_threads": 1}, "rows": [],
              "chapter3": out}
    text = report.write(result, tmp_path)
    assert "| 784-6-10 | nnfast2 | float64 |" in text and "monitors add" in text


def test_readme_blocks_are_replaced_whole_and_a_missing_block_is_an_error():
    import pytest

    from benchmarks import readme
    text = "a\n<!-- book-table -->\nold\nlines\n<!-- /book-table -->\nz\n"
    assert readme.replace_block(text, "book-table", "new\n") == "a\n<!-- book-table -->\nnew\n<!-- /book-table -->\nz\n"
    with pytest.raises(SystemExit):
        readme.replace_block("no block", "bench-table", "x")


def test_chapter6_rows_time_every_engine_on_each_net(monkeypatch, tmp_path):
    from benchmarks import chapter6
    monkeypatch.setattr(chapter6, "SLICE", {"nnfast": 20, "torch": 20, "jax": 20, "twin": 10})
    monkeypatch.setattr(chapter6.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    rng = np.random.default_rng(0)
    training = (rng.random((20, 784)).astype(np.float32), rng.integers(0, 10, 20))
    # torch.compile's rows compile for tens of seconds: tests/test_benchmarks_torch.py runs their harness
    out = chapter6.run(training, rounds=1, gflops={"float64": 1.0, "float32": 2.0},
                       engines=[e for e in chapter6.ENGINES if e != "torch-compile"])
    assert {(r["net"], r["engine"]) for r in out["rows"]} >= {("two-conv", "nnfast"), ("dropout", "twin")}
    timed = [r for r in out["rows"] if r["seconds_per_epoch"] is not None]
    assert all(r["seconds_per_epoch"] > 0 and r["gflops"] > 0 for r in timed)
    assert all(r["engine"] in ("torch", "jax") and r["note"] for r in out["rows"] if r not in timed)  # uninstalled
    result = {"when": "now", "machine": {"cpu": "test", "cores": 1}, "method": "tiny",
              "versions": {"python": "3", "numpy": np.__version__, "numba": "x", "nnfast": "y"},
              "limit": {"gflops_float64": 1.0, "gflops_float32": 2.0, "blas_threads": 1}, "rows": [],
              "chapter6": out}
    text = report.write(result, tmp_path)
    assert "| two-conv | 1 | nnfast |" in text and "Under load (one other CPU-bound process running)" in text
    assert out["under_load"]["default_s"] > 0 and out["under_load"]["one_thread_s"] > 0
    assert {(r["net"], r["engine"]) for r in out["prediction"]} >= {("two-conv", "nnfast"), ("dropout", "nnfast")}
    assert "| two-conv | 1 | nnfast |" in text.split("Prediction:")[1]


def test_sweep_rows_run_the_command_on_1_and_2_workers(monkeypatch, tmp_path):
    import pytest
    pytest.importorskip("optuna")
    from benchmarks import sweep
    from mnist_fixtures import write_idx_folder
    from sweep.test_sweep import learnable_digits  # tests/sweep/test_sweep.py, run alone or not
    write_idx_folder(tmp_path / "data", learnable_digits(300, 60))
    monkeypatch.setattr(sweep, "GRID", ["--eta", "1,2", "--batch-size", "10,20", "--hidden", "5", "--epochs", "1",
                                        "--data", str(tmp_path / "data")])
    monkeypatch.setattr(sweep, "TRIALS", 4)
    out = sweep.run(rounds=1, cores=2)
    assert [r["workers"] for r in out["rows"]] == [1, 2]
    assert set(out["schedules"]) == {2, 4, 8, 16}
    assert all(0 < v["options_order"] <= 1 + 1e-9 and 0 < v["longest_first"] <= 1 + 1e-9
               for v in out["schedules"].values())
    assert all(r["wall_s"] > r["run_s"] > 0 and r["trials_s"] > 0 and r["best_params_agree"] for r in out["rows"])
    assert "overhead_share" in out["rows"][0]
    result = {"when": "now", "machine": {"cpu": "test", "cores": 2}, "method": "tiny",
              "versions": {"python": "3", "numpy": np.__version__, "numba": "x", "nnfast": "y"},
              "limit": {"gflops_float64": 1.0, "gflops_float32": 2.0, "blas_threads": 1}, "rows": [], "sweep": out}
    text = report.write(result, tmp_path)
    assert "| 2 |" in text and "own overhead at 1 worker" in text and "longest first" in text


def test_call_cost_and_exercise_rows_time_both_sides_and_report(tmp_path, monkeypatch):
    from benchmarks import call_cost, exercises
    training, test = synthetic_digits(120, n_in=784)
    monkeypatch.setattr(exercises, "SLICE", 40)
    calls = call_cost.run(training, rounds=1)
    assert len(calls["rows"]) == 12 and all(r["nnfast_s"] > 0 and r["book_s"] > 0 for r in calls["rows"])
    assert set(calls["own_list"]) == {"float64", "float32"}
    assert all(o["one_off_cpu_s"] > 0 and "epoch_cpu_s" in o for o in calls["own_list"].values())
    ex = exercises.run(training, test, rounds=1)
    assert {r["problem"].split()[0] for r in ex["rows"]} >= {"momentum", "L1", "tanh", "softmax", "learning-rate"}
    result = {"when": "now", "machine": {"cpu": "test", "cores": 1}, "method": "tiny",
              "versions": {"python": "3", "numpy": np.__version__, "numba": "x", "nnfast": "y"},
              "limit": {"gflops_float64": 1.0, "gflops_float32": 2.0, "blas_threads": 1}, "rows": [],
              "call_cost": calls, "exercises": ex}
    text = report.write(result, tmp_path)
    assert "against network.py as written (its plain sigmoid)" in text
    assert "| fig/generate_gradient.py, one epoch" in text and "| L1 (lmbda 5) |" in text
    assert "a list built by the learner's own loader" in text and "of an epoch)" in text
    assert calls["draw"]["median_ms"] > 0 and "server work per stroke" in text


def test_the_readmes_carry_every_block_the_benchmarks_rewrite():
    from benchmarks import readme
    main_text = open(readme.README).read()
    bench_text = open(readme.BENCH_README).read()
    for name in ("speed-summary", "book-table"):
        assert f"<!-- {name} -->" in main_text and f"<!-- /{name} -->" in main_text
    for name in ("bench-table", "quality-table"):
        assert f"<!-- {name} -->" in bench_text and f"<!-- /{name} -->" in bench_text
    first_command = main_text.index("make train")
    assert first_command < main_text.index("## How much faster") and first_command < 3000  # the learner's road first


def test_the_speed_summary_gives_each_configuration_a_row():
    from benchmarks import readme
    rows = [{"engine": e, "dtype": d, "sizes": [784, 30, 10], "batch": 10, "seconds_per_epoch": s,
             "vs_reference": v} for e, d, s, v in (("reference", "float64", 2.0, None), ("nnfast", "float64", 0.1, 20.0),
                                                   ("nnfast", "float32", 0.05, 40.0), ("jax", "float32", 0.2, 10.0))]
    text = readme.summary_block({"when": "now", "machine": {"cores": 2}, "rows": rows})
    assert "| 784-30-10, 10 | 2.00 s | 0.10 s (20x) | 0.05 s (40x) | jax float32 0.20 s (10x) |" in text


def test_compile_rows_alternate_with_and_without_the_helper_and_report_both(monkeypatch, tmp_path):
    from benchmarks import startup
    calls = []

    def figures(code, env=None):
        calls.append(env.get("NNFAST_COMPILE_HELPER"))
        return {"1": [5.0, 4.0, 3.0], "0": [8.0, 7.5, 0.0]}.get(env.get("NNFAST_COMPILE_HELPER"), [0.5, 0.4, 0.0])

    monkeypatch.setattr(startup, "_figures", figures)
    ab = startup.compile_ab("float64", rounds=2)
    assert calls == ["1", "0", "1", "0", None, None]  # alternated, then a cold and a warm run of the default
    assert ab == {"cold_s": 5.0, "cold_cpu_s": 4.0, "cold_helper_cpu_s": 3.0, "one_core_s": 8.0,
                  "one_core_cpu_s": 7.5, "warm_s": 0.5}
    conv = {"one_thread": [4.0, 3.5], "every_core": {"first_step": [4.1, 3.6], "parallel_step": [15.0, 12.0, 900],
                                                     "helper_cpu": 9.0}, "predict": [3.0, 2.5], "warm": [0.8, 0.7]}
    result = {"when": "now", "machine": {"cpu": "test", "cores": 2}, "method": "tiny",
              "versions": {"python": "3", "numpy": np.__version__, "numba": "x", "nnfast": "y"},
              "limit": {"gflops_float64": 1.0, "gflops_float32": 2.0, "blas_threads": 1}, "rows": [],
              "startup": {"import_s": 0.1, "compile": {"float64": ab, "conv": conv}}}
    text = report.write(result, tmp_path)
    assert ("float64: cold (empty numba cache) 5.00 s (CPU 4.00 s + helper 3.00 s; on one core, no helper: "
            "8.00 s, CPU 7.50 s), warm (cached) 0.50 s") in text
    assert ("first mini-batch on one thread 4.00 s, 3.50 s; on every core 4.10 s, 3.60 s, then on the parallel "
            "kernels after 15.0 s (900 mini-batches trained meanwhile; the helper compiling them 9.0 s CPU); "
            "a first prediction 3.00 s, 2.50 s; the first mini-batch on a warm cache 0.80 s.") in text


def test_chapter6_compile_rows_alternate_the_cases_each_on_an_empty_cache(monkeypatch):
    from benchmarks import startup
    seen = []

    def figures(env, scenario):
        seen.append((env.get("NNFAST_THREADS"), scenario, env["NUMBA_CACHE_DIR"]))
        if scenario == "predict":
            return {"first_predict": [3.0, 2.5], "helper_cpu": 0.0}
        if env.get("NNFAST_THREADS") == "1":
            return {"first_step": [4.0, 3.5], "parallel_step": [4.0, 3.5, 1], "helper_cpu": 0.0}
        return {"first_step": [4.1, 3.6], "parallel_step": [15.0, 12.0, 900], "helper_cpu": 9.0}

    monkeypatch.setenv("NNFAST_THREADS", "2")  # the caller's setting does not reach the cases
    monkeypatch.setattr(startup, "conv_figures", figures)
    out = startup.conv_compile(rounds=2)
    assert [s[:2] for s in seen[:5]] == [("1", "train"), (None, "train"), (None, "predict"), (None, "train"),
                                         (None, "train")]
    assert len({s[2] for s in seen[:3]}) == 3 and seen[3][2] == seen[4][2]  # fresh caches; warm: the same twice
    assert out == {"one_thread": [4.0, 3.5], "every_core": {"first_step": [4.1, 3.6],
                                                            "parallel_step": [15.0, 12.0, 900], "helper_cpu": 9.0},
                   "predict": [3.0, 2.5], "warm": [4.1, 3.6]}


def test_the_photos_rows_read_shadowed_photos_and_report_them():
    from benchmarks import photos
    _, test = synthetic_digits(20, n_in=784)
    np.random.seed(0)
    from nnfast import network
    net = network.Network([784, 8, 10])
    cases = [None, photos.Shadow("soft", 30, 0.3, 0, 60), photos.Shadow("hard", 90, 0.5, 40)]
    out = photos.run(None, test, digits=2, net=net, cases=cases)
    assert [r["shadow"] for r in out["rows"]] == ["none", "soft", "hard"] and all(r["photos"] == 2 for r in out["rows"])
    assert out["cpu_ms_per_photo"] > 0 and 0 <= out["read_right_shadowed"] <= 1
    result = {"when": "now", "machine": {"cpu": "test", "cores": 1}, "method": "tiny",
              "versions": {"python": "3", "numpy": np.__version__, "numba": "x", "nnfast": "y"},
              "limit": {"gflops_float64": 1.0, "gflops_float32": 2.0, "blas_threads": 1}, "rows": [], "photos": out}
    text = report.markdown(result)
    assert "| soft | 2 |" in text and "| every shadow | 4 |" in text and "CPU time per photo" in text


def test_unpinned_rows_time_nnfast_against_jax_and_under_load(monkeypatch, tmp_path):
    """The unpinned table's plumbing on a tiny net, with nnfast standing in for JAX where JAX is not installed."""
    from benchmarks import unpinned
    from nnfast import mnist_loader
    from nnfast.peers.engines import Engine, _nnfast
    training, _ = synthetic_digits(60)
    monkeypatch.setattr(mnist_loader, "load_data_wrapper", lambda: (training, None, None))
    monkeypatch.setattr(unpinned, "CONFIGS", [(6, 10)])
    monkeypatch.setattr(unpinned, "LOAD_CELL", (6, 10, "float64"))
    monkeypatch.setattr(unpinned, "_engines", lambda dtype: [
        Engine("nnfast", dtype, "nnfast", _nnfast(np.dtype(dtype)), 0.0),
        Engine("jax", dtype, "stand-in", _nnfast(np.dtype(dtype)), 0.0)])
    out = unpinned.run(rounds=1)
    assert [(r["sizes"], r["dtype"]) for r in out["rows"]] == [([784, 6, 10], "float32"), ([784, 6, 10], "float64")]
    assert all(r["nnfast_s"] > 0 and r["jax_s"] > 0 and r["vs_jax"] == r["jax_s"] / r["nnfast_s"]
               for r in out["rows"])
    assert out["under_load"]["default_s"] > 0 and out["under_load"]["one_thread_s"] > 0
    result = {"when": "now", "machine": {"cpu": "test", "cores": 1}, "method": "tiny",
              "versions": {"python": "3", "numpy": np.__version__, "numba": "x", "nnfast": "y"},
              "limit": {"gflops_float64": 1.0, "gflops_float32": 2.0, "blas_threads": 1}, "rows": [],
              "unpinned": out}
    text = report.write(result, tmp_path)
    assert "| 784-6-10 | 10 | float32 |" in text and "Under load (one other CPU-bound process running), 784-6-10" in text
    assert "jax not installed" in "\n".join(unpinned.markdown({"rows": [], "note": "jax not installed"}))


def test_unpinned_has_a_command_line_with_help_and_one_line_for_bad_rounds(capsys, monkeypatch):
    from benchmarks import unpinned
    with pytest.raises(SystemExit) as done:
        unpinned.main(["--help"])
    assert done.value.code == 0 and "ROUNDS" in capsys.readouterr().out
    for bad in (["x"], ["0"], ["-2"], ["3", "4"], ["--bogus"]):
        with pytest.raises(SystemExit) as done:
            unpinned.main(bad)
        err = capsys.readouterr().err
        assert done.value.code == 2 and "error:" in err and "Traceback" not in err, (bad, err)
    ran = []
    monkeypatch.setattr(unpinned, "run", lambda rounds: ran.append(rounds) or {"rows": []})
    unpinned.main(["2"])
    assert ran == [2] and '"rows"' in capsys.readouterr().out
