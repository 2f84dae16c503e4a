"""Agreement of velocity curves with a reference series: Pearson correlation (docs/design.md §2.3).

Per component, the correlation is taken over the T frames of the two global curves.
``overall`` is the correlation over the three curves concatenated (radial, then
circumferential, then longitudinal: 3·T values), as the paper pools its components; it
therefore also rewards getting the relative sizes of the components right.
A constant curve has no defined correlation: NaN (``null`` in JSON).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keras_hdl.assessment.markers import compute_markers
from keras_hdl.assessment.velocity import COMPONENT_NAMES, Assessment
from keras_hdl.errors import InputError

AGREEMENT_NAMES = (*COMPONENT_NAMES, "overall")
SCORED_MARKERS = ("psv", "pdv")
SCORED_COMPONENTS = ("radial", "longitudinal")
"""The markers and components of :func:`twin_velocity_figures`' score (circumferential peaks are near 0
in many slices, which makes their relative error unstable)."""
CIRCUMFERENTIAL_SCORE_WEIGHT = 0.5
"""Weight of 1 − the circumferential Pearson in the score: the overall Pearson of the concatenated curves
hardly sees the circumferential curve (a few cm/s beside radial and longitudinal peaks of 5-15 cm/s),
so a twin with an anti-correlated circumferential curve would otherwise score as well as a faithful one."""


def pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation along the last axis of two equal-shaped arrays (...); NaN where either is constant."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    denominator = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (a * b).sum(axis=-1) / denominator, np.nan)


def curve_agreement(curves: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(..., 3, T) curves against a reference of the same shape → (..., 4): the three components, then overall."""
    curves = np.asarray(curves, np.float64)
    reference = np.asarray(reference, np.float64)
    per_component = pearson(curves, reference)
    overall = pearson(curves.reshape(*curves.shape[:-2], -1), reference.reshape(*reference.shape[:-2], -1))
    return np.concatenate([per_component, overall[..., None]], axis=-1)


def compare(assessment: Assessment, reference: Assessment) -> tuple[np.ndarray, np.ndarray]:
    """Pearson of the global curves per slice (S, 4) and of the mean-over-slices curves (4,)."""
    if reference.global_curves.shape != assessment.global_curves.shape:
        raise InputError(
            "reference: its (slices, components, frames) "
            f"{reference.global_curves.shape} differ from the assessed series' {assessment.global_curves.shape}; "
            "compare series with the same slices and frames per cycle"
        )
    per_slice = curve_agreement(assessment.global_curves, reference.global_curves)
    return per_slice, curve_agreement(assessment.mean_curves, reference.mean_curves)


def as_scan_list(curves: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """(S, 3, T) curves, or a list of per-scan (S_i, 3, T_i) curves → the list of float64 arrays."""
    return (
        [np.asarray(curves, np.float64)]
        if isinstance(curves, np.ndarray)
        else [np.asarray(c, np.float64) for c in curves]
    )


def slice_agreement(curves: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> np.ndarray:
    """Pearson of every slice's curves against the reference's, (S, 4), slices of all scans (each (S_i, 3, T_i))."""
    agreements = []
    for scan_curves, scan_reference in zip(curves, reference, strict=True):
        if np.shape(scan_curves) != np.shape(scan_reference) or np.ndim(scan_curves) != 3:
            raise InputError(
                "twin and reference curves must both be (S, 3, T); "
                f"got {np.shape(scan_curves)} and {np.shape(scan_reference)}"
            )
        agreements.append(curve_agreement(scan_curves, scan_reference))
    return np.concatenate(agreements)


def slice_markers(curves: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Markers of every slice of per-scan curves [(S_i, 3, T_i)] → per marker (S, 3), slices of all scans."""
    per_scan = [compute_markers(scan_curves) for scan_curves in curves]
    return {name: np.concatenate([markers[name] for markers in per_scan]) for name in per_scan[0]}


def twin_velocity_figures(
    curves: np.ndarray | Sequence[np.ndarray], reference: np.ndarray | Sequence[np.ndarray]
) -> dict[str, float]:
    """How well a twin's global curves follow the reference: the figures a phase model is selected on.

    Args:
        curves, reference: (S, 3, T) global radial, circumferential, longitudinal curves (mm/s) of
            S slices, or a list of such arrays (S_i, 3, T_i) for slices of different frame counts.

    Returns:
        ``pearson_<component|overall>``: the per-slice Pearson correlation, averaged over slices;
        ``<psv|pdv>_error_<component>``: |marker − reference marker| / |reference marker|, averaged over
        slices; ``velocity_score``: (1 − pearson_overall) + ½ (1 − pearson_circumferential) + the mean of
        the radial and longitudinal PSV and PDV errors (0 for a perfect twin; lower is better).
    """
    curves, reference = as_scan_list(curves), as_scan_list(reference)
    agreement = slice_agreement(curves, reference)
    markers, reference_markers = slice_markers(curves), slice_markers(reference)
    figures = {f"pearson_{name}": float(np.nanmean(agreement[:, i])) for i, name in enumerate(AGREEMENT_NAMES)}
    for marker in SCORED_MARKERS:
        with np.errstate(divide="ignore", invalid="ignore"):
            marker_errors = np.abs(markers[marker] - reference_markers[marker]) / np.abs(reference_markers[marker])
        for c, component in enumerate(COMPONENT_NAMES):
            figures[f"{marker}_error_{component}"] = float(np.nanmean(marker_errors[:, c]))
    scored = [figures[f"{m}_error_{c}"] for m in SCORED_MARKERS for c in SCORED_COMPONENTS]
    circumferential = CIRCUMFERENTIAL_SCORE_WEIGHT * (1.0 - figures["pearson_circumferential"])
    figures["velocity_score"] = (1.0 - figures["pearson_overall"]) + circumferential + float(np.mean(scored))
    return figures
