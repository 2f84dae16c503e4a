"""In-plane cylindrical directions shared by the phantom and the velocity assessment.

Image axes (DESIGN §2.3): x along increasing column index, y along increasing row
index (row 0 at the top), z along the slice normal. About an origin (the LV
centre), a pixel at offset (dx, dy) in those axes has two in-plane unit vectors:

- radial, pointing **towards the centre**: −(dx, dy) / r, so contraction is positive;
- circumferential, pointing **counter-clockwise as displayed**: (dy, −dx) / r
  (at the right of the centre, dx > 0 and dy = 0, it points up the screen, −y).
"""

from __future__ import annotations

import numpy as np


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
