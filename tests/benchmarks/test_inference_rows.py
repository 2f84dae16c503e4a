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


def test_full_twin_rows_time_each_back_end_and_the_default_speed_is_judged(tmp_path_factory, low_rate):
    from keras_hdl.benchmarks.inference import full_twin_rows

    rows = full_twin_rows(tiny_models(tmp_path_factory), low_rate, repeats=1, linear_twin=1.0)
    by_name = {row.name: row for row in rows}
    for label in ("Keras", "XLA", "default back end"):
        assert by_name[f"twin full synthesize_twin, {label}, 256² slice, K=6"].value > 0
    keras = by_name["twin full synthesize_twin, Keras, 256² slice, K=6"].value
    default = by_name["default synthesis speed vs Keras fp32 (256² twin)"]
    assert default.note.startswith("TFLite fp32 (ai-edge-litert ")
    assert default.ratio == pytest.approx(
        keras / by_name["twin full synthesize_twin, default back end, 256² slice, K=6"].value
    )
    judged = {result["row"]: result["target"] for target in TARGETS for result in target.check(rows)}
    assert judged[default.name].startswith("default synthesis ≥ 1.5× faster")
    assert "XLA synthesis speed vs Keras fp32 (256² twin)" not in judged  # a row, not a target
