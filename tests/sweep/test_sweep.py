"""nnfast.sweep and ``nnfast sweep``: the space, reproducible trials on any number of workers, resuming,
pruning, a real Dask cluster, and every bad input as one clear line."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("optuna", reason="nnfast sweep needs the [sweep] extra (installed by the test extra)")

from click.testing import CliRunner  # noqa: E402

from nnfast.runs import train as training  # noqa: E402
from nnfast.sweep import space as sweep_space  # noqa: E402
from nnfast.sweep import study as sweep  # noqa: E402
from nnfast.sweep import trial as _sweep_trial  # noqa: E402
from nnfast.cli import main  # noqa: E402
from nnfast.datasets import Dataset, Digits  # noqa: E402
from mnist_fixtures import write_idx_folder  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the checkout

# JAX (imported by the engine tests earlier in the session) warns at every fork; the forked workers never
# touch JAX, so its threads' locks cannot deadlock them.
pytestmark = pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")


def learnable_digits(n_train=1200, n_test=300, seed=0):
    """MNIST-shaped uint8 digits drawn from ten ink patterns plus noise: a net learns them in an epoch or two."""
    rng = np.random.default_rng(seed)
    patterns = rng.random((10, 784)) < 0.2

    def draw(n):
        labels = rng.integers(0, 10, n)
        x = patterns[labels] * rng.uniform(0.4, 1.0, (n, 784)) + rng.random((n, 784)) * 0.5
        return np.clip(x * 255, 0, 255).astype(np.uint8), labels.astype(np.uint8)

    (a, b), (c, d) = draw(n_train), draw(n_test)
    return Digits(a, b, c, d)


@pytest.fixture(scope="module")
def dataset():
    return Dataset(learnable_digits(), "test digits", [str(k) for k in range(10)], None, "memory")


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("idx")
    write_idx_folder(folder, learnable_digits())
    return folder


def space(**options):
    return sweep_space.parse({k: str(v) for k, v in options.items()})


def by_params(result):
    return {json.dumps(r.params, sort_keys=True): (r.state, r.accuracies, r.epochs_run) for r in result.trials}


# -- the space ---------------------------------------------------------------------------------------

def test_lists_are_grids_and_single_values_are_fixed():
    s = space(eta="0.5,3", hidden="30,100-30", epochs=2)
    assert [p.name for p in s.swept] == ["hidden", "eta"]
    grid = s.grid()
    assert len(grid) == 4
    assert {(g["hidden"], g["eta"]) for g in grid} == {((30,), 0.5), ((30,), 3.0), ((100, 30), 0.5), ((100, 30), 3.0)}
    assert all(g["epochs"] == 2 and g["batch_size"] == 10 and g["cost"] == "quadratic" for g in grid)


def test_ranges():
    s = space(eta="0.1:10:log", batch_size="5:50")
    assert s["eta"].is_range and s["eta"].log and (s["eta"].low, s["eta"].high) == (0.1, 10.0)
    assert s["batch_size"].integer and not s["batch_size"].log
    with pytest.raises(sweep_space.SpaceError, match="no grid"):
        s.grid()


@pytest.mark.parametrize("options, message", [
    ({"momentum": "0.9"}, "cannot sweep --momentum"),
    ({"eta": ""}, "empty"),
    ({"eta": "1,,3"}, "empty item"),
    ({"eta": "3:1"}, "LOW must be below HIGH"),
    ({"eta": "1:1"}, "LOW must be below HIGH"),
    ({"lmbda": "0:5:log"}, "log range cannot reach 0"),
    ({"eta": "0,1"}, "> 0"),
    ({"eta": "1:x"}, "must be numbers"),
    ({"eta": "1:2:ln"}, "LOW:HIGH:log"),
    ({"cost": "hinge"}, "not one of"),
    ({"cost": "a:b"}, "list of values, not a range"),
    ({"hidden": "30,0"}, "positive"),
    ({"hidden": "3x"}, "layer widths"),
    ({"sizes": "784-30-7"}, "784 inputs to 10"),
    ({"epochs": "0"}, "at least 1"),
    ({"eta": "1,1"}, "twice"),
    ({"sizes": "784-30-10", "hidden": "30"}, "not both"),
])
def test_bad_spaces_name_the_option(options, message):
    with pytest.raises(sweep_space.SpaceError, match=message):
        sweep_space.parse(options)


def test_run_seed_depends_on_the_point_and_index_only():
    a = {"eta": 3.0, "hidden": (30,)}
    assert sweep.run_seed(a, 0) == sweep.run_seed({"hidden": [30], "eta": 3.0}, 0)
    assert len({sweep.run_seed(a, 0), sweep.run_seed(a, 1), sweep.run_seed({**a, "eta": 1.0}, 0),
                sweep.run_seed(a, 0, base_seed=1)}) == 4


# -- trials ------------------------------------------------------------------------------------------

def test_a_trial_is_the_run_nnfast_train_makes_with_its_seed(dataset):
    """The private generators give the network and mini-batches that ``nnfast train --seed S`` gives."""
    import random
    point = space(eta=2, hidden=20, epochs=3).grid()[0]
    seed = sweep.run_seed(point, 0)
    _sweep_trial.install(dataset)
    result = _sweep_trial.run({"params": sweep_space.as_json(point), "seed": seed, "keep_weights": True})
    settings = _sweep_trial.settings_of(point, seed, 10)
    random.seed(seed)
    np.random.seed(seed)
    net = training.new_network(settings)
    from nnfast import mnist_loader
    training_list, validation, _ = mnist_loader.wrap(dataset)
    curve = [r.correct / len(validation) for r in net.train_epochs(list(training_list), 3, 10, 2.0, validation)]
    assert result["state"] == "complete" and result["curve"] == curve
    for ours, theirs in zip(result["weights"][0], net.weights):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("workers,before", [(1, None), (1, "2"), (2, None)])
def test_a_sweep_gives_this_process_its_threads_back(dataset, monkeypatch, workers, before):
    """The trials run on one thread (NNFAST_THREADS=1, BLAS limited to 1; with 2 workers, in the workers); after
    the sweep, this process has the thread count and BLAS limits it had before: a script or test that ran a sweep
    here is not left on one thread."""
    from threadpoolctl import threadpool_info, threadpool_limits
    if before is None:
        monkeypatch.delenv("NNFAST_THREADS", raising=False)
    else:
        monkeypatch.setenv("NNFAST_THREADS", before)
    seen, real = [], _sweep_trial.run

    def run(task):
        seen.append((os.environ.get("NNFAST_THREADS"), [i["num_threads"] for i in threadpool_info()]))
        return real(task)
    monkeypatch.setattr(_sweep_trial, "run", run)
    with threadpool_limits(2):  # BLAS on 2 threads before (where it can be), so that 1 shows
        blas = {i["filepath"]: i["num_threads"] for i in threadpool_info()}
        result = sweep.run(space(eta=2, hidden=10, epochs=1), workers=workers, data=dataset)
        after = {i["filepath"]: i["num_threads"] for i in threadpool_info()}  # and libraries the sweep loaded
    assert [r.state for r in result.trials] == ["complete"]
    if workers == 1:  # the spy saw the trial run here
        assert seen and all(threads == "1" and set(limits) <= {1} for threads, limits in seen)
    assert os.environ.get("NNFAST_THREADS") == before
    assert {path: after[path] for path in blas} == blas


def test_one_and_two_workers_give_identical_trials(dataset):
    s = space(eta="1,3", hidden="10,20", epochs=2)
    one = sweep.run(s, workers=1, seeds=2, data=dataset)
    two = sweep.run(s, workers=2, seeds=2, data=dataset)
    assert len(one.trials) == 4 and all(r.state == "complete" for r in one.trials)
    assert by_params(one) == by_params(two)
    assert one.best.params == two.best.params and one.test_accuracy == two.test_accuracy
    # ranked by the mean over seeds, best first
    means = [r.validation_accuracy for r in one.trials]
    assert means == sorted(means, reverse=True)
    assert all(r.validation_accuracy == pytest.approx(np.mean(r.accuracies)) for r in one.trials)


def test_the_two_workers_are_separate_processes(dataset, monkeypatch):
    original = _sweep_trial.run

    def slow(task):  # long enough that one worker cannot take every trial before the other starts
        time.sleep(0.3)
        return original(task)
    monkeypatch.setattr(_sweep_trial, "run", slow)  # forked workers inherit it
    pids = set()
    settle = sweep._Sweep._settle

    def record(self, future):
        pids.add(future.result()["pid"])
        return settle(self, future)
    monkeypatch.setattr(sweep._Sweep, "_settle", record)
    sweep.run(space(eta="1,2,3,4", hidden=10, epochs=1), workers=2, data=dataset)
    assert len(pids) == 2 and os.getpid() not in pids


def test_random_and_tpe_samplers_draw_from_the_ranges(dataset):
    s = space(eta="0.5:5:log", hidden="8:24", epochs=1)
    for sampler in ("random", "tpe"):
        result = sweep.run(s, trials=5, sampler=sampler, data=dataset, seed=3)
        assert len(result.trials) == 5
        assert all(0.5 <= r.params["eta"] <= 5 and 8 <= r.params["hidden"][0] <= 24 for r in result.trials)
    # the random sampler's points follow from --seed alone (TPE's also depend on which trials finished first)
    first = sweep.run(s, trials=5, sampler="random", data=dataset, seed=3)
    again = sweep.run(s, trials=5, sampler="random", data=dataset, seed=3)
    assert [r.params for r in sorted(first.trials, key=lambda r: r.number)] == \
        [r.params for r in sorted(again.trials, key=lambda r: r.number)]


def test_a_diverging_trial_fails_and_the_sweep_goes_on(dataset):
    result = sweep.run(space(eta="1,1e300", lmbda=1, cost="cross-entropy", hidden=10, epochs=2), data=dataset)
    states = {r.params["eta"]: r for r in result.trials}
    assert states[1e300].state == "failed" and "diverged" in states[1e300].error
    assert states[1.0].state == "complete" and result.best.params["eta"] == 1.0


def test_prune_stops_a_trial_below_the_median(dataset):
    # four good trials finish first (one worker, grid order); then a hopeless learning rate is stopped early
    s = space(eta="2,2.5,3,3.5,0.0001", hidden=10, epochs=4)
    result = sweep.run(s, data=dataset, prune=True)
    hopeless = next(r for r in result.trials if r.params["eta"] == 0.0001)
    assert hopeless.state == "pruned"
    assert sweep.PRUNE_WARMUP < hopeless.epochs_run + 1 <= 4 and hopeless.epochs_run < 4
    assert all(r.state == "complete" for r in result.trials if r.params["eta"] != 0.0001)
    unpruned = sweep.run(s, data=dataset)
    assert all(r.state == "complete" and r.epochs_run == 4 for r in unpruned.trials)


# -- recording and resuming --------------------------------------------------------------------------

class Stop(KeyboardInterrupt):
    pass


def test_an_interrupted_sweep_continues_without_repeating_a_trial(dataset, tmp_path):
    study = tmp_path / "sweep.journal"
    s = space(eta="1,2,3", hidden="10,20", epochs=2)
    whole = sweep.run(s, data=dataset)

    def stop_after_two(record, done, *_):
        if done == 2:
            raise Stop()
    with pytest.raises(Stop):
        sweep.run(s, data=dataset, study_path=study, on_trial=stop_after_two)
    seen = []
    resumed = sweep.run(s, data=dataset, study_path=study, on_trial=lambda r, *_: seen.append(r.params))
    assert resumed.resumed == 2 and len(seen) == 4  # the two recorded trials do not run again
    assert by_params(resumed) == by_params(whole)
    again = sweep.run(s, data=dataset, study_path=study, on_trial=lambda r, *_: seen.append(r.params))
    assert again.resumed == 6 and len(seen) == 4 and by_params(again) == by_params(whole)


def _stopped_after_one_trial(s, dataset, study_path):
    """Run the sweep until its first trial is recorded, then stop it; Optuna's storage of the record."""
    import optuna

    def stop(record, done, *_):
        raise Stop()
    with pytest.raises(Stop):
        sweep.run(s, data=dataset, study_path=study_path, on_trial=stop)
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(study_path)))


def test_a_trial_left_running_by_a_killed_sweep_runs_again(dataset, tmp_path):
    import optuna
    study_path = tmp_path / "sweep.journal"
    s = space(eta="1,3", hidden=10, epochs=1)
    storage = _stopped_after_one_trial(s, dataset, study_path)
    # as if the sweep had then been killed (SIGKILL) while eta 3 ran: its record says RUNNING
    study = optuna.load_study(study_name=sweep.STUDY_NAME, storage=storage)
    study.enqueue_trial({"eta": 3.0})
    study.ask({"eta": optuna.distributions.CategoricalDistribution([1.0, 3.0])})
    result = sweep.run(s, data=dataset, study_path=study_path)
    assert result.resumed == 1 and len(result.trials) == 2
    assert {r.params["eta"] for r in result.trials} == {1.0, 3.0}
    states = [t.state.name for t in optuna.load_study(study_name=sweep.STUDY_NAME, storage=storage).get_trials()]
    assert states.count("FAIL") == 1 and states.count("COMPLETE") == 2 and "RUNNING" not in states


def test_a_point_queued_by_a_stopped_sweep_runs_once(dataset, tmp_path):
    import optuna
    study_path = tmp_path / "sweep.journal"
    s = space(eta="1,2,3", hidden=10, epochs=1)
    storage = _stopped_after_one_trial(s, dataset, study_path)
    # as if stopped between queueing eta 3 and starting it
    optuna.load_study(study_name=sweep.STUDY_NAME, storage=storage).enqueue_trial({"eta": 3.0})
    result = sweep.run(s, data=dataset, study_path=study_path)
    assert sorted(r.params["eta"] for r in result.trials) == [1.0, 2.0, 3.0]
    assert len(optuna.load_study(study_name=sweep.STUDY_NAME, storage=storage).get_trials()) == 3


def test_a_study_recorded_for_another_space_is_refused(dataset, tmp_path):
    study = tmp_path / "sweep.journal"
    sweep.run(space(eta="1,3", hidden=10, epochs=1), data=dataset, study_path=study)
    before = study.read_bytes()
    with pytest.raises(sweep.SweepError, match=r"--eta 1,3 there, 1,2 now"):
        sweep.run(space(eta="1,2", hidden=10, epochs=1), data=dataset, study_path=study)
    with pytest.raises(sweep.SweepError, match=r"--seeds 1 there, 2 now"):
        sweep.run(space(eta="1,3", hidden=10, epochs=1), data=dataset, study_path=study, seeds=2)
    assert study.read_bytes() == before


def test_a_worker_that_dies_is_replaced_and_its_trial_rerun(dataset, tmp_path, monkeypatch):
    marker = tmp_path / "died"
    original = _sweep_trial.run

    def dies_once(task):
        if task["params"]["eta"] == 3.0 and not marker.exists():
            marker.write_text("x")
            os._exit(9)  # as if killed: no result, no exception
        return original(task)
    monkeypatch.setattr(_sweep_trial, "run", dies_once)  # forked workers inherit it
    s = space(eta="1,3", hidden=10, epochs=1)
    result = sweep.run(s, workers=2, data=dataset)
    assert marker.exists()
    assert all(r.state == "complete" for r in result.trials) and len(result.trials) == 2
    monkeypatch.setattr(_sweep_trial, "run", original)
    assert by_params(result) == by_params(sweep.run(s, data=dataset))


# -- a real Dask cluster --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    pytest.importorskip("distributed", reason="the cluster test needs the [cluster] extra")
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    common = ["--dashboard-address", ":0"]
    procs = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--scheduler-file", str(scheduler_file),
                               "--port", "0", "--host", "127.0.0.1", *common], env=env, cwd=folder,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert scheduler_file.exists(), "dask scheduler did not start"
        for _ in range(2):
            procs.append(subprocess.Popen([sys.executable, "-m", "dask", "worker", "--scheduler-file",
                                           str(scheduler_file), "--nthreads", "1", "--nworkers", "1", *common],
                                          env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        address = json.loads(scheduler_file.read_text())["address"]
        from distributed import Client
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def test_a_dask_cluster_runs_the_same_trials(dataset, dask_cluster):
    s = space(eta="1,3", hidden="10,20", epochs=2)
    on_cluster = sweep.run(s, scheduler=dask_cluster, seeds=2, data=dataset)
    assert by_params(on_cluster) == by_params(sweep.run(s, seeds=2, data=dataset))
    assert on_cluster.test_accuracy is not None


def test_an_unreachable_scheduler_is_one_message_within_10_s(tmp_path, data_folder):
    pytest.importorskip("distributed")
    study = tmp_path / "never.journal"
    started = time.monotonic()
    result = CliRunner().invoke(main, ["sweep", "--eta", "1", "--epochs", "1", "--scheduler", "tcp://127.0.0.1:9",
                                       "--study", str(study), "--data", str(data_folder)])
    assert time.monotonic() - started < 10
    assert result.exit_code == 1 and "cannot reach the Dask scheduler" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not study.exists()


# -- the command -------------------------------------------------------------------------------------

def test_the_command_prints_lines_a_table_and_saves_the_best(tmp_path, data_folder):
    best = tmp_path / "best.npz"
    plot = tmp_path / "sweep.png"
    result = CliRunner().invoke(main, ["sweep", "--eta", "1,3", "--hidden", "10,20", "--epochs", "2", "--workers", "1",
                                       "--data", str(data_folder), "--save", str(best), "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sum(line.startswith("[") and "/4] #" in line for line in lines) == 4
    assert any(line.startswith("Best: #") and "test " in line for line in lines)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from nnfast.runs import inference
    net = inference.load_network(str(best))
    assert net.sizes[1] in (10, 20)


def test_json_is_one_document_with_fractions(data_folder):
    result = CliRunner().invoke(
        main, ["sweep", "--eta", "1,3", "--hidden", "10", "--epochs", "1", "--workers", "1", "--json",
               "--data", str(data_folder)])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert len(doc["trials"]) == 2
    assert {t["state"] for t in doc["trials"]} == {"complete"}
    assert all(0 <= t["validation_accuracy"] <= 1 and t["seconds"] > 0 for t in doc["trials"])
    assert 0 <= doc["best"]["test_accuracy"] <= 1
    assert doc["best"]["params"] == doc["trials"][0]["params"]


@pytest.mark.parametrize("args, message", [
    (["--momentum", "1"], "No such option"),
    (["--eta", ""], "empty"),
    (["--eta", "3:1", "--trials", "2"], "LOW must be below HIGH"),
    (["--lmbda", "0:1:log", "--trials", "2"], "cannot reach 0"),
    (["--eta", "0.1:1"], "give --trials"),
    (["--workers", "0"], "at least 1"),
    (["--seeds", "0"], "at least 1"),
    (["--sampler", "grid", "--eta", "0.1:1", "--trials", "2"], "not LOW:HIGH"),
    (["--eta", "1", "--workers", "2", "--scheduler", "tcp://127.0.0.1:9"], "not both"),
])
def test_bad_input_is_one_line_and_a_non_zero_exit(args, message):
    result = CliRunner().invoke(main, ["sweep", *args])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_sigterm_stops_the_sweep_and_the_same_command_continues_it(tmp_path, data_folder):
    study = tmp_path / "s.journal"
    args = [sys.executable, "-m", "nnfast", "sweep", "--eta", "1,2,3", "--hidden", "10,20", "--epochs", "60",
            "--workers", "2", "--study", str(study), "--data", str(data_folder), "--json"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if line.startswith("[1/6]"):
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "the same command continues" in err and "Traceback" not in err
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert len(doc["trials"]) == 6 and "already done" in done.stderr
    assert len({json.dumps(t["params"], sort_keys=True) for t in doc["trials"]}) == 6


def test_a_file_that_is_not_a_sweep_record_is_refused_and_kept(tmp_path, data_folder):
    study = tmp_path / "notes.txt"
    study.write_text("my notes, not a journal {")
    result = CliRunner().invoke(main, ["sweep", "--eta", "1", "--epochs", "1", "--workers", "1", "--study", str(study),
                                       "--data", str(data_folder)])
    assert result.exit_code == 1 and "holds no nnfast sweep" in result.output
    assert study.read_text() == "my notes, not a journal {"


# -- chapter 6 nets -------------------------------------------------------------------------------------

def test_chapter6_specs_and_their_options():
    s = sweep_space.parse({"layers": ["fc20,softmax", "conv4x5,pool2,fc20,softmax"], "dropout": "0,0.5"})
    assert s["layers"].values == ("fc20,softmax", "conv4x5,pool2,fc20,softmax")
    assert s["eta"].values == (0.1,) and s["epochs"].values == (60,)  # the book's chapter 6 defaults
    assert {p.name for p in s.params}.isdisjoint({"hidden", "cost", "init", "dtype"})
    for options, message in [({"layers": ["fc20,softmax"], "hidden": "30"}, "does not go with --layers"),
                             ({"dropout": "0.5"}, "give --layers too"),
                             ({"layers": ["fc20,pool2,softmax"]}, "pool must follow a conv"),
                             ({"layers": ["fc20"]}, "end with softmax"),
                             ({"layers": ["fc20,softmax"], "dropout": "1"}, "below 1"),
                             ({"layers": ["fc20,softmax", "fc20, softmax"]}, "twice")]:
        with pytest.raises(sweep_space.SpaceError, match=message):
            sweep_space.parse(options)


def test_a_chapter6_trial_is_the_books_network3_run_and_workers_agree(dataset):
    from nnfast import network3
    import random
    s = sweep_space.parse({"layers": ["fc20,softmax", "conv4x5,pool2,fc20,softmax"], "epochs": "2",
                           "activation": "ReLU", "eta": "0.1"})
    one = sweep.run(s, data=dataset)
    two = sweep.run(s, data=dataset, workers=2)
    assert by_params(one) == by_params(two) and all(r.state == "complete" for r in one.trials)
    trial = next(r for r in one.trials if r.params["layers"].startswith("conv"))
    seed = sweep.run_seed({k: tuple(v) if isinstance(v, list) else v for k, v in trial.params.items()}, 0)
    random.seed(seed)
    np.random.seed(seed)
    net = network3.Network([network3.ConvPoolLayer((4, 1, 5, 5), (10, 1, 28, 28), activation_fn=network3.ReLU),
                            network3.FullyConnectedLayer(4 * 12 * 12, 20, network3.ReLU),
                            network3.SoftmaxLayer(20, 10)], 10)
    training, validation, _ = _sweep_trial._DATA["training"], _sweep_trial._DATA["validation"], None
    curve = []
    for line in net.train(training, 2, 10, 0.1, validation, None):
        if line.startswith("Epoch "):
            curve.append(net.last_validation_accuracy)
    assert trial.accuracies == [curve[-1]] and one.test_accuracy is not None


# A dask worker whose Python cannot import nnfast (the editable install's finder and the checkout taken
# off its paths), in one process (--no-nanny), as on a cluster machine that never installed nnfast.
WORKER_WITHOUT_NNFAST = """
import importlib.util, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "")
                    and "editable" not in type(f).__module__]
sys.path[:] = [p for p in sys.path if p not in ("", ".", {root!r})]
assert importlib.util.find_spec("nnfast") is None, "nnfast is still importable"
from distributed.cli.dask_worker import main
sys.argv = ["dask-worker", "--scheduler-file", {scheduler_file!r}, "--nthreads", "1", "--no-nanny",
            "--dashboard-address", ":0"]
main()
"""


def test_a_worker_without_nnfast_is_sent_it_and_runs_the_trials(dataset, tmp_path):
    pytest.importorskip("distributed", reason="the cluster test needs the [cluster] extra")
    from distributed import Client
    scheduler_file = tmp_path / "scheduler.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    procs = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--scheduler-file", str(scheduler_file),
                               "--port", "0", "--host", "127.0.0.1", "--dashboard-address", ":0"],
                              env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        script = WORKER_WITHOUT_NNFAST.format(root=ROOT, scheduler_file=str(scheduler_file))
        procs.append(subprocess.Popen([sys.executable, "-c", script], env=env, cwd=tmp_path,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        address = json.loads(scheduler_file.read_text())["address"]
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)

            def has_nnfast():
                import importlib.util
                return importlib.util.find_spec("nnfast") is not None
            assert list(client.run(has_nnfast).values()) == [False]  # really without nnfast at the start
        s = space(eta="1,3", hidden="10", epochs=1)
        on_cluster = sweep.run(s, scheduler=address, seeds=1, data=dataset)
        assert by_params(on_cluster) == by_params(sweep.run(s, seeds=1, data=dataset))
        with Client(address, timeout="30s") as client:
            def where():
                import nnfast
                return nnfast.__file__
            [path] = client.run(where).values()
            assert "nnfast-" in path and not path.startswith(os.path.join(ROOT, "nnfast"))  # the copy sent
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def test_a_finished_study_run_again_says_there_is_nothing_left(data_folder, tmp_path):
    study = tmp_path / "s.journal"
    args = ["sweep", "--eta", "1,2", "--hidden", "5", "--epochs", "1", "--workers", "1", "--study", str(study),
            "--data", str(data_folder)]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "all 2 already done" in again.output and "continuing" not in again.output
    assert "eta=2" in again.output  # the record's table, figures and all


# -- the order a grid runs in ---------------------------------------------------------------------

def test_a_grids_points_run_longest_first_by_the_work_they_imply():
    points = space(hidden="10,40", batch_size="10,50", epochs="1,2", dtype="float64,float32").grid()
    ordered = sweep_space.longest_first(points, 10)
    work = [sweep_space.work_of(p, 10) for p in ordered]
    assert work == sorted(work, reverse=True) and sorted(map(str, ordered)) == sorted(map(str, points))
    first, last = ordered[0], ordered[-1]
    assert (first["hidden"], first["batch_size"], first["epochs"], first["dtype"]) == ((40,), 10, 2, "float64")
    assert (last["hidden"], last["batch_size"], last["epochs"], last["dtype"]) == ((10,), 50, 1, "float32")


def test_the_sweep_starts_them_in_that_order_and_its_results_do_not_depend_on_it(dataset, monkeypatch):
    s = space(eta="1,3", hidden="10,30", batch_size="10,40", epochs=1)
    started = []
    submit = sweep._Sweep._submit

    def record(self, number, k):
        started.append(self.running[number].point)
        return submit(self, number, k)
    monkeypatch.setattr(sweep._Sweep, "_submit", record)
    longest = sweep.run(s, workers=1, data=dataset)
    assert [(p["hidden"], p["batch_size"]) for p in started] == [((30,), 10)] * 2 + [((30,), 40)] * 2 + [
        ((10,), 10)] * 2 + [((10,), 40)] * 2
    monkeypatch.setattr(sweep_space, "longest_first", lambda points, n_classes: points)  # the options' order
    given = sweep.run(s, workers=1, data=dataset)
    assert by_params(longest) == by_params(given)
    assert [r.params for r in longest.trials] == [r.params for r in given.trials]
    assert longest.best.params == given.best.params and longest.test_accuracy == given.test_accuracy


def test_equal_accuracies_rank_by_the_grid_not_by_the_order_trials_ran(dataset, monkeypatch):
    original = _sweep_trial.run

    def tied(task):  # every point reaches the same accuracy
        return {**original(task), "curve": [0.5]}
    monkeypatch.setattr(_sweep_trial, "run", tied)
    result = sweep.run(space(eta="1,3", hidden="10,30", epochs=1), workers=1, data=dataset)
    assert [r.params["hidden"] for r in result.trials] == [[10], [10], [30], [30]]  # the grid's order, not the run's
    assert result.best.params["hidden"] == [10] and result.best.params["eta"] == 1.0
