"""The one way keras-hdl draws: matplotlib figure objects on the Agg canvas, never pyplot's global state.

A :class:`matplotlib.figure.Figure` made here belongs to no window manager, so nothing has to be closed,
no backend is switched for the whole process (``matplotlib.use``), and figures drawn in threads do not
meet. Write them with :func:`keras_hdl.io_utils.save_png` (whole or not at all).
"""

from __future__ import annotations


def new_figure(
    rows: int,
    columns: int,
    size: tuple[float, float],
    *,
    dpi: float | None = None,
    layout: str | None = None,
    **subplots,
):
    """A figure of ``size`` inches and its (rows, columns) axes array; ``subplots`` go to ``Figure.subplots``.

    ``layout="constrained"`` (or ``tight_layout()`` on the figure) arranges the axes; ``dpi`` default:
    matplotlib's.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=dpi, layout=layout)
    FigureCanvasAgg(figure)
    return figure, figure.subplots(rows, columns, squeeze=False, **subplots)
