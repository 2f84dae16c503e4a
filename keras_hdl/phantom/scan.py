"""Per-scan draws of the phantom: what differs between rescans (:class:`ScanParams`, :func:`draw_scan`) and, with
``acquisition="varied"`` or eddy currents, how each scan was acquired (:class:`Acquisition`).

The subject-level settings and draws are in :mod:`keras_hdl.phantom.config` (docs/design.md §3.2).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_hdl.phantom.config import PhantomConfig, SubjectParams, json_ready, subject_id, subject_stream

SNR_BANDS = ((40.0, "poor"), (80.0, "fair"), (np.inf, "good"))
"""Upper blood-SNR bound (exclusive) of each band a per-variant report groups scans by."""


@dataclasses.dataclass(frozen=True)
class Acquisition:
    """How one scan was acquired: what a per-variant report groups scans by (mm, ms, cm/s).

    Attributes:
        rows, cols: matrix (H, W).
        spacing_mm: square pixel spacing.
        frames: frames per cycle.
        rr_interval_ms: cycle length (the subject's motion is re-timed to it, its velocity peaks kept).
        venc_cm_s: (x, y, z) encoding velocity.
        snr: blood signal over the Rician noise level.
        rotation_deg: the anatomy's in-plane orientation, degrees CCW as displayed (0: RV on the left).
        plane_tilt_deg: an oblique plane: its normal leans this far from the short-axis normal towards the
            row and the column direction (DICOM geometry only; the images stay short-axis cuts).
        lv_offset_mm: LV centre from the field-of-view centre, image (x, y).
        coil: ``(x mm, y mm, width mm, floor)``: receive sensitivity floor + (1 − floor) exp(−d² / 2 width²)
            about that point (image axes, from the field-of-view centre); ``None``: uniform.
    """

    rows: int
    cols: int
    spacing_mm: float
    frames: int
    rr_interval_ms: float
    venc_cm_s: tuple[float, float, float]
    snr: float
    rotation_deg: float = 0.0
    plane_tilt_deg: tuple[float, float] = (0.0, 0.0)
    lv_offset_mm: tuple[float, float] = (0.0, 0.0)
    coil: tuple[float, float, float, float] | None = None

    @property
    def heart_rate_bpm(self) -> float:
        return 60000.0 / self.rr_interval_ms

    @property
    def snr_band(self) -> str:
        """``poor`` / ``fair`` / ``good`` (:data:`SNR_BANDS`)."""
        return next(name for bound, name in SNR_BANDS if self.snr < bound)

    def as_dict(self) -> dict:
        """JSON-ready, with the derived heart rate and SNR band (the manifest's ``acquisition`` of a scan)."""
        return {
            **json_ready(dataclasses.asdict(self)),
            "heart_rate_bpm": round(self.heart_rate_bpm, 3),
            "snr_band": self.snr_band,
            "field_of_view_mm": [round(self.rows * self.spacing_mm, 3), round(self.cols * self.spacing_mm, 3)],
        }


EDDY_LENGTH_MM = 100.0


ACQUISITION_STREAM = 2000


HEART_MARGIN_MM = 60.0
"""The LV centre stays this far inside the field of view (the LV and most of the RV stay in it)."""


@dataclasses.dataclass(frozen=True)
class ScanParams:
    """What differs between rescans of one subject: its id, in-plane position and noise."""

    scan_id: str
    rescan: int
    """1-based rescan number."""
    shift_mm: tuple[float, float]
    """In-plane shift of the whole patient in the field of view, image (x, y), mm."""
    noise_seed: int
    acquisition: Acquisition | None = None
    """Drawn per scan (``acquisition="varied"``); ``None``: the config's fixed one."""
    eddy_mm_s: tuple[tuple[float, ...], ...] | None = None
    """(3, 6) eddy currents: per direction (x, y, z) the coefficients of c0 + c1 X + c2 Y + c3 X² + c4 X Y + c5 Y²
    (X, Y = image x, y from the field-of-view centre in units of :data:`EDDY_LENGTH_MM`), the static background
    velocity offset in mm/s; ``None``: none."""

    def acquisition_for(self, subject: SubjectParams, config: PhantomConfig) -> Acquisition:
        """This scan's acquisition: its own, or the config's fixed matrix, venc and frames with the subject's timing."""
        if self.acquisition is not None:
            return self.acquisition
        return fixed_acquisition(subject, self, config)


def fixed_acquisition(subject: SubjectParams, scan: ScanParams, config: PhantomConfig) -> Acquisition:
    """The acquisition every scan of a ``"fixed"`` config shares (with the subject's RR and SNR, the scan's shift)."""
    return Acquisition(
        rows=config.size,
        cols=config.size,
        spacing_mm=config.pixel_spacing_mm,
        frames=config.frames,
        rr_interval_ms=subject.rr_interval_ms,
        venc_cm_s=config.venc_cm_s,
        snr=subject.snr,
        lv_offset_mm=(subject.heart_offset_mm[0] + scan.shift_mm[0], subject.heart_offset_mm[1] + scan.shift_mm[1]),
    )


def _not_multiple_of_16(count: int) -> int:
    return count + 1 if count % 16 == 0 else count


def draw_acquisition(rng: np.random.Generator) -> Acquisition:
    """A varied acquisition (ranges of issue "phantom v2"): spacing 1.3–2.6 mm, non-square matrices that are not
    multiples of 16, any in-plane orientation and LV position, venc 15–30 cm/s in plane and 20–45 through plane,
    50–110 bpm with 30–60 frames, blood SNR 20–140 (log-uniform), planes tilted up to 20°, a coil's shading."""

    def uniform(low: float, high: float) -> float:
        return round(float(rng.uniform(low, high)), 6)

    spacing = uniform(1.3, 2.6)
    width = uniform(200, 300)
    height = width * uniform(0.75, 1.0)
    if rng.random() < 0.5:
        width, height = height, width
    rows, cols = (_not_multiple_of_16(round(extent / spacing)) for extent in (height, width))
    if rows == cols:
        cols = _not_multiple_of_16(cols + 1)
    in_plane, through_plane = float(round(uniform(15, 30))), float(round(uniform(20, 45)))  # whole cm/s, as scanners
    reach = (cols * spacing / 2 - HEART_MARGIN_MM, rows * spacing / 2 - HEART_MARGIN_MM)
    coil_direction = rng.uniform(0, 2 * np.pi)
    coil_distance = 0.6 * max(rows, cols) * spacing
    return Acquisition(
        rows=rows,
        cols=cols,
        spacing_mm=spacing,
        frames=int(rng.integers(30, 61)),
        rr_interval_ms=round(60000.0 / uniform(50, 110), 6),
        venc_cm_s=(in_plane, in_plane, through_plane),
        snr=round(float(np.exp(rng.uniform(np.log(20), np.log(140)))), 6),
        rotation_deg=uniform(0, 360),
        plane_tilt_deg=(uniform(-20, 20), uniform(-20, 20)),
        lv_offset_mm=(uniform(-reach[0], reach[0]), uniform(-reach[1], reach[1])),
        coil=(
            round(float(coil_distance * np.cos(coil_direction)), 6),
            round(float(coil_distance * np.sin(coil_direction)), 6),
            uniform(0.5, 0.9) * max(rows, cols) * spacing,
            uniform(0.3, 0.6),
        ),
    )


def draw_eddy(rng: np.random.Generator) -> tuple[tuple[float, ...], ...]:
    """(3, 6) eddy-current coefficients, mm/s (see :class:`ScanParams`): offset ±3, gradients ±3, curvature ±1.5."""
    bounds = np.array([3.0, 3.0, 3.0, 1.5, 1.5, 1.5])
    return tuple(tuple(round(float(c), 6) for c in rng.uniform(-bounds, bounds)) for _ in range(3))


def draw_scan(seed: int, subject_index: int, rescan_index: int, config: PhantomConfig | None = None) -> ScanParams:
    """The 0-based ``rescan_index`` of subject ``subject_index``: its own position and noise.

    With a ``config`` asking for a varied acquisition or eddy currents, the scan also draws
    its :class:`Acquisition` and eddy currents (from a stream of its own, so position and
    noise seed do not change).
    """
    rng = subject_stream(seed, subject_index, 1 + rescan_index)
    shift = rng.uniform(-8, 8, size=2)
    scan = ScanParams(
        scan_id=f"{subject_id(subject_index)}_scan{rescan_index + 1}",
        rescan=rescan_index + 1,
        shift_mm=(round(float(shift[0]), 6), round(float(shift[1]), 6)),
        noise_seed=int(rng.integers(0, 2**63 - 1)),
    )
    if config is None or (config.acquisition == "fixed" and not config.eddy_currents):
        return scan
    rng = subject_stream(seed, subject_index, ACQUISITION_STREAM + rescan_index)
    return dataclasses.replace(
        scan,
        acquisition=draw_acquisition(rng) if config.acquisition == "varied" else None,
        eddy_mm_s=draw_eddy(rng) if config.eddy_currents else None,
    )
