"""The inference item's full-twin rows: every back end timed on one input, and the default's speed judged."""

from __future__ import annotations

import pytest
from twin_helpers import tiny_models

from keras_hdl.benchmarks.report import TARGETS


@pytest.fixture(scope="module")
def low_rate():
    """A 64² phantom slice at the tiny models' spacing, K = 6 of 50 frames (the item's K and T)."""
    from keras_hdl.benchmarks.interpolation import FRAMES, K
    from keras_hdl.phantom import phantom_scan
    from keras_hdl.phantom.config import PhantomConfig
    from keras_hdl.synthesis import downsample

    series, _ = phantom_scan(PhantomConfig(subjects=1, slices=1, frames=FRAMES, size=64, seed=0), 0)
    return downsample(series, K)


@pytest.mark.slow  # 56-61 s on 2 cores
def test_full_twin_rows_time_each_back_end_and_the_default_speed_is_judged(tmp_path_factory, low_rate):
    from keras_hdl.benchmarks.inference import full_twin_rows

    rows = full_twin_rows(tiny_models(tmp_path_factory), low_rate, repeats=1, linear_twin=1.0)
    by_name = {row.name: row for row in rows}
    twin = "twin full synthesize_twin, {}, 256² slice, K=6"
    for label in ("Keras, whole interpolator per frame (before #19)", "Keras", "XLA", "TFLite", "default back end"):
        assert by_name[twin.format(label)].value > 0
    default_seconds = by_name[twin.format("default back end")].value
    for against, label in (
        ("Keras fp32 before #19", "Keras, whole interpolator per frame (before #19)"),
        ("Keras fp32", "Keras"),
    ):
        speed = by_name[f"default synthesis speed vs {against} (256² twin)"]
        assert speed.note.startswith(("TFLite fp32 (ai-edge-litert ", "Keras fp32 (--backend auto: the fastest here"))
        assert speed.ratio == pytest.approx(by_name[twin.format(label)].value / default_seconds)
    judged = {result["row"]: result["target"] for target in TARGETS for result in target.check(rows)}
    # the target is against the path before the split; the other speed rows are rows, not targets
    assert judged["default synthesis speed vs Keras fp32 before #19 (256² twin)"].startswith(
        "default synthesis ≥ 1.5× faster"
    )
    assert "default synthesis speed vs Keras fp32 (256² twin)" not in judged
    assert "XLA synthesis speed vs Keras fp32 (256² twin)" not in judged
