"""The evaluation's figures (:mod:`keras_hdl.plotting`), each written atomically as a PNG.

- :func:`plot_metrics_vs_k`: paper Fig. 10, each interpolation metric against K per method;
- :func:`plot_marker_boxes`: paper Fig. 8, box plots of the markers over test slices (truth, real, twins);
- :func:`plot_error_maps`: paper Fig. 5, |interpolated − real| of one slice's frame per K and method;
- :func:`plot_example_curves`: paper Fig. 9, one slice's global curves: truth, real and twins.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_hdl.assessment import COMPONENT_NAMES
from keras_hdl.assessment.markers import NORMALISED_FRAMES
from keras_hdl.io_utils import save_png
from keras_hdl.plotting import new_figure

FIGURE_METRICS = ("MSE", "MSE_W1", "MSE_W2", "PSNR_dB", "SSIM", "DICE")
BOX_MARKERS = ("psv", "pdv", "pav", "mean")
DPI = 100


def _save(figure, path: Path) -> Path:
    save_png(figure, path, DPI)
    return path


def plot_metrics_vs_k(table: dict, labels: dict[str, str], path: Path) -> Path:
    """Fig. 10: one panel per metric, mean over the dropped frames against K, one line per method."""
    figure, axes = new_figure(2, 3, (12, 6.5), layout="constrained")
    ks = table["k"]
    for metric, axis in zip(FIGURE_METRICS, axes.ravel(), strict=True):
        for method, by_k in table["values"].items():
            means = [by_k[str(k)][metric]["mean"] for k in ks]
            axis.plot(ks, [np.nan if m is None else m for m in means], "o-", label=labels[method])
        if metric.startswith("MSE"):
            axis.set_yscale("log")  # the methods' errors differ by orders of magnitude
        axis.set_title(metric.replace("_dB", " (dB)") + (" (log scale)" if metric.startswith("MSE") else ""))
        axis.set_xlabel("K (frames dropped between kept ones)")
        axis.set_xticks(ks)
    axes[0, 0].legend(fontsize=8)
    figure.suptitle("Interpolation metrics against K (test split, LV crop)")
    return _save(figure, path)


def plot_marker_boxes(velocity: dict, path: Path) -> Path:
    """Fig. 8: per component and marker, the per-slice values of every column (truth, real, K=…)."""
    columns = velocity["columns"]
    figure, axes = new_figure(3, len(BOX_MARKERS), (13, 9), layout="constrained")
    for c, component in enumerate(COMPONENT_NAMES):
        for m, marker in enumerate(BOX_MARKERS):
            values = [
                np.array([np.nan if row[c] is None else row[c] for row in velocity["per_slice_markers"][label][marker]])
                for label in columns
            ]
            axis = axes[c, m]
            axis.boxplot([v[np.isfinite(v)] for v in values], tick_labels=columns)
            axis.set_title(f"{component} {marker.upper()} (mm/s)", fontsize=9)
            axis.tick_params(axis="x", labelsize=8)
    figure.suptitle("Velocity markers over test slices: truth, real phase and HDL twins")
    return _save(figure, path)


def plot_error_maps(
    truth: dict[int, np.ndarray], errors: dict[str, dict[int, np.ndarray]], frames: dict[int, int], path: Path
) -> Path:
    """Fig. 5: the real frame (top row) and each method's absolute error (rows) per K (columns); images (C, C)."""
    ks = sorted(truth)
    rows = 1 + len(errors)
    figure, axes = new_figure(rows, len(ks), (2.2 * len(ks), 2.2 * rows), layout="constrained")
    # a robust common scale: the 99th percentile of every error map (a poor method would hide the others)
    peak = float(np.percentile([image for by_k in errors.values() for image in by_k.values()], 99)) or 1.0
    for j, k in enumerate(ks):
        axes[0, j].imshow(truth[k], cmap="gray", vmin=-1, vmax=1)
        axes[0, j].set_title(f"K = {k}, frame {frames[k]}", fontsize=9)
        for i, (label, by_k) in enumerate(errors.items(), start=1):
            shown = axes[i, j].imshow(by_k[k], cmap="inferno", vmin=0, vmax=peak)
            if j == 0:
                axes[i, j].set_ylabel(label, fontsize=9)
    axes[0, 0].set_ylabel("real", fontsize=9)
    for axis in axes.ravel():
        axis.set_xticks([])
        axis.set_yticks([])
    figure.colorbar(
        shown,
        ax=axes[1:, :].ravel().tolist(),
        shrink=0.8,
        label="|error| (normalised magnitude; clipped at the 99th percentile)",
    )
    figure.suptitle("Absolute interpolation error, first gap's middle frame")
    return _save(figure, path)


def plot_example_curves(curves: dict[str, np.ndarray], title: str, path: Path) -> Path:
    """Fig. 9: (3, T) global curves (mm/s) of one slice per label (truth, real, K=…), one panel per component."""
    figure, axes = new_figure(3, 1, (8, 9), layout="constrained", sharex=True)
    axes = axes[:, 0]
    for c, (component, axis) in enumerate(zip(COMPONENT_NAMES, axes, strict=True)):
        for label, values in curves.items():
            frames = values.shape[-1]
            style = {"truth": {"color": "tab:red", "linestyle": "--", "zorder": 3}, "real": {"color": "k"}}
            axis.plot(np.arange(frames) * NORMALISED_FRAMES / frames, values[c], label=label, **style.get(label, {}))
        axis.axhline(0, color="0.7", linewidth=0.8)
        axis.set_ylabel(f"{component} (mm/s)")
    axes[0].legend(fontsize=8)
    axes[-1].set_xlabel("time (frames normalised to 50)")
    figure.suptitle(title)
    return _save(figure, path)
