"""Agreement of velocity curves with a reference series: Pearson correlation (DESIGN §2.3).

Per component, the correlation is taken over the T frames of the two global curves.
``overall`` is the correlation over the three curves concatenated (radial, then
circumferential, then longitudinal: 3·T values), as the paper pools its components; it
therefore also rewards getting the relative sizes of the components right.
A constant curve has no defined correlation: NaN (``null`` in JSON).
"""

from __future__ import annotations

import numpy as np

from keras_hdl.assessment.velocity import COMPONENT_NAMES, Assessment
from keras_hdl.errors import InputError

AGREEMENT_NAMES = (*COMPONENT_NAMES, "overall")


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
