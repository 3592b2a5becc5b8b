"""``nnfast book`` (the book's published runs) and ``nnfast baseline`` (its chapter 1 baselines)."""

import json
import os

import click

from .common import echo_err, library_errors


@click.command("book")
@click.argument("names", nargs=-1)
@click.option("--all", "run_all", is_flag=True, help="Run every one (the SVM takes tens of minutes).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=1, show_default=True, help="Seed of each run.")
@click.option("--seeds", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Run seeds SEED..SEED+N-1 and report the median with each seed's figure.")
@click.option("--data", "data_path", type=click.Path(), default=None, help="MNIST file or folder (default: cache).")
@click.option("--results", "results_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for book.md and book.json (default: book-results in nnfast's data folder, "
                   "NNFAST_HOME or ~/.cache/nnfast; nnfast's own tables: --results benchmarks/results).")
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
    from .. import mnist_loader
    from ..runs import book
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
    if results_dir is None:  # a user's runs never rewrite the tables tracked in a checkout
        from ..datasets import home
        results_dir = os.path.join(home(), "book-results")
        echo_err(f"Results go to {results_dir} (--results FOLDER to choose)")
    try:
        os.makedirs(results_dir, exist_ok=True)
    except OSError as exc:
        raise click.BadParameter(f"cannot make the folder {results_dir}: {exc.strerror}", param_hint="--results")
    records = []
    with library_errors():
        data = (*mnist_loader.load_data_wrapper(data_path), data_path)
        for name in chosen:
            echo_err(f"{name}: {book.BY_NAME[name].what} ...")
            try:
                record = book.run(name, seed=seed, data=data, seeds=seeds)
            except Exception as exc:  # noqa: BLE001 - e.g. scikit-learn missing: report it, run the others
                from ..runs.baselines import BaselineUnavailable
                if not isinstance(exc, BaselineUnavailable):
                    raise
                echo_err(f"{name}: skipped: {exc}")
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
            echo_err(f"Results merged into {os.path.join(results_dir, 'book.md')} and book.json")
    if len(records) < len(chosen):
        raise click.ClickException(f"{len(chosen) - len(records)} of {len(chosen)} runs could not be run")


@click.group()
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
    from .. import mnist_loader
    from ..runs import baselines
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
    from .. import mnist_loader
    from ..runs import baselines
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise click.ClickException("the SVM baseline needs scikit-learn: pip install 'nnfast[baselines]' "
                                   "(or pip install scikit-learn)") from None
    with library_errors():
        training, _, test = mnist_loader.load_data(data_path)
        echo_err(f"Training SVC(gamma={gamma!r}) on {len(training[1]):,} images (libsvm, one core: tens of minutes) ...")
        correct = baselines.svm(training, test, gamma)
    click.echo("Baseline classifier using an SVM.")
    click.echo(f"{correct} of {len(test[1])} values correct.")
