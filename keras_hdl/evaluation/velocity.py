"""The velocity table (paper Table II): markers and curve agreement of real phase and of HDL twins.

For each test scan: the real series is assessed (global curves, mm/s); for each K the
HDL twin of its K-dropped acquisition is made by
:func:`keras_hdl.synthesis.pipeline.synthesize_twin` (full field of view, the twin's
own masks at dropped frames) and assessed the same way. Markers (mm/s; times in frames
normalised to 50) are summarised as mean (std) over the test slices; Pearson
correlations of each slice's curves (per component and overall,
:func:`keras_hdl.assessment.curve_agreement`) against the real curves and against the
phantom's analytic truth, likewise.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_hdl.assessment import COMPONENT_NAMES, assess_series
from keras_hdl.assessment.agreement import AGREEMENT_NAMES, slice_agreement, slice_markers
from keras_hdl.errors import InputError
from keras_hdl.evaluation.data import TestSet
from keras_hdl.evaluation.statistics import json_number, summarize
from keras_hdl.synthesis.networks import TwinModels
from keras_hdl.synthesis.pipeline import downsample, synthesize_twin

MARKERS = ("psv", "tpsv", "pdv", "tpdv", "pav", "tpav", "mean")
MARKER_UNITS = {name: "frames" if name.startswith("t") else "mm/s" for name in MARKERS}
"""Velocities in mm/s; peak times in frames normalised to 50 per cycle (the paper's a.u.)."""
TRUTH, REAL = "truth", "real"


def twin_label(k: int) -> str:
    return f"K={k}"


@dataclasses.dataclass(frozen=True)
class VelocityCurves:
    """Global curves in mm/s of every test scan, one (S_i, 3, T_i) array per scan (scans may differ in T):
    real, analytic truth (None without), and twins by label.

    ``failed`` holds, per twin label, why that twin could not be assessed (e.g. empty twin masks).
    """

    real: list[np.ndarray]
    truth: list[np.ndarray] | None
    twins: dict[str, list[np.ndarray]]
    failed: dict[str, str]


def assess_twins(
    test_set: TestSet, models: TwinModels, k_values: tuple[int, ...], seed: int, progress=None
) -> VelocityCurves:
    """Assess the real scans and their HDL twins at each K (module docstring); ``progress()`` after each twin."""
    real = [assess_series(scan.series).global_curves for scan in test_set.scans]
    has_truth = all(scan.truth is not None for scan in test_set.scans)
    truth = [scan.truth.curves_mm_s for scan in test_set.scans] if has_truth else None
    twins, failed = {}, {}
    for k in k_values:
        label, curves = twin_label(k), []
        try:
            for scan in test_set.scans:
                twin = synthesize_twin(downsample(scan.series, k), k, models, seed=seed, frames=scan.series.num_frames)
                curves.append(assess_series(twin).global_curves)
                if progress is not None:
                    progress()
        except InputError as error:
            failed[label] = f"the K = {k} twin could not be assessed ({error})"
            continue
        twins[label] = curves
    return VelocityCurves(real, truth, twins, failed)


def _marker_summaries(curves: list[np.ndarray]) -> tuple[dict, dict]:
    """(mean (std) per component and marker, per-slice values per marker as (S, 3) lists) of per-scan curves."""
    markers = slice_markers(curves)
    summaries = {
        component: {name: summarize(markers[name][:, c]) for name in MARKERS}
        for c, component in enumerate(COMPONENT_NAMES)
    }
    per_slice = {name: [[json_number(v) for v in row] for row in markers[name]] for name in MARKERS}
    return summaries, per_slice


def _agreement(curves: list[np.ndarray], reference: list[np.ndarray]) -> dict:
    per_slice = slice_agreement(curves, reference)  # (S, 4)
    return {name: summarize(per_slice[:, i]) for i, name in enumerate(AGREEMENT_NAMES)}


def velocity_results(curves: VelocityCurves, k_values: tuple[int, ...]) -> dict:
    """The velocity table's numbers: markers per column, Pearson against real and truth."""
    columns = {REAL: curves.real, **curves.twins}
    if curves.truth is not None:
        columns = {TRUTH: curves.truth, **columns}
    markers, per_slice = {}, {}
    for label, values in columns.items():
        markers[label], per_slice[label] = _marker_summaries(values)
    vs_real = {label: _agreement(values, curves.real) for label, values in curves.twins.items()}
    vs_truth = {}
    if curves.truth is not None:
        vs_truth = {label: _agreement(values, curves.truth) for label, values in columns.items() if label != TRUTH}
    return {
        "k": list(k_values),
        "columns": list(columns),
        "not_evaluated": dict(curves.failed),
        "units": dict(MARKER_UNITS),
        "markers": markers,
        "per_slice_markers": per_slice,
        "pearson_vs_real": vs_real,
        "pearson_vs_truth": vs_truth,
    }
