"""Velocity assessment reports: terminal tables, CSV, JSON and a PNG of the curves.

All velocities are in **mm/s**. Times: frames normalised to 50 (0 = the R wave) and ms
after the R wave when the RR interval is known; see :mod:`keras_hdl.assessment.markers`
for the windows and the sign of each peak, :mod:`keras_hdl.assessment.velocity` for the
axes and components, :mod:`keras_hdl.assessment.agreement` for the Pearson correlation.

``write_report`` writes into the output folder (each file atomically):

- ``velocities.csv``: one row per (slice, frame, component, region), columns ``slice``
  (index, or ``mean`` for the mean over slices), ``frame`` (0-based), ``time_frames50``,
  ``time_ms``, ``component``, ``region`` (``global``, ``sector1``..``sector6``, ``endo``,
  ``mid``, ``epi``; only ``global`` for ``mean``), ``velocity_mm_s``;
- ``markers.csv``: one row per (slice or ``mean``, component) with every marker
  (and ``pearson`` with a reference);
- ``report.json``: ``units`` ("mm/s"), ``frames``, ``rr_interval_ms``, ``conventions``,
  ``options``, ``slices`` (a list) and ``mean_over_slices``, each holding ``global`` →
  ``radial|circumferential|longitudinal`` → ``psv, tpsv, pdv, tpdv, pav, tpav, mean``
  (plus ``tpsv_ms``/``tpsv_frame``, ...) and ``curve`` (T values); each slice also holds
  its ``sectors`` and ``layers`` curves. With a reference, every entry holds ``pearson``
  (per component and ``overall``) and the top-level ``pearson`` repeats the mean-over-slices
  one. Unknown values (no RR interval, undefined correlation) are ``null``.
- ``curves.png``: the global curves of the three components (each slice thin, the mean
  over slices bold, the reference's mean dashed) with the mean curve's peaks annotated.

The mean over slices is the slice-averaged global curve; its markers are that curve's.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from keras_hdl.assessment.agreement import AGREEMENT_NAMES, compare
from keras_hdl.assessment.markers import (
    NORMALISED_FRAMES,
    PEAK_RULES,
    PEAKS,
    WINDOWS_AT_50,
    compute_markers,
)
from keras_hdl.assessment.velocity import COMPONENT_NAMES, LAYER_NAMES, SECTOR_NAMES, Assessment
from keras_hdl.errors import InputError
from keras_hdl.io_utils import atomic_path, save_png, write_json
from keras_hdl.plotting import new_figure

UNITS = "mm/s"
OUTPUT_FILES = ("velocities.csv", "markers.csv", "report.json", "curves.png")
MEAN_LABEL = "mean"
WINDOW_COLOURS = ("#fde0dd", "#deebf7", "#e5f5e0")
TIME_SUFFIXES = ("", "_ms", "_frame")
"""``tpsv`` (frames normalised to 50), ``tpsv_ms`` (ms), ``tpsv_frame`` (0-based index); same for tpdv, tpav."""

CONVENTIONS = {
    "axes": "x = increasing column (left to right), y = increasing row (row 0 at the top), z = slice normal",
    "radial": "positive towards the LV centre (contraction)",
    "circumferential": "positive counter-clockwise as displayed",
    "longitudinal": "vz, positive along the slice normal (towards the apex in the phantom)",
    "bulk_motion": "mean in-plane velocity over the myocardium subtracted per frame; origin = myocardium centroid",
    "peaks": "radial and longitudinal: PSV = max in systole, PDV/PAV = min (most negative); "
    "circumferential: largest |v| in the window, sign kept",
    "mean": "mean of |v| of the curve over the cycle",
    "times": "tpsv/tpdv/tpav in frames normalised to 50 (0 = R wave); *_ms in ms after the R wave; "
    "*_frame = 0-based frame index",
    "windows_at_50_frames": {name: list(bounds) for name, bounds in WINDOWS_AT_50.items()},
    "sectors": "six 60-degree sectors numbered counter-clockwise as displayed from the reference angle",
    "layers": "endo / mid / epi thirds of the normalised wall depth",
    "pearson_overall": "correlation over the radial, circumferential and longitudinal curves concatenated",
}


class _Report:
    """The markers and agreement of one assessment, computed once for every output."""

    def __init__(self, assessment: Assessment, reference: Assessment | None) -> None:
        self.assessment = assessment
        self.reference = reference
        rr = assessment.rr_interval_ms
        self.slice_markers = compute_markers(assessment.global_curves, rr)  # each (S, 3)
        self.mean_markers = compute_markers(assessment.mean_curves, rr)  # each (3,)
        self.slice_pearson, self.mean_pearson = (None, None) if reference is None else compare(assessment, reference)

    def entries(self):
        """(label, curves (3, T), markers (name → (3,)), pearson (4,) or None) per slice, then the mean."""
        for index in range(self.assessment.num_slices):
            markers = {name: values[index] for name, values in self.slice_markers.items()}
            pearson = None if self.slice_pearson is None else self.slice_pearson[index]
            yield str(index), self.assessment.global_curves[index], markers, pearson
        yield MEAN_LABEL, self.assessment.mean_curves, self.mean_markers, self.mean_pearson


def _marker_keys() -> list[str]:
    keys = []
    for value_name, time_name in PEAKS:
        keys += [value_name, *(time_name + suffix for suffix in TIME_SUFFIXES)]
    return [*keys, "mean"]


def _json_number(value) -> float | int | None:
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _curve_list(curve: np.ndarray) -> list:
    return [_json_number(float(v)) for v in curve]


def report_dict(assessment: Assessment, reference: Assessment | None = None) -> dict:
    """The JSON report (schema in the module docstring)."""
    return _report_dict(_Report(assessment, reference))


def _report_dict(report: _Report) -> dict:
    assessment, reference = report.assessment, report.reference
    slices, mean_entry = [], None
    for label, curves, markers, pearson in report.entries():
        entry = {
            "global": {
                component: {
                    **{key: _json_number(markers[key][c]) for key in _marker_keys()},
                    "curve": _curve_list(curves[c]),
                }
                for c, component in enumerate(COMPONENT_NAMES)
            }
        }
        if pearson is not None:
            entry["pearson"] = {name: _json_number(float(p)) for name, p in zip(AGREEMENT_NAMES, pearson, strict=True)}
        if label == MEAN_LABEL:
            mean_entry = entry
            continue
        index = int(label)
        for key, names, curves_by_region in (
            ("sectors", SECTOR_NAMES, assessment.sector_curves[index]),
            ("layers", LAYER_NAMES, assessment.layer_curves[index]),
        ):
            entry[key] = {
                region: {component: _curve_list(curves_by_region[c, r]) for c, component in enumerate(COMPONENT_NAMES)}
                for r, region in enumerate(names)
            }
        slices.append({"slice": index, **entry})
    result = {
        "units": UNITS,
        "frames": assessment.num_frames,
        "rr_interval_ms": assessment.rr_interval_ms,
        "conventions": CONVENTIONS,
        "options": assessment.options.as_dict(),
        "slices": slices,
        "mean_over_slices": mean_entry,
    }
    if reference is not None:
        result["pearson"] = mean_entry["pearson"]
    return result


def format_report(assessment: Assessment, reference: Assessment | None = None) -> str:
    """Terminal tables: one per slice and one for the mean over slices (component × marker)."""
    report = _Report(assessment, reference)
    has_ms = assessment.rr_interval_ms is not None
    time_header = "/50 [ms]" if has_ms else "/50"
    columns = []
    for value_name, time_name in PEAKS:
        columns += [f"{value_name.upper()} mm/s", f"{time_name.upper()} {time_header}"]
    columns.append("Mean mm/s")
    if reference is not None:
        columns.append("Pearson")
    widths = [max(len(c), 8) for c in columns]
    header = f"{'component':<16}" + "".join(f"{c:>{w + 2}}" for c, w in zip(columns, widths, strict=True))

    def time_cell(markers: dict, time_name: str, c: int) -> str:
        cell = f"{markers[time_name][c]:.1f}"
        return f"{cell} [{markers[time_name + '_ms'][c]:.0f}]" if has_ms else cell

    blocks = []
    for label, _, markers, pearson in report.entries():
        title = "Mean over slices" if label == MEAN_LABEL else f"Slice {label}"
        lines = [
            f"{title}: global myocardial velocities in mm/s; times in frames normalised to 50"
            + (f" [ms, RR {assessment.rr_interval_ms:.0f} ms]" if has_ms else " (RR interval unknown)"),
            header,
            "-" * len(header),
        ]
        for c, component in enumerate(COMPONENT_NAMES):
            cells = []
            for value_name, time_name in PEAKS:
                cells += [f"{markers[value_name][c]:.2f}", time_cell(markers, time_name, c)]
            cells.append(f"{markers['mean'][c]:.2f}")
            if pearson is not None:
                cells.append(f"{pearson[c]:.3f}")
            lines.append(f"{component:<16}" + "".join(f"{v:>{w + 2}}" for v, w in zip(cells, widths, strict=True)))
        if pearson is not None:
            lines.append(f"{'Pearson overall (3 curves concatenated)':<{len(header) - 10}}{pearson[-1]:>10.3f}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _write_velocities_csv(assessment: Assessment, path: Path) -> None:
    frames = np.arange(assessment.num_frames)
    times50 = frames * NORMALISED_FRAMES / assessment.num_frames
    times_ms = (
        frames * assessment.rr_interval_ms / assessment.num_frames
        if assessment.rr_interval_ms is not None
        else np.full(frames.shape, np.nan)
    )
    series_by_label = []
    for index in range(assessment.num_slices):
        series_by_label.append((str(index), "global", assessment.global_curves[index]))
        for r, region in enumerate(SECTOR_NAMES):
            series_by_label.append((str(index), region, assessment.sector_curves[index, :, r]))
        for r, region in enumerate(LAYER_NAMES):
            series_by_label.append((str(index), region, assessment.layer_curves[index, :, r]))
    series_by_label.append((MEAN_LABEL, "global", assessment.mean_curves))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["slice", "frame", "time_frames50", "time_ms", "component", "region", "velocity_mm_s"])
        for label, region, curves in series_by_label:
            for c, component in enumerate(COMPONENT_NAMES):
                for f, t50, tms, v in zip(frames, times50, times_ms, curves[c], strict=True):
                    writer.writerow([label, f, f"{t50:.4g}", _csv_number(tms), component, region, _csv_number(v)])


def _csv_number(value: float) -> str:
    return "" if not np.isfinite(value) else f"{value:.6g}"


def _write_markers_csv(report: _Report, path: Path) -> None:
    keys = _marker_keys()
    unit_names = {key: f"{key}_mm_s" for key in ("psv", "pdv", "pav", "mean")}
    unit_names |= {time_name: f"{time_name}_frames50" for _, time_name in PEAKS}
    header = ["slice", "component", *(unit_names.get(key, key) for key in keys)]
    if report.reference is not None:
        header.append("pearson")
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for label, _, markers, pearson in report.entries():
            for c, component in enumerate(COMPONENT_NAMES):
                row = [label, component, *(_csv_number(float(markers[key][c])) for key in keys)]
                if pearson is not None:
                    row.append(_csv_number(float(pearson[c])))
                writer.writerow(row)


def plot_curves(assessment: Assessment, path: str | Path, reference: Assessment | None = None) -> Path:
    """Write ``curves.png``: global radial, circumferential and longitudinal curves (mm/s) with peaks annotated."""
    import matplotlib.transforms

    path = Path(path)
    frames = assessment.num_frames
    times50 = np.arange(frames) * NORMALISED_FRAMES / frames
    markers = compute_markers(assessment.mean_curves, assessment.rr_interval_ms)
    figure, axes = new_figure(3, 1, (8, 9), layout="constrained", sharex=True)
    axes = axes[:, 0]
    for c, (component, axis) in enumerate(zip(COMPONENT_NAMES, axes, strict=True)):
        window_label_at = matplotlib.transforms.blended_transform_factory(axis.transData, axis.transAxes)
        for (name, (start, end)), shade in zip(WINDOWS_AT_50.items(), WINDOW_COLOURS, strict=True):
            axis.axvspan(start, end, color=shade, zorder=0)
            axis.text(
                (start + end) / 2,
                0.97,
                name.replace("_", " "),
                transform=window_label_at,
                ha="center",
                va="top",
                fontsize=7,
                color="0.4",
            )
        axis.axhline(0, color="0.6", linewidth=0.8)
        if assessment.num_slices > 1:
            for index in range(assessment.num_slices):
                axis.plot(times50, assessment.global_curves[index, c], linewidth=0.8, alpha=0.6, label=f"slice {index}")
        axis.plot(times50, assessment.mean_curves[c], color="k", linewidth=2, label="mean over slices")
        if reference is not None:
            axis.plot(times50, reference.mean_curves[c], "k--", linewidth=1.5, label="reference (mean over slices)")
        for (value_name, time_name), offset in zip(PEAKS, ((4, 6), (-52, -14), (4, -14)), strict=True):
            t, v = markers[time_name][c], markers[value_name][c]
            axis.plot(t, v, "o", color="tab:red")
            axis.annotate(
                f"{value_name.upper()} {v:.1f}", (t, v), textcoords="offset points", xytext=offset, fontsize=8
            )
        rule = "max / min" if PEAK_RULES[component][0] == "max" else "largest |v|"
        axis.set_ylabel(f"{component} (mm/s)\npeaks: {rule}")
        axis.margins(y=0.18)  # room for the peak labels
    axes[0].legend(fontsize=7, loc="lower left")
    axes[-1].set_xlabel("time (frames normalised to 50, 0 = R wave)")
    axes[-1].set_xlim(0, NORMALISED_FRAMES)
    if assessment.rr_interval_ms is not None:
        scale = assessment.rr_interval_ms / NORMALISED_FRAMES
        top = axes[0].secondary_xaxis("top", functions=(lambda t: t * scale, lambda ms: ms / scale))
        top.set_xlabel("time after the R wave (ms)")
    figure.suptitle("Global myocardial velocities (mm/s)")
    save_png(figure, path, dpi=110)
    return path


def write_report(
    assessment: Assessment,
    out_dir: str | Path,
    reference: Assessment | None = None,
    json_path: str | Path | None = None,
    masks: dict | None = None,
) -> dict[str, Path]:
    """Write velocities.csv, markers.csv, report.json and curves.png into ``out_dir`` (and the JSON to ``json_path``).

    ``masks``: entries added to the JSON report that say where the masks came from (automatic
    segmentation: :func:`keras_hdl.segmentation.output.report_entries`). Returns the written
    paths by file name (``"json"`` for ``json_path``).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder; choose another output folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    report = _Report(assessment, reference)
    paths = {name: out_dir / name for name in OUTPUT_FILES}
    _write_velocities_csv(assessment, paths["velocities.csv"])
    _write_markers_csv(report, paths["markers.csv"])
    data = {**_report_dict(report), **(masks or {})}
    targets = [paths["report.json"]]
    if json_path is not None:
        paths["json"] = Path(json_path)
        targets.append(paths["json"])
    for target in targets:
        write_json(target, data, indent=1, allow_nan=False, newline=False)
    plot_curves(assessment, paths["curves.png"], reference)
    return paths
