"""DICOM's pixel → patient mapping (PS3.3 C.7.6.2.1.1), written out here so tests check keras_hdl's geometry
against it rather than against itself."""

import numpy as np


def patient_points(series, rows: np.ndarray, cols: np.ndarray, slice_index: int = 0) -> np.ndarray:
    """Pixel indices of one slice (any shape, broadcast) → (..., 3) mm: position + c·Δc·row dir + r·Δr·column dir."""
    orientation = np.asarray(series.image_orientation, np.float64)
    spacing_rows, spacing_cols = series.pixel_spacing
    rows = np.asarray(rows, np.float64)[..., None]
    cols = np.asarray(cols, np.float64)[..., None]
    return (
        np.asarray(series.image_positions[slice_index], np.float64)
        + cols * spacing_cols * orientation[:3]
        + rows * spacing_rows * orientation[3:]
    )
