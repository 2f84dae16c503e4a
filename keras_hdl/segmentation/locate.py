"""Find the left ventricle of one short-axis cine slice: a bright, round, beating blood pool in a darker ring.

Method
------
The magnitude frames of a slice are scaled by their robust maximum and smoothed
(Gaussian, σ = 1 mm). At each of :data:`THRESHOLDS` (fractions of that maximum), the
bright connected regions of the frames' maximum (the blood pool at its largest, wherever
the cycle starts) with holes filled (papillary muscles) are LV candidates when they are

- of a plausible size: equivalent radius :data:`MIN_RADIUS_MM` … :data:`MAX_RADIUS_MM`;
- round: the ellipse of their second moments has axes within :data:`MAX_ELONGATION` of
  each other and they fill at least :data:`MIN_FILL` of it (a long-axis view, the RV
  crescent and most non-cardiac structures fail here);
- ringed by darker tissue: the median of a ring 2–6 mm outside is at most
  1 − :data:`MIN_RING_CONTRAST` of the pool's median;
- contained and persistent: the region, followed frame by frame at the same threshold,
  stays within a few mm of its largest outline in most frames (at most
  :data:`MAX_SPILL` of it outside) and overlaps itself from one frame to the next
  (intersection over union ≥ :data:`MIN_FRAME_OVERLAP`; bright noise does neither);
- beating: it changes its area by at least :data:`MIN_AREA_CHANGE` over the cycle (static
  vessels and organs fail);
- moving with its wall: where the slice has phase images, the in-plane speed in that
  ring, averaged over the cycle, is at least :data:`MIN_RING_SPEED_RATIO` times the
  speed of the tissue (not air) beyond twice its radius (the myocardium moves coherently;
  skipped without phase).

The best candidate (largest product of ring contrast, area change and roundness) is the
LV. Its followed region gives the cavity centre of every frame (smoothed over the cycle)
and the blood signal the contour search is scaled with.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from keras_hdl.errors import InputError
from keras_hdl.series import magnitude_scale

THRESHOLDS = (0.35, 0.45, 0.55, 0.65, 0.75, 0.85)
"""Blood-pool thresholds tried, as fractions of the slice's robust maximum (99.5th percentile)."""
SMOOTHING_MM = 1.0
MIN_RADIUS_MM = 6.0
MAX_RADIUS_MM = 45.0
MAX_ELONGATION = 1.6
MIN_FILL = 0.85
MIN_RING_CONTRAST = 0.2
RING_MM = (2.0, 6.0)
MAX_SPILL = 0.2
MIN_FRAME_OVERLAP = 0.6
MIN_AREA_CHANGE = 0.08
MIN_RING_SPEED_RATIO = 1.5
TISSUE_LEVEL = 0.15
"""Pixels brighter than this fraction of the robust maximum (mean over the cycle) are tissue, not air."""
CENTRE_SMOOTHING_FRAMES = 1.0
FOLLOW_REACH_MM = 4.0


@dataclasses.dataclass(frozen=True)
class LeftVentricle:
    """Where the LV is in one slice and how its tissues look.

    Attributes:
        centres: (T, 2) cavity centre per frame, pixel (row, col), smoothed over the cycle.
        cavity_area_mm2: (T,) area of the followed blood pool per frame (papillary muscles included).
        radius_mm: equivalent radius of the blood pool at its largest (end diastole), mm.
        blood_level: median signal of the followed blood pool over the cycle (fraction of the slice's
            robust maximum).
    """

    centres: np.ndarray
    cavity_area_mm2: np.ndarray
    radius_mm: float
    blood_level: float


@dataclasses.dataclass(frozen=True)
class _Candidate:
    score: float
    cavity: np.ndarray
    """(T, H, W) bool the followed pool."""
    blood_level: float


def smoothed_frames(magnitude: np.ndarray, spacing_mm: tuple[float, float]) -> np.ndarray:
    """(T, H, W) magnitude of one slice → the frames over their robust maximum, smoothed in plane."""
    sigma = (0.0, SMOOTHING_MM / spacing_mm[0], SMOOTHING_MM / spacing_mm[1])
    return ndimage.gaussian_filter(np.asarray(magnitude, np.float32) / magnitude_scale(magnitude), sigma)


def _ring(region: np.ndarray, spacing_mm: tuple[float, float]) -> np.ndarray:
    """Pixels 2–6 mm outside ``region`` (H, W) bool."""
    outside = ndimage.distance_transform_edt(~region, sampling=spacing_mm)
    return (outside >= RING_MM[0]) & (outside <= RING_MM[1])


def _shape(region: np.ndarray) -> tuple[float, float]:
    """(elongation, fill) of a region: axis ratio of its moment ellipse, and its area over that ellipse's."""
    rows, cols = np.nonzero(region)
    covariance = np.cov(np.stack([rows, cols]).astype(np.float64)) + np.eye(2) / 12.0
    small, large = np.linalg.eigvalsh(covariance)
    ellipse_area = 4.0 * np.pi * np.sqrt(max(small, 1e-9) * large)
    return float(np.sqrt(large / max(small, 1e-9))), float(rows.size / ellipse_area)


def _label_frames(frames: np.ndarray, threshold: float) -> tuple[np.ndarray, list]:
    """(T, H, W) labels of the regions above ``threshold``, each frame on its own, and their bounding boxes."""
    within_frame = np.zeros((3, 3, 3), bool)
    within_frame[1] = ndimage.generate_binary_structure(2, 1)
    labels = ndimage.label(frames > threshold, structure=within_frame)[0]
    return labels, ndimage.find_objects(labels)


def _filled(labels: np.ndarray, boxes: list, label: int) -> np.ndarray:
    """(H, W) bool: region ``label`` of a (H, W) or (T, H, W) label map with its holes filled (within its box)."""
    box = boxes[label - 1][-2:]
    region = np.zeros(labels.shape[-2:], bool)
    crop = labels[boxes[label - 1]] == label
    region[box] = ndimage.binary_fill_holes(crop.reshape(crop.shape[-2:]))
    return region


def _follow(
    labels: np.ndarray, boxes: list, start: np.ndarray, spacing_mm: tuple[float, float]
) -> tuple[np.ndarray, float]:
    """In each frame, the labelled region overlapping most the previous frame's (from ``start``).

    Regions are cut to within :data:`FOLLOW_REACH_MM` of ``start`` (the pool at its largest):
    what lies further out joined it through noise or a thin wall. Returns the (T, H, W) bool
    regions and the median share of a frame's region that was cut (a pool spills little;
    bright noise spills everywhere).
    """
    reach = ndimage.distance_transform_edt(~start, sampling=spacing_mm) <= FOLLOW_REACH_MM
    followed = np.zeros(labels.shape, bool)
    spilled = np.zeros(labels.shape[0])
    previous = start
    for t in range(labels.shape[0]):
        overlap = labels[t][previous]
        overlap = overlap[overlap > 0]
        if overlap.size:
            region = _filled(labels, boxes, int(np.bincount(overlap).argmax()))
            previous = region & reach
            spilled[t] = 1.0 - previous.sum() / region.sum()
        followed[t] = previous
    return followed, float(np.median(spilled))


def _follow_near(
    frames: np.ndarray, threshold: float, region: np.ndarray, spacing_mm: tuple[float, float]
) -> tuple[np.ndarray, float]:
    """:func:`_follow` from ``region`` at ``threshold``, labelling only a box around it (the reach and a margin)."""
    rows, cols = np.nonzero(region)
    margin = (int(np.ceil(FOLLOW_REACH_MM / spacing_mm[0])) + 2, int(np.ceil(FOLLOW_REACH_MM / spacing_mm[1])) + 2)
    box = (
        slice(max(rows.min() - margin[0], 0), rows.max() + margin[0] + 1),
        slice(max(cols.min() - margin[1], 0), cols.max() + margin[1] + 1),
    )
    followed, spilled = _follow(*_label_frames(frames[:, box[0], box[1]], threshold), region[box], spacing_mm)
    whole = np.zeros(frames.shape, bool)
    whole[:, box[0], box[1]] = followed
    return whole, spilled


def _frame_to_frame_overlap(followed: np.ndarray) -> float:
    """Mean intersection over union of each frame's region (T, H, W) with the next one's (cyclically)."""
    following = np.roll(followed, -1, axis=0)
    union = (followed | following).sum(axis=(1, 2))
    return float(((followed & following).sum(axis=(1, 2)) / np.maximum(union, 1)).mean())


def _ring_speed_ratio(speed: np.ndarray | None, region: np.ndarray, ring: np.ndarray, tissue: np.ndarray) -> float:
    """Median in-plane speed in the ring over that of the tissue far outside the region; inf without phase."""
    if speed is None:
        return np.inf
    far = tissue & (ndimage.distance_transform_edt(~region) > np.sqrt(region.sum() / np.pi))  # beyond 2 radii
    background = np.median(speed[far]) if far.any() else 0.0
    return float(np.median(speed[ring]) / max(background, 1e-6))


def _candidates(
    frames: np.ndarray, spacing_mm: tuple[float, float], speed: np.ndarray | None
) -> tuple[list[_Candidate], list[tuple[int, str]]]:
    """LV candidates of a slice's smoothed frames (T, H, W), and why the others were refused.

    A refusal is (stage, reason): the later the check that refused a region, the higher its
    stage, and the more it looked like an LV.
    """
    pixel_area = spacing_mm[0] * spacing_mm[1]
    min_area, max_area = np.pi * MIN_RADIUS_MM**2, np.pi * MAX_RADIUS_MM**2
    found, refused = [], []
    tissue = frames.mean(axis=0) > TISSUE_LEVEL
    brightest = frames.max(axis=0)  # the blood pool at its largest, wherever the cycle starts
    for threshold in THRESHOLDS:
        labels, count = ndimage.label(brightest > threshold)
        if count == 0:
            continue
        boxes = ndimage.find_objects(labels)
        areas = np.bincount(labels.ravel())[1:] * pixel_area
        for label in np.flatnonzero((areas >= min_area * 0.5) & (areas <= max_area)) + 1:
            region = _filled(labels, boxes, int(label))
            area = region.sum() * pixel_area
            if not min_area <= area <= max_area:
                continue
            elongation, fill = _shape(region)
            if elongation > MAX_ELONGATION or fill < MIN_FILL:
                refused.append((1, f"not round (axis ratio {elongation:.1f}, fill {fill:.2f})"))
                continue
            ring = _ring(region, spacing_mm)
            contrast = 1.0 - float(np.median(brightest[ring]) / np.median(brightest[region]))
            if contrast < MIN_RING_CONTRAST:
                refused.append((2, f"no darker ring around it (contrast {contrast:.2f})"))
                continue
            followed, spilled = _follow_near(frames, threshold, region, spacing_mm)
            if spilled > MAX_SPILL:
                refused.append((3, f"a bright region that spills into its surroundings ({spilled:.0%} of it)"))
                continue
            overlap = _frame_to_frame_overlap(followed)
            if overlap < MIN_FRAME_OVERLAP:
                refused.append(
                    (4, f"a bright region that does not persist from frame to frame (overlap {overlap:.2f})")
                )
                continue
            cavity = followed.sum(axis=(1, 2))
            change = 1.0 - cavity.min() / cavity.max()
            if change < MIN_AREA_CHANGE:
                refused.append((5, f"a round bright region that does not beat (area change {change:.0%})"))
                continue
            speed_ratio = _ring_speed_ratio(speed, region, ring, tissue)
            if speed_ratio < MIN_RING_SPEED_RATIO:
                refused.append((6, f"its ring does not move (speed {speed_ratio:.1f}x the background's)"))
                continue
            score = contrast * min(change / 0.3, 1.0) * fill / elongation
            found.append(_Candidate(score, followed, float(np.median(frames[followed]))))
    return found, refused


def locate_left_ventricle(
    frames: np.ndarray, spacing_mm: tuple[float, float], where: str, speed: np.ndarray | None = None
) -> LeftVentricle:
    """The LV of one slice; an :class:`InputError` naming ``where`` when nothing looks like one.

    Args:
        frames: (T, H, W) :func:`smoothed_frames` of the slice.
        spacing_mm: (row, column) pixel spacing, mm.
        where: the slice, as the error message should name it.
        speed: (H, W) mean in-plane speed over the cycle (any unit), or ``None`` without phase.
    """
    found, refused = _candidates(frames, spacing_mm, speed)
    if not found:
        furthest = max((stage for stage, _ in refused), default=None)
        reason = (
            "; ".join(sorted({text for stage, text in refused if stage == furthest})[:3])
            if refused
            else f"no bright region of {MIN_RADIUS_MM:g}-{MAX_RADIUS_MM:g} mm radius (a blood pool) at any threshold"
        )
        raise InputError(
            f"{where}: no left ventricle found ({reason}); segmentation needs short-axis cine slices through the "
            "LV (a round, bright, beating blood pool in a darker ring of myocardium); segment the others alone "
            "(keras-hdl segment --slices) or give the masks (--masks)"
        )
    best = max(found, key=lambda candidate: candidate.score)
    return _describe(best, spacing_mm)


def _describe(best: _Candidate, spacing_mm: tuple[float, float]) -> LeftVentricle:
    cavity = best.cavity
    area = cavity.sum(axis=(1, 2)).astype(np.float64)
    rows, cols = np.indices(cavity.shape[1:])
    centres = np.stack([(cavity * rows).sum(axis=(1, 2)) / area, (cavity * cols).sum(axis=(1, 2)) / area], axis=-1)
    centres = ndimage.gaussian_filter1d(centres, CENTRE_SMOOTHING_FRAMES, axis=0, mode="wrap")
    pixel_area = spacing_mm[0] * spacing_mm[1]
    return LeftVentricle(
        centres=centres,
        cavity_area_mm2=area * pixel_area,
        radius_mm=float(np.sqrt(area.max() * pixel_area / np.pi)),
        blood_level=best.blood_level,
    )
