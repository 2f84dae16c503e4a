"""Benchmarks: scripts that print a table of figures and same-run ratios.

Each benchmark module exposes ``run(quick: bool) -> list[Row]`` and can be run as
``python -m keras_hdl.benchmarks.<name>``. Speed targets live here, never in timed tests.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Sequence


@dataclasses.dataclass(frozen=True)
class Row:
    """One benchmark figure; ``ratio`` = value / baseline, both measured in the same run."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""

    @property
    def ratio(self) -> float | None:
        return None if not self.baseline else self.value / self.baseline

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline,
            "baseline_name": self.baseline_name,
            "ratio": self.ratio,
        }


def median_seconds(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs, after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def format_table(rows: Sequence[Row]) -> str:
    """A plain-text table: name, value, unit, baseline, ratio."""
    header = f"{'benchmark':<48} {'value':>12} {'unit':<12} {'baseline':>12} {'ratio':>8}"
    lines = [header, "-" * len(header)]
    for row in rows:
        baseline = f"{row.baseline:12.4g}" if row.baseline else f"{'':>12}"
        ratio = f"{row.ratio:8.3g}" if row.ratio is not None else f"{'':>8}"
        lines.append(f"{row.name:<48} {row.value:12.4g} {row.unit:<12} {baseline} {ratio}")
        if row.baseline_name:
            lines.append(f"{'':<48} {'':>12} {'':<12} ({row.baseline_name})")
    return "\n".join(lines)
