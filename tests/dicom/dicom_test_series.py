"""The hand-built 3Dir MVM series the DICOM tests write and read back.

A module of its own (not conftest.py): test files import it by a name no other test
folder uses, so collecting several folders together cannot pick another conftest.
"""

from __future__ import annotations

import numpy as np

from keras_hdl.series import Series, velocity_to_phase

FRAMES, SLICES, ROWS, COLS = 6, 2, 32, 32
VENC = (20.0, 15.0, 30.0)
RR_MS = 912.345  # not an integer: NominalInterval (IS) holds 912, trigger times keep the rest
SPACING = (1.5, 1.25)  # mm (row spacing, column spacing)
ORIENTATION = (0.0, 1.0, 0.0, 0.6, 0.0, -0.8)  # an oblique short-axis-like plane
SLICE_GAP_MM = 8.0


def make_series(rr_interval_ms: float | None = RR_MS, seed: int = 7, frames: int = FRAMES) -> Series:
    """``frames`` (6) frames x 2 slices x 32x32: a ring (myocardium) whose radius changes per frame, velocities up
    to ±venc."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:ROWS, :COLS]
    radius = np.hypot(rows - 15.5, cols - 16.5)
    inner = 5.0 + np.arange(frames)[:, None, None, None] * 0.6 + np.arange(SLICES)[None, :, None, None]
    masks = (radius >= inner) & (radius < inner + 4.0)
    # Frame- and slice-dependent magnitude (so any mix-up of frames or slices shows), float scanner units.
    magnitude = (
        rng.uniform(0.0, 50.0, (frames, SLICES, ROWS, COLS))
        + 400.0 * masks
        + 10.0 * np.arange(frames)[:, None, None, None]
        + 100.0 * np.arange(SLICES)[None, :, None, None]
    )
    velocity = rng.uniform(-1.0, 1.0, (frames, SLICES, 3, ROWS, COLS)) * np.asarray(VENC)[:, None, None]
    velocity[0, 0, :, 0, :3] = np.asarray(VENC)[:, None]  # +venc exactly: raw phase 4096
    velocity[0, 0, :, 1, :3] = -np.asarray(VENC)[:, None]  # −venc: raw phase 0
    orientation = np.asarray(ORIENTATION)
    normal = np.cross(orientation[:3], orientation[3:])
    positions = np.array([10.0, -20.0, 30.0]) + np.arange(SLICES)[:, None] * SLICE_GAP_MM * normal
    return Series(
        magnitude=magnitude.astype(np.float32),
        phase=velocity_to_phase(velocity, VENC),
        venc=VENC,
        masks=masks,
        pixel_spacing=SPACING,
        image_orientation=ORIENTATION,
        image_positions=positions,
        rr_interval_ms=rr_interval_ms,
        provenance={"subject": "hand-built", "dicom.MagneticFieldStrength": 1.5, "dicom.RepetitionTime": 33.0},
    )
