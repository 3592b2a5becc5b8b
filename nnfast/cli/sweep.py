"""``nnfast sweep``: the command over ``nnfast.sweep`` (parsing, progress lines, the final table, JSON, plot)."""

import json
import os
import sys

import click

from .common import (EXIT_SIGINT, EXIT_SIGTERM, Terminated, check_plot_path, check_save_path, library_errors,
                     signals_as_exceptions)


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _percent(fraction):
    return "-" if fraction is None else f"{100 * fraction:.2f}%"


def _accuracy(record):
    text = _percent(record.validation_accuracy)
    return text + (f" ± {100 * record.sd:.2f}" if record.sd is not None else "")


@click.command("sweep")
@click.option("--hidden", default=None, help="Hidden widths: 30,100 (a grid), 100-30 (two layers), 10:200 (a range).")
@click.option("--sizes", default=None, help="Whole networks instead of --hidden: 784-30-10,784-100-10.")
@click.option("--eta", default=None, help="Learning rates: 0.5,1,3 or 0.1:10:log.  [default: 3.0]")
@click.option("--batch-size", default=None, help="Mini-batch sizes: 10,20 or 5:50.  [default: 10]")
@click.option("--epochs", default=None, help="Epochs per trial.  [default: 30]")
@click.option("--dtype", default=None, help="float64, float32 or both.  [default: float64]")
@click.option("--cost", default=None, help="quadratic, cross-entropy or both (chapter 3).  [default: quadratic]")
@click.option("--lmbda", default=None, help="L2 regularisation: 0,1,5 or 0.1:10:log (chapter 3).  [default: 0]")
@click.option("--init", default=None, help="large, default or both (chapter 3's initialisations).  [default: large]")
@click.option("--layers", multiple=True, help="Chapter 6 nets, as nnfast train --layers takes them; repeat the "
              "option for a grid of nets (--eta then defaults to 0.1 and --epochs to 60).")
@click.option("--activation", default=None, help="With --layers: sigmoid, ReLU, tanh, linear (a list: a grid).")
@click.option("--dropout", default=None, help="With --layers: dropout rates, 0,0.5 or 0:0.6.  [default: 0]")
@click.option("--trials", type=int, default=None, help="Points to try (needed with ranges; a grid: every point).")
@click.option("--sampler", type=click.Choice(["grid", "random", "tpe"]), default=None,
              help="How points are chosen [default: grid for lists, random with ranges].")
@click.option("--seeds", type=int, default=1, show_default=True, help="Seeds per point; ranked by the mean.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="Base seed (with each point's identity it seeds every run).")
@click.option("--workers", type=int, default=None, help="Local worker processes, one core each [default: all cores].")
@click.option("--scheduler", default=None, help="A Dask scheduler, tcp://HOST:PORT: run the trials on its workers.")
@click.option("--study", "study_path", type=click.Path(dir_okay=False), default=None,
              help="Record the sweep in this file (Optuna's journal); the same command again continues it.")
@click.option("--prune", is_flag=True, help="Stop a trial whose validation accuracy falls below the median of the "
              "finished trials at the same epoch (Optuna's median rule).")
@click.option("--data", "data_path", type=click.Path(), default=None, help="MNIST file or folder (default: cache).")
@click.option("--validation", type=click.IntRange(min=1), default=None,
              help="Training images held out to rank the trials (default: the last 10,000).")
@click.option("--save", "save_path", type=click.Path(), default=None, help="Save the best network (.npz or .json).")
@click.option("--plot", "plot_path", type=click.Path(), default=None,
              help="A PNG of validation accuracy against each swept parameter (needs matplotlib).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout (progress lines go to stderr).")
def sweep_command(hidden, sizes, eta, batch_size, epochs, dtype, cost, lmbda, init, layers, activation, dropout,
                  trials, sampler, seeds, seed, workers, scheduler, study_path, prune, data_path, validation, save_path,
                  plot_path, as_json):
    """Train many settings in parallel and keep the best: ranked on validation data, tested once.

    A comma list is a grid; LOW:HIGH or LOW:HIGH:log is a range to sample
    (with --trials). Each trial prints a line as it finishes; the end shows
    every trial, best first, and the winner's test accuracy.

    \b
    Examples:
      nnfast sweep --eta 0.5,1,3 --hidden 30,100 --epochs 10
      nnfast sweep --eta 0.1:10:log --hidden 20:200 --trials 40 --sampler tpe --epochs 5 --prune
      nnfast sweep --cost cross-entropy --eta 0.1,0.5 --lmbda 0,1,5 --seeds 3 --study ch3.journal --save best.npz
      nnfast sweep --eta 1,3 --hidden 30,100 --scheduler tcp://10.0.0.5:8786
      nnfast sweep --layers fc100,softmax --layers conv20x5,pool2,fc100,softmax --eta 0.03,0.1 --epochs 5
    """
    from .. import sweep
    from ..sweep import space as sweep_space

    options = {"hidden": hidden, "sizes": sizes, "eta": eta, "batch_size": batch_size, "epochs": epochs,
               "dtype": dtype, "cost": cost, "lmbda": lmbda, "init": init, "layers": layers or None,
               "activation": activation, "dropout": dropout}
    for value, name in ((trials, "--trials"), (seeds, "--seeds"), (workers, "--workers")):
        if value is not None and value < 1:
            raise click.BadParameter(f"must be at least 1, got {value}", param_hint=name)
    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers or --scheduler, not both (a cluster's workers are its own)")
    try:
        space = sweep_space.parse({k: v for k, v in options.items() if v is not None},
                                  n_classes=None)
    except sweep_space.SpaceError as exc:
        raise click.UsageError(str(exc)) from None
    if space.has_ranges and trials is None:
        raise click.UsageError("a LOW:HIGH range is sampled: give --trials N (how many points to try)")
    if sampler == "grid" and space.has_ranges:
        raise click.UsageError("--sampler grid takes lists of values, not LOW:HIGH ranges")
    save_path = check_save_path(save_path, "--save", "best.npz")
    plot_path = check_plot_path(plot_path, "sweep.png")
    if study_path is not None:
        check_save_path(study_path, "--study", "sweep.journal")
    workers = workers or (None if scheduler else _cores())
    swept = [p.name for p in space.swept]
    say = (lambda text: click.echo(text, err=True)) if as_json else click.echo

    def on_start(total, resumed):
        where = f"on the Dask cluster at {scheduler}" if scheduler else f"on {workers} worker{'s' * (workers > 1)}"
        what = (f"over {', '.join(sweep_space.option(n) for n in swept)}" if swept else "of one point")
        say(f"Sweep {what}: {total} trial{'s' * (total != 1)}"
            f"{f' x {seeds} seeds' if seeds > 1 else ''}, {where}"
            + (f"; all {resumed} already done in {study_path}: nothing left to run" if resumed and resumed >= total
               else f"; {resumed} already done in {study_path}, continuing" if resumed else "")
            + (f"; recording to {study_path}" if study_path and not resumed else ""))

    def on_trial(record, done, total, best, left):
        point = sweep_space.label(record.params, swept) or "(the one point)"
        if record.state == "complete":
            outcome = f"validation {_accuracy(record)}"
        elif record.state == "pruned":
            outcome = f"pruned after {record.epochs_run} epoch{'s' * (record.epochs_run != 1)} " \
                      f"({_percent(record.validation_accuracy)})"
        else:
            outcome = f"failed: {record.error}"
        best_text = f"best {_percent(best.validation_accuracy)} (#{best.number})" if best else "best -"
        say(f"[{done}/{total}] #{record.number} {point}: {outcome} in {record.seconds:.1f} s; {best_text}; "
            f"~{_duration(left)} left")

    with library_errors(), signals_as_exceptions():
        try:
            result = sweep.run(space, trials=trials, sampler=sampler, seeds=seeds, workers=workers or 1,
                               scheduler=scheduler, study_path=study_path, prune=prune, data=data_path,
                               validation=validation, seed=seed, save_path=save_path, on_start=on_start,
                               on_trial=on_trial)
        except (KeyboardInterrupt, Terminated) as exc:
            click.echo("Interrupted." + (f" Finished trials are recorded in {study_path}; the same command "
                                         "continues the sweep." if study_path else
                                         " Without --study nothing was kept."), err=True)
            sys.exit(EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT)
        if plot_path and result.trials:
            from ..plotting import plot_sweep
            plot_sweep(result.trials, space, plot_path)
    if as_json:
        click.echo(json.dumps(_document(result)))
        return
    _table(result, swept)
    if plot_path and result.trials:
        click.echo(f"Plot written to {plot_path}")


def _duration(seconds):
    seconds = max(0.0, seconds)
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _document(result):
    best = result.best
    return {
        "trials": [{"params": r.params, "validation_accuracy": r.validation_accuracy, "sd": r.sd,
                    "accuracies": r.accuracies, "seconds": round(r.seconds, 4), "state": r.state,
                    "epochs_run": r.epochs_run, "error": r.error, "number": r.number} for r in result.trials],
        "best": None if best is None else {"params": best.params, "validation_accuracy": best.validation_accuracy,
                                           "test_accuracy": result.test_accuracy, "number": best.number},
        "saved_to": result.saved_to, "seconds": round(result.seconds, 3),
        "setup_seconds": round(result.setup_seconds, 3), "trial_seconds": round(result.trial_seconds, 3),
    }


def _table(result, swept):
    from ..sweep.space import label
    click.echo("")
    click.echo(f"{'rank':>4}  {'trial':>5}  {'validation':>16}  {'state':<8}  {'seconds':>7}  parameters")
    for rank, r in enumerate(result.trials, 1):
        click.echo(f"{rank:>4}  {'#' + str(r.number):>5}  {_accuracy(r):>16}  {r.state:<8}  {r.seconds:>7.1f}  "
                   f"{label(r.params, swept) or '-'}")
    pruned = [r.number for r in result.trials if r.state == "pruned"]
    if pruned:
        click.echo(f"Stopped early by --prune: {', '.join(f'#{n}' for n in sorted(pruned))}")
    if result.best is None:
        click.echo("No trial finished, so there is no best.")
        return
    best = result.best
    click.echo(f"Best: #{best.number} {label(best.params, swept) or '(the one point)'}: validation "
               f"{_accuracy(best)}, test {_percent(result.test_accuracy)} (the test set, used this once)")
    if result.saved_to:
        click.echo(f"Saved the best network to {result.saved_to}")
