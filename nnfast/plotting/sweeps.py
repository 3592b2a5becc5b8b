"""A sweep's picture: validation accuracy over the swept parameters, every point told apart.

Two grid parameters (``--eta 0.5,1,3 --hidden 30,100``) make a heatmap, one cell
per point with its accuracy written in. Otherwise each swept parameter gets a
panel of accuracy against it, the points coloured by another swept parameter
(a legend of its values for a grid, a colour bar for a range), so that the
points of a grid's column are not one undistinguished stack.
"""

import os

import numpy as np

from .base import new_figure, save_png


def sweep_figure(records, space):
    """A ``Figure`` of each trial's validation accuracy (``records``: the sweep's ``TrialRecord`` list,
    ``space``: its ``Space``); pruned trials are crosses (their accuracy when stopped), failed ones left out."""
    swept = space.swept or [space.params[0]]
    if len(swept) == 2 and not any(p.is_range for p in swept):
        return _heatmap(records, *swept)
    return _panels(records, swept)


def _option(param):
    return "--" + param.name.replace("_", "-")


def _plain(value):
    return tuple(value) if isinstance(value, list) else value  # widths come back from JSON as lists


def _categories(param):
    from ..sweep.space import format_value
    return [format_value(v) for v in param.values]


def _category(param, value):
    from ..sweep.space import format_value
    return _categories(param).index(format_value(_plain(value)))


def _number(value):
    return value[0] if isinstance(value, (list, tuple)) else value  # a width range: one hidden layer


def _heatmap(records, rows, cols):
    """Rows: the first parameter's values, columns: the second's; a cell shows its point's accuracy (%)."""
    accuracy = np.full((len(rows.values), len(cols.values)), np.nan)
    state = np.full(accuracy.shape, "", dtype=object)
    stopped = np.full(accuracy.shape, np.nan)  # a pruned trial's accuracy when it was stopped
    for r in records:  # best first: a point recorded twice shows its best
        i, j = _category(rows, r.params[rows.name]), _category(cols, r.params[cols.name])
        if state[i, j]:
            continue
        state[i, j] = r.state
        if r.validation_accuracy is not None:
            (accuracy if r.state == "complete" else stopped)[i, j] = 100 * r.validation_accuracy
    fig = new_figure(figsize=(max(4.5, 1.1 * len(cols.values) + 2.5), max(3.2, 0.6 * len(rows.values) + 2)))
    ax = fig.subplots()
    shown = np.ma.masked_invalid(accuracy)
    im = ax.imshow(shown, cmap="viridis", aspect="auto")
    finite = accuracy[np.isfinite(accuracy)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0
    for i in range(accuracy.shape[0]):
        for j in range(accuracy.shape[1]):
            if np.isfinite(accuracy[i, j]):
                text, colour = f"{accuracy[i, j]:.2f}%", ("white" if accuracy[i, j] < middle else "black")
            else:  # left blank in the colours: a pruned trial's figure is not its point's result
                text = (state[i, j] or "not run") + (f"\n({stopped[i, j]:.2f}%)" if np.isfinite(stopped[i, j]) else "")
                colour = "#666666"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color=colour)
    ax.set_xticks(range(len(cols.values)), _categories(cols))
    ax.set_yticks(range(len(rows.values)), _categories(rows))
    ax.set_xlabel(_option(cols))
    ax.set_ylabel(_option(rows))
    fig.colorbar(im, ax=ax, label="validation accuracy (%)")
    ax.set_title(f"nnfast sweep: {len(records)} trials, validation accuracy", fontsize=10)
    fig.tight_layout()
    return fig


def _panels(records, swept):
    """A panel per swept parameter; points coloured by the first other swept parameter."""
    shown = [r for r in records if r.validation_accuracy is not None]
    fig = new_figure(figsize=(4.8 * len(swept) + 1.2, 4))
    axes = fig.subplots(1, len(swept), squeeze=False, sharey=True)[0]
    for n, (ax, param) in enumerate(zip(axes, swept)):
        others = [p for p in swept if p is not param]
        colour_by = others[0] if others else None
        _scatter(fig, ax, shown, param, colour_by)
        _x_axis(ax, param)
    axes[0].set_ylabel("validation accuracy (%)")
    fig.suptitle(f"nnfast sweep: {len(records)} trials")
    fig.tight_layout()
    return fig


def _xs(points, param):
    values = [r.params[param.name] for r in points]
    return [_number(v) for v in values] if param.is_range else [_category(param, v) for v in values]


def _scatter(fig, ax, points, param, colour_by):
    ys = lambda pts: [100 * r.validation_accuracy for r in pts]  # noqa: E731
    markers = (("complete", "o"), ("pruned", "x"))
    if colour_by is None:
        for state, marker in markers:
            pts = [r for r in points if r.state == state]
            if pts:
                ax.scatter(_xs(pts, param), ys(pts), marker=marker, alpha=0.8, label=f"{state} ({len(pts)})")
        if points:
            ax.legend(fontsize=8)
        return
    if not colour_by.is_range:  # a grid: a colour per value, named in the legend
        from matplotlib import colormaps
        palette = colormaps["tab10"]
        for k, value in enumerate(_categories(colour_by)):
            for state, marker in markers:
                pts = [r for r in points if r.state == state and _category(colour_by, r.params[colour_by.name]) == k]
                if pts:
                    ax.scatter(_xs(pts, param), ys(pts), marker=marker, color=palette(k % 10), alpha=0.85,
                               label=f"{_option(colour_by)} {value}" + (" (pruned)" if state == "pruned" else ""))
        if points:
            ax.legend(fontsize=8, title=None)
        return
    from matplotlib.colors import LogNorm, Normalize
    norm = (LogNorm if colour_by.log else Normalize)(colour_by.low, colour_by.high)
    mappable = None
    for state, marker in markers:
        pts = [r for r in points if r.state == state]
        if pts:
            mappable = ax.scatter(_xs(pts, param), ys(pts), marker=marker, c=[_number(r.params[colour_by.name])
                                  for r in pts], cmap="viridis", norm=norm, alpha=0.85)
    if mappable is not None:
        bar = fig.colorbar(mappable, ax=ax)
        bar.ax.set_title(_option(colour_by), fontsize=9)
        if colour_by.log:  # plain numbers at 1-2-5 steps, not 4x10^0
            from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
            bar.ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            bar.ax.yaxis.set_minor_formatter(NullFormatter())


def _x_axis(ax, param):
    if param.is_range and param.log:
        from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    if param.is_range:
        ax.set_xlim(param.low, param.high)
    else:
        ax.set_xticks(range(len(param.values)), _categories(param))
        ax.set_xlim(-0.5, len(param.values) - 0.5)
    ax.set_xlabel(_option(param))
    ax.grid(alpha=0.3)


def plot_sweep(records, space, path):
    """Write ``sweep_figure`` to a PNG."""
    save_png(sweep_figure(records, space), os.fspath(path))
