"""Chapter 3's learning curves from a training history: accuracy and cost per epoch, training and evaluation.

matplotlib is an optional extra (``pip install 'nnfast[plot]'``); it is
imported only here, only when a plot is asked for, with the file-only Agg
backend so no screen is needed.
"""

import os

import numpy as np

from ._files import write_atomically


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed; the message says how to install it."""


def require_matplotlib(option="--plot"):
    """Raise PlotUnavailable, naming ``option`` (the command-line option that asked for a drawing), unless
    matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotUnavailable(f"{option} needs matplotlib: pip install 'nnfast[plot]' (or pip install matplotlib)") from None


def plot_history(history, path, title):
    """Write a PNG of the per-epoch records in ``history`` (dicts as ``nnfast train --json`` prints them)."""
    require_matplotlib()
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in history]
    series = {
        "accuracy": [("evaluation", [100 * r["accuracy"] for r in history if r.get("accuracy") is not None]),
                     ("training", [100 * r["training_accuracy"] for r in history if r.get("training_accuracy") is not None])],
        "cost": [("evaluation", [r["evaluation_cost"] for r in history if r.get("evaluation_cost") is not None]),
                 ("training", [r["training_cost"] for r in history if r.get("training_cost") is not None])],
    }
    panels = [name for name, lines in series.items() if any(values for _, values in lines)]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, name in zip(axes[0], panels):
        for label, values in series[name]:
            if values:
                ax.plot(epochs[-len(values):], values, marker="o", markersize=3, label=f"{label} data")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole: no 0.5 ticks
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy (%)" if name == "accuracy" else "cost")
        ax.set_title(f"{name.capitalize()} per epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    blob = io.BytesIO()
    fig.savefig(blob, format="png", dpi=110)
    plt.close(fig)
    write_atomically(os.fspath(path), lambda f: f.write(blob.getvalue()))


def plot_sweep(records, space, path):
    """Write a PNG of each finished trial's validation accuracy against each swept parameter
    (log axes for log ranges; lists of values as categories, in the order given)."""
    require_matplotlib()
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .sweep.space import format_value
    swept = space.swept or [space.params[0]]
    shown = [r for r in records if r.validation_accuracy is not None]
    fig, axes = plt.subplots(1, len(swept), figsize=(4.5 * len(swept), 3.8), squeeze=False, sharey=True)
    for ax, param in zip(axes[0], swept):
        for state, marker in (("complete", "o"), ("pruned", "x")):
            points = [r for r in shown if r.state == state]
            if not points:
                continue
            values = [r.params[param.name] for r in points]
            if param.is_range:
                xs = [v[0] if isinstance(v, list) else v for v in values]  # a width range: one hidden layer
            else:
                categories = [format_value(v) for v in param.values]
                xs = [categories.index(format_value(tuple(v) if isinstance(v, list) else v)) for v in values]
            ax.scatter(xs, [100 * r.validation_accuracy for r in points], marker=marker, alpha=0.8,
                       label=f"{state} ({len(points)})")
        if param.is_range and param.log:
            from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
        if param.is_range:
            ax.set_xlim(param.low, param.high)
        if not param.is_range:
            ax.set_xticks(range(len(param.values)), [format_value(v) for v in param.values])
        ax.set_xlabel("--" + param.name.replace("_", "-"))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation accuracy (%)")
    axes[0][-1].legend()
    fig.suptitle(f"nnfast sweep: {len(records)} trials")
    fig.tight_layout()
    blob = io.BytesIO()
    fig.savefig(blob, format="png", dpi=110)
    plt.close(fig)
    write_atomically(os.fspath(path), lambda f: f.write(blob.getvalue()))


def _save_figure(fig, path, dpi=110):
    import io

    import matplotlib.pyplot as plt
    blob = io.BytesIO()
    fig.savefig(blob, format="png", dpi=dpi)
    plt.close(fig)
    write_atomically(os.fspath(path), lambda f: f.write(blob.getvalue()))


def plot_errors(images, labels, predicted, classes, path, title, count=36):
    """Write a PNG grid of the first ``count`` misclassified images, each titled with its true and its
    predicted class (as the book's chapter 6 figure of the net's 33 mistakes shows them).

    ``images`` (n, 784) in [0, 1); ``labels`` and ``predicted`` (n,) class numbers; ``classes`` their names.
    Returns how many mistakes there were in all."""
    require_matplotlib()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    wrong = np.flatnonzero(np.asarray(labels) != np.asarray(predicted))
    shown = wrong[:count]
    cols = max(1, min(9, len(shown)))
    rows = max(1, -(-len(shown) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.25 * cols, 1.45 * rows + 0.5), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), shown):
        ax.imshow(np.asarray(images[i]).reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{classes[labels[i]]} -> {classes[predicted[i]]}", fontsize=8, color="#b00020")
    fig.suptitle(f"{title}: {len(wrong):,} of {len(labels):,} misclassified"
                 + (f", the first {len(shown)} shown" if len(shown) < len(wrong) else "")
                 + "\n(true -> predicted)", fontsize=9)
    fig.tight_layout()
    _save_figure(fig, path)
    return len(wrong)


def plot_confusion(confusion, classes, path, title):
    """Write a PNG heatmap of ``confusion`` (rows: true class, columns: predicted), with each count written in."""
    require_matplotlib()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    confusion = np.asarray(confusion)
    k = len(classes)
    side = max(4.5, 0.42 * k + 1.5)
    fig, ax = plt.subplots(figsize=(side + 1, side))
    from matplotlib.colors import SymLogNorm
    # a log scale: the diagonal's thousands would wash out the mistakes' handfuls
    norm = SymLogNorm(linthresh=1, vmin=0, vmax=max(1, int(confusion.max(initial=1))))
    im = ax.imshow(confusion, cmap="Blues", norm=norm)
    if k <= 30:
        for t in range(k):
            for p in range(k):
                if confusion[t, p]:
                    ax.text(p, t, str(confusion[t, p]), ha="center", va="center", fontsize=7 if k > 12 else 8,
                            color="white" if norm(confusion[t, p]) > 0.6 else "black")
    ax.set_xticks(range(k), classes, fontsize=7 if k > 12 else 9)
    ax.set_yticks(range(k), classes, fontsize=7 if k > 12 else 9)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, label="count (log scale)")
    fig.tight_layout()
    _save_figure(fig, path)
