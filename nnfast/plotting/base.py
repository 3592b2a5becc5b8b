"""What every picture shares: matplotlib found or a clear message, a figure of its own, the PNG written safely.

Figures are made with ``matplotlib.figure.Figure`` directly, never through
``pyplot``: nothing is registered in pyplot's list of open figures and no backend
is chosen (``matplotlib.use`` would switch a notebook's own backend away from
inline), so drawing from nnfast leaves the caller's matplotlib as it was.
"""

import io
import os

from .._files import write_atomically


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed; the message says how to install it."""


def require_matplotlib(what="drawing"):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotUnavailable(f"{what} needs matplotlib: pip install 'nnfast[plot]' (or pip install matplotlib)") \
            from None


_figure_class = None


def new_figure(**kw):
    """A ``Figure`` (``kw`` as ``Figure`` takes them) that shows itself in a notebook as a PNG."""
    global _figure_class
    require_matplotlib()
    if _figure_class is None:
        from matplotlib.figure import Figure

        class NotebookFigure(Figure):
            """A matplotlib ``Figure`` that Jupyter shows inline (``_repr_png_``) even where pyplot's inline
            backend was never loaded; ``fig.savefig(path)`` writes it as any figure does."""

            def _repr_png_(self):
                return png_bytes(self)

        _figure_class = NotebookFigure
    return _figure_class(**kw)


def png_bytes(fig, dpi=110):
    blob = io.BytesIO()
    fig.savefig(blob, format="png", dpi=dpi)
    return blob.getvalue()


def save_png(fig, path, dpi=110):
    """Write ``fig`` to ``path`` as a PNG, atomically: an existing file is replaced whole or left as it was."""
    data = png_bytes(fig, dpi)
    write_atomically(os.fspath(path), lambda f: f.write(data))
