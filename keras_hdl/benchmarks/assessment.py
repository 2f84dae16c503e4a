"""Velocity assessment speed: one slice of 50 frames at 256×256 (target ≤ 50 ms, limit 100 ms).

Baseline, measured in the same run: a straightforward per-frame implementation of the
global curves (``Series.velocity()`` on the whole image, then one masked pass per frame),
which checks that both give the same curves. Run: ``python -m keras_hdl.benchmarks.assessment``.
"""

from __future__ import annotations

import numpy as np

from keras_hdl.assessment import assess_series
from keras_hdl.benchmarks import Row, emit, item_parser, median_seconds, start_item
from keras_hdl.geometry import cylindrical_unit_vectors
from keras_hdl.series import Series

FRAMES, SIZE = 50, 256


def benchmark_series(slices: int, seed: int = 0, size: int = SIZE) -> Series:
    """(50, S, size, size) series: a beating ring of myocardium (radius ~27–36 px) and random phase."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:size, :size]
    t = np.arange(FRAMES)[:, None, None, None]
    centre = (size - 1) / 2
    radius = np.hypot(rows - centre, cols - centre - 2 * np.sin(2 * np.pi * t / FRAMES))
    inner = 27 - 3 * np.sin(np.pi * t / FRAMES)
    masks = np.broadcast_to((radius >= inner) & (radius <= 36), (FRAMES, slices, size, size))
    phase = np.empty((FRAMES, slices, 3, size, size), np.float32)
    for frame in phase:  # frame by frame: no int64 array of the whole series
        frame[...] = rng.integers(0, 4097, frame.shape)
    return Series(magnitude=np.ones(masks.shape, np.float32), phase=phase, masks=masks, rr_interval_ms=1000.0)


def per_frame_global_curves(series: Series) -> np.ndarray:
    """The naive reference: (S, 3, T) global curves in mm/s, one whole-image pass per frame and slice."""
    velocity = series.velocity() * 10.0  # mm/s
    rows, cols = np.mgrid[: series.image_shape[0], : series.image_shape[1]]
    curves = np.zeros((series.num_slices, 3, series.num_frames))
    for s in range(series.num_slices):
        for t in range(series.num_frames):
            mask = series.masks[t, s]
            dy = (rows[mask] - rows[mask].mean()) * series.pixel_spacing[0]
            dx = (cols[mask] - cols[mask].mean()) * series.pixel_spacing[1]
            vx = velocity[t, s, 0][mask] - velocity[t, s, 0][mask].mean()
            vy = velocity[t, s, 1][mask] - velocity[t, s, 1][mask].mean()
            radial, circumferential = cylindrical_unit_vectors(dx, dy)
            curves[s, 0, t] = np.mean(vx * radial[:, 0] + vy * radial[:, 1])
            curves[s, 1, t] = np.mean(vx * circumferential[:, 0] + vy * circumferential[:, 1])
            curves[s, 2, t] = np.mean(velocity[t, s, 2][mask])
    return curves


def run(quick: bool = False) -> list[Row]:
    repeats = 3 if quick else 7
    rows = []
    for slices in (1,) if quick else (1, 3):
        series = benchmark_series(slices)
        vectorised = median_seconds(lambda series=series: assess_series(series), repeats=repeats)
        naive = median_seconds(lambda series=series: per_frame_global_curves(series), repeats=repeats)
        difference = np.abs(assess_series(series).global_curves - per_frame_global_curves(series)).max()
        if difference > 1e-3:
            raise RuntimeError(f"vectorised and per-frame global curves differ by {difference:.3g} mm/s")
        rows.append(
            Row(
                f"assess_series per slice ({slices} slice(s), {FRAMES}x{SIZE}x{SIZE})",
                vectorised / slices * 1000,
                "ms/slice",
                naive / slices * 1000,
                "per-frame loop, global curves only, ms/slice",
            )
        )
    one_slice = benchmark_series(1)
    velocity_only = median_seconds(one_slice.velocity, repeats=repeats)
    rows.append(Row("Series.velocity() alone, 1 slice (whole image)", velocity_only * 1000, "ms/slice"))
    return rows


if __name__ == "__main__":
    started = start_item()
    parser = item_parser(__doc__, "one slice count, fewer repeats")
    args = parser.parse_args()
    emit(run(args.quick), args.json, started)
