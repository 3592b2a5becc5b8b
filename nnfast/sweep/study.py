"""``nnfast sweep`` as a library: try many training settings in parallel, keep the best, honestly.

``run(space, ...)`` trains every point of a grid, or ``trials`` points drawn
from ranges, each with ``seeds`` seeds, ranks them by their mean validation
accuracy after the last epoch, and evaluates the winner once on the test set.
The test set plays no part in the choice.

Glue over well-kept libraries (DESIGN §5):

- Optuna chooses the points (its random and TPE samplers; a grid is fed to it
  point by point with ``enqueue_trial``), decides which trials to stop early
  (its median rule, ``MedianPruner``) and records the sweep (its journal file,
  ``--study FILE``), so the same command continues an interrupted sweep.
- The runs execute in this process, in local worker processes, or on a Dask
  ``distributed`` cluster (``nnfast.sweep.workers``).

A run's seed is derived from its point and seed index (and ``seed``), never
from its trial number, worker or order, so one worker and many give the same
per-trial results. Optuna records one trial per point; its seeds' runs are
separate tasks, so they run in parallel too.
"""

import concurrent.futures
import dataclasses
import hashlib
import json
import math
import random
import statistics
import time
from typing import Callable, Optional

import numpy as np

from . import space as sweep_space
from . import trial as _sweep_trial
from . import workers as _sweep_workers
from .space import Space, as_json

STUDY_NAME = "nnfast-sweep"
PRUNE_STARTUP = 4  # trials that must finish before the median rule may stop one
PRUNE_WARMUP = 1  # epochs every trial runs before it may be stopped
RETRIES = 2  # a run whose worker died runs again this many times, then counts as failed


class SweepError(ValueError):
    """A sweep that cannot run as asked (bad settings, a study recorded for another space); one line."""


class OptunaMissing(SweepError):
    pass


@dataclasses.dataclass
class TrialRecord:
    number: int
    params: dict  # every parameter of the point, swept or fixed (widths as lists)
    state: str  # "complete", "pruned" or "failed"
    validation_accuracy: Optional[float]  # mean over seeds, after the last epoch trained (a fraction)
    sd: Optional[float] = None  # over seeds (None with one seed)
    accuracies: list = dataclasses.field(default_factory=list)  # per seed
    seconds: float = 0.0  # training time, all seeds together
    epochs_run: int = 0
    error: Optional[str] = None

    def as_dict(self):
        return {"number": self.number, "params": self.params, "state": self.state,
                "validation_accuracy": self.validation_accuracy, "sd": self.sd, "accuracies": self.accuracies,
                "seconds": round(self.seconds, 4), "epochs_run": self.epochs_run, "error": self.error}


@dataclasses.dataclass
class SweepResult:
    trials: list  # TrialRecord, best first
    best: Optional[TrialRecord]
    test_accuracy: Optional[float]
    saved_to: Optional[str]
    swept: list  # names of the parameters that vary
    seconds: float
    resumed: int  # trials found already finished in the study
    setup_seconds: float = 0.0  # data, its conversion, the kernels: what any training run pays first
    trial_seconds: float = 0.0  # the training runs of this session, all workers together


def _optuna():
    try:
        import optuna
    except ImportError:
        raise OptunaMissing("nnfast sweep needs Optuna: pip install 'nnfast[sweep]' (or pip install optuna)") \
            from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def run_seed(params, seed_index, base_seed=0):
    """The seed of one run, from its point's identity: the same point and index give the same seed anywhere."""
    text = json.dumps(as_json(params), sort_keys=True) + f"#{seed_index}#{base_seed}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


# -- Optuna's view of the space: swept parameters only, widths as text ----------------------

def _encode(name, value):
    return "-".join(map(str, value)) if isinstance(value, (tuple, list)) else value


def _decode(name, value):
    if name in ("hidden", "sizes"):
        return tuple(int(w) for w in str(value).split("-")) if not isinstance(value, int) else (value,)
    return value


def _distributions(optuna, space):
    d = optuna.distributions
    out = {}
    for p in space.swept:
        if p.is_range:
            kind = d.IntDistribution if p.integer else d.FloatDistribution
            out[p.name] = kind(p.low, p.high, log=p.log)
        else:
            out[p.name] = d.CategoricalDistribution([_encode(p.name, v) for v in p.values])
    return out


def _point(space, optuna_params):
    """Every parameter of a point: the swept ones Optuna gave, the fixed ones from the space."""
    point = {p.name: p.values[0] for p in space.params if not p.is_swept}
    point.update({name: _decode(name, value) for name, value in optuna_params.items()})
    if "hidden" in point and isinstance(point["hidden"], int):
        point["hidden"] = (point["hidden"],)
    return point


def _key(point):
    return json.dumps(as_json(point), sort_keys=True)


# -- the study: Optuna's record of the sweep ----------------------------------------------------

def _open_study(optuna, path, identity, sampler):
    """The study at ``path`` (Optuna's journal file), or in memory; refuses one recorded for another sweep."""
    storage = None
    if path is not None:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend
        try:
            storage = JournalStorage(JournalFileBackend(str(path)))
        except Exception as exc:  # a file that is not a journal: one message, the file left as it was
            raise SweepError(f"--study {path}: not a sweep record nnfast can read ({type(exc).__name__}: {exc})") \
                from None
    import os
    try:
        if path is not None and os.path.getsize(path) > 0:  # load, not create: a refused study stays unchanged
            try:
                study = optuna.load_study(study_name=STUDY_NAME, storage=storage, sampler=sampler)
            except KeyError:
                raise SweepError(f"--study {path}: holds no nnfast sweep (not an Optuna journal nnfast wrote); "
                                 "give a new file name, or the file an earlier nnfast sweep recorded to") from None
        else:
            study = optuna.create_study(study_name=STUDY_NAME, storage=storage, direction="maximize",
                                        sampler=sampler)
    except SweepError:
        raise
    except Exception as exc:
        raise SweepError(f"--study {path}: not a sweep record nnfast can read ({type(exc).__name__}: {exc})") \
            from None
    recorded = study.user_attrs.get("sweep")
    if recorded is None:
        study.set_user_attr("sweep", identity)
    elif recorded != identity:
        differ = sorted(k for k in set(recorded) | set(identity) if recorded.get(k) != identity.get(k))
        changes = "; ".join(f"{k} {_shown(recorded.get(k))} there, {_shown(identity.get(k))} now" for k in differ)
        raise SweepError(f"--study {path} records another sweep ({changes}); give the same settings to continue "
                         "it, or another --study file")
    return study


def _shown(value):
    return "not given" if value is None else str(value)


def _record(space, frozen):
    """A ``TrialRecord`` of a finished Optuna trial."""
    state = {"COMPLETE": "complete", "PRUNED": "pruned"}.get(frozen.state.name, "failed")
    attrs = frozen.user_attrs.get("result") or {}
    return TrialRecord(frozen.number, as_json(_point(space, frozen.params)), state,
                       frozen.value if state == "complete" else attrs.get("validation_accuracy"),
                       attrs.get("sd"), attrs.get("accuracies", []), attrs.get("seconds", 0.0),
                       attrs.get("epochs_run", 0), attrs.get("error"))


# -- the sweep -------------------------------------------------------------------------------------

@dataclasses.dataclass
class _Running:
    trial: object  # optuna.Trial
    point: dict
    runs: list  # per seed: a result dict, or None while it runs
    attempts: list  # per seed: how many times it was started


def run(space: Space, *, trials: Optional[int] = None, sampler: Optional[str] = None, seeds: int = 1,
        workers: int = 1, scheduler: Optional[str] = None, study_path=None, prune: bool = False,
        data=None, validation: Optional[int] = None, seed: int = 0, save_path=None,
        on_start: Optional[Callable] = None, on_trial: Optional[Callable] = None) -> SweepResult:
    """Run the sweep; returns every trial (best first), the best and its test accuracy.

    ``data`` is a path (as ``nnfast train --data``) or a loaded ``Dataset``.
    ``on_start(total, resumed)`` and ``on_trial(record, done, total, best, seconds_left)`` report progress.
    """
    started = time.perf_counter()
    optuna = _optuna()
    seeds = _whole(seeds, "--seeds")
    workers = _whole(workers, "--workers")
    if trials is not None:
        trials = _whole(trials, "--trials")
    if sampler not in (None, "grid", "random", "tpe"):
        raise SweepError(f"--sampler {sampler!r}: grid, random or tpe")
    grid_mode = sampler in (None, "grid") and not space.has_ranges
    if space.has_ranges and trials is None:
        raise SweepError("a LOW:HIGH range is sampled: give --trials N (how many points to try)")
    if sampler == "grid" and space.has_ranges:
        raise SweepError("--sampler grid needs lists of values, not LOW:HIGH ranges")

    executor = None
    if scheduler is not None:  # first: an unreachable scheduler fails fast, before anything is loaded or written
        executor = _connect(scheduler)
    try:
        setup_started = time.perf_counter()
        dataset = _load(data)
        n_classes = len(dataset.classes)
        for p in space.params:
            if p.name == "sizes":
                for widths in p.values:
                    if widths[-1] != n_classes:
                        raise SweepError(f"--sizes {'-'.join(map(str, widths))} ends in {widths[-1]} outputs, but "
                                         f"{dataset.name} has {n_classes} classes")
        # the kernels compile (or load from numba's cache) in a thread while this one converts and lays out the
        # data; both are done before any worker starts (the with-block joins the thread, whatever happens)
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="nnfast-compile") as pool:
            compiled = pool.submit(_compile, space, n_classes, validation)
            if executor is None:
                _sweep_trial.install(dataset, validation)  # here, so forked workers inherit it
            mode = "grid" if grid_mode else sampler or "random"
            identity = {**{sweep_space.option(p.name): p.describe() for p in space.params}, "--seeds": seeds,
                        "--sampler": mode, "--seed": seed, "--validation": validation, "data": dataset.name}
            sampler_obj = (optuna.samplers.TPESampler(seed=seed) if mode == "tpe"
                           else optuna.samplers.RandomSampler(seed=seed))
            points = None
            if grid_mode:
                points = space.grid()
                if trials is not None and trials < len(points):  # N of the grid's points, drawn at random
                    points = random.Random(seed).sample(points, trials)
                points = sweep_space.longest_first(points, n_classes)
            compiled.result()  # here, once: workers load the cache, never write it
        setup_seconds = time.perf_counter() - setup_started
        if executor is not None:
            try:
                executor.install(dataset, validation)
            except RuntimeError as exc:  # a worker that cannot run nnfast: one message, nothing written
                raise SweepError(str(exc)) from None
        study = _open_study(optuna, study_path, identity, sampler_obj)
        if executor is None:
            executor = (_sweep_workers.InProcess(dataset, validation) if workers == 1
                        else _sweep_workers.LocalProcesses(workers, dataset, validation))
        result = _Sweep(optuna, study, space, executor, points, trials, seeds, seed, prune, validation, save_path,
                        dataset, on_start, on_trial, started).run()
        result.setup_seconds = setup_seconds
        return result
    finally:
        if executor is not None:
            executor.close()


def _whole(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SweepError(f"{name} must be a whole number >= 1, got {value!r}")
    return value


def _connect(address):
    try:
        return _sweep_workers.DaskCluster(address)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise SweepError(str(exc)) from None


def _load(data):
    from .. import datasets
    if data is None or isinstance(data, (str, bytes)) or hasattr(data, "__fspath__"):
        return datasets.load_dataset(data)
    return data


def _compile(space, n_classes, validation):
    """Compile (or load from numba's cache) each dtype's kernels before any worker starts."""
    from ..runs import train as training
    if any(p.name == "layers" for p in space.params):
        import numpy as np
        for spec in space["layers"].values:  # one step of each net compiles its convolution kernels
            base = {p.name: (p.values[0] if p.values else p.low) for p in space.params}
            net = _sweep_trial.network3_of({**base, "layers": spec})
            m = net.mini_batch_size
            net._step(np.zeros((m, 784), np.float32), np.zeros(m, np.int64), 0.1, 0.0, 1)
            whole = net._net_step()  # the one-call step (engine.net_step), which a first step compiles on a thread
            if whole is not None:
                whole.compile_now()
        return
    dtypes = space["dtype"].values
    costs = space["cost"].values
    for dtype in dtypes:
        for cost in costs:
            base = {p.name: (p.values[0] if p.values else p.low) for p in space.params}
            base.update(dtype=dtype, cost=cost, hidden=(3,), sizes=None)
            settings = _sweep_trial.settings_of(base, 0, n_classes, validation)
            training.new_network(settings).warm_up()


class _Sweep:
    def __init__(self, optuna, study, space, executor, points, n_trials, seeds, seed, prune, validation, save_path,
                 dataset, on_start, on_trial, started):
        self.optuna, self.study, self.space, self.executor = optuna, study, space, executor
        self.seeds, self.seed, self.prune, self.validation = seeds, seed, prune, validation
        self.save_path, self.dataset = save_path, dataset
        self.on_start, self.on_trial, self.started = on_start, on_trial, started
        self.distributions = _distributions(optuna, space)
        self.running = {}  # trial number -> _Running
        self.futures = {}  # future -> (trial number, seed index)
        self.best_weights = None  # (value, number, weights) of the best complete trial run here
        finished, reruns, waiting = self._resume()
        self.finished = finished
        self.resumed = len(finished)
        # points already queued in the study (a sweep stopped between queueing one and starting it) are
        # started first, as they are: queueing them again would run them twice
        self.waiting = len(waiting)
        skip = {_key(_point(space, t.params)) for t in finished} | {_key(p) for p in waiting}
        if points is not None:
            self.todo = [p for p in points if _key(p) not in skip]
            self.total = len(self.todo) + len(finished) + self.waiting
        else:
            self.total = max(n_trials, len(finished))
            self.todo = [p for p in reruns if _key(p) not in skip][:max(0, self.total - len(finished) - self.waiting)]
        self.grid = points is not None
        # equal accuracies are ranked by the point's place in the options' grid, not by trial number: the grid
        # runs longest first, and which point wins a tie must not depend on the order trials ran in
        self.tie_rank = {_key(p): i for i, p in enumerate(space.grid())} if self.grid else {}
        self.curves = [(t.user_attrs.get("result") or {}).get("curve") for t in finished if t.state.name == "COMPLETE"]
        self.curves = [c for c in self.curves if c]
        self.seconds_done = 0.0

    def _resume(self):
        """Finished trials, and the points of trials a stopped sweep left running (to run again)."""
        TrialState = self.optuna.trial.TrialState
        finished, reruns, waiting = [], [], []
        for t in self.study.get_trials(deepcopy=False):
            if t.state == TrialState.WAITING:
                waiting.append(_point(self.space, t.system_attrs.get("fixed_params", {})))
                continue
            result = t.user_attrs.get("result") or {}
            if t.state == TrialState.RUNNING or (t.state == TrialState.FAIL and not result.get("error")):
                if t.state == TrialState.RUNNING:  # its sweep was killed: close the record, run the point again
                    self.study.tell(t.number, state=TrialState.FAIL)
                reruns.append(_point(self.space, t.params))
            elif t.state.is_finished():
                finished.append(t)
        return finished, reruns, waiting

    # -- starting and finishing trials --

    def _asked(self):
        """The next trial: a grid point or an interrupted trial's point, enqueued, or the sampler's choice."""
        if self.waiting:
            self.waiting -= 1
        elif self.todo:
            point = self.todo.pop(0)
            self.study.enqueue_trial({p: _encode(p, point[p]) for p in self.distributions})
        trial = self.study.ask(self.distributions)
        return trial, _point(self.space, trial.params)

    def _can_start(self):
        started = len(self.finished) + len(self.running)
        return started < self.total and (not self.grid or self.todo or self.waiting)

    def _submit(self, number, k):
        run = self.running[number]
        run.attempts[k] += 1
        task = {"params": as_json(run.point), "seed": run_seed(run.point, k, self.seed), "validation": self.validation,
                "keep_weights": k == 0}
        if self.prune:
            task["prune"] = {"completed": self.curves, "startup": PRUNE_STARTUP, "warmup": PRUNE_WARMUP}
        self.futures[self.executor.submit(task)] = (number, k)

    def _start_trial(self):
        trial, point = self._asked()
        self.running[trial.number] = _Running(trial, point, [None] * self.seeds, [0] * self.seeds)
        for k in range(self.seeds):
            self._submit(trial.number, k)

    def _settle(self, future):
        number, k = self.futures.pop(future)
        run = self.running[number]
        try:
            result = _sweep_workers.result(self.executor, future)
        except _sweep_workers.WorkerDied as exc:
            if run.attempts[k] <= RETRIES:
                self._submit(number, k)
                return
            result = {"state": "failed", "curve": [], "seconds": 0.0, "error": str(exc)}
        except Exception as exc:  # a bug or a broken install on a worker: this trial fails, the sweep goes on
            result = {"state": "failed", "curve": [], "seconds": 0.0, "error": f"{type(exc).__name__}: {exc}"}
        run.runs[k] = result
        if all(r is not None for r in run.runs):
            self._finish(number)

    def _finish(self, number):
        TrialState = self.optuna.trial.TrialState
        run = self.running.pop(number)
        trial, results = run.trial, run.runs
        curves = [r["curve"] for r in results]
        length = min(len(c) for c in curves)
        mean_curve = [statistics.fmean(c[i] for c in curves) for i in range(length)]
        for step, value in enumerate(mean_curve):
            trial.report(value, step)
        finals = [c[-1] for c in curves if c]
        states = {r["state"] for r in results}
        errors = [r["error"] for r in results if r.get("error")]
        seconds = sum(r["seconds"] for r in results)
        self.seconds_done += seconds
        trial.set_user_attr("result", {  # one attribute: one record in the journal, not seven
            "accuracies": finals, "seconds": seconds, "epochs_run": length, "curve": mean_curve,
            "sd": statistics.stdev(finals) if len(finals) > 1 else None,
            "validation_accuracy": statistics.fmean(finals) if finals else None,
            "error": errors[0] if errors else None})
        if "failed" in states:
            self.study.tell(trial, state=TrialState.FAIL)
        elif "pruned" in states:
            self.study.tell(trial, state=TrialState.PRUNED)
        else:
            value = statistics.fmean(finals)
            self.study.tell(trial, value)
            self.curves.append(mean_curve)
            if results[0].get("weights") is not None and (self.best_weights is None or value > self.best_weights[0]):
                self.best_weights = (value, number, results[0]["weights"])
        frozen = self.study.get_trials(deepcopy=False)[number]  # trials are numbered by their index
        self.finished.append(frozen)
        record = _record(self.space, frozen)
        if self.on_trial is not None:
            done = len(self.finished)
            complete = [r for r in map(lambda t: _record(self.space, t), self.finished) if r.state == "complete"]
            best = max(complete, key=lambda r: (r.validation_accuracy, -self._tie(r)), default=None)
            pace = (time.perf_counter() - self.loop_started) / max(1, done - self.resumed)
            self.on_trial(record, done, self.total, best, pace * (self.total - done))

    def _interrupted(self):
        """Close the records of the trials in flight as failed without an error: the same command runs them again."""
        TrialState = self.optuna.trial.TrialState
        for number, run in list(self.running.items()):
            try:
                self.study.tell(run.trial, state=TrialState.FAIL)
            except Exception:  # pragma: no cover - the record stays RUNNING, which resuming treats the same
                pass
        self.running.clear()

    def run(self):
        if self.on_start is not None:
            self.on_start(self.total, self.resumed)
        self.loop_started = time.perf_counter()
        try:
            while True:
                while self._can_start() and len(self.running) < self.executor.capacity():
                    self._start_trial()
                if not self.futures:
                    break
                for future in self.executor.wait(set(self.futures), 0.25):
                    self._settle(future)
        except BaseException:
            self.executor.close()
            self._interrupted()
            raise
        return self._result()

    def _tie(self, record):
        """Where ``record`` stands among equal accuracies: its point's place in the grid, else its trial number."""
        return self.tie_rank.get(json.dumps(record.params, sort_keys=True), record.number)

    # -- the winner --

    def _result(self):
        records = [_record(self.space, t) for t in self.finished]
        order = {"complete": 0, "pruned": 1, "failed": 2}
        records.sort(key=lambda r: (order[r.state], -(r.validation_accuracy or 0.0), self._tie(r)))
        complete = [r for r in records if r.state == "complete"]
        best = complete[0] if complete else None
        test_accuracy = saved = None
        if best is not None:
            net = self._best_network(best)
            X, labels = self._installed()["test"]
            predict = net.predict if best.params.get("layers") else net.predict_rows
            test_accuracy = float(np.mean(predict(X) == labels)) if len(labels) else None
            if self.save_path and best.params.get("layers"):
                net.save(self.save_path, sweep={"validation_accuracy": best.validation_accuracy,
                                                "test_accuracy": test_accuracy, "trial": best.number,
                                                "seeds": self.seeds, "params": best.params})
                saved = str(self.save_path)
            elif self.save_path:
                settings = _sweep_trial.settings_of(best.params, run_seed(_point_of(best), 0, self.seed),
                                                    len(self.dataset.classes), self.validation)
                net.save(self.save_path, training={**dataclasses.asdict(settings), "data": None}, epochs_done=settings.epochs,
                         sweep={"validation_accuracy": best.validation_accuracy, "test_accuracy": test_accuracy,
                                "trial": best.number, "seeds": self.seeds},
                         dataset=self.dataset.name, classes=list(self.dataset.classes))
                saved = str(self.save_path)
        return SweepResult(records, best, test_accuracy, saved, [p.name for p in self.space.swept],
                           time.perf_counter() - self.started, self.resumed, trial_seconds=self.seconds_done)

    def _installed(self):
        _sweep_trial.install(self.dataset, self.validation)  # a no-op unless the trials ran elsewhere (Dask)
        return _sweep_trial._DATA

    def _best_network(self, best):
        """The winner's first-seed network: kept from its run, or trained again here (a run from an earlier
        session; its seed makes it the same network)."""
        from ..runs import train as training
        point = _point_of(best)
        seed0 = run_seed(point, 0, self.seed)
        if self.best_weights is not None and self.best_weights[1] == best.number:
            weights, biases = self.best_weights[2]
        else:
            self._installed()
            with _sweep_trial.one_thread():
                result = _sweep_trial.run({"params": best.params, "seed": seed0, "validation": self.validation,
                                           "keep_weights": True})
            weights, biases = result["weights"]
        if best.params.get("layers"):
            net = _sweep_trial.network3_of(best.params)
            for layer, w, b in zip(net.layers, weights, biases):
                np.copyto(layer.w, w)  # in place: the network's parameter lists hold these arrays
                np.copyto(layer.b, b)
            return net
        settings = _sweep_trial.settings_of(best.params, seed0, len(self.dataset.classes), self.validation)
        net = training.new_network(settings)
        net.weights, net.biases = [w.copy() for w in weights], [b.copy() for b in biases]
        return net


def _point_of(record):
    return {k: tuple(v) if isinstance(v, list) else v for k, v in record.params.items()}


