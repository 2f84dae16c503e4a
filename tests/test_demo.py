"""The README's demo command runs the whole story end to end on the phantom."""

import re

import pytest
from click.testing import CliRunner

from keras_hdl.cli import main


@pytest.mark.slow  # 132-140 s on 2 cores; the README's test command runs it
def test_demo_runs_generate_train_synthesize_assess(tmp_path, monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    out_dir = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--out", str(out_dir)])
    assert result.exit_code == 0, result.output
    # every step left its outputs
    assert (out_dir / "phantom" / "manifest.json").is_file()
    assert (out_dir / "run" / "models" / "model_info.json").is_file()
    assert (out_dir / "run" / "metrics.csv").read_text().count("\n") == 3  # header + 1 epoch × 2 modules
    for name in ("series.dcm", "seg.dcm", "twin.npz"):
        assert (out_dir / "twin" / name).is_file()
    assert (out_dir / "twin_vs_original" / "curves.png").read_bytes().startswith(b"\x89PNG")
    # markers side by side for the three components, and Pearson r within [−1, 1]
    for component in ("radial", "circumferential", "longitudinal"):
        row = next(line for line in result.output.splitlines() if line.startswith(component))
        assert len(re.findall(r"-?\d+\.\d /\s*-?\d+\.\d", row)) == 7
    pearson_line = next(line for line in result.output.splitlines() if line.startswith("Pearson r"))
    named = r"(?:radial|circumferential|longitudinal|overall) (-?\d\.\d+)"
    values = [float(v) for v in re.findall(named, pearson_line)]
    assert len(values) == 4 and all(-1 <= v <= 1 for v in values)
