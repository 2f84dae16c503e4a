"""The per-op profile item: its arithmetic by hand, and on the cpu preset's real pix2pix step."""

from __future__ import annotations

import pytest
import yaml

from keras_hdl.benchmarks import profile
from keras_hdl.config import load_preset


def test_op_types_are_summed_ranked_and_the_rest_lumped(monkeypatch):
    monkeypatch.setattr(profile, "TOP_OP_TYPES", 2)
    stats = [
        {"type": "Conv", "total_self_time": 400.0},
        {"type": "Conv", "total_self_time": 200.0},  # a second op of the same type
        {"type": "Mul", "total_self_time": 300.0},
        {"type": "Add", "total_self_time": 60.0},
        {"type": "Tile", "total_self_time": 40.0},
        {"type": "IDLE", "total_self_time": 500.0},
    ]
    per_type = profile.thread_time_per_type(stats)
    assert per_type == {"Conv": 600.0, "Mul": 300.0, "Add": 60.0, "Tile": 40.0, "IDLE": 500.0}
    rows = {row.name.split(": ", 1)[1]: row for row in profile.op_type_rows("p", per_type, 2, 0.004, 0.003)}
    # 2 steps: µs / 2 / 1000 = ms per step; busy = 1000 µs / 2 = 0.5 ms
    expected = {"Conv": (0.3, 0.6), "Mul": (0.15, 0.3), "2 other op types": (0.05, 0.1)}
    expected["idle thread time"] = (0.25, 0.5)
    for name, (milliseconds, share) in expected.items():
        assert (rows[name].value, rows[name].ratio) == pytest.approx((milliseconds, share)), name
    assert rows["busy thread time"].value == pytest.approx(0.5)
    assert rows["process CPU time under the profiler"].value == pytest.approx(1.5)
    assert rows["wall time under the profiler"].value == pytest.approx(2.0)


def test_the_cpu_pix2pix_step_runs_convolutions_and_the_fused_batch_norm():
    rows = profile.run(quick=True, preset_name="cpu", modules=("pix2pix",), steps=1)
    by_type = {row.name.split(": ", 1)[1]: row for row in rows}
    busy = by_type.pop("busy thread time").value
    for extra in ("idle thread time", "process CPU time under the profiler", "wall time under the profiler"):
        by_type.pop(extra)
    assert sum(row.value for row in by_type.values()) == pytest.approx(busy, rel=1e-9)
    # oneDNN's convolution kernels carry most of the step; batch norm runs as TensorFlow's fused kernel
    convolutions = sum(row.value for name, row in by_type.items() if "Conv2D" in name)
    assert convolutions > 0.5 * busy
    assert any("FusedBatchNorm" in name for name in by_type)


def test_the_bf16_profile_runs_the_batch_norm_without_float32_casts(tmp_path):
    """Under mixed_bfloat16 the fused batch norm takes the bf16 convolution output as it is: casts to and
    from float32 around every norm took 9 % of the cpu interpolator's bf16 step (measured), none are left
    (tests/models/test_fused_batch_norm.py checks the graph). The tiny preset with the cpu preset's batch norm:
    the cpu one took 78 s on a CPU without AVX512_BF16, where TensorFlow emulates bf16 convolutions."""
    preset = load_preset("tiny").as_dict()
    preset["name"], preset["interpolation"]["model"]["norm"] = "tbn", "batch"
    tiny_batch_norm = tmp_path / "tiny-batch-norm.yaml"
    tiny_batch_norm.write_text(yaml.safe_dump(preset))
    rows = profile.run(
        quick=True, preset_name=str(tiny_batch_norm), modules=("interpolator",), steps=1, precision="bf16"
    )
    assert all(row.name.startswith("profile tbn interpolator bf16: ") for row in rows)
    by_type = {row.name.split(": ", 1)[1]: row.value for row in rows}
    assert by_type.get("Cast", 0.0) < 0.02 * by_type["busy thread time"]
    assert any("FusedBatchNorm" in name for name in by_type)
