"""A model's mistakes as pictures: the misclassified images in a grid, the confusion matrix as a heatmap."""

import os

import numpy as np

from .base import new_figure, save_png


def _class_names(classes, k):
    return [str(c) for c in classes] if classes is not None else [str(d) for d in range(k)]


def mistakes_figure(images, labels, predicted, classes=None, title="Mistakes", count=36):
    """A ``Figure`` of the first ``count`` misclassified images in a grid, each titled "true -> predicted"
    (as the book's chapter 6 figure of the net's 33 mistakes shows them).

    ``images`` (n, 784) in [0, 1); ``labels`` and ``predicted`` (n,) class numbers; ``classes`` their names
    (default: the numbers). The figure's title says how many of the n were wrong."""
    images = np.asarray(images)
    labels, predicted = np.asarray(labels).ravel(), np.asarray(predicted).ravel()
    if images.ndim != 2 or images.shape[1] != 784 or not len(images) == len(labels) == len(predicted):
        raise ValueError(f"images {images.shape}, labels {labels.shape} and predictions {predicted.shape}: "
                         "expected (n, 784), (n,) and (n,)")
    if int(count) < 1:
        raise ValueError(f"count {count}: draw at least one image")
    names = _class_names(classes, int(max(labels.max(initial=0), predicted.max(initial=0))) + 1)
    wrong = np.flatnonzero(labels != predicted)
    shown = wrong[:int(count)]
    cols = max(1, min(9, len(shown)))
    rows = max(1, -(-len(shown) // cols))
    fig = new_figure(figsize=(1.25 * cols + (2.5 if not len(shown) else 0), 1.45 * rows + 0.5))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, i in zip(axes, shown):
        ax.imshow(images[i].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{names[labels[i]]} -> {names[predicted[i]]}", fontsize=8, color="#b00020")
    fig.suptitle(f"{title}: {len(wrong):,} of {len(labels):,} misclassified"
                 + (f", the first {len(shown)} shown" if len(shown) < len(wrong) else "")
                 + ("\n(true -> predicted)" if len(shown) else ""), fontsize=9)
    fig.tight_layout()
    return fig


def confusion_figure(confusion, classes=None, title="Confusion matrix"):
    """A ``Figure``: the heatmap of ``confusion`` ((k, k) counts; rows: true class, columns: predicted) on a log
    colour scale, each count written in (up to 30 classes)."""
    from matplotlib.colors import SymLogNorm
    confusion = np.asarray(confusion)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"a confusion matrix is square (k, k); got shape {confusion.shape}")
    k = len(confusion)
    names = _class_names(classes, k)
    side = max(4.5, 0.42 * k + 1.5)
    fig = new_figure(figsize=(side + 1, side))
    ax = fig.subplots()
    # a log scale: the diagonal's thousands would wash out the mistakes' handfuls
    norm = SymLogNorm(linthresh=1, vmin=0, vmax=max(1, int(confusion.max(initial=1))))
    im = ax.imshow(confusion, cmap="Blues", norm=norm)
    if k <= 30:
        for t in range(k):
            for p in range(k):
                if confusion[t, p]:
                    ax.text(p, t, str(confusion[t, p]), ha="center", va="center", fontsize=7 if k > 12 else 8,
                            color="white" if norm(confusion[t, p]) > 0.6 else "black")
    ax.set_xticks(range(k), names, fontsize=7 if k > 12 else 9)
    ax.set_yticks(range(k), names, fontsize=7 if k > 12 else 9)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, label="count (log scale)")
    fig.tight_layout()
    return fig


def plot_errors(images, labels, predicted, classes, path, title, count=36):
    """Write ``mistakes_figure`` to a PNG; returns how many mistakes there were in all."""
    save_png(mistakes_figure(images, labels, predicted, classes, title, count), os.fspath(path))
    return int((np.asarray(labels) != np.asarray(predicted)).sum())


def plot_confusion(confusion, classes, path, title):
    """Write ``confusion_figure`` to a PNG."""
    save_png(confusion_figure(confusion, classes, title), os.fspath(path))
