"""PNG montages: one slice's magnitude, vx, vy, vz and the myocardium mask at end-diastole,
peak systole and end-systole (velocities are near zero at end-diastole and end-systole, so
the peak-systolic row is where the motion shows) — or, for a varied acquisition, the
middle slice of several scans side by side, so the variety shows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from keras_hdl.errors import InputError
from keras_hdl.io_utils import save_png
from keras_hdl.plotting import new_figure
from keras_hdl.series import Series

VELOCITY_TITLES = ("vx (cm/s, +right)", "vy (cm/s, +down)", "vz (cm/s, +apex)")
VARIETY_PREVIEW_SCANS = 8
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


@dataclasses.dataclass(frozen=True)
class VarietyPanel:
    """One scan of the variety montage: its middle slice at end-diastole and end-systole.

    Attributes:
        magnitude: (2, H, W) scanner units; masks: (2, H, W) bool; caption: the acquisition in one line.
    """

    magnitude: np.ndarray
    masks: np.ndarray
    caption: str

    @classmethod
    def of(cls, series: Series, truth, scan_id: str, acquisition) -> VarietyPanel:
        """The panel of a phantom scan (``truth``: its GroundTruth, ``acquisition``: its Acquisition)."""
        frames = [0, truth.end_systolic_frame]
        middle = series.num_slices // 2
        return cls(
            magnitude=series.magnitude[frames, middle],
            masks=series.masks[frames, middle],
            caption=(
                f"{scan_id}: {acquisition.rows}x{acquisition.cols} px, {acquisition.spacing_mm:.2f} mm, "
                f"{acquisition.frames} fr, {acquisition.heart_rate_bpm:.0f} bpm\nvenc "
                f"{'/'.join(f'{v:.0f}' for v in acquisition.venc_cm_s)} cm/s, SNR {acquisition.snr:.0f} "
                f"({acquisition.snr_band})"
            ),
        )


def write_variety_preview(path: str | Path, panels: list[VarietyPanel]) -> Path:
    """Write the variety montage (PNG, atomic): a column per scan, end-diastole over end-systole, wall outlined."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not panels:
        raise InputError("preview: no scans to show")
    figure = Figure(figsize=(3.2 * len(panels), 7.0), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, len(panels), squeeze=False, gridspec_kw={"left": 0.03, "right": 0.99, "top": 0.86})
    for column, panel in enumerate(panels):
        for row, label in enumerate(("end-diastole", "end-systole")):
            image = panel.magnitude[row]
            axes[row, column].imshow(image, cmap="gray", vmin=0.0, vmax=float(np.percentile(image, 99.5)))
            axes[row, column].contour(panel.masks[row], levels=[0.5], colors="tab:red", linewidths=0.6)
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
            if column == 0:
                axes[row, column].set_ylabel(label, fontsize=10)
        axes[0, column].set_title(panel.caption, fontsize=8)
    figure.suptitle("phantom acquisitions (middle slice; red: LV myocardium mask)", fontsize=11)
    return save_png(figure, path)
