"""One phantom scan in memory: a :class:`~keras_hdl.series.Series` and its :class:`GroundTruth`.

Other modules' tests call :func:`phantom_scan` (or :func:`generate_scan` with their own
parameters) for small phantoms, e.g.
``phantom_scan(PhantomConfig(subjects=1, slices=1, frames=20, size=64))``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_hdl import __version__
from keras_hdl.phantom.acquire import acquire
from keras_hdl.phantom.config import PhantomConfig, SubjectParams, draw_subject
from keras_hdl.phantom.motion import slice_motion
from keras_hdl.phantom.render import MM_S_PER_CM_S, ImageGrid, Scene, render_scene
from keras_hdl.phantom.scan import Acquisition, ScanParams, draw_scan
from keras_hdl.phantom.truth import GroundTruth
from keras_hdl.series import Series
from keras_hdl.viewing import LV_LONG_AXIS_LPS


def _short_axis_orientation() -> tuple[float, ...]:
    """ImageOrientationPatient of a typical short-axis plane whose normal points base → apex.

    In DICOM patient coordinates (x: patient left, y: posterior, z: head) the LV long axis
    points from base to apex towards the patient's left, anterior and feet.
    """
    normal = np.array(LV_LONG_AXIS_LPS)
    row = np.cross([0.0, 0.0, -1.0], normal)
    row /= np.linalg.norm(row)
    column = np.cross(normal, row)  # row × column = normal
    return tuple(float(v) for v in (*row, *column))


SHORT_AXIS_ORIENTATION = _short_axis_orientation()


def scan_orientation(acquisition: Acquisition) -> tuple[float, ...]:
    """ImageOrientationPatient of the scan's plane: the short-axis plane tilted, then the anatomy turned in plane.

    Tilt (oblique planes): the normal leans by ``plane_tilt_deg`` towards the row and the column
    direction; row and column stay orthonormal in the tilted plane. Rotation: a pixel at image
    offset (dx, dy) shows the anatomy's point R(−rotation)(dx, up), so the row direction becomes
    cos·row + sin·column and the column direction −sin·row + cos·column (same normal).
    """
    if acquisition.rotation_deg == 0.0 and acquisition.plane_tilt_deg == (0.0, 0.0):
        return SHORT_AXIS_ORIENTATION
    orientation = np.asarray(SHORT_AXIS_ORIENTATION)
    row, column = orientation[:3], orientation[3:]
    tilt_row, tilt_column = np.tan(np.deg2rad(acquisition.plane_tilt_deg))
    normal = np.cross(row, column) + tilt_row * row + tilt_column * column
    normal /= np.linalg.norm(normal)
    row = row - np.dot(row, normal) * normal
    row /= np.linalg.norm(row)
    column = np.cross(normal, row)
    rotation = np.deg2rad(acquisition.rotation_deg)
    cos, sin = np.cos(rotation), np.sin(rotation)
    return tuple(float(v) for v in (*(cos * row + sin * column), *(cos * column - sin * row)))


def _image_positions(grid: ImageGrid, orientation: tuple[float, ...], slice_offsets_mm: np.ndarray) -> np.ndarray:
    """(S, 3) ImagePositionPatient (first pixel centre) with the LV centre on the patient's origin axis."""
    orientation = np.asarray(orientation)
    row, column = orientation[:3], orientation[3:]
    normal = np.cross(row, column)
    centre_x, centre_y = grid.centre_xy_px
    first_pixel = -grid.spacing_mm * (centre_x * row + centre_y * column)
    return first_pixel[None, :] + slice_offsets_mm[:, None] * normal[None, :]


def _in_plane_truth(scene: Scene, grid: ImageGrid, annulus: bool) -> tuple[np.ndarray, np.ndarray]:
    """(S, T) each: the true global radial and circumferential curves, mm/s (see :mod:`keras_hdl.phantom.truth`).

    Annulus (v1): the mask mean of the analytic components about the true LV centre. v2 wall: its
    centroid is off the LV centre and its regions move unequally, so the curves are those the
    assessment's definition (docs/design.md §2.3: bulk in-plane motion removed, origin at the mask
    centroid) gives for the noise-free analytic velocity field.
    """
    if annulus:
        mask_pixels = scene.masks.sum(axis=(2, 3))  # (T, S)
        radial = ((scene.radial_mm_s * scene.masks).sum(axis=(2, 3)) / mask_pixels).T
        return radial, ((scene.circumferential_mm_s * scene.masks).sum(axis=(2, 3)) / mask_pixels).T
    from keras_hdl.assessment.velocity import assess_velocity

    curves = assess_velocity(scene.velocity_mm_s / MM_S_PER_CM_S, scene.masks, (grid.spacing_mm,) * 2).global_curves
    return curves[:, 0], curves[:, 1]


def generate_scan(subject: SubjectParams, scan: ScanParams, config: PhantomConfig) -> tuple[Series, GroundTruth]:
    """Render one scan of ``subject``: (series with magnitude, raw phase, masks; its ground truth).

    Shapes follow the scan's acquisition (``scan.acquisition_for``): T = frames, S = slices
    (base → apex), H × W = its matrix (``config.size`` squared for a fixed acquisition). The
    subject's motion is re-timed to the acquisition's RR interval (velocity peaks kept). The
    series' provenance names the source (``phantom``), subject, scan and dataset seed,
    never a person.
    """
    acquisition = scan.acquisition_for(subject, config)
    if acquisition.rr_interval_ms != subject.rr_interval_ms:
        subject = dataclasses.replace(subject, rr_interval_ms=acquisition.rr_interval_ms)
    motion = slice_motion(subject, config.slice_levels)
    grid = ImageGrid.for_acquisition(acquisition)
    scene = render_scene(subject, config, motion, grid, acquisition.frames)
    magnitude, phase = acquire(scene, subject, scan, config, acquisition, grid)

    tau = np.arange(acquisition.frames) / acquisition.frames
    orientation = scan_orientation(acquisition)
    radial, circumferential = _in_plane_truth(scene, grid, subject.wall is None)
    truth = GroundTruth(
        slice_labels=tuple(config.slice_labels),
        rr_interval_ms=subject.rr_interval_ms,
        radial_mm_s=radial,
        circumferential_mm_s=circumferential,
        longitudinal_mm_s=motion.longitudinal_velocity_mm_s(tau),
        endo_radius_mm=scene.endo_radius_mm,
        epi_radius_mm=scene.epi_radius_mm,
        twist_deg=np.rad2deg(motion.rotation_rad(tau)),
        lv_centre_xy_px=np.tile(np.asarray(grid.centre_xy_px), (config.slices, 1)),
        insertion_points_rc_px=scene.insertion_points_rc_px,
        tissue_labels=scene.labels,
    )
    series = Series(
        magnitude=magnitude,
        phase=phase,
        venc=acquisition.venc_cm_s,
        masks=scene.masks,
        pixel_spacing=(grid.spacing_mm, grid.spacing_mm),
        image_orientation=orientation,
        image_positions=_image_positions(grid, orientation, motion.levels * subject.base_to_apex_mm),
        rr_interval_ms=subject.rr_interval_ms,
        provenance={
            "source": "phantom",
            "generator": f"keras-hdl {__version__}",
            "subject": subject.subject_id,
            "scan": scan.scan_id,
            "rescan": scan.rescan,
            "seed": int(config.seed),
        },
    )
    return series, truth


def phantom_scan(config: PhantomConfig, subject_index: int = 0, rescan_index: int = 0) -> tuple[Series, GroundTruth]:
    """The scan that :func:`keras_hdl.phantom.write_dataset` would write for these 0-based indices."""
    subject = draw_subject(config.seed, subject_index, config.anatomy)
    return generate_scan(subject, draw_scan(config.seed, subject_index, rescan_index, config), config)
