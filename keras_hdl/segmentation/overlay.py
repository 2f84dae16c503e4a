"""QC overlay PNG: the automatic borders on end diastole, end systole and the least confident frame of every slice."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_hdl.io_utils import save_png
from keras_hdl.plotting import new_figure
from keras_hdl.segmentation.segment import LOW_CONFIDENCE, METHOD, METHOD_VERSION, Segmentation
from keras_hdl.series import Series

MARGIN_MM = 15.0
"""Each panel shows the LV with this much around its largest epicardium."""
PANEL_INCHES = 2.6


def write_overlay(series: Series, segmentation: Segmentation, path: str | Path) -> Path:
    """Write the overlay of ``segmentation`` on ``series`` to ``path`` (PNG, atomic); returns the path.

    One row per segmented slice; columns: end diastole, end systole (largest / smallest
    cavity) and the least confident frame, each with its confidence. Endocardium red,
    epicardium yellow; titles in red mark frames below the low-confidence threshold.
    """
    slices = segmentation.slices
    figure, axes = new_figure(len(slices), 3, (3 * PANEL_INCHES, len(slices) * PANEL_INCHES + 0.6))
    spacing = series.pixel_spacing
    for row, s in enumerate(slices):
        borders = segmentation.borders[s]
        reach = borders.epi_mm.max() + MARGIN_MM
        choices = (
            ("end diastole", int(segmentation.end_diastole[s])),
            ("end systole", int(segmentation.end_systole[s])),
            ("least confident", segmentation.least_confident_frame(s)),
        )
        for column, (name, frame) in enumerate(choices):
            axis = axes[row, column]
            image = series.magnitude[frame, s]
            axis.imshow(image, cmap="gray", vmin=0, vmax=float(np.percentile(image, 99.5)), interpolation="nearest")
            endo, epi = borders.polygons(frame, spacing)
            axis.plot(endo[:, 1], endo[:, 0], color="red", linewidth=1.0)
            axis.plot(epi[:, 1], epi[:, 0], color="yellow", linewidth=1.0)
            centre_row, centre_col = borders.centres[frame]
            axis.set_xlim(centre_col - reach / spacing[1], centre_col + reach / spacing[1])
            axis.set_ylim(centre_row + reach / spacing[0], centre_row - reach / spacing[0])
            axis.set_xticks([])
            axis.set_yticks([])
            confidence = segmentation.confidence[frame, s]
            axis.set_title(
                f"slice {s}, frame {frame}: {name}\nconfidence {confidence:.2f}",
                fontsize=8,
                color="red" if confidence < LOW_CONFIDENCE else "black",
            )
    figure.suptitle(
        f"Automatic LV myocardium ({METHOD}, version {METHOD_VERSION}): endocardium red, epicardium yellow",
        fontsize=9,
    )
    figure.tight_layout()
    return save_png(figure, path, dpi=100)
