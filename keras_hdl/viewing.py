"""Which side a short-axis scan is seen from, and the exact mirror image that turns one view into the other.

A short-axis image is seen from the base (slice normal = row direction × column direction pointing to
the apex, as the phantom's scans are) or from the apex (normal pointing to the base; the standard
display, RV on the image's left). The two are mirror images of one another: the anatomy's handedness,
the sense in which the twist shows and the sign of z all flip. The networks learn one view (the
phantom's, trained without mirror augmentation so that the anatomy's handedness can tell them the
twist's sense), so synthesis and the training data turn a scan seen from the apex into the base view
(:func:`canonical_view`) and synthesis turns the twin back.

The view is read from the geometry: the slice normal against the LV long axis's usual direction in
DICOM patient coordinates (LPS), base → apex towards the patient's left, front and feet
(:data:`LV_LONG_AXIS_LPS`). A short-axis plane's normal lies within :data:`SHORT_AXIS_CONE_DEG` of
that axis (seen from the base) or of its opposite (seen from the apex). The axial, coronal and sagittal
planes' normals lie 52-59° from it, so they (and a ``Series`` built without geometry, which defaults to
axial) are not taken for short-axis planes and are used as they are.

:func:`mirror_columns` describes the same scan with its columns in reverse order: the row direction
reversed (so the slice normal too), the first pixel's position moved to the old last column, the x
and z velocity components negated (raw phase p → 4096 − p). Every pixel keeps its place and every
velocity its direction in patient coordinates; applied twice it gives the scan back.
"""

from __future__ import annotations

import numpy as np

from keras_hdl.series import PHASE_LEVELS, Series

_LV_LONG_AXIS = np.array([0.6, -0.5, -0.6])
LV_LONG_AXIS_LPS = tuple(float(v) for v in _LV_LONG_AXIS / np.linalg.norm(_LV_LONG_AXIS))
"""Usual base → apex direction of the LV in DICOM patient coordinates (x: left, y: back, z: head), unit length."""

SHORT_AXIS_CONE_DEG = 45.0
"""How far a short-axis plane's normal may lie from the usual LV long axis (or its opposite)."""

MIRRORED_COMPONENTS = (0, 2)
"""The velocity components (x, y, z in image axes) whose sign a column mirror flips."""


def seen_from_apex(image_orientation: tuple[float, ...] | np.ndarray) -> bool:
    """Whether a plane of this ImageOrientationPatient (6 direction cosines) is a short-axis plane seen from
    the apex: its normal within :data:`SHORT_AXIS_CONE_DEG` of the usual apex → base direction."""
    orientation = np.asarray(image_orientation, np.float64)
    cosine = float(np.cross(orientation[:3], orientation[3:]) @ np.asarray(LV_LONG_AXIS_LPS))
    return cosine < -np.cos(np.deg2rad(SHORT_AXIS_CONE_DEG))


def mirror_images(
    magnitude: np.ndarray, raw_phase: np.ndarray | None, masks: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Columns reversed, x and z phase negated (p → 4096 − p): magnitude (..., H, W), raw phase (..., 3, H, W)
    and masks (..., H, W) of a series (T, S, …) or of one frame (S, …); ``None`` stays ``None``."""
    mirrored_phase = None
    if raw_phase is not None:
        mirrored_phase = np.array(raw_phase[..., ::-1], copy=True)
        for component in MIRRORED_COMPONENTS:
            mirrored_phase[..., component, :, :] = PHASE_LEVELS - mirrored_phase[..., component, :, :]
    return magnitude[..., ::-1], mirrored_phase, None if masks is None else masks[..., ::-1]


def mirror_columns(series: Series) -> Series:
    """The same scan with its columns in reverse order and its geometry to match (module docstring)."""
    orientation = np.asarray(series.image_orientation)
    row_direction = orientation[:3]
    last_column_offset = (series.image_shape[1] - 1) * series.pixel_spacing[1] * row_direction
    magnitude, phase, masks = mirror_images(series.magnitude, series.phase, series.masks)
    return series.replace(
        magnitude=magnitude,
        phase=phase,
        masks=masks,
        image_orientation=(*(-row_direction), *orientation[3:]),
        image_positions=series.image_positions + last_column_offset,
    )


def canonical_view(series: Series) -> tuple[Series, bool]:
    """The scan as seen from the base (the networks' view) and whether it had to be mirrored for that."""
    if seen_from_apex(series.image_orientation):
        return mirror_columns(series), True
    return series, False
