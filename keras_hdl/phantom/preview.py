"""PNG montage of one slice: magnitude, vx, vy, vz and the myocardium mask at end-diastole,
peak systole and end-systole (velocities are near zero at end-diastole and end-systole, so
the peak-systolic row is where the motion shows)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_hdl.errors import InputError
from keras_hdl.io_utils import save_png
from keras_hdl.plotting import new_figure
from keras_hdl.series import Series

VELOCITY_TITLES = ("vx (cm/s, +right)", "vy (cm/s, +down)", "vz (cm/s, +apex)")
COLOUR_RANGE_PERCENTILE = 99.0


def write_preview(
    path: str | Path,
    series: Series,
    slice_index: int | None = None,
    end_systolic_frame: int | None = None,
    title: str = "",
) -> Path:
    """Write the montage of one slice to ``path`` (PNG, atomic); returns the path.

    Rows: end-diastole (frame 0), peak systole (the frame of largest mean |v| over the
    myocardium before end-systole) and end-systole. Columns: magnitude (scanner units),
    the three velocity components (cm/s, colour bars symmetric about 0, range from the
    velocities around the heart) and the mask; one colour bar per column.

    Args:
        series: a series with phase and masks.
        slice_index: the slice to show; default the middle one.
        end_systolic_frame: default the frame with the fewest blood-pool pixels inside the
            myocardium (smallest cavity).
        title: a line shown above the montage.
    """
    from scipy import ndimage

    if series.phase is None or series.masks is None:
        raise InputError("preview: the series needs phase images and myocardium masks")
    slice_index = series.num_slices // 2 if slice_index is None else slice_index
    if not 0 <= slice_index < series.num_slices:
        raise InputError(f"preview: slice {slice_index} does not exist; the series has {series.num_slices} slices")
    masks = series.masks[:, slice_index]
    if end_systolic_frame is None:
        cavity = ndimage.binary_fill_holes(masks, structure=np.ones((1, 3, 3), bool)) & ~masks
        end_systolic_frame = int(np.argmin(cavity.sum(axis=(1, 2))))
    velocity = series.velocity()[:, slice_index]  # (T, 3, H, W) cm/s
    speed_in_wall = (np.linalg.norm(velocity, axis=1) * masks).sum(axis=(1, 2)) / np.maximum(masks.sum(axis=(1, 2)), 1)
    peak_systolic_frame = 1 + int(np.argmax(speed_in_wall[1 : max(end_systolic_frame, 2)]))
    frames = (0, peak_systolic_frame, end_systolic_frame)
    row_names = ("end-diastole", "peak systole", "end-systole")
    magnitude = series.magnitude[:, slice_index]
    rows, cols = masks.shape[1:]
    # Colour range per component: a high percentile of |v| around the myocardium, so noise in air does not set it.
    near_heart = ndimage.binary_dilation(masks[list(frames)].any(axis=0), iterations=max(2, rows // 16))
    limits = [
        max(
            1.0,
            float(np.ceil(np.percentile(np.abs(velocity[list(frames), axis][:, near_heart]), COLOUR_RANGE_PERCENTILE))),
        )
        for axis in range(3)
    ]

    columns = [
        (magnitude, "magnitude (a.u.)", "gray", 0.0, float(np.percentile(magnitude, 99.5)), "a.u."),
        *[
            (velocity[:, axis], VELOCITY_TITLES[axis], "RdBu_r", -limits[axis], limits[axis], "cm/s")
            for axis in range(3)
        ],
        (masks.astype(np.float32), "LV myocardium mask", "gray", 0.0, 1.0, "outside (0) / myocardium (1)"),
    ]
    figure, axes = new_figure(
        len(frames),
        len(columns),
        (14, 9.5),
        dpi=100,
        gridspec_kw={"left": 0.06, "right": 0.99, "top": 0.91, "bottom": 0.04},
    )
    for column, (images, name, colormap, low, high, unit) in enumerate(columns):
        for row, frame in enumerate(frames):
            shown = axes[row, column].imshow(images[frame], cmap=colormap, vmin=low, vmax=high, interpolation="nearest")
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
        axes[0, column].set_title(name, fontsize=10)
        bar = figure.colorbar(shown, ax=axes[:, column], orientation="horizontal", fraction=0.03, pad=0.02)
        bar.set_label(unit, fontsize=9)
        bar.ax.tick_params(labelsize=8)
    for row, (frame, label) in enumerate(zip(frames, row_names, strict=True)):
        axes[row, 0].set_ylabel(f"{label}\nframe {frame}", fontsize=10)
    spacing = series.pixel_spacing
    figure.suptitle(
        f"{title}  slice {slice_index}, {rows}×{cols} px, {spacing[0]:.2f} mm pixels, venc "
        f"{'/'.join(f'{v:g}' for v in series.venc)} cm/s".strip(),
        fontsize=11,
    )
    return save_png(figure, path)
