"""`keras-hdl benchmark` end to end on cheap items, its JSON report, and the GPU script's dry run."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from keras_hdl import ONEDNN_ENV
from keras_hdl.cli import main

REPO = Path(__file__).resolve().parents[2]
ROW_KEYS = {"name", "value", "unit", "baseline", "baseline_name", "ratio", "note"}


def run_benchmark(tmp_path: Path, *arguments: str) -> tuple[str, dict]:
    result = CliRunner().invoke(main, ["benchmark", "--quick", "--out", str(tmp_path), *arguments])
    assert result.exit_code == 0, result.output
    return result.output, json.loads((tmp_path / "benchmark.json").read_text())


def check_rows(report: dict) -> dict[str, dict]:
    """Every row has the schema and ratio = value / baseline; returns rows by name."""
    for row in report["rows"]:
        assert set(row) == ROW_KEYS
        if row["value"] is not None and row["baseline"]:
            assert row["ratio"] == pytest.approx(row["value"] / row["baseline"])
        else:
            assert row["ratio"] is None
    return {row["name"]: row for row in report["rows"]}


def test_quick_benchmark_of_startup_and_assessment_writes_the_report(tmp_path):
    output, report = run_benchmark(tmp_path, "--preset", "tiny", "--only", "startup,assessment")
    rows = check_rows(report)
    startup = rows["keras-hdl --help start-up"]
    assert startup["unit"] == "s" and 0 < startup["baseline"] < startup["value"] < 30
    assessment = rows["assess_series per slice (1 slice(s), 50x256x256)"]
    assert assessment["unit"] == "ms/slice" and assessment["value"] > 0
    assert 0 < rows["peak RSS assessment"]["value"] < 16  # GB, the child's own peak
    machine = report["machine"]
    assert machine["cores"] >= 1 and "GFLOP/s" in machine["fp32_peak_derivation"]
    assert machine["versions"]["tensorflow"].startswith("2.21")
    assert isinstance(machine["allocator_env"], dict)
    # Which convolution kernels ran (oneDNN or Eigen) is recorded and printed (keras_hdl sets 1 unless set).
    onednn = os.environ.get(ONEDNN_ENV, "1")
    assert machine["allocator_env"][ONEDNN_ENV] == onednn
    assert f"({ONEDNN_ENV}={onednn})" in output
    verdicts = {target["target"]: target["verdict"] for target in report["targets"]}
    assert verdicts["pipeline ≥ 10× consumption"] == "not measured in this run"
    assert verdicts["keras-hdl --help < 1 s"] == "met" or verdicts["keras-hdl --help < 1 s"].startswith("missed by ")
    assert "Targets:" in output and "fp32 peak:" in output


def test_unknown_item_exits_2_with_the_choices(tmp_path):
    result = CliRunner().invoke(main, ["benchmark", "--only", "startup,nope", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "--only nope: unknown item(s); choose from startup, gemm, training" in result.output
    assert not (tmp_path / "benchmark.json").exists()


@pytest.mark.slow
def test_quick_training_rows_of_the_tiny_preset(tmp_path):
    _, report = run_benchmark(tmp_path, "--preset", "tiny", "--only", "training")
    rows = check_rows(report)
    # The interpolator's training FLOPs are counted (forward + weight gradients: just under 3 × forward);
    # pix2pix's are estimated as 3 × (generator + 2 × discriminator) forward FLOPs.
    interpolator_forward = rows["tiny interpolator forward FLOPs/sample @32px"]["value"]
    interpolator_training = rows["tiny interpolator training FLOPs/sample @32px"]["value"]
    assert 2.99 * interpolator_forward < interpolator_training < 3 * interpolator_forward
    pix2pix_forward = (
        rows["tiny phase generator forward FLOPs/sample @32px"]["value"]
        + 2 * rows["tiny phase discriminator forward FLOPs/sample @32px"]["value"]
    )
    for module, step_gflop in (("interpolator", interpolator_training), ("pix2pix", 3 * pix2pix_forward)):
        rate = rows[f"train tiny {module} fp32 (batch 4 @32px)"]["value"]
        gflops = rows[f"train tiny {module} fp32 achieved GFLOP/s"]
        assert gflops["value"] == pytest.approx(step_gflop * rate, rel=1e-3)
        assert gflops["baseline"] == pytest.approx(report["machine"]["fp32_peak_gflops"])
    if report["machine"]["bf16_native"]:
        assert rows["train tiny interpolator bf16 vs fp32"]["baseline"] == pytest.approx(
            rows["train tiny interpolator fp32 (batch 4 @32px)"]["value"]
        )


def test_gpu_script_dry_run_looks_up_the_peak_and_prints_its_plan(tmp_path):
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "gpu_benchmark.sh"), "--dry-run", str(tmp_path / "gpu")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "GPU_NAME": "NVIDIA H200", "VENV": str(tmp_path / "venv")},
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "NVIDIA H200 → H200: bf16 989.4 TFLOP/s" in result.stdout
    assert "[gpu,tflite]" in result.stderr
    assert f"benchmark --quick --preset cpu --preset paper --out {tmp_path / 'gpu'}" in result.stderr
    assert not (tmp_path / "venv").exists()
