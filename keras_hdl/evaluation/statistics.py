"""Summaries of per-image (or per-slice) figures, as the results file stores them."""

from __future__ import annotations

import math

import numpy as np

SIGNIFICANT_DIGITS = 6
"""Digits kept in results.json (the report shows fewer), so reruns compare equal across platforms' last bits."""


def json_number(value) -> float | None:
    """A float rounded to :data:`SIGNIFICANT_DIGITS` significant digits; None for NaN or ±inf."""
    value = float(value)
    if not math.isfinite(value):
        return None
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def summarize(values: np.ndarray) -> dict:
    """{"mean", "std", "n"} over the finite values of a 1-D array (population std); None when there are none."""
    values = np.asarray(values, np.float64).ravel()
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": json_number(finite.mean()), "std": json_number(finite.std()), "n": int(finite.size)}
