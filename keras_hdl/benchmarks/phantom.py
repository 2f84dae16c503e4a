"""Built-in phantom generation: the `cpu` preset's dataset (phantom v2, varied acquisitions), target < 1 minute.

Baseline, measured in the same run: the same subjects as phantom v1 with one fixed acquisition
(128 px, 50 frames), what the built-in phantom was before v2. Each dataset is written whole
(series.npz, truth.npz, manifest) into a temporary folder, as `keras-hdl train` makes it on first use.
Run: ``python -m keras_hdl.benchmarks.phantom``.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

from keras_hdl.benchmarks import Row, emit, item_parser, start_item
from keras_hdl.phantom.config import PhantomConfig
from keras_hdl.phantom.dataset import DEFAULT_PHANTOM, write_dataset


def generation_seconds(config: PhantomConfig) -> float:
    """Wall seconds of writing ``config``'s dataset into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="keras-hdl-phantom-") as folder:
        started = time.perf_counter()
        write_dataset(Path(folder) / "phantom", config)
        return time.perf_counter() - started


def run(quick: bool = False) -> list[Row]:
    subjects = 3 if quick else DEFAULT_PHANTOM.subjects
    built_in = dataclasses.replace(DEFAULT_PHANTOM, subjects=subjects)
    fixed = dataclasses.replace(built_in, anatomy="v1", acquisition="fixed")
    label = "built-in phantom generation" if not quick else "built-in phantom generation (3 subjects, --quick)"
    return [
        Row(
            f"{label}: {subjects} subjects x {built_in.slices} slices, v2 anatomy, varied acquisitions",
            generation_seconds(built_in),
            "s",
            generation_seconds(fixed),
            f"the same subjects as phantom v1, one fixed acquisition ({fixed.size} px, {fixed.frames} frames), s",
        )
    ]


if __name__ == "__main__":
    started = start_item()
    parser = item_parser(__doc__, "3 subjects")
    args = parser.parse_args()
    emit(run(args.quick), args.json, started)
