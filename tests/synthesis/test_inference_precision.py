"""bf16 inference: the shipped networks' twin crops stay within the stated tolerance of fp32; precision choice."""

from __future__ import annotations

import numpy as np
import pytest
from shipped_crops import FRAMES, K, assert_phase_within

from keras_hdl import runtime
from keras_hdl.errors import InputError
from keras_hdl.runtime import BF16_TOLERANCE, resolve_precision
from keras_hdl.synthesis import load_local_models, resolve_models_folder, synthesize_crops


def twin_crops(precision, crops):
    models = load_local_models(resolve_models_folder(), precision=precision)
    assert models.precision == precision
    return synthesize_crops(*crops, K, FRAMES, 4, models.interpolator, models.phase)


@pytest.mark.slow  # two precisions × 39 network samples at 96² (~15 s on 2 cores)
def test_bf16_twin_within_tolerance_of_fp32(shipped_crops):
    from keras_hdl.synthesis.pipeline import kept_frames

    fp32, bf16 = twin_crops("fp32", shipped_crops), twin_crops("bf16", shipped_crops)
    assert bf16.magnitude.dtype == bf16.phase.dtype == bf16.mask.dtype == np.float32
    assert np.abs(bf16.magnitude - fp32.magnitude).max() <= BF16_TOLERANCE["magnitude_max_abs"]
    # bf16 really ran: the interpolated frames are not bit-equal to fp32's
    assert np.abs(bf16.magnitude - fp32.magnitude).max() > 0

    background = assert_phase_within(bf16, fp32, BF16_TOLERANCE)
    # the background noise is seeded in float32 at both precisions: bit-equal outside the foreground
    np.testing.assert_array_equal(bf16.phase[background], fp32.phase[background])

    dropped = np.setdiff1d(np.arange(FRAMES), kept_frames(FRAMES, K))
    mask_fp32, mask_bf16 = fp32.mask[:, dropped] > 0.5, bf16.mask[:, dropped] > 0.5
    dice = 2 * (mask_fp32 & mask_bf16).sum() / (mask_fp32.sum() + mask_bf16.sum())
    assert mask_fp32.sum() > 100 and dice >= BF16_TOLERANCE["mask_dice_min"]


def test_precision_auto_follows_the_hardware(monkeypatch, tmp_path):
    monkeypatch.setattr(runtime, "native_bf16", lambda: True)
    assert resolve_precision("auto") == "bf16"
    monkeypatch.setattr(runtime, "native_bf16", lambda: False)
    assert resolve_precision("auto") == "fp32"
    assert resolve_precision("fp32") == "fp32" and resolve_precision("bf16") == "bf16"
    with pytest.raises(InputError, match="precision: use one of"):
        resolve_precision("fp16")

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16\n\nprocessor\t: 1\n")
    assert {"avx512f", "avx512_bf16"} <= runtime.cpu_flags(cpuinfo) and "amx_bf16" not in runtime.cpu_flags(cpuinfo)
    assert runtime.cpu_flags(tmp_path / "missing") == frozenset()
