"""``nnfast eval`` and ``nnfast predict``: a saved model of any chapter on a data set, or on images."""

import json

import click
import numpy as np

from .common import check_plot_path, echo_err, library_errors, pick


@click.command("eval")
@click.argument("models", nargs=-1, required=True, type=click.Path())
@click.option("--data", "data_path", type=click.Path(), default=None, help="MNIST file or folder (default: cache).")
@click.option("--on", "on", type=click.Choice(["test", "validation"]), default="test", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
@click.option("--errors", "errors_path", type=click.Path(), default=None,
              help="Draw the misclassified images into this PNG, each with its true and predicted class.")
@click.option("--errors-count", type=click.IntRange(min=1), default=36, show_default=True,
              help="How many of the misclassified images --errors draws (the first ones).")
@click.option("--confusion", "confusion_path", type=click.Path(), default=None,
              help="Draw the confusion matrix as a heatmap with its counts into this PNG.")
def evaluate(models, data_path, on, as_json, errors_path, errors_count, confusion_path):
    """Accuracy, confusion matrix and per-class precision, recall and F1 of a saved model, or of several voting.

    The data is MNIST, or what --data names (EMNIST, Fashion-MNIST, ...);
    classes are shown by name where the dataset has names. Several models
    vote as the book's chapter 6 ensemble does (each image gets the class
    most of them give; a tie goes to the earliest model's): each model's
    accuracy is printed, then the vote's figures.

    \b
    Examples:
      nnfast eval net.npz --on validation
      nnfast eval net.npz --errors mistakes.png --confusion confusion.png
      nnfast eval drop1.npz drop2.npz drop3.npz drop4.npz drop5.npz     # the vote of five
      nnfast eval letters.npz --data gzip/emnist-letters
    """
    from .. import datasets, mnist_loader
    from ..runs.inference import load_network, predict_classes
    from ..runs.metrics import classification_report, format_report
    from ..runs.vote import plurality
    errors_path = check_plot_path(errors_path, "mistakes.png", "--errors")
    confusion_path = check_plot_path(confusion_path, "confusion.png", "--confusion")

    with library_errors():
        nets = [load_network(m) for m in models]
        dataset = datasets.load_dataset(data_path)
        validation_size = (getattr(nets[0], "metadata", {}).get("training") or {}).get("validation")
        _, validation, test = mnist_loader.split(dataset, validation_size)
        X, labels = pick(validation, test, on)
        classes = len(dataset.classes)
        for model, net in zip(models, nets):
            n_in, n_out = _widths(net)
            if n_in != X.shape[1] or n_out != classes:
                raise click.ClickException(f"{model} expects {n_in} inputs and {n_out} classes; "
                                           f"{dataset.name} has {X.shape[1]} pixels and {classes} classes")
        each = [predict_classes(net, X) for net in nets]
        predicted = each[0] if len(nets) == 1 else plurality(each, classes)
        report = classification_report(labels, predicted, dataset.classes)
    alone = [{"model": m, "correct": int((p == labels).sum()), "accuracy": float((p == labels).mean())}
             for m, p in zip(models, each)]
    title = (f"{models[0]} on the {on} set of {dataset.name}" if len(models) == 1 else
             f"the vote of {len(models)} models on the {on} set of {dataset.name}")
    if as_json:
        extra = {"models": alone} if len(models) > 1 else {}
        click.echo(json.dumps({"model": models[0] if len(models) == 1 else list(models), "on": on,
                               "dataset": dataset.name, **extra, **report}))
    else:
        if len(models) > 1:
            for a in alone:
                click.echo(f"{a['model']}: {a['correct']} / {len(labels)} ({100 * a['accuracy']:.2f}%)")
            click.echo("")
        click.echo(format_report(report, title=title))
    from ..plotting import plot_confusion, plot_errors
    if errors_path:
        plot_errors(X, labels, predicted, report["classes"], errors_path, title, errors_count)
        echo_err(f"Misclassified images drawn in {errors_path}")
    if confusion_path:
        plot_confusion(np.asarray(report["confusion"]), report["classes"], confusion_path, title)
        echo_err(f"Confusion matrix drawn in {confusion_path}")


def _widths(net):
    """(inputs, outputs) of a loaded network of any chapter."""
    if hasattr(net, "sizes"):
        return net.sizes[0], net.sizes[-1]
    return net.layers[0].n_in, net.layers[-1].n_out


# -- predict ---------------------------------------------------------------------------

MODEL_SUFFIXES = (".npz", ".json")


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(), metavar="MODEL... IMAGE...")
@click.option("--json", "as_json", is_flag=True, help="One JSON record per image.")
def predict(files, as_json):
    """The digit in each image, by a saved model or several voting.

    MODEL... IMAGE...: the digit (or class: a letter for an EMNIST letters
    model) in each image, with the winning output; several models (the
    leading .npz / .json files) vote.

    "output" is the winning output unit's own activation, 0 to 1 (the same
    figure the draw page shows): each sigmoid output of the book's chapter 1
    and 3 networks answers "is it this digit?" on its own, so 0.99 is a clear
    yes; for a chapter 6 model it is the softmax probability. The answer is
    "not sure" unless exactly one output is above 0.5 (none: every unit says
    no; two: it looks like both). --json gives "output", "sure", every output
    and the runner-up. With several models the answer is their vote, as the
    book's chapter 6 ensemble takes it, with how many agreed.

    Photos or scans of one digit on paper (dark ink on light paper, any size,
    off-centre) and MNIST-style 28x28 images both work: each is prepared as
    MNIST's digits were (greyscale, inverted if the paper is light, cropped to
    the ink, scaled to fit 20x20, centred by mass in 28x28).

    \b
    Examples:
      nnfast predict net.npz photo-of-a-seven.jpg scan.png
      nnfast predict drop1.npz drop2.npz drop3.npz photo.jpg
    """
    from ..imaging import BlankImage, ImageError, digit_column
    from ..runs.inference import certainty, load_network, outputs
    from ..runs.vote import agreement, plurality

    models = []
    for f in files:
        if not str(f).lower().endswith(MODEL_SUFFIXES):
            break
        models.append(f)
    models = models or [files[0]]  # a model file named otherwise: the first argument, as before
    images = files[len(models):]
    if not images:
        raise click.UsageError("give at least one image after the model file(s)")
    with library_errors():
        nets = [load_network(m) for m in models]
        widths = {_widths(net) for net in nets}
        n_in, n_out = _widths(nets[0])
        names = (getattr(nets[0], "metadata", {}) or {}).get("classes")
        if not (isinstance(names, list) and len(names) == n_out):
            names = [str(k) for k in range(n_out)]  # the book's digits, or a model saved without names
        if len(widths) > 1:
            raise click.ClickException("the models differ in their inputs or classes: "
                                       + ", ".join(f"{m} {a}->{b}" for m, (a, b) in zip(models, map(_widths, nets))))
        if n_in != 784 or n_out < 2:
            raise click.ClickException(f"{models[0]} takes {n_in} inputs and gives {n_out} outputs; "
                                       "predict needs 784 inputs (28x28 images) and at least 2 classes")
    failed = blank = 0
    for path in images:
        try:
            column = digit_column(path)
        except BlankImage as exc:
            blank += 1
            echo_err(f"Error: {exc}")
            continue
        except ImageError as exc:
            failed += 1
            echo_err(f"Error: {exc}")
            continue
        outs = [outputs(net, column) for net in nets]
        each = [int(np.argmax(o)) for o in outs]
        digit = int(plurality(np.array(each)[:, None], n_out)[0])
        out = outs[each.index(digit)]  # the first model that gave the winning class speaks for it
        _, output, sure = certainty(out)  # the winning unit's activation, and whether only it says yes
        runner_up = int(np.argsort(out)[-2]) if out.size > 1 else digit
        votes = int(agreement(np.array(each)[:, None], [digit])[0])
        if as_json:
            record = {"image": path, "digit": digit, "class": names[digit], "output": round(output, 4),
                      "sure": sure, "runner_up": runner_up, "outputs": [round(float(v), 4) for v in out]}
            if len(nets) > 1:
                record.update(votes=votes, models=len(nets), each=[names[d] for d in each])
            click.echo(json.dumps(record))
            continue
        said = names[digit] if sure else f"not sure (best guess {names[digit]})"
        voted = f"votes {votes} of {len(nets)}; " if len(nets) > 1 else ""
        click.echo(f"{path}: {said}  ({voted}output {output:.2f})")
    if failed or blank:
        parts = ([f"{failed} could not be read"] if failed else []) + ([f"{blank} held no digit (blank)"] if blank else [])
        raise click.ClickException(f"of {len(images)} images, {' and '.join(parts)}")
