"""The benchmark's targets and report: the terminal table, ``benchmark.json``, the Markdown of docs/benchmarks.md.

The items are run by :mod:`keras_hdl.benchmarks.suite`.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from pathlib import Path

from keras_hdl import ONEDNN_ENV
from keras_hdl.benchmarks import Row, format_table
from keras_hdl.benchmarks.reference import REFERENCE_LABEL
from keras_hdl.io_utils import write_json
from keras_hdl.markdown import markdown_table

REPORT_FILE = "benchmark.json"


@dataclasses.dataclass(frozen=True)
class Target:
    """A target: every row whose name matches ``pattern`` must have ``field`` ``op`` ``threshold``."""

    description: str
    pattern: str
    field: str  # "value" or "ratio"
    op: str  # ">=" or "<="
    threshold: float

    def check(self, rows: list[Row]) -> list[dict]:
        """One result per matching measured row of keras-hdl: met, or missed by how much (relative to the threshold).

        The reference network's own rows (``reference interpolator …``) are baselines, never judged: a
        pattern such as ``train * fp32 GFLOP/s vs GEMM`` would otherwise count the reference's row as ours.
        """
        results = []
        for row in rows:
            actual = row.value if self.field == "value" else row.ratio
            if REFERENCE_LABEL in row.name or not fnmatch.fnmatch(row.name, self.pattern) or actual is None:
                continue
            met = actual >= self.threshold if self.op == ">=" else actual <= self.threshold
            shortfall = abs(actual - self.threshold) / self.threshold
            results.append(
                {
                    "target": self.description,
                    "row": row.name,
                    "field": self.field,
                    "actual": actual,
                    "op": self.op,
                    "threshold": self.threshold,
                    "met": met,
                    "verdict": "met" if met else f"missed by {shortfall:.0%}",
                }
            )
        return results


TARGETS = (
    Target(
        "paper interpolator training ≥ 1.3× the reference's achieved GFLOP/s (fp32, same run)",
        "paper interpolator fp32 GFLOP/s vs reference",
        "ratio",
        ">=",
        1.3,
    ),
    Target(
        "paper interpolator training ≥ 1.3× the reference's achieved GFLOP/s (bf16, same run)",
        "paper interpolator bf16 GFLOP/s vs reference",
        "ratio",
        ">=",
        1.3,
    ),
    Target(
        "paper training peak memory ≤ the reference's (same run)",
        "peak RSS training paper * vs reference",
        "ratio",
        "<=",
        1.0,
    ),
    Target("fp32 training ≥ 60% of fp32 peak (cpu)", "train cpu * fp32 achieved GFLOP/s", "ratio", ">=", 0.6),
    Target("fp32 training ≥ 60% of fp32 peak (paper)", "train paper * fp32 achieved GFLOP/s", "ratio", ">=", 0.6),
    Target(
        "fp32 training ≥ 60% of the measured fp32 GEMM rate (practical peak)",
        "train * fp32 GFLOP/s vs GEMM",
        "ratio",
        ">=",
        0.6,
    ),
    Target("bf16 ≥ 1.8× fp32", "train * bf16 vs fp32", "ratio", ">=", 1.8),
    Target("full K=6 twin of one 256² slice (cpu preset) ≤ 5 s", "twin full synthesize_twin*", "value", "<=", 5.0),
    Target(
        "default synthesis ≥ 1.5× faster than the Keras fp32 path before #19 (full 256² twin, same run)",
        "default synthesis speed vs Keras fp32 before #19*",
        "ratio",
        ">=",
        1.5,
    ),
    Target("assessment ≤ 50 ms per slice", "assess_series per slice (1 slice*", "value", "<=", 50.0),
    Target("pipeline ≥ 10× consumption", "* pipeline, augmented, from *", "ratio", ">=", 10.0),
    Target("keras-hdl --help < 1 s", "keras-hdl --help start-up", "value", "<=", 1.0),
    Target("the built-in phantom generates in under a minute", "built-in phantom generation:*", "value", "<=", 60.0),
    Target("assess and synthesize of a 20-slice, 50-frame series ≤ 4 GB", "peak RSS * 20x50x*", "value", "<=", 4.0),
)


def format_report(report: dict) -> str:
    """The table, the peak's derivation and the targets as plain text."""
    rows = [Row.from_dict(row) for row in report["rows"]]
    machine = report["machine"]
    lines = [
        format_table(rows),
        "",
        f"Machine: {machine['cpu_model']}, {machine['cores']} cores, flags {' '.join(machine['cpu_flags'])}; "
        f"TensorFlow {machine['versions']['tensorflow']} "
        f"({ONEDNN_ENV}={machine['allocator_env'].get(ONEDNN_ENV, 'unset')}); "
        f"GPUs: {', '.join(machine['gpus']) or 'none'}",
        f"fp32 peak: {machine['fp32_peak_derivation']}",
        "Training FLOPs: counted from each step's graph for the interpolators (ours and the reference); "
        f"pix2pix: {report['training_flop_factor']} × forward FLOPs (forward + backward ≈ 2 × forward).",
        "Timings on a shared machine vary by 20-40% between runs: compare the ratios (same run), not absolutes.",
        "",
        "Targets:",
    ]
    for result in report["targets"]:
        where = (
            f" [{result['row']}: {result['field']} {result['actual']:.3g} {result['op']} {result['threshold']:.3g}]"
            if "row" in result
            else ""
        )
        lines.append(f"  {result['verdict']:<26} {result['target']}{where}")
    lines.append(f"({report['seconds']:.0f} s)")
    return "\n".join(lines)


def write_report(report: dict, out_dir: str | Path) -> Path:
    """Write ``out_dir/benchmark.json`` atomically; returns its path."""
    path = Path(out_dir) / REPORT_FILE
    return write_json(path, report)


def markdown_report(report: dict) -> str:
    """The rows and targets of a report as Markdown tables (for docs/benchmarks.md)."""

    def number(value: float | None) -> str:
        return "" if value is None else f"{value:.4g}"

    rows = []
    for data in report["rows"]:
        row = Row.from_dict(data)
        value = "skipped" if row.value is None else number(row.value)
        notes = "; ".join(text for text in (row.baseline_name, row.note) if text)
        rows.append([row.name, value, row.unit, number(row.baseline), number(row.ratio), notes])
    header = ["benchmark", "value", "unit", "baseline", "ratio", "baseline / note"]
    lines = markdown_table(header, rows, right_aligned=(1, 3, 4))
    targets = [
        [result["target"], result["verdict"], f"{result['row']}: {result['actual']:.3g}" if "row" in result else ""]
        for result in report["targets"]
    ]
    lines += ["", *markdown_table(["target", "verdict", "row: actual"], targets)]
    return "\n".join(lines)
