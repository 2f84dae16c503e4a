"""Image geometry without TensorFlow: in-plane cylindrical directions and the crop around the LV.

Used by the phantom, the velocity assessment, synthesis (the LV window) and training (the slice cines).

Image axes (docs/design.md §2.3): x along increasing column index, y along increasing row
index (row 0 at the top), z along the slice normal. About an origin (the LV
centre), a pixel at offset (dx, dy) in those axes has two in-plane unit vectors:

- radial, pointing **towards the centre**: −(dx, dy) / r, so contraction is positive;
- circumferential, pointing **counter-clockwise as displayed**: (dy, −dx) / r
  (at the right of the centre, dx > 0 and dy = 0, it points up the screen, −y).
"""

from __future__ import annotations

import numpy as np

from keras_hdl.errors import InputError


def cylindrical_unit_vectors(dx: np.ndarray, dy: np.ndarray, eps: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """Radial (inward) and circumferential (CCW as displayed) unit vectors.

    Args:
        dx, dy: offsets from the origin along image x and y, any equal shapes (...).

    Returns:
        ``(radial, circumferential)``, each of shape (..., 2) holding (x, y) components.
        At the origin itself both are zero.
    """
    dx = np.asarray(dx, np.float64)
    dy = np.asarray(dy, np.float64)
    radius = np.hypot(dx, dy)
    inv = np.where(radius > eps, 1.0 / np.maximum(radius, eps), 0.0)
    radial = np.stack([-dx * inv, -dy * inv], axis=-1)
    circumferential = np.stack([dy * inv, -dx * inv], axis=-1)
    return radial, circumferential


def lv_centre(masks: np.ndarray) -> tuple[float, float]:
    """(row, column) centroid of the union of a slice's masks over the cycle; masks (T, H, W)."""
    rows, cols = np.nonzero(masks.any(axis=0))
    if rows.size == 0:
        raise InputError("a slice has no myocardium in any frame; cannot crop around the LV")
    return float(rows.mean()), float(cols.mean())


def crop_around(image: np.ndarray, centre: tuple[float, float], size: int, fill: float) -> np.ndarray:
    """Crop (..., H, W) to (..., size, size) centred on ``centre`` (row, col), padding with ``fill``."""
    height, width = image.shape[-2:]
    top = round(centre[0]) - size // 2
    left = round(centre[1]) - size // 2
    pad = max(0, -top, -left, top + size - height, left + size - width)
    if pad:
        widths = [(0, 0)] * (image.ndim - 2) + [(pad, pad), (pad, pad)]
        image = np.pad(image, widths, constant_values=fill)
        top, left = top + pad, left + pad
    return image[..., top : top + size, left : left + size]
