"""`keras-hdl evaluate` end to end on a tiny phantom: every output, tables equal to results.json, values checked."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from evaluation_helpers import EVALUATED_K, evaluate_args, invoke
from tiny_dataset import TINY_PHANTOM

FIGURES = ("fig10_metrics_vs_k.png", "fig5_error_maps.png", "fig8_marker_boxes.png", "fig9_example_curves.png")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def section(report: str, title: str) -> str:
    """The text of the ``## title`` section of report.md."""
    start = report.index(f"## {title}")
    end = report.find("\n## ", start + 1)
    return report[start : end if end >= 0 else None]


def table_rows(text: str) -> list[list[str]]:
    """The data rows of the first markdown table in ``text``, as cell strings."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[start + 2 : end]]


def mean_and_std(cell: str) -> tuple[float, float]:
    match = re.fullmatch(r"(\S+) \((\S+)\)", cell)
    assert match, cell
    return float(match[1]), float(match[2])


def assert_cell_matches(cell: str, summary: dict) -> None:
    mean, std = mean_and_std(cell)
    np.testing.assert_allclose(mean, summary["mean"], rtol=1e-3, atol=1e-12)
    np.testing.assert_allclose(std, summary["std"], rtol=5e-2, atol=1e-12)


def test_every_table_figure_report_and_results_are_written(evaluated, results):
    assert {p.name for p in (evaluated / "figures").iterdir()} == set(FIGURES)
    for name in FIGURES:
        assert (evaluated / "figures" / name).read_bytes()[:8] == PNG_MAGIC
    report = (evaluated / "report.md").read_text()
    for title in ("Setup", "Answers", "Interpolation", "Phase synthesis", "Velocity assessment", "Figures"):
        assert f"## {title}" in report
    for name in FIGURES:
        assert f"(figures/{name})" in report
    assert results["not_evaluated"] == {}  # every variant was given
    assert set(results["runs"]) == {"hdl", "vanilla", "gan"}
    assert results["interpolation"]["k"] == [1, 3]
    assert set(results["interpolation"]["values"]) == {"linear", "horn_schunck", "vanilla", "gan", "hdl"}
    assert results["phase"]["k"] == [0, 3, 6]
    assert set(results["phase"]["values"]) == {"vanilla", "hdl"}
    assert results["velocity"]["columns"][:2] == ["truth", "real"]
    # one test subject, one slice: 20 − 10 dropped frames at K = 1; 20 − 5 at K = 3
    assert results["interpolation"]["values"]["linear"]["1"]["MSE"]["n"] == 10
    assert results["interpolation"]["values"]["linear"]["3"]["MSE"]["n"] == 15
    assert results["phase"]["values"]["hdl"]["0"]["MSE"]["n"] == TINY_PHANTOM["frames"] * 3


def test_report_tables_equal_results_json(evaluated, results):
    report = (evaluated / "report.md").read_text()
    for title, table, labels in (
        ("Interpolation", results["interpolation"], results["methods"]),
        ("Phase synthesis", results["phase"], results["phase_methods"]),
    ):
        rows = table_rows(section(report, title))
        expected = [(str(k), method) for k in table["k"] for method in table["values"]]
        assert [(row[0], row[1]) for row in rows] == [(k, labels[m]) for k, m in expected]
        for row, (k, method) in zip(rows, expected, strict=True):
            for cell, metric in zip(row[2:-1], table["metrics"], strict=True):
                assert_cell_matches(cell, table["values"][method][k][metric])
    velocity = results["velocity"]
    velocity_text = section(report, "Velocity assessment")
    marker_rows = table_rows(velocity_text)
    assert len(marker_rows) == 3 * 7
    for row in marker_rows:
        component, marker = row[0], row[1].split()[0].lower()
        for cell, column in zip(row[2:], velocity["columns"], strict=True):
            assert_cell_matches(cell, velocity["markers"][column][component][marker])
    pearson_rows = table_rows(velocity_text[velocity_text.index("Pearson correlation of each slice") :])
    for row in pearson_rows:
        entry = velocity[f"pearson_vs_{row[1]}"][row[0]]
        for cell, name in zip(row[2:], ("radial", "circumferential", "longitudinal", "overall"), strict=True):
            assert_cell_matches(cell, entry[name])


def linear_by_hand(phantom, k: int, crop: int) -> tuple[np.ndarray, np.ndarray]:
    """Per dropped frame of the test slice: MSE and DICE of linear interpolation, straight from the arrays."""
    from keras_hdl.phantom.dataset import load_manifest
    from keras_hdl.series import Series

    entry = next(scan for scan in load_manifest(phantom)["scans"] if scan["split"] == "test")
    series = Series.load_npz(phantom / entry["files"][0])
    magnitude, masks = series.magnitude[:, 0].astype(np.float64), series.masks[:, 0]
    frames = magnitude.shape[0]
    kept = np.arange(0, frames, k + 1)
    scale = np.percentile(magnitude[kept].astype(np.float32), 99.5)
    normalized = np.clip(magnitude / scale, 0, 1) * 2 - 1
    rows, cols = np.nonzero(masks[kept].any(axis=0))
    top, left = round(rows.mean()) - crop // 2, round(cols.mean()) - crop // 2
    assert top >= 0 and left >= 0 and top + crop <= magnitude.shape[1] and left + crop <= magnitude.shape[2]
    image = normalized[:, top : top + crop, left : left + crop]
    mask = masks[:, top : top + crop, left : left + crop].astype(np.float64)
    mse, dice = [], []
    for t in sorted(set(range(frames)) - set(kept)):
        start = t // (k + 1) * (k + 1)
        end = min(start + k + 1, frames)
        weight = (t - start) / (end - start)
        predicted = (1 - weight) * image[start] + weight * image[end % frames]
        predicted_mask = ((1 - weight) * mask[start] + weight * mask[end % frames]) > 0.5
        mse.append(np.mean((predicted - image[t]) ** 2))
        truth = mask[t] > 0.5
        dice.append(2 * (predicted_mask & truth).sum() / (predicted_mask.sum() + truth.sum()))
    return np.array(mse), np.array(dice)


@pytest.mark.parametrize("k", [int(k) for k in EVALUATED_K.split(",")])
def test_linear_figures_recomputed_by_hand(tiny_phantom, results, k):
    mse, dice = linear_by_hand(tiny_phantom, k, results["crop"]["size"])
    linear = results["interpolation"]["values"]["linear"][str(k)]
    np.testing.assert_allclose(linear["MSE"]["mean"], mse.mean(), rtol=1e-4)
    np.testing.assert_allclose(linear["MSE"]["std"], mse.std(), rtol=1e-4)
    np.testing.assert_allclose(linear["DICE"]["mean"], dice.mean(), rtol=1e-4)


def test_figures_behave_as_expected_on_the_phantom(results):
    linear = results["interpolation"]["values"]["linear"]
    assert linear["3"]["MSE"]["mean"] > linear["1"]["MSE"]["mean"]  # more frames dropped, larger error
    velocity = results["velocity"]
    # the real phase of the phantom gives back its analytic curves
    assert velocity["pearson_vs_truth"]["real"]["overall"]["mean"] > 0.99
    truth_psv = velocity["markers"]["truth"]["radial"]["psv"]["mean"]
    np.testing.assert_allclose(velocity["markers"]["real"]["radial"]["psv"]["mean"], truth_psv, rtol=0.1)
    answers = results["answers"]
    assert set(answers["pearson"]) >= {"0", "3", "6"}
    assert answers["pearson"]["3"]["vs_real"] == velocity["pearson_vs_real"]["K=3"]["overall"]["mean"]


@pytest.mark.slow
def test_the_same_seed_gives_an_identical_results_file(evaluated, tiny_phantom, untrained_runs, tmp_path):
    """Rerunning the documented command (into a copy of its output folder) rewrites the same results.json."""
    out_dir = tmp_path / "rerun"
    shutil.copytree(evaluated, out_dir)
    first = (evaluated / "results.json").read_bytes()
    command = json.loads(first)["command"]
    result = invoke(evaluate_args(tiny_phantom, untrained_runs, out_dir))
    assert result.exit_code == 0, result.output
    rerun = json.loads((out_dir / "results.json").read_text())
    assert rerun.pop("command") != command  # only --out differs
    original = json.loads(first)
    original.pop("command")
    assert rerun == original


@pytest.mark.slow
def test_train_missing_trains_every_variant_and_a_rerun_reuses_them(tiny_phantom, tmp_path):
    out_dir = tmp_path / "out"
    args = ["evaluate", "--preset", "tiny", "--data", str(tiny_phantom), "--train-missing", "--epochs", "1"]
    args += ["--k", EVALUATED_K, "--out", str(out_dir)]
    first = invoke(args)
    assert first.exit_code == 0, first.output
    assert "training the gan variant" in first.output
    results = json.loads((out_dir / "results.json").read_text())
    assert results["not_evaluated"] == {}
    for variant in ("hdl", "vanilla", "gan"):
        assert (
            results["runs"][variant] | {"origin": "--train-missing", "models": f"OUT/runs/{variant}/models"}
            == (results["runs"][variant])
        )
        assert (out_dir / "runs" / variant / "models" / "model_info.json").is_file()
    assert results["runs"]["gan"]["networks"] == ["interpolator"]
    before = (out_dir / "results.json").read_bytes()
    second = invoke(args)
    assert second.exit_code == 0, second.output
    assert "reusing the hdl run" in second.output
    assert (out_dir / "results.json").read_bytes() == before  # same seed, same runs: the same file
