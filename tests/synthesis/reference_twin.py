"""The reference twin of the shipped weights: what ``test_shipped_twin`` compares against.

``python tests/synthesis/reference_twin.py`` rewrites ``reference_twin.npz`` beside this file. Only do
that deliberately, when a change is meant to alter the twin (new weights, another method): the file is
the record that a restructuring left the user's result as it was.

The twin: one 128-pixel phantom slice (resampled to the shipped networks' spacing), K = 3,
background seed 5, through the user's path (:func:`~keras_hdl.synthesis.synthesize_twin` with the
shipped models folder). Stored: a 48 × 48 window around the LV of frames 0 … 4 (kept frame 0,
interpolated frames 1 … 3, kept frame 4) for magnitude, phase and masks, plus the full field of view's
per-frame mean of each phase component (the seeded background noise outside the crop).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

REFERENCE = Path(__file__).with_name("reference_twin.npz")
K = 3
SEED = 5
FRAMES = slice(0, 5)
HALF_WINDOW = 24


def reference_twin() -> dict[str, np.ndarray]:
    """The arrays the reference file holds, computed by the code as it is now."""
    from keras_hdl.phantom import phantom_scan
    from keras_hdl.phantom.config import PhantomConfig
    from keras_hdl.synthesis import downsample, load_local_models, resolve_models_folder, synthesize_twin

    series, _ = phantom_scan(PhantomConfig(subjects=1, slices=1, frames=50, size=128, seed=4321), 0)
    models = load_local_models(resolve_models_folder())
    twin = synthesize_twin(downsample(series, K), K, models, seed=SEED, frames=series.num_frames)
    rows, cols = np.nonzero(series.masks[0, 0])
    row, col = round(float(rows.mean())), round(float(cols.mean()))
    window = (slice(row - HALF_WINDOW, row + HALF_WINDOW), slice(col - HALF_WINDOW, col + HALF_WINDOW))
    return {
        "magnitude": twin.magnitude[FRAMES, 0][(slice(None), *window)].astype(np.float32),
        "phase": twin.phase[FRAMES, 0][(slice(None), slice(None), *window)].astype(np.float32),
        "masks": twin.masks[FRAMES, 0][(slice(None), *window)],
        "phase_means": twin.phase[:, 0].mean(axis=(2, 3)).astype(np.float64),  # (T, 3)
        "magnitude_scale": np.float32(np.percentile(series.magnitude, 99.5)),
    }


if __name__ == "__main__":
    np.savez_compressed(REFERENCE, **reference_twin())
    print(f"wrote {REFERENCE} ({REFERENCE.stat().st_size} bytes)")
