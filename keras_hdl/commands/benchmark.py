"""``keras-hdl benchmark``: speed and memory against the hardware's peak, the reference and simple baselines.

A thin click parser over :mod:`keras_hdl.benchmarks.suite`: every item runs in a fresh
process; the table and the targets go to stdout, progress to stderr, and the report to
``OUT/benchmark.json`` (written atomically).
"""

from __future__ import annotations

from pathlib import Path

import click

from keras_hdl.benchmarks.report import format_report, write_report
from keras_hdl.benchmarks.suite import DEFAULT_PRESETS, ITEMS, run_suite
from keras_hdl.config import preset_names


def parse_only(value: str | None) -> tuple[str, ...]:
    """``--only a,b`` → ("a", "b") (the suite refuses unknown items before running anything)."""
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


@click.command(name="benchmark")
@click.option("--quick", is_flag=True, help="Fewer repeats; the paper preset's forward pass only (a few minutes).")
@click.option(
    "--preset",
    "presets",
    multiple=True,
    type=click.Choice(preset_names()),
    help=f"Preset(s) to train and time (repeatable; default: {' '.join(DEFAULT_PRESETS)}).",
)
@click.option(
    "--only", default=None, help=f"Comma-separated items to run (default all but reference): {','.join(ITEMS)}."
)
@click.option(
    "--reference",
    is_flag=True,
    help="Also time the authors' interpolation network in PyTorch, beside the paper preset's, in this run "
    "(needs torch: pip install -e '.[reference]').",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("benchmark"),
    show_default=True,
    help="Folder for benchmark.json.",
)
def command(quick: bool, presets: tuple[str, ...], only: str | None, reference: bool, out_dir: Path) -> None:
    """Time training, the data pipeline, inference (Keras, SavedModel, TFLite), interpolation and assessment.

    \b
    Prints a table of figures with their baselines and ratios (value / baseline), the
    machine's fp32 peak and how it was derived, and the targets (met / missed by X). Every
    baseline is measured in the same run; with --reference that includes the authors' network
    (PyTorch), compared on achieved GFLOP/s as the two differ in size. Timings on a shared
    machine vary: compare the ratios.
    """
    report = run_suite(quick, presets or DEFAULT_PRESETS, parse_only(only), reference)
    path = write_report(report, out_dir)
    click.echo(format_report(report))
    click.echo(f"Wrote {path}")
