"""The answers and tables of report.md are computed from the results dict (hand-made numbers here)."""

from __future__ import annotations

from keras_hdl.evaluation.report import answers, render_report
from keras_hdl.evaluation.runs import NO_RUN

METRICS = ["MSE", "MSE_W1", "MSE_W2", "PSNR_dB", "PSNR_paper_dB", "SSIM", "DICE"]


def summary(mean: float) -> dict:
    return {"mean": mean, "std": 0.01, "n": 4}


def interpolation_values(ours_w1: list[float], linear_w1: list[float], flow_w1: list[float]) -> dict:
    """MSE_W1 as given per K (1, 6); every other metric equal for all methods (no method better)."""

    def method(w1):
        return {
            str(k): {m: summary(w if m == "MSE_W1" else 0.5) for m in METRICS} for k, w in zip((1, 6), w1, strict=True)
        }

    return {"linear": method(linear_w1), "horn_schunck": method(flow_w1), "hdl": method(ours_w1)}


def results_dict(interpolation: dict, phase: dict, not_evaluated: dict) -> dict:
    return {
        "command": "keras-hdl evaluate --preset tiny",
        "keras_hdl_version": "0",
        "preset": "tiny",
        "seed": 0,
        "data": {"description": "hand-made", "slices": 2},
        "crop": {"region": "LV crop"},
        "runs": {},
        "not_evaluated": not_evaluated,
        "methods": {
            "linear": "linear",
            "horn_schunck": "Horn–Schunck",
            "vanilla": "vanilla R2UNet",
            "gan": "GAN",
            "hdl": "HDL (ours)",
        },
        "phase_methods": {"vanilla": "vanilla pix2pix", "hdl": "HDL (ours)"},
        "interpolation": {"k": [1, 6], "metrics": METRICS, "values": interpolation},
        "phase": {"k": [0, 3, 6], "metrics": METRICS[:-1], "values": phase},
        "figures": {},
    }


def test_ours_vs_classical_is_read_from_the_numbers():
    # MSE_W1 (lower is better): ours loses at K = 1, wins at K = 6 against both
    results = results_dict(
        interpolation_values(ours_w1=[0.30, 0.40], linear_w1=[0.20, 0.50], flow_w1=[0.25, 0.45]),
        phase={},
        not_evaluated={"vanilla": NO_RUN, "gan": NO_RUN},
    )
    found = answers(results)["ours_vs_classical"]
    w1 = found["MSE_W1"]
    assert w1["ours_better_than_linear_at_k"] == [6] and w1["ours_better_than_horn_schunck_at_k"] == [6]
    # margin over the better classical method: 0.20 − 0.30 at K = 1, 0.45 − 0.40 at K = 6
    assert [round(a, 10) for a in w1["advantage_over_best_classical"]] == [-0.1, 0.05]
    assert "grows from -0.1 at K = 1 to 0.05 at K = 6" in w1["answer"]
    assert found["SSIM"]["ours_better_than_linear_at_k"] == []  # equal is not better
    assert "on 1 of 4 metrics (MSE_W1)" in found["answer"]


def test_missing_baselines_are_reported_not_dropped():
    results = results_dict(
        interpolation_values([0.3, 0.4], [0.2, 0.5], [0.25, 0.45]),
        phase={},
        not_evaluated={"vanilla": NO_RUN, "gan": NO_RUN, "phase:vanilla": NO_RUN, "phase:hdl": NO_RUN},
    )
    results["answers"] = answers(results)
    report = render_report(results)
    assert f"- vanilla R2UNet (interpolation): not evaluated: {NO_RUN}" in report
    assert f"- GAN: not evaluated: {NO_RUN}" in report
    assert f"- vanilla pix2pix (phase): not evaluated: {NO_RUN}" in report
    assert results["answers"]["phase_ours_vs_vanilla"]["answer"].startswith("not evaluated")
    assert results["answers"]["ours_vs_gan"]["answer"] == f"not evaluated: {NO_RUN}"


def test_report_links_the_documents_beside_it_that_exist(tmp_path):
    from keras_hdl.evaluation.report import write_outputs

    results = results_dict(
        interpolation_values([0.3, 0.4], [0.2, 0.5], [0.25, 0.45]),
        phase={},
        not_evaluated={"vanilla": NO_RUN, "gan": NO_RUN, "phase:vanilla": NO_RUN, "phase:hdl": NO_RUN},
    )
    results["answers"] = answers(results)
    assert "Further results" not in write_outputs(results, tmp_path)["report"].read_text()
    (tmp_path / "ablation.md").write_text("table")
    report = write_outputs(results, tmp_path)["report"].read_text()
    assert "- [ablation.md](ablation.md): the phase module's options" in report
    assert "fidelity.md" not in report


def test_phase_answer_compares_mse_and_mse_w2_per_k():
    def method(mse, w2):
        return {
            str(k): {m: summary(mse[i] if m == "MSE" else w2[i]) for m in METRICS[:-1]} for i, k in enumerate((0, 3, 6))
        }

    results = results_dict(
        interpolation_values([0.3, 0.4], [0.2, 0.5], [0.25, 0.45]),
        phase={"hdl": method([0.1, 0.2, 0.3], [0.1, 0.1, 0.1]), "vanilla": method([0.2, 0.1, 0.4], [0.2, 0.2, 0.2])},
        not_evaluated={},
    )
    found = answers(results)["phase_ours_vs_vanilla"]
    assert [k for k, row in found["MSE"].items() if row["ours_better"]] == ["0", "6"]
    assert all(row["ours_better"] for row in found["MSE_W2"].values())
    assert "MSE: ours is lower at K = 0, 6 of K = 0, 3, 6" in found["answer"]
