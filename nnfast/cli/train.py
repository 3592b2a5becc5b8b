"""``nnfast train``: chapter 1 and 3 networks (``--hidden``/``--sizes``) and chapter 6 nets (``--layers``)."""

import json
import os
import sys

import click

from .common import (EXIT_SIGINT, EXIT_SIGTERM, Terminated, check_plot_path, check_save_path, echo_err,
                     finite_non_negative, finite_positive, int_list, library_errors, signals_as_exceptions)


@click.command()
@click.option("--epochs", type=click.IntRange(min=0), default=30, show_default=True, help="Epochs to train (in total, with --resume).")
@click.option("--sizes", default=None, help="Layer widths, e.g. 784,30,10 (the default).")
@click.option("--hidden", default=None, help="Hidden widths only, e.g. 100 or 100,30 (input 784, output 10).")
@click.option("--batch-size", type=click.IntRange(min=1), default=10, show_default=True, help="Mini-batch size.")
@click.option("--eta", type=float, default=3.0, show_default=True, callback=finite_positive, help="Learning rate.")
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
@click.option("--lmbda", type=float, default=0.0, show_default=True, callback=finite_non_negative,
              help="L2 regularisation (chapter 3): weights decay by 1 - eta*lmbda/n each step.")
@click.option("--init", type=click.Choice(["large", "default"]), default="large", show_default=True,
              help="large: weights N(0, 1), chapter 1's; default: N(0, 1/n_in), chapter 3's default "
                   "(learns faster from the start). Biases N(0, 1) either way.")
@click.option("--early-stop", type=click.IntRange(min=0), default=0, show_default=True,
              help="Stop after N epochs without a better evaluation accuracy (0: never).")
@click.option("--monitor", is_flag=True, help="Also training cost and accuracy and evaluation cost, every epoch.")
@click.option("--plot", "plot_path", type=click.Path(), default=None,
              help="Draw accuracy and cost per epoch into this PNG (needs matplotlib).")
@click.option("--layers", default=None,
              help="Chapter 6: a net as a comma list, e.g. conv20x5,pool2,fc100,softmax: convNxK (N filters "
                   "of KxK), poolK (KxK max-pooling, right after a conv), fcN (N neurons), softmax (last).")
@click.option("--activation", type=click.Choice(["sigmoid", "ReLU", "tanh", "linear"], case_sensitive=False),
              default="sigmoid",
              show_default=True, help="With --layers: the conv and fc layers' activation.")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
              help="With --layers: dropout on the input of every fc and softmax layer.")
@click.option("--expanded", is_flag=True, help="With --layers: the book's 250,000-image expanded training set.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Threads for training (where more than one pays) and evaluation (default: every core, as measured).")
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
    from ..runs.train import TrainSettings, run_training

    if threads is not None:
        ctx_threads = click.get_current_context()
        previous = os.environ.get("NNFAST_THREADS")
        os.environ["NNFAST_THREADS"] = str(threads)  # read by nnfast.engine.dense.compute_threads

        def restore():  # a command run inside another program (tests, notebooks) leaves its setting as it was
            if previous is None:
                os.environ.pop("NNFAST_THREADS", None)
            else:
                os.environ["NNFAST_THREADS"] = previous
        ctx_threads.call_on_close(restore)
    if resume_path is not None and os.path.isfile(resume_path):
        from ..models import is_json
        if is_json(resume_path):
            raise click.ClickException(
                f"--resume {resume_path}: a JSON model (the book's network2 format) holds the weights only; "
                "resuming also needs the run's settings, shuffle order and random state, which nnfast's .npz "
                "keeps. Train with --save NAME.npz to be able to resume (eval and predict read either)")
    if layers is None and resume_path is not None and os.path.exists(resume_path):
        from ..runs.inference import is_network3_file
        if is_network3_file(resume_path):  # a chapter 6 model: its layers come from the file
            return _train_network3(None, epochs, batch_size, eta, lmbda, activation, dropout, expanded, seed,
                                   data_path, save_path, resume_path)
    if layers is not None:
        return _train_network3(layers, epochs, batch_size, eta, lmbda, activation, dropout, expanded, seed,
                               data_path, save_path, resume_path)
    ctx = click.get_current_context()
    given = [f"--{n}" for n in ("activation", "dropout", "expanded")
             if ctx.get_parameter_source(n) == click.core.ParameterSource.COMMANDLINE]
    if given:
        raise click.UsageError(f"{', '.join(given)} {'goes' if len(given) == 1 else 'go'} with --layers "
                               "(chapter 6's networks)")

    if sizes is not None and hidden is not None:
        raise click.UsageError("give --sizes or --hidden, not both")
    layer_sizes = int_list(sizes, "--sizes") if sizes is not None else None
    hidden_sizes = int_list(hidden, "--hidden") if hidden is not None else None
    if layer_sizes is not None and len(layer_sizes) < 2:
        raise click.BadParameter("at least two layers (input and output) are needed", param_hint="--sizes")
    ctx = click.get_current_context()
    explicit = {name for name in ("sizes", "hidden", "batch_size", "eta", "dtype", "seed", "eval_on",
                                  "cost", "lmbda", "init", "monitor", "validation")
                if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE}
    plot_path = check_plot_path(plot_path, "curves.png")
    if resume_path is not None:
        if not os.path.exists(resume_path):  # exit 1, as for a damaged file: the option is fine, the file is not
            raise click.ClickException(f"--resume {resume_path}: no such model file")
        save_path = save_path or resume_path
    settings = TrainSettings(sizes=layer_sizes, hidden=hidden_sizes, validation=validation, epochs=epochs, batch_size=batch_size, eta=eta, seed=seed,
                             dtype=dtype, data=data_path, eval_on=eval_on, cost=cost, lmbda=lmbda, init=init,
                             early_stop=early_stop, monitor=monitor)
    save_path = check_save_path(save_path)
    report = _JsonReport() if as_json else _TextReport()
    with library_errors(), signals_as_exceptions():
        try:
            net, history = run_training(settings, save_path=save_path, resume_path=resume_path, explicit=explicit,
                                      report=report)
            if plot_path:
                from ..plotting import plot_history
                plot_history(history, plot_path, f"nnfast train: {'-'.join(map(str, net.sizes))}, "
                             f"{settings.cost} cost, eta {settings.eta:g}, lmbda {settings.lmbda:g}")
                report.note(f"Plot written to {plot_path}")
        except (KeyboardInterrupt, Terminated) as exc:
            status = EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT
            getattr(report, "_clear", lambda: None)()  # the progress line, if one is showing
            echo_err("Interrupted." + (f" {save_path} holds the last finished epoch; continue with: "
                                        f"nnfast train --resume {save_path} --epochs {epochs}"
                                        if save_path and os.path.exists(save_path) else ""))
            sys.exit(status)


def _train_network3(layers, epochs, batch_size, eta, lmbda, activation, dropout, expanded, seed, data_path,
                    save_path, resume_path):
    """``nnfast train --layers``: chapter 6's network3, with the book's chapter 6 defaults."""
    from ..runs.train_conv import KEPT_ON_RESUME, Settings3, parse_layers, run
    ctx = click.get_current_context()
    src = ctx.get_parameter_source
    clash = [f"--{n.replace('_', '-')}" for n in ("sizes", "hidden", "cost", "init", "monitor", "early_stop",
                                                  "plot", "dtype", "eval_on", "validation", "json")
             if src(n if n != "plot" else "plot_path") == click.core.ParameterSource.COMMANDLINE
             or (n == "json" and src("as_json") == click.core.ParameterSource.COMMANDLINE)]
    if clash:
        clash = sorted(set(clash))
        raise click.UsageError(f"{', '.join(clash)} {'does' if len(clash) == 1 else 'do'} not go with --layers "
                               "(chapter 6's networks)")
    commandline = click.core.ParameterSource.COMMANDLINE
    explicit = {n for n in KEPT_ON_RESUME if src(n) == commandline}
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
    save_path = check_save_path(save_path)

    class Lines:
        def start(self, info):
            echo_err(info)

        def line(self, text):
            click.echo(text)

    with library_errors(), signals_as_exceptions():
        try:
            run(settings, save_path=save_path, resume_path=resume_path, report=Lines(), explicit=explicit)
        except (KeyboardInterrupt, Terminated) as exc:
            echo_err("Interrupted." + (f" {save_path} holds the last finished epoch; continue with: nnfast train "
                                        f"--resume {save_path} --epochs {settings.epochs}"
                                        if save_path and os.path.exists(save_path) else ""))
            sys.exit(EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT)


class _TextReport:
    """Lines for people; on a terminal, also a progress line within epochs that take more than a second."""

    def __init__(self):
        import time
        self._clock = time.perf_counter
        self._epoch_start = None
        self._shown = False
        self._interactive = sys.stderr.isatty()

    def start(self, info):
        echo_err(info)
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
        echo_err(text)

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
        stopped = (f"Stopped early: no better {s.get('eval_on', 'evaluation')} accuracy in {s['early_stop']} epochs. "
                   if s.get("stopped_early") else "")
        click.echo(f"Done: {stopped}{best}Total {s['total_seconds']:.1f} s: training {s['training_seconds']:.1f} s, "
                   f"compile {s['compile_seconds']:.2f} s, data {s['data_seconds']:.2f} s, "
                   f"set-up {s['setup_seconds']:.2f} s."
                   + (f" Saved to {s['saved_to']}{' (replaced the file that was there)' if s.get('replaced') else ''}."
                      if s.get("saved_to") else ""))


class _JsonReport:
    def start(self, info):
        echo_err(info)

    def note(self, text):
        echo_err(text)

    def epoch(self, record):
        click.echo(json.dumps(record))

    def summary(self, s):
        click.echo(json.dumps({"summary": s}))
