"""One phantom scan in memory: a :class:`~keras_hdl.series.Series` and its :class:`GroundTruth`.

Other modules' tests call :func:`phantom_scan` (or :func:`generate_scan` with their own
parameters) for small phantoms, e.g.
``phantom_scan(PhantomConfig(subjects=1, slices=1, frames=20, size=64))``.
"""

from __future__ import annotations

import numpy as np

from keras_hdl import __version__
from keras_hdl.phantom.config import PhantomConfig, ScanParams, SubjectParams, draw_scan, draw_subject
from keras_hdl.phantom.motion import slice_motion
from keras_hdl.phantom.render import ImageGrid, acquire, render_scene
from keras_hdl.phantom.truth import GroundTruth
from keras_hdl.series import Series


def _short_axis_orientation() -> tuple[float, ...]:
    """ImageOrientationPatient of a typical short-axis plane whose normal points base → apex.

    In DICOM patient coordinates (x: patient left, y: posterior, z: head) the LV long axis
    points from base to apex towards the patient's left, anterior and feet.
    """
    normal = np.array([0.6, -0.5, -0.6])
    normal /= np.linalg.norm(normal)
    row = np.cross([0.0, 0.0, -1.0], normal)
    row /= np.linalg.norm(row)
    column = np.cross(normal, row)  # row × column = normal
    return tuple(float(v) for v in (*row, *column))


SHORT_AXIS_ORIENTATION = _short_axis_orientation()


def _image_positions(grid: ImageGrid, slice_offsets_mm: np.ndarray) -> np.ndarray:
    """(S, 3) ImagePositionPatient (first pixel centre) with the LV centre on the patient's origin axis."""
    orientation = np.asarray(SHORT_AXIS_ORIENTATION)
    row, column = orientation[:3], orientation[3:]
    normal = np.cross(row, column)
    centre_x, centre_y = grid.centre_xy_px
    first_pixel = -grid.spacing_mm * (centre_x * row + centre_y * column)
    return first_pixel[None, :] + slice_offsets_mm[:, None] * normal[None, :]


def generate_scan(subject: SubjectParams, scan: ScanParams, config: PhantomConfig) -> tuple[Series, GroundTruth]:
    """Render one scan of ``subject``: (series with magnitude, raw phase, masks; its ground truth).

    Shapes follow ``config``: T = frames, S = slices (base → apex), H = W = size. The
    series' provenance names the source (``phantom``), subject, scan and dataset seed,
    never a person.
    """
    motion = slice_motion(subject, config.slice_levels)
    grid = ImageGrid.for_scan(subject, scan, config)
    scene = render_scene(subject, scan, config, motion, grid)
    magnitude, phase = acquire(scene, subject, scan, config)

    mask_pixels = scene.masks.sum(axis=(2, 3))  # (T, S)
    tau = np.arange(config.frames) / config.frames
    truth = GroundTruth(
        slice_labels=tuple(config.slice_labels),
        rr_interval_ms=subject.rr_interval_ms,
        radial_mm_s=((scene.radial_mm_s * scene.masks).sum(axis=(2, 3)) / mask_pixels).T,
        circumferential_mm_s=((scene.circumferential_mm_s * scene.masks).sum(axis=(2, 3)) / mask_pixels).T,
        longitudinal_mm_s=motion.longitudinal_velocity_mm_s(tau),
        endo_radius_mm=motion.endo_radius_mm(tau),
        epi_radius_mm=motion.epi_radius_mm(tau),
        twist_deg=np.rad2deg(motion.rotation_rad(tau)),
        lv_centre_xy_px=np.tile(np.asarray(grid.centre_xy_px), (config.slices, 1)),
        insertion_points_rc_px=scene.insertion_points_rc_px,
        tissue_labels=scene.labels,
    )
    series = Series(
        magnitude=magnitude,
        phase=phase,
        venc=config.venc_cm_s,
        masks=scene.masks,
        pixel_spacing=(grid.spacing_mm, grid.spacing_mm),
        image_orientation=SHORT_AXIS_ORIENTATION,
        image_positions=_image_positions(grid, motion.levels * subject.base_to_apex_mm),
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
    subject = draw_subject(config.seed, subject_index)
    return generate_scan(subject, draw_scan(config.seed, subject_index, rescan_index), config)
