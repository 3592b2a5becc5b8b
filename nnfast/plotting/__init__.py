"""Pictures of training and evaluation, as matplotlib figures for notebooks and as PNGs for the command line.

In a notebook (each returns a ``Figure``, which Jupyter shows inline)::

    from nnfast import plotting
    plotting.learning_curves(net.SGD(...))     # network2's four lists, train_epochs' results, or records
    plotting.mistakes(net, test_data)          # the misclassified images, "true -> predicted"
    plotting.confusion(net, test_data)         # the confusion matrix as a heatmap

``mistakes_figure``, ``confusion_figure`` and ``sweep_figure`` draw from arrays
and records (what ``nnfast eval`` and ``nnfast sweep`` have); the ``plot_*``
functions write those figures to PNG files for the commands.

matplotlib is an optional extra (``pip install 'nnfast[plot]'``), imported only
when a picture is drawn. No figure goes through pyplot, so nothing here changes
the caller's backend or pyplot's list of open figures.
"""

from .base import PlotUnavailable, require_matplotlib, save_png
from .curves import learning_curves, plot_history
from .evaluation import confusion_figure, mistakes_figure, plot_confusion, plot_errors
from .notebook import confusion, mistakes
from .sweeps import plot_sweep, sweep_figure

__all__ = ["PlotUnavailable", "confusion", "confusion_figure", "learning_curves", "mistakes", "mistakes_figure",
           "plot_confusion", "plot_errors", "plot_history", "plot_sweep", "require_matplotlib", "save_png",
           "sweep_figure"]
