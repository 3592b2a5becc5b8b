"""Learning curves: accuracy and cost per epoch, training and evaluation, from any of the ways a run reports them.

``learning_curves`` takes what a learner has in hand after training:
``network2``'s ``SGD`` return value (the four per-epoch lists), the results of
``train_epochs`` (``network`` or ``network2``), or the per-epoch records that
``nnfast train --json`` prints and a saved model keeps (``net.metadata["history"]``).
"""

import os

from .base import new_figure, save_png

_SERIES = ("evaluation accuracy", "training accuracy", "evaluation cost", "training cost")


def learning_curves(results, title="Learning curves", evaluation_total=None, training_total=None):
    """A ``Figure`` of accuracy and cost per epoch: one panel for the accuracies, one for the costs (each
    only when something was monitored).

    ``results``: ``network2.Network.SGD``'s ``(evaluation_cost, evaluation_accuracy, training_cost,
    training_accuracy)``; a list of ``train_epochs`` results; or a list of record dicts (``epoch``,
    ``accuracy``, ``training_accuracy`` as fractions, ``evaluation_cost``, ``training_cost``). Accuracies
    that are counts (network2's) are drawn as percentages when ``evaluation_total`` / ``training_total``
    (the number of images, e.g. ``len(validation_data)``) are given, else as counts.
    """
    series, units = _normalise(results, evaluation_total, training_total)
    panels = [kind for kind in ("accuracy", "cost") if any(series[f"{who} {kind}"] for who in ("evaluation", "training"))]
    if not panels:
        raise ValueError("nothing to draw: no accuracy or cost was recorded (monitor one, e.g. "
                         "monitor_evaluation_accuracy=True)")
    from matplotlib.ticker import MaxNLocator
    fig = new_figure(figsize=(5.5 * len(panels), 4))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, kind in zip(axes, panels):
        for who in ("evaluation", "training"):
            points = series[f"{who} {kind}"]
            if points:
                ax.plot([e for e, _ in points], [v for _, v in points], marker="o", markersize=3,
                        label=f"{who} data")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole: no 0.5 ticks
        ax.set_xlabel("epoch")
        ax.set_ylabel(units if kind == "accuracy" else "cost")
        ax.set_title(f"{kind.capitalize()} per epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _normalise(results, evaluation_total, training_total):
    """({series name: [(epoch, value)]}, the accuracy axis's label) from any of the accepted forms."""
    series = {name: [] for name in _SERIES}
    if _is_sgd_return(results):
        e_cost, e_acc, t_cost, t_acc = results
        for name, values in zip(_SERIES, (e_acc, t_acc, e_cost, t_cost)):
            series[name] = [(j, float(v)) for j, v in enumerate(values)]
        return _counts_as_percent(series, evaluation_total, training_total)
    records = list(results)
    if all(isinstance(r, dict) for r in records):
        for r in records:
            for name, key, scale in (("evaluation accuracy", "accuracy", 100), ("training accuracy",
                                     "training_accuracy", 100), ("evaluation cost", "evaluation_cost", 1),
                                     ("training cost", "training_cost", 1)):
                if r.get(key) is not None:
                    series[name].append((r["epoch"], scale * r[key]))
        return series, "accuracy (%)"
    fields = {tuple(getattr(r, "_fields", ())) for r in records}
    if len(fields) == 1 and "correct" in next(iter(fields)):  # network.train_epochs: counts and their total
        series["evaluation accuracy"] = [(r.epoch, 100 * r.correct / r.total) for r in records
                                         if r.correct is not None and r.total]
        return series, "accuracy (%)"
    if len(fields) == 1 and "evaluation_accuracy" in next(iter(fields)):  # network2.train_epochs
        for r in records:
            for name, value in zip(_SERIES, (r.evaluation_accuracy, r.training_accuracy, r.evaluation_cost,
                                             r.training_cost)):
                if value is not None:
                    series[name].append((r.epoch, float(value)))
        return _counts_as_percent(series, evaluation_total, training_total)
    raise TypeError("learning_curves takes network2's SGD return value, a list of train_epochs results, or a "
                    f"list of per-epoch dicts; got {type(results).__name__}")


def _is_sgd_return(results):
    return (isinstance(results, tuple) and not hasattr(results, "_fields") and len(results) == 4
            and all(isinstance(v, list) for v in results))


def _counts_as_percent(series, evaluation_total, training_total):
    totals = {"evaluation accuracy": evaluation_total, "training accuracy": training_total}
    drawn = [name for name in totals if series[name]]
    if drawn and all(totals[name] for name in drawn):
        for name in drawn:
            series[name] = [(j, 100 * v / totals[name]) for j, v in series[name]]
        return series, "accuracy (%)"
    return series, "correct (count)"


def plot_history(history, path, title):
    """Write the learning curves of ``history`` (dicts as ``nnfast train --json`` prints them) to a PNG."""
    save_png(learning_curves(history, title), os.fspath(path))
