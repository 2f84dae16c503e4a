"""The figures a phase model is selected on: Pearson of the curves and relative marker errors."""

from __future__ import annotations

import numpy as np
import pytest


def test_twin_velocity_figures_of_a_scaled_twin_are_hand_computable():
    """A twin at 0.8× the reference: Pearson 1 everywhere, every PSV and PDV 20 % low, score 0 + 0.2."""
    from keras_hdl.assessment import twin_velocity_figures

    t = np.arange(50) / 50
    one_slice = np.stack([np.sin(2 * np.pi * t) * 30, np.sin(4 * np.pi * t + 0.3) * 10, np.cos(2 * np.pi * t) * 40])
    reference = np.stack([one_slice, 1.5 * one_slice])  # (S=2, 3, T)
    figures = twin_velocity_figures(0.8 * reference, reference)
    for name in ("radial", "circumferential", "longitudinal", "overall"):
        assert figures[f"pearson_{name}"] == pytest.approx(1.0)
    for marker in ("psv", "pdv"):
        for component in ("radial", "circumferential", "longitudinal"):
            assert figures[f"{marker}_error_{component}"] == pytest.approx(0.2)
    assert figures["velocity_score"] == pytest.approx(0.2)
    inverted = twin_velocity_figures(-reference, reference)
    assert inverted["pearson_overall"] == pytest.approx(-1.0)
    assert inverted["velocity_score"] > 2.0


def test_the_score_weighs_an_anti_correlated_circumferential_curve():
    """Only the circumferential curve inverted: the overall Pearson barely drops, the score adds ½ × (1 − (−1))."""
    from keras_hdl.assessment import twin_velocity_figures

    t = np.arange(40) / 40
    reference = np.stack([np.sin(2 * np.pi * t) * 40, np.sin(4 * np.pi * t) * 5, np.cos(2 * np.pi * t) * 60])[None]
    twin = reference.copy()
    twin[:, 1] *= -1
    figures = twin_velocity_figures(twin, reference)
    overall = np.corrcoef(twin.ravel(), reference.ravel())[0, 1]  # of the concatenated curves, by numpy
    assert figures["pearson_circumferential"] == pytest.approx(-1.0)
    assert figures["pearson_overall"] == pytest.approx(overall) and overall > 0.98
    assert figures["velocity_score"] == pytest.approx((1 - overall) + 0.5 * 2)
