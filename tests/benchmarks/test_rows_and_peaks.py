"""Benchmark rows, the CPU peak derivation from /proc/cpuinfo text, the GPU peak table, targets."""

from __future__ import annotations

import pytest

from keras_hdl.benchmarks import Row, format_table
from keras_hdl.benchmarks.machine import cpu_has_bf16, cpu_peak, gpu_peak_tflops
from keras_hdl.benchmarks.report import TARGETS, Target
from keras_hdl.benchmarks.suite import (
    ItemRun,
    gemm_efficiency_rows,
    memory_row,
    plan_items,
    reference_rows,
    speedup_rows,
)
from keras_hdl.errors import InputError


def cpuinfo(
    processors: int,
    vendor: str,
    family: int,
    flags: str,
    mhz: float | None,
    siblings: int,
    cores: int,
    model: int = 17,
) -> str:
    """/proc/cpuinfo text of ``processors`` identical logical CPUs."""
    blocks = []
    for index in range(processors):
        lines = [
            f"processor\t: {index}",
            f"vendor_id\t: {vendor}",
            f"cpu family\t: {family}",
            f"model\t\t: {model}",
            "model name\t: Test CPU",
        ]
        if mhz is not None:
            lines.append(f"cpu MHz\t\t: {mhz}")
        lines += [f"siblings\t: {siblings}", f"cpu cores\t: {cores}", f"flags\t\t: {flags}"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


ZEN4_FLAGS = "fpu sse sse2 fma avx avx2 avx512f avx512dq avx512_bf16 avx512_vnni"


def test_row_ratio_is_value_over_baseline_and_none_without_one():
    assert Row("a", 3.0, "s", 12.0).ratio == pytest.approx(0.25)
    assert Row("a", 3.0, "s").ratio is None
    assert Row("a", None, "", 2.0, note="skipped: why").ratio is None
    row = Row("a", 3.0, "s", 12.0, "ref", "note")
    assert Row.from_dict(row.as_dict()) == row
    assert row.as_dict()["ratio"] == pytest.approx(0.25)


def test_table_shows_skipped_rows_and_notes():
    table = format_table([Row("bf16 run", None, "", note="skipped: no avx512_bf16"), Row("x", 2.0, "s", 4.0, "b")])
    assert "skipped" in table and "no avx512_bf16" in table and "baseline: b" in table and "0.5" in table


def test_zen4_peak_from_cpuinfo_counts_one_512_bit_fma_per_cycle():
    # 2 cores × 16 lanes × 1 FMA unit × 2 FLOP × 2.59615 GHz = 166.15 GFLOP/s, nothing assumed.
    peak = cpu_peak(cpuinfo(2, "AuthenticAMD", 25, ZEN4_FLAGS, 2596.150, siblings=2, cores=2))
    assert (peak.cores, peak.vector_bits, peak.fma_units) == (2, 512, 1)
    assert peak.gflops == pytest.approx(166.1536)
    assert peak.assumed == ()
    assert "= 166 GFLOP/s" in peak.derivation


def test_peak_without_mhz_assumes_the_reference_frequency_and_counts_physical_cores():
    # 4 logical CPUs, 2 threads per core → 2 cores; Intel AVX-512: 2 units assumed; no MHz: 2.1 GHz assumed.
    # 2 × 16 × 2 × 2 × 2.1 = 268.8 GFLOP/s (the issue's ≈ 270 GFLOP/s machine).
    peak = cpu_peak(cpuinfo(4, "GenuineIntel", 6, "fma avx2 avx512f amx_bf16", None, siblings=4, cores=2))
    assert peak.cores == 2
    assert peak.gflops == pytest.approx(268.8)
    assert any("2.1 GHz" in term for term in peak.assumed) and "2 FMA units per core" in peak.assumed
    assert "assumed" in peak.derivation


def test_avx2_peak_and_usable_cpus():
    # Zen 2 (family 23, model 0x31): 8 usable of 16 logical CPUs, no SMT: 8 × 8 lanes × 2 × 2 × 3.0 GHz = 768 GFLOP/s.
    peak = cpu_peak(cpuinfo(16, "AuthenticAMD", 23, "fma avx avx2", 3000.0, 16, 16, model=0x31), usable_cpus=8)
    assert (peak.cores, peak.vector_bits, peak.fma_units) == (8, 256, 2)
    assert peak.gflops == pytest.approx(768.0)


def test_zen1_peak_counts_one_256_bit_fma_per_cycle():
    # Zen (family 23, model 1, an EPYC 7001): 2 × 8 lanes × 1 × 2 × 1.99625 GHz = 63.88 GFLOP/s, nothing assumed
    # Two 256-bit FMA units would claim 128; its 2048² GEMM reached 72.1 with oneDNN (cpu MHz gives the nominal
    # clock, not the boost one, so a GEMM can pass this figure, but not twice it).
    peak = cpu_peak(cpuinfo(2, "AuthenticAMD", 23, "fma avx avx2", 1996.250, 2, 2, model=1))
    assert (peak.cores, peak.vector_bits, peak.fma_units) == (2, 256, 1)
    assert peak.gflops == pytest.approx(63.88)
    assert peak.assumed == ()


def test_bf16_flags():
    assert cpu_has_bf16(cpuinfo(1, "AuthenticAMD", 25, ZEN4_FLAGS, 2000, 1, 1))
    assert cpu_has_bf16(cpuinfo(1, "GenuineIntel", 6, "avx512f amx_bf16", 2000, 1, 1))
    assert not cpu_has_bf16(cpuinfo(1, "GenuineIntel", 6, "avx2 avx512f", 2000, 1, 1))


@pytest.mark.parametrize(
    "name, key, bf16",
    [
        ("NVIDIA H100 80GB HBM3", "H100 SXM", 989.4),
        ("NVIDIA H100 PCIe", "H100 PCIe", 756.5),
        ("NVIDIA H100 NVL", "H100 NVL", 835.5),
        ("NVIDIA H200", "H200", 989.4),
        ("NVIDIA A100-SXM4-80GB", "A100", 312.0),
        ("NVIDIA L40S", "L40S", 362.1),
        ("NVIDIA L4", "L4", 121.0),
    ],
)
def test_gpu_peak_table_lookup(name, key, bf16):
    found_key, peaks = gpu_peak_tflops(name)
    assert found_key == key and peaks["bf16"] == bf16
    assert peaks["tf32"] == pytest.approx(bf16 / 2, rel=0.02)  # dense TF32 is half dense BF16 on these GPUs


def test_unknown_gpu_has_no_peak():
    assert gpu_peak_tflops("Tesla T4") is None


def test_target_met_and_missed_by_relative_shortfall():
    at_least = Target("x ≥ 10", "pipe*", "ratio", ">=", 10.0)
    results = at_least.check([Row("pipe a", 8.0, "/s", 1.0), Row("pipe b", 20.0, "/s", 1.0), Row("other", 1, "s")])
    assert [(r["row"], r["met"], r["verdict"]) for r in results] == [
        ("pipe a", False, "missed by 20%"),
        ("pipe b", True, "met"),
    ]
    at_most = Target("≤ 5 s", "twin*", "value", "<=", 5.0)
    assert at_most.check([Row("twin", 6.0, "s")])[0]["verdict"] == "missed by 20%"
    assert at_most.check([Row("twin", None, "s")]) == []


def test_bf16_speedup_rows_pair_each_bf16_row_with_its_fp32_row():
    rows = [
        Row("train cpu interpolator fp32 (batch 8 @96px)", 10.0, "samples/s"),
        Row("train cpu interpolator bf16 (batch 8 @96px)", 19.0, "samples/s"),
        Row("forward cpu interpolator fp32 (batch 1 @96px)", 0.2, "s/sample"),
        Row("forward cpu interpolator bf16 (batch 1 @96px)", 0.1, "s/sample"),
    ]
    speedups = {row.name: row.ratio for row in speedup_rows(rows)}
    assert speedups == {
        "train cpu interpolator bf16 vs fp32": pytest.approx(1.9),
        "forward cpu interpolator bf16 vs fp32": pytest.approx(2.0),
    }


def test_training_rate_against_the_gemm_of_the_same_precision():
    rows = [
        Row("GEMM fp32 2048×2048 (tf.linalg.matmul)", 200.0, "GFLOP/s", 166.0),
        Row("GEMM bf16 2048×2048 (tf.linalg.matmul)", 400.0, "GFLOP/s", 166.0),
        Row("train paper interpolator fp32 achieved GFLOP/s", 150.0, "GFLOP/s", 166.0),
        Row("train paper interpolator bf16 achieved GFLOP/s", 300.0, "GFLOP/s", 166.0),
        Row("train cpu pix2pix fp32 (batch 8 @96px)", 18.0, "samples/s"),
    ]
    efficiency = {row.name: row.ratio for row in gemm_efficiency_rows(rows)}
    assert efficiency == {
        "train paper interpolator fp32 GFLOP/s vs GEMM": pytest.approx(0.75),
        "train paper interpolator bf16 GFLOP/s vs GEMM": pytest.approx(0.75),
    }
    assert gemm_efficiency_rows(rows[2:]) == []  # no GEMM in the run: no practical-peak rows


def test_quick_plan_runs_the_paper_preset_forward_only(monkeypatch):
    monkeypatch.setattr("keras_hdl.benchmarks.suite.bf16_supported", lambda: True)
    runs, skipped = plan_items(True, ("cpu", "paper"), ("training",))
    assert [run.label for run in runs] == [
        "training cpu fp32",
        "training cpu bf16",
        "training paper fp32",
        "training paper bf16",
    ]
    assert all(("--forward-only" in run.arguments) == ("paper" in run.label) for run in runs)
    assert [row.value for row in skipped] == [None]


def test_bf16_items_are_skipped_with_a_row_without_native_bf16(monkeypatch):
    monkeypatch.setattr("keras_hdl.benchmarks.suite.bf16_supported", lambda: False)
    runs, skipped = plan_items(False, ("tiny",), ("training", "pipeline"))
    assert [run.label for run in runs] == ["training tiny fp32", "pipeline tiny"]
    assert skipped[0].name == "training tiny bf16" and "avx512_bf16" in skipped[0].note


def test_unknown_item_is_an_input_error():
    with pytest.raises(InputError, match="--only bogus: unknown item"):
        plan_items(True, ("cpu",), ("bogus",))


def test_memory_row_says_when_an_item_ran_forward_passes_only():
    row = memory_row(ItemRun("training paper bf16", "training", ("--preset", "paper")), 5.2)
    assert row.value == 5.2 and row.baseline is None and row.note == ""
    forward = memory_row(ItemRun("training paper fp32", "training", ("--forward-only",)), 3.0)
    assert forward.note == "forward passes only"


def test_reference_item_runs_only_when_asked_for(monkeypatch):
    monkeypatch.setattr(
        "keras_hdl.benchmarks.suite.read_cpuinfo",
        lambda: cpuinfo(2, "AuthenticAMD", 25, "avx2 avx512_bf16", 2600, 2, 2),
    )
    runs, _ = plan_items(False, ("cpu",), ())
    assert "reference" not in {run.module for run in runs}
    runs, _ = plan_items(False, ("cpu",), (), reference=True)
    assert [run.arguments for run in runs if run.module == "reference"] == [
        ("--precision", "fp32"),
        ("--precision", "bf16"),
    ]
    monkeypatch.setattr(
        "keras_hdl.benchmarks.suite.read_cpuinfo", lambda: cpuinfo(2, "AuthenticAMD", 25, "avx2", 2600, 2, 2)
    )
    runs, skipped = plan_items(True, ("cpu",), ("reference",))
    assert [run.arguments for run in runs] == [("--precision", "fp32", "--forward-only", "--quick")]
    assert [row.name for row in skipped] == ["reference bf16"]


def test_paper_interpolator_is_compared_with_the_reference_of_the_same_run():
    rows = [
        Row("paper interpolator parameters", 86.4, "M"),
        Row("reference interpolator parameters", 104.5, "M"),
        Row("paper interpolator training FLOPs/sample @256px", 1626.8, "GFLOP"),
        Row("reference interpolator training FLOPs/sample @256px", 2139.2, "GFLOP"),
        Row("forward paper interpolator fp32 (batch 1 @256px)", 2.0, "s/sample"),
        Row("forward reference interpolator fp32 (batch 1 @256px)", 5.0, "s/sample"),
        Row("train paper interpolator fp32 (batch 4 @256px)", 0.0324, "samples/s"),
        Row("train reference interpolator fp32 (batch 4 @256px)", 0.0493, "samples/s"),
        Row("train paper interpolator fp32 achieved GFLOP/s", 52.7, "GFLOP/s"),
        Row("train reference interpolator fp32 achieved GFLOP/s", 128.0, "GFLOP/s"),
        Row("peak RSS training paper fp32", 14.0, "GB"),
        Row("peak RSS reference fp32", 11.5, "GB"),
        Row("train paper interpolator bf16 achieved GFLOP/s", None, "GFLOP/s"),  # skipped: no comparison
        Row("train reference interpolator bf16 achieved GFLOP/s", 200.0, "GFLOP/s"),
    ]
    derived = {row.name: row for row in reference_rows(rows)}
    assert set(derived) == {
        "paper interpolator parameters vs reference",
        "paper interpolator training GFLOP vs reference",
        "paper interpolator fp32 forward speed vs reference",
        "paper interpolator fp32 samples/s vs reference",
        "paper interpolator fp32 GFLOP/s vs reference",
        "peak RSS training paper fp32 vs reference",
    }
    # The same-machine figures: 0.41x the reference's hardware efficiency, 0.66x its throughput.
    assert derived["paper interpolator fp32 GFLOP/s vs reference"].ratio == pytest.approx(52.7 / 128.0)
    assert derived["paper interpolator fp32 samples/s vs reference"].ratio == pytest.approx(0.0324 / 0.0493)
    assert derived["paper interpolator fp32 forward speed vs reference"].ratio == pytest.approx(5.0 / 2.0)
    assert derived["peak RSS training paper fp32 vs reference"].ratio == pytest.approx(14.0 / 11.5)
    assert derived["paper interpolator training GFLOP vs reference"].ratio == pytest.approx(1626.8 / 2139.2)
    verdicts = {result["row"]: result["met"] for target in TARGETS for result in target.check(list(derived.values()))}
    assert verdicts == {
        "paper interpolator fp32 GFLOP/s vs reference": False,
        "peak RSS training paper fp32 vs reference": False,
    }


def test_targets_judge_keras_hdl_rows_not_the_reference_networks():
    rows = [
        Row("train reference interpolator fp32 GFLOP/s vs GEMM", 227.0, "GFLOP/s", 204.0),
        Row("train paper interpolator fp32 GFLOP/s vs GEMM", 139.0, "GFLOP/s", 204.0),
    ]
    judged = [result["row"] for target in TARGETS for result in target.check(rows)]
    assert judged == ["train paper interpolator fp32 GFLOP/s vs GEMM"]
