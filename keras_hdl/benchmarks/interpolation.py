"""Linear and Horn–Schunck interpolation per frame of one 256×256 phantom slice at K = 6.

Run ``python -m keras_hdl.benchmarks.interpolation [--quick] [--json]``. The slice is the
built-in phantom's mid-ventricular slice (50 frames, 256 × 256, 1.17 mm pixels); K = 6
keeps 8 frames and drops 42. Per-frame times are the median time of one batched call over
the dropped frames divided by their number; linear interpolation is the baseline of every
other interpolator's per-frame row (here and in :mod:`keras_hdl.benchmarks.inference`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_hdl.benchmarks import Row, emit, item_parser, median_seconds, progress, start_item
from keras_hdl.interpolation.linear import LinearInterpolator
from keras_hdl.interpolation.optical_flow import HornSchunckInterpolator

K = 6
SLICE_SIZE = 256
FRAMES = 50


@dataclasses.dataclass(frozen=True)
class GapInputs:
    """Every dropped frame of one slice as an interpolator sees it: images (M, H, W), positions (M, 3)."""

    start: np.ndarray
    end: np.ndarray
    start_mask: np.ndarray
    end_mask: np.ndarray
    positions: np.ndarray

    def first(self, count: int) -> GapInputs:
        return GapInputs(*(array[:count] for array in dataclasses.astuple(self)))

    @property
    def frames(self) -> int:
        return len(self.positions)


def benchmark_slice():
    """(full series (50, 1, 256, 256), its K = 6 low-frame-rate series): the phantom's mid slice."""
    from keras_hdl.phantom import PhantomConfig, phantom_scan
    from keras_hdl.synthesis.pipeline import downsample

    series, _ = phantom_scan(PhantomConfig(subjects=1, slices=1, frames=FRAMES, size=SLICE_SIZE))
    return series, downsample(series, K)


def gap_inputs(low_rate, frames: int = FRAMES, k: int = K) -> GapInputs:
    """The interpolators' inputs for every dropped frame of slice 0 of a low-frame-rate series of a T-frame cycle."""
    from keras_hdl.synthesis.pipeline import gap_targets

    plan = gap_targets(frames, k)
    magnitude = low_rate.magnitude[:, 0].astype(np.float32)
    masks = low_rate.masks[:, 0].astype(np.float32)
    return GapInputs(
        magnitude[plan.start_index],
        magnitude[plan.end_index],
        masks[plan.start_index],
        masks[plan.end_index],
        plan.positions,
    )


def seconds_per_frame(interpolator, inputs: GapInputs, repeats: int) -> float:
    """Median seconds of one batched ``interpolate`` call over ``inputs``, per frame."""
    arrays = dataclasses.astuple(inputs)
    return median_seconds(lambda: interpolator.interpolate(*arrays), repeats=repeats) / inputs.frames


def linear_row(inputs: GapInputs, repeats: int) -> Row:
    seconds = seconds_per_frame(LinearInterpolator(), inputs, repeats)
    return Row(f"interpolate linear per frame ({SLICE_SIZE}² slice, K={K})", seconds * 1000, "ms/frame")


def run(quick: bool) -> list[Row]:
    progress("interpolation: phantom slice")
    _, low_rate = benchmark_slice()
    inputs = gap_inputs(low_rate)
    repeats = 3 if quick else 7
    linear = linear_row(inputs, repeats)
    # Horn–Schunck takes ~0.1–1 s per frame: --quick times the first gap's K frames only.
    flow_inputs = inputs.first(K) if quick else inputs
    progress(f"interpolation: Horn–Schunck on {flow_inputs.frames} frames")
    flow = seconds_per_frame(HornSchunckInterpolator(), flow_inputs, 1)
    return [
        linear,
        Row(
            f"interpolate Horn–Schunck per frame ({SLICE_SIZE}² slice, K={K})",
            flow * 1000,
            "ms/frame",
            linear.value,
            "linear interpolation per frame (same run)",
            note=f"median of one call over {flow_inputs.frames} dropped frames; 3 levels × 100 iterations",
        ),
    ]


def main() -> None:
    started = start_item()
    parser = item_parser(__doc__, "fewer repeats; Horn–Schunck on one gap")
    args = parser.parse_args()
    emit(run(args.quick), args.json, started)


if __name__ == "__main__":
    main()
