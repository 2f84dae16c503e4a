"""Peak memory of ``keras-hdl assess`` and ``synthesize`` on a 20-slice, 50-frame series: target ≤ 4 GB.

The series (:func:`~keras_hdl.benchmarks.assessment.benchmark_series`, 256², and 512² without
``--quick``) is written to a temporary folder as an Enhanced MR ``series.dcm`` + ``seg.dcm`` and a ``.npz``;
``assess`` reads each, ``synthesize --downsample 6`` the ``.npz`` (with the shipped weights).
Each command runs as its own process, as a user runs it; its peak resident memory comes from
``os.wait4``. ``assess`` reads either file slice by slice and ``synthesize`` writes the twin frame by frame,
so neither holds the series' images whole (4.5 GB at 512²). A command that refuses the series as too big for
the machine's memory gives a row without a value, its message as the note. Run:
``python -m keras_hdl.benchmarks.memory``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from keras_hdl.benchmarks import Row, emit, item_parser, progress, start_item
from keras_hdl.benchmarks.assessment import FRAMES, benchmark_series

SLICES = 20
TARGET_GB = 4.0
"""The target for each command's peak resident memory."""


MEASURE = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n"
)
"""Run a command from a fresh, small interpreter and print its exit code and peak RSS (KiB). Linux hands a
parent's peak RSS on to the children it forks (``ru_maxrss`` keeps the forked copy's high-water mark through
exec), so a command started straight from this process would report at least this process's peak."""


def command_peak_gb(arguments: list[str]) -> float:
    """Run ``keras-hdl ARGUMENTS`` in a fresh process; its peak resident memory in GB (10⁹ bytes).

    A command that fails raises :class:`RuntimeError` with its last line of stderr (e.g. why it refused the input).
    """
    script = Path(sys.executable).parent / "keras-hdl"
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "keras_hdl"]
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, *command, *arguments],
        capture_output=True,
        text=True,
        check=True,
    )
    code, peak_kib = (int(v) for v in result.stdout.split())
    if code != 0:
        said = result.stderr.strip().splitlines()[-1:] or ["no message"]
        raise RuntimeError(f"keras-hdl {' '.join(arguments)} failed (exit code {code}): {said[0]}")
    return peak_kib * 1024 / 1e9


def peak_row(name: str, arguments: list[str]) -> Row:
    """The row of one command's peak RSS against :data:`TARGET_GB`; a command that failed (e.g. refused an input too
    big for the machine before any work) gives a row without a value that says why."""
    try:
        return Row(name, command_peak_gb(arguments), "GB", TARGET_GB, "target")
    except RuntimeError as err:
        return Row(name, None, "GB", TARGET_GB, "target", note=str(err))


def run(quick: bool = False) -> list[Row]:
    from keras_hdl.dicom import write_dicom_scan

    rows = []
    for size in (256,) if quick else (256, 512):
        shape = f"{SLICES}x{FRAMES}x{size}²"
        folder = Path(tempfile.mkdtemp(prefix="keras-hdl-memory-"))
        try:
            progress(f"memory: writing a {shape} series")
            series = benchmark_series(SLICES, size=size)
            series.save_npz(folder / "series.npz")
            write_dicom_scan(series, folder / "scan")
            del series
            progress(f"memory: assess and synthesize of the {shape} series")
            for name, path in (("series.dcm", folder / "scan" / "series.dcm"), (".npz", folder / "series.npz")):
                rows.append(
                    peak_row(f"peak RSS assess {shape} {name}", ["assess", str(path), "--out", str(folder / "a")])
                )
            twin = ["synthesize", str(folder / "series.npz"), "--downsample", "6", "--out", str(folder / "t")]
            rows.append(peak_row(f"peak RSS synthesize K=6 {shape} .npz", [*twin, "--no-progress"]))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return rows


if __name__ == "__main__":
    started = start_item()
    parser = item_parser(__doc__, "the 256² series only")
    args = parser.parse_args()
    emit(run(args.quick), args.json, started)
