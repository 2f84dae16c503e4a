"""``keras-hdl benchmark``: every benchmark item in a fresh process, one table, targets, ``benchmark.json``.

Each item runs as ``python -m keras_hdl.benchmarks.<module> --json ...`` in its own process,
so its peak resident memory (the child's own ``ru_maxrss``) is its own and items do not
slow or inflate each other. Items (``--only`` picks some):

- ``startup``: ``keras-hdl --help`` wall time vs ``python -c pass`` (in this process).
- ``gemm``: a large matmul against the derived peak (:mod:`~keras_hdl.benchmarks.gemm`).
- ``training``: per preset and precision (:mod:`~keras_hdl.benchmarks.training`); bf16 only
  where the CPU computes it natively or on a GPU; ``--quick`` runs the ``paper`` preset's
  forward pass only (one of its train steps takes minutes on two cores).
- ``pipeline``: tf.data production vs train-step consumption (:mod:`~keras_hdl.benchmarks.pipeline`),
  for the first selected preset other than ``paper``.
- ``inference``, ``interpolation``, ``assessment``: their modules.
- ``memory``: peak RSS of ``keras-hdl assess`` and ``synthesize`` on a 20-slice, 50-frame series
  (:mod:`~keras_hdl.benchmarks.memory`).
- ``reference`` (with ``--reference``; needs ``torch``): the authors' interpolation network in
  PyTorch (:mod:`~keras_hdl.benchmarks.reference`), timed like the ``paper`` preset's, per precision.

Rows derived across items: bf16 vs fp32 speed-ups, training against the GEMM rate, peak memory
per item, and the ``paper`` interpolator against the reference measured in the same run
(:func:`reference_rows`). :data:`~keras_hdl.benchmarks.report.TARGETS` are the speed and memory targets.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from keras_hdl.benchmarks import Row, progress
from keras_hdl.benchmarks.machine import cpu_has_bf16, gpu_names, machine_info, read_cpuinfo
from keras_hdl.benchmarks.reference import REFERENCE_LABEL
from keras_hdl.benchmarks.report import TARGETS, markdown_report
from keras_hdl.benchmarks.training import TRAINING_FLOP_FACTOR
from keras_hdl.errors import InputError

ITEMS = (
    "startup",
    "gemm",
    "training",
    "pipeline",
    "inference",
    "interpolation",
    "assessment",
    "phantom",
    "memory",
    "reference",
)
DEFAULT_ITEMS = ITEMS[:-1]
"""Every item but ``reference``, which runs only when asked for (``--reference`` or ``--only reference``)."""
DEFAULT_PRESETS = ("cpu", "paper")


@dataclasses.dataclass(frozen=True)
class ItemRun:
    """One item process: its label (e.g. ``training cpu bf16``), module and arguments."""

    label: str
    module: str
    arguments: tuple[str, ...] = ()


def bf16_supported() -> bool:
    """Whether bf16 rows run: a CPU with AVX-512 BF16 / AMX-BF16, or an NVIDIA GPU."""
    return cpu_has_bf16(read_cpuinfo()) or bool(gpu_names())


def plan_items(
    quick: bool, presets: tuple[str, ...], only: tuple[str, ...], reference: bool = False
) -> tuple[list[ItemRun], list[Row]]:
    """The item processes to run, and rows for what is skipped (and why)."""
    unknown = [item for item in only if item not in ITEMS]
    if unknown:
        raise InputError(f"--only {','.join(unknown)}: unknown item(s); choose from {', '.join(ITEMS)}")
    selected = [item for item in ITEMS if item in only or (not only and (item in DEFAULT_ITEMS or reference))]
    quick_flag = ("--quick",) if quick else ()
    runs, skipped = [], []
    for item in selected:
        if item == "training":
            for preset in presets:
                forward_only = ("--forward-only",) if quick and preset == "paper" else ()
                for precision in ("fp32", "bf16"):
                    label = f"training {preset} {precision}"
                    if precision == "bf16" and not bf16_supported():
                        skipped.append(Row(label, None, "", note="skipped: no avx512_bf16 / amx_bf16 CPU and no GPU"))
                        continue
                    arguments = ("--preset", preset, "--precision", precision, *forward_only, *quick_flag)
                    runs.append(ItemRun(label, "training", arguments))
            if quick and "paper" in presets:
                skipped.append(
                    Row(
                        "train paper (both modules, fp32 and bf16)",
                        None,
                        "",
                        note="skipped in --quick: one paper step takes minutes on two cores; forward rows only",
                    )
                )
        elif item == "pipeline":
            small = [preset for preset in presets if preset != "paper"]
            if small:
                runs.append(ItemRun(f"pipeline {small[0]}", "pipeline", ("--preset", small[0], *quick_flag)))
            else:
                skipped.append(Row("pipeline", None, "", note="skipped: needs a preset other than paper"))
        elif item == "reference":
            for precision in ("fp32", "bf16"):
                if precision == "bf16" and not cpu_has_bf16(read_cpuinfo()):
                    skipped.append(
                        Row(f"reference {precision}", None, "", note="skipped: no avx512_bf16 / amx_bf16 CPU")
                    )
                    continue
                forward_only = ("--forward-only",) if quick else ()
                runs.append(
                    ItemRun(
                        f"reference {precision}", "reference", ("--precision", precision, *forward_only, *quick_flag)
                    )
                )
        elif item != "startup":
            runs.append(ItemRun(item, item, quick_flag))
    return runs, skipped


def run_item(item: ItemRun) -> tuple[list[Row], float | None]:
    """Run one item in a fresh process: (its rows, its peak RSS in GB); a failed item gives one row saying so."""
    command = [sys.executable, "-m", f"keras_hdl.benchmarks.{item.module}", "--json", *item.arguments]
    progress(f"{item.label}: {' '.join(command[1:])}")
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True, env=environment, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        return [Row(item.label, None, "", note=f"failed: exit code {result.returncode} (see stderr above)")], None
    report = json.loads(lines[-1])
    progress(f"{item.label}: done in {report['seconds']:.0f} s, peak RSS {report['peak_rss_gb']:.2f} GB")
    return [Row.from_dict(row) for row in report["rows"]], report["peak_rss_gb"]


def startup_rows(repeats: int) -> list[Row]:
    """``keras-hdl --help`` wall time (median of fresh processes) against an empty Python start-up."""

    def median_wall(command: list[str]) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    progress("startup: keras-hdl --help")
    script = Path(sys.executable).parent / "keras-hdl"
    bare = median_wall([sys.executable, "-c", "pass"])
    cli = median_wall([str(script), "--help"] if script.is_file() else [sys.executable, "-m", "keras_hdl", "--help"])
    return [
        Row(
            "keras-hdl --help start-up",
            cli,
            "s",
            bare,
            "python -c pass (same run)",
            note=f"median of {repeats} fresh processes",
        )
    ]


def memory_row(item: ItemRun, peak_gb: float) -> Row:
    """Peak RSS of one item process."""
    return Row(
        f"peak RSS {item.label}",
        peak_gb,
        "GB",
        note="forward passes only" if "--forward-only" in item.arguments else "",
    )


def reference_rows(rows: list[Row]) -> list[Row]:
    """The ``paper`` interpolator against the reference network, both measured in this run (value / reference).

    Throughput and achieved GFLOP/s side by side: the two networks differ in size (the
    parameter and FLOP rows say by how much), so the speed verdicts use GFLOP/s, each network's
    counted training FLOPs per second.
    """
    by_name = {row.name: row for row in rows if row.value is not None}
    same_run = "reference PyTorch network (same run)"
    derived = []

    def compare(ours: str, theirs: str, name: str, invert: bool = False, note: str = "") -> None:
        if ours in by_name and theirs in by_name:
            mine, reference = by_name[ours].value, by_name[theirs].value
            if invert:  # s/sample: compare speeds
                mine, reference = 1 / mine, 1 / reference
            unit = "samples/s" if invert else by_name[ours].unit
            derived.append(Row(name, mine, unit, reference, same_run, note))

    compare(
        "paper interpolator parameters", f"{REFERENCE_LABEL} parameters", "paper interpolator parameters vs reference"
    )
    compare(
        "paper interpolator forward FLOPs/sample @256px",
        f"{REFERENCE_LABEL} forward FLOPs/sample @256px",
        "paper interpolator forward GFLOP vs reference",
    )
    compare(
        "paper interpolator training FLOPs/sample @256px",
        f"{REFERENCE_LABEL} training FLOPs/sample @256px",
        "paper interpolator training GFLOP vs reference",
    )
    for precision in ("fp32", "bf16"):
        compare(
            f"forward paper interpolator {precision} (batch 1 @256px)",
            f"forward {REFERENCE_LABEL} {precision} (batch 1 @256px)",
            f"paper interpolator {precision} forward speed vs reference",
            invert=True,
        )
        compare(
            f"train paper interpolator {precision} (batch 4 @256px)",
            f"train {REFERENCE_LABEL} {precision} (batch 4 @256px)",
            f"paper interpolator {precision} samples/s vs reference",
        )
        compare(
            f"train paper interpolator {precision} achieved GFLOP/s",
            f"train {REFERENCE_LABEL} {precision} achieved GFLOP/s",
            f"paper interpolator {precision} GFLOP/s vs reference",
        )
        compare(
            f"peak RSS training paper {precision}",
            f"peak RSS reference {precision}",
            f"peak RSS training paper {precision} vs reference",
            note="ours: one process timing both modules' steps; the reference: the interpolator's",
        )
    return derived


def speedup_rows(rows: list[Row]) -> list[Row]:
    """bf16 vs fp32 rows: the bf16 samples/s (or s/sample) against the fp32 figure of the same name."""
    by_name = {row.name: row for row in rows}
    derived = []
    for row in rows:
        if " bf16 " not in row.name or row.value is None or row.unit not in ("samples/s", "s/sample"):
            continue
        fp32 = by_name.get(row.name.replace(" bf16 ", " fp32 "))
        if fp32 is None or fp32.value is None:
            continue
        subject = row.name.split(" (")[0].replace(" bf16", "")
        if row.unit == "samples/s":
            derived.append(Row(f"{subject} bf16 vs fp32", row.value, row.unit, fp32.value, "fp32 (same run)"))
        else:  # s/sample: the speed-up is fp32 time / bf16 time
            derived.append(
                Row(f"{subject} bf16 vs fp32", 1 / row.value, "samples/s", 1 / fp32.value, "fp32 (same run)")
            )
    return derived


def gemm_efficiency_rows(rows: list[Row]) -> list[Row]:
    """Achieved training GFLOP/s against the GEMM rate of the same precision measured in this run.

    A second, practical peak: on a CPU that boosts above its reported clock the derived peak is
    too low (the GEMM can exceed it), while the GEMM rate is what the machine delivers to TensorFlow.
    """
    gemm = {
        precision: row
        for row in rows
        for precision in ("fp32", "bf16")
        if row.name.startswith(f"GEMM {precision} ") and row.value is not None
    }
    derived = []
    for row in rows:
        if not row.name.endswith(" achieved GFLOP/s") or row.value is None:
            continue
        precision = next((p for p in gemm if f" {p} " in row.name), None)
        if precision is not None:
            subject = row.name.removesuffix(" achieved GFLOP/s")
            derived.append(
                Row(
                    f"{subject} GFLOP/s vs GEMM",
                    row.value,
                    "GFLOP/s",
                    gemm[precision].value,
                    f"{gemm[precision].name} (same run)",
                )
            )
    return derived


def run_suite(
    quick: bool, presets: tuple[str, ...] = DEFAULT_PRESETS, only: tuple[str, ...] = (), reference: bool = False
) -> dict:
    """Run the selected items (``reference``: the reference network too); returns the report."""
    started = time.perf_counter()
    runs, skipped = plan_items(quick, presets, only, reference)
    machine = machine_info()
    progress(f"fp32 peak: {machine['fp32_peak_derivation']}")
    rows: list[Row] = []
    memory: list[Row] = []
    if not only or "startup" in only:
        rows += startup_rows(3 if quick else 7)
    for item in runs:
        item_rows, peak_gb = run_item(item)
        rows += item_rows
        if peak_gb is not None:
            memory.append(memory_row(item, peak_gb))
    rows += speedup_rows(rows) + gemm_efficiency_rows(rows) + memory
    rows += reference_rows(rows) + skipped
    targets = [result for target in TARGETS for result in target.check(rows)]
    measured = {result["target"] for result in targets}
    targets += [
        {"target": target.description, "verdict": "not measured in this run", "met": None}
        for target in TARGETS
        if target.description not in measured
    ]
    return {
        "command": " ".join(
            ["keras-hdl benchmark", *(["--quick"] if quick else []), *(["--reference"] if reference else [])]
            + [f"--preset {p}" for p in presets]
            + ([f"--only {','.join(only)}"] if only else [])
        ),
        "quick": quick,
        "machine": machine,
        "training_flop_factor": TRAINING_FLOP_FACTOR,
        "rows": [row.as_dict() for row in rows],
        "targets": targets,
        "seconds": time.perf_counter() - started,
    }


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Print a benchmark.json as Markdown tables.")
    parser.add_argument("report", type=Path, help="a benchmark.json written by `keras-hdl benchmark`")
    print(markdown_report(json.loads(parser.parse_args().report.read_text())))
