"""Benchmarks: scripts that print a table of figures and same-run ratios.

Each benchmark module exposes ``run(quick: bool, ...) -> list[Row]`` and can be run as
``python -m keras_hdl.benchmarks.<name>`` (``--json`` prints the rows and the process's
peak memory as JSON, which is how ``keras-hdl benchmark`` runs each item in a fresh
process). Speed targets live here (:mod:`keras_hdl.benchmarks.suite`), never in timed tests.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence


@dataclasses.dataclass(frozen=True)
class Row:
    """One benchmark figure; ``ratio`` = value / baseline.

    ``value`` is ``None`` for a row that was skipped (``note`` says why). ``baseline_name``
    says what the baseline is: measured in the same run unless it says otherwise (quoted figures).
    """

    name: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if self.value is None or not self.baseline else self.value / self.baseline

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline,
            "baseline_name": self.baseline_name,
            "ratio": self.ratio,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Row:
        return cls(**{field.name: data.get(field.name, field.default) for field in dataclasses.fields(cls)})


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


def interleaved_medians(fns: Mapping[str, Callable[[], object]], repeats: int = 5) -> dict[str, float]:
    """{name: median wall time of ``fns[name]()``, s} over ``repeats`` rounds that each run every function once in
    turn (after one untimed round), so that a change of machine load hits all alike: for same-run ratios."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def format_table(rows: Sequence[Row]) -> str:
    """A plain-text table: name, value, unit, baseline, ratio (and the baseline's or skip's note below)."""
    header = f"{'benchmark':<60} {'value':>10} {'unit':<12} {'baseline':>10} {'ratio':>8}"
    lines = [header, "-" * len(header)]
    for row in rows:
        value = f"{row.value:10.4g}" if row.value is not None else f"{'skipped':>10}"
        baseline = f"{row.baseline:10.4g}" if row.baseline else f"{'':>10}"
        ratio = f"{row.ratio:8.3g}" if row.ratio is not None else f"{'':>8}"
        lines.append(f"{row.name:<60} {value} {row.unit:<12} {baseline} {ratio}")
        for note in (row.baseline_name and f"baseline: {row.baseline_name}", row.note):
            if note:
                lines.append(f"{'':<8}({note})")
    return "\n".join(lines)


def item_parser(doc: str, quick_help: str = "fewer repeats") -> argparse.ArgumentParser:
    """The command line every item shares (``--quick``, ``--json``); items add their own options."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--json", action="store_true", help="print the rows and peak memory as JSON")
    return parser


def start_item() -> float:
    """Start an item process as the CLI starts a heavy command (glibc allocator tuned by
    :func:`keras_hdl.runtime.tune_allocator`, unless ``KERAS_HDL_NO_MALLOPT=1``); returns the start time."""
    from keras_hdl.runtime import tune_allocator

    tune_allocator()
    return time.perf_counter()


def peak_rss_gb() -> float:
    """This process's peak resident memory so far, GB (10⁹ bytes; Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def progress(message: str) -> None:
    """A progress message on stderr (stdout carries the table or the JSON)."""
    print(f"[benchmark] {message}", file=sys.stderr, flush=True)


def emit(rows: Sequence[Row], as_json: bool, started: float) -> None:
    """Print the rows: a table, or (``as_json``) one JSON object with the rows, peak RSS (GB) and seconds."""
    if as_json:
        report = {
            "rows": [row.as_dict() for row in rows],
            "peak_rss_gb": peak_rss_gb(),
            "seconds": time.perf_counter() - started,
        }
        print(json.dumps(report))
    else:
        print(format_table(rows))
        print(f"({time.perf_counter() - started:.0f} s, peak RSS {peak_rss_gb():.2f} GB)")
