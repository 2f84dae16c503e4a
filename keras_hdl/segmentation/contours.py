"""Endo- and epicardial borders of every frame of a slice: a shortest path in a polar unwrap.

Around each frame's cavity centre the smoothed magnitude is resampled on rays
(:data:`ANGLES` angles, every half pixel out to the pool radius + :data:`REACH_MM`) and
rescaled so that the blood pool is 1 and the myocardium 0 (``u``; the myocardium's level
is read on the rays of the frame with the largest pool, :func:`myocardium_level`). Along a ray, a border
pair (endocardium at sample i, wall of w samples) costs, per mm of ray:

- cavity [0, i): :data:`CAVITY_DARK_COST` where dark (papillary muscles and trabeculae are
  allowed inside the cavity but not free);
- wall [i, i + w): 1 where the signal is far from the myocardium's (blood, lung, fat);
- a band :data:`OUTSIDE_BAND_MM` beyond the epicardium: :data:`OUTSIDE_COST` where it still
  looks like myocardium (the wall should end where the tissue changes);
- minus the edge strength at both borders: bright → dark outwards at the endocardium;
  at the epicardium dark → bright (fat, liver, RV blood), or bright → dark only into
  something darker than myocardium (lung, air), so the blur of the endocardial edge
  is not taken for the epicardium when the wall thickens.

Dynamic programming over the angles (1.5 turns, the middle turn kept, so the contour
closes) finds the cheapest pair of borders whose radius and thickness change by at most
one sample per angle. Both borders are then smoothed over the cycle and along the
contour, and the cavity border is replaced by its convex hull, which puts papillary
muscles attached to the wall inside the cavity (the usual convention, and why they are
not myocardium). Each frame gets a confidence: the share of its borders on a visible edge
times their agreement with the smoothed borders.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from keras_hdl.segmentation.locate import LeftVentricle

ANGLES = 96
SAMPLES_PER_PIXEL = 2
MIN_STEP_MM = 0.5
"""Rays are sampled every half pixel, but not finer than this (the search grows with the samples)."""
REACH_MM = 25.0
"""The rays reach this far beyond the end-diastolic pool radius."""
WALL_DEPTH_MM = (2.0, 4.0)
"""The myocardium's signal is read this far beyond the end-diastolic endocardium."""
ENDO_RANGE = (0.55, 1.5)
"""The endocardium lies within these multiples of the frame's pool radius."""
WALL_MM = (3.0, 25.0)
"""Plausible wall thickness, mm."""
CAVITY_DARK_COST = 0.3
OUTSIDE_BAND_MM = 2.0
OUTSIDE_COST = 0.5
MYOCARDIUM_TOLERANCE = 0.5
"""|u| at which a wall sample costs the full 1 (u = 0 myocardium, 1 blood)."""
OUTSIDE_TOLERANCE = 0.25
ENDO_EDGE_MM = 3.0
EPI_EDGE_MM = 2.0
EPI_EDGE_CONTRAST = 0.3
"""A change of u by this much across the epicardium is a full-strength edge."""
MOVE_COST_MM = 0.1
TEMPORAL_SIGMA_FRAMES = 0.7
ANGULAR_SIGMA = 1.0
"""Borders are smoothed over the cycle (frames, wrapping) and along the contour (angles)."""
VISIBLE_ENDO_EDGE = 0.25
VISIBLE_EPI_EDGE = 0.5
"""Edge strengths (endo: change of u; epi: share of EPI_EDGE_CONTRAST) that count as a visible border."""
CONSISTENCY_MM = 1.0
"""Mean distance between a frame's borders and the smoothed ones at which consistency is 1/e."""


@dataclasses.dataclass(frozen=True)
class Borders:
    """Endo- and epicardial borders of one slice, as radii about each frame's centre.

    Attributes:
        centres: (T, 2) pixel (row, col).
        angles: (N,) radians counter-clockwise as displayed from +x.
        endo_mm, epi_mm: (T, N) radii, mm.
        confidence: (T,) in [0, 1].
    """

    centres: np.ndarray
    angles: np.ndarray
    endo_mm: np.ndarray
    epi_mm: np.ndarray
    confidence: np.ndarray

    def polygons(self, frame: int, spacing_mm: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        """(endo, epi) closed polygons of ``frame``, each (N + 1, 2) pixel (row, col)."""
        out = []
        for radii in (self.endo_mm[frame], self.epi_mm[frame]):
            rows = self.centres[frame, 0] - radii * np.sin(self.angles) / spacing_mm[0]
            cols = self.centres[frame, 1] + radii * np.cos(self.angles) / spacing_mm[1]
            polygon = np.stack([rows, cols], axis=-1)
            out.append(np.concatenate([polygon, polygon[:1]]))
        return out[0], out[1]


def _unwrap(frames: np.ndarray, centres: np.ndarray, spacing_mm, step_mm: float, samples: int) -> np.ndarray:
    """(T, N, R) the frames (T, H, W) sampled on rays from each frame's centre, every ``step_mm``."""
    angles = 2.0 * np.pi * np.arange(ANGLES) / ANGLES
    radii = np.arange(samples) * step_mm
    rows = centres[:, 0, None, None] - np.sin(angles)[None, :, None] * radii / spacing_mm[0]
    cols = centres[:, 1, None, None] + np.cos(angles)[None, :, None] * radii / spacing_mm[1]
    frame_index = np.broadcast_to(np.arange(frames.shape[0])[:, None, None], rows.shape)
    coordinates = np.stack([frame_index, rows, cols]).reshape(3, -1)
    return ndimage.map_coordinates(frames, coordinates, order=1, mode="nearest").reshape(rows.shape)


def _edges(u: np.ndarray, reach: int) -> np.ndarray:
    """(..., R) change of u across the boundary before each sample: mean of ``reach`` samples after − before."""
    padded = np.pad(u, [(0, 0)] * (u.ndim - 1) + [(reach, reach)], mode="edge")
    cumulative = np.concatenate([np.zeros((*u.shape[:-1], 1)), np.cumsum(padded, axis=-1)], axis=-1)
    samples = u.shape[-1]
    index = np.arange(samples) + reach
    after = cumulative[..., index + reach] - cumulative[..., index]
    before = cumulative[..., index] - cumulative[..., index - reach]
    return (after - before) / reach


def _cheapest_shift(values: np.ndarray, axis: int, move_cost: float) -> tuple[np.ndarray, np.ndarray]:
    """Over shifts d ∈ {−1, 0, 1} along ``axis``: min of values[i + d] + move_cost·|d|, and d + 1 (int8)."""
    stay = np.moveaxis(values, axis, -1)
    before = np.full_like(stay, np.inf)
    before[..., 1:] = stay[..., :-1] + move_cost
    after = np.full_like(stay, np.inf)
    after[..., :-1] = stay[..., 1:] + move_cost
    best = np.minimum(np.minimum(before, stay), after)
    choice = np.where(before == best, 0, np.where(stay == best, 1, 2)).astype(np.int8)
    return np.moveaxis(best, -1, axis), np.moveaxis(choice, -1, axis)


def _shortest_closed_paths(unary: np.ndarray, move_cost: float) -> tuple[np.ndarray, np.ndarray]:
    """Cheapest closed path through states (k, w) over the angles, for every frame at once.

    Each step may change k and w by −1, 0 or 1 (cost ``move_cost`` per unit); the minimum
    over the nine moves is taken as two separable minima (over w, then over k).

    Args:
        unary: (T, N, K, W) cost of each state at each angle.
    Returns:
        ``(k, w)``, each (T, N) int: the state at each angle.
    """
    frames, angles, states_k, states_w = unary.shape
    pad = angles // 4
    order = np.concatenate([np.arange(angles - pad, angles), np.arange(angles), np.arange(pad)])
    choice_w = np.empty((order.size, frames, states_k, states_w), np.int8)
    choice_k = np.empty((order.size, frames, states_k, states_w), np.int8)
    total = unary[:, order[0]]
    for step, angle in enumerate(order[1:], start=1):
        over_w, choice_w[step] = _cheapest_shift(total, 2, move_cost)
        total, choice_k[step] = _cheapest_shift(over_w, 1, move_cost)
        total = total + unary[:, angle]
    k, w = np.unravel_index(np.argmin(total.reshape(frames, -1), axis=1), (states_k, states_w))
    path_k = np.empty((order.size, frames), np.intp)
    path_w = np.empty((order.size, frames), np.intp)
    frame_index = np.arange(frames)
    for step in range(order.size - 1, -1, -1):
        path_k[step], path_w[step] = k, w
        if step:
            k = k + choice_k[step, frame_index, k, w] - 1
            w = w + choice_w[step, frame_index, k, w] - 1
    middle = slice(pad, pad + angles)
    return path_k[middle].T, path_w[middle].T


def convex_radii(angles: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """(..., N) radii of the convex hull of the star-shaped polygon ``radii`` (..., N) at ``angles`` (N,).

    Every vertex inside the chord of its neighbours is raised onto it, pass after pass (at
    most 2N): the radii approach the hull of the sampled polygon from inside (to within a
    few µm across a papillary muscle's notch).
    """
    radii = np.array(radii, np.float64)
    step = angles[1] - angles[0]
    for _ in range(2 * angles.size):
        before, after = np.roll(radii, 1, axis=-1), np.roll(radii, -1, axis=-1)
        # radius where the chord between the neighbours crosses this vertex's ray
        chord = before * after * np.sin(2 * step) / (before * np.sin(step) + after * np.sin(step))
        raised = np.maximum(radii, chord)
        if np.allclose(raised, radii, atol=1e-6):
            break
        radii = raised
    return radii


def myocardium_level(rays: np.ndarray, pool_radius_mm: float, step_mm: float, reach: int) -> float:
    """The myocardium's signal: median over the end-diastolic rays (N, R) of the signal just inside the wall.

    On each ray the endocardium is where the signal falls fastest within
    :data:`ENDO_RANGE` of the pool radius, and the wall is read :data:`WALL_DEPTH_MM` beyond
    it: past the blur of the border, short of the thinnest wall. Rays where something else
    falls faster are a minority, so the median ignores them.
    """
    low, high = (int(factor * pool_radius_mm / step_mm) for factor in ENDO_RANGE)
    edge = low + np.argmin(_edges(rays, reach)[:, low:high], axis=1)  # (N,)
    depth = np.arange(*(round(mm / step_mm) for mm in WALL_DEPTH_MM))
    inside = np.clip(edge[:, None] + np.maximum(depth, 1)[None, :], 0, rays.shape[1] - 1)
    return float(np.median(np.take_along_axis(rays, inside, axis=1).mean(axis=1)))


def find_borders(frames: np.ndarray, lv: LeftVentricle, spacing_mm: tuple[float, float]) -> Borders:
    """Endo- and epicardial borders of every frame of one slice (see module docstring).

    Args:
        frames: (T, H, W) smoothed magnitude over the slice's robust maximum
            (:func:`keras_hdl.segmentation.locate.smoothed_frames`).
        lv: the slice's LV (centres, pool size, blood level).
        spacing_mm: (row, column) pixel spacing, mm.
    """
    step = max(min(spacing_mm) / SAMPLES_PER_PIXEL, MIN_STEP_MM)
    pool_radius = np.sqrt(lv.cavity_area_mm2 / np.pi)  # (T,)
    first = np.floor(ENDO_RANGE[0] * pool_radius / step).astype(int)  # (T,)
    states_k = int(np.ceil((ENDO_RANGE[1] - ENDO_RANGE[0]) * pool_radius.max() / step))
    w_low, w_high = (round(mm / step) for mm in WALL_MM)
    band = max(1, round(OUTSIDE_BAND_MM / step))
    samples = int(first.max() + states_k + w_high + band + 2)
    samples = max(samples, int((lv.radius_mm + REACH_MM) / step))

    polar = _unwrap(frames, lv.centres, spacing_mm, step, samples)
    reach = max(1, round(min(spacing_mm) / step))
    largest = int(np.argmax(pool_radius))  # end diastole
    myocardium = myocardium_level(polar[largest], pool_radius[largest], step, reach)
    u = (polar - myocardium) / max(lv.blood_level - myocardium, 1e-6)
    edge = _edges(u, reach)
    cavity = CAVITY_DARK_COST * np.clip((0.5 - u) / 0.5, 0.0, 1.0) * step
    wall = np.clip(np.abs(u) / MYOCARDIUM_TOLERANCE, 0.0, 1.0) * step
    outside = OUTSIDE_COST * np.clip(1.0 - np.abs(u) / OUTSIDE_TOLERANCE, 0.0, 1.0) * step
    endo_edge = np.clip(-edge, 0.0, 1.0)
    beyond = np.concatenate([u[..., reach:], np.repeat(u[..., -1:], reach, axis=-1)], axis=-1)
    falls_below_wall = beyond < -EPI_EDGE_CONTRAST
    epi_edge = np.clip(np.where(falls_below_wall, np.abs(edge), edge) / EPI_EDGE_CONTRAST, 0.0, 1.0)

    def before(cost: np.ndarray, offset: int = 0) -> np.ndarray:
        """(T, N, R): the sum of ``cost`` over the samples before each sample (+ ``offset``)."""
        total = np.concatenate([np.zeros((*cost.shape[:-1], 1)), np.cumsum(cost, axis=-1)], axis=-1)
        return np.concatenate([total[..., offset:], np.repeat(total[..., -1:], offset, axis=-1)], axis=-1)[..., :-1]

    # A pair's cost = terms of its endocardial sample i + terms of its epicardial sample i + w_low + w.
    endo_terms = before(cavity) - before(wall) - ENDO_EDGE_MM * endo_edge  # (T, N, R)
    epi_terms = before(wall) + before(outside, band) - before(outside) - EPI_EDGE_MM * epi_edge
    epi_windows = np.lib.stride_tricks.sliding_window_view(epi_terms, w_high - w_low + 1, axis=-1)
    unary = np.stack(
        [
            endo_terms[t, :, first[t] : first[t] + states_k, None]
            + epi_windows[t, :, first[t] + w_low : first[t] + w_low + states_k]
            for t in range(frames.shape[0])
        ]
    ).astype(np.float32)  # (T, N, K, W)
    path_k, path_w = _shortest_closed_paths(unary, MOVE_COST_MM)
    endo_samples = first[:, None] + path_k  # (T, N)
    epi_samples = endo_samples + w_low + path_w

    endo_raw = (endo_samples - 0.5) * step
    epi_raw = (epi_samples - 0.5) * step
    smoothing = (TEMPORAL_SIGMA_FRAMES, ANGULAR_SIGMA)
    endo = ndimage.gaussian_filter(endo_raw, smoothing, mode="wrap")
    epi = ndimage.gaussian_filter(epi_raw, smoothing, mode="wrap")
    angles = 2.0 * np.pi * np.arange(ANGLES) / ANGLES
    endo = convex_radii(angles, endo)
    epi = np.maximum(epi, endo + WALL_MM[0])

    frame_rows = np.arange(frames.shape[0])[:, None]
    angle_cols = np.arange(ANGLES)[None, :]
    support = 0.5 * (
        (endo_edge[frame_rows, angle_cols, endo_samples] >= VISIBLE_ENDO_EDGE).mean(axis=1)
        + (epi_edge[frame_rows, angle_cols, epi_samples] >= VISIBLE_EPI_EDGE).mean(axis=1)
    )
    deviation = 0.5 * (np.abs(endo_raw - endo).mean(axis=1) + np.abs(epi_raw - epi).mean(axis=1))
    confidence = support * np.exp(-deviation / CONSISTENCY_MM)
    return Borders(lv.centres, angles, endo, epi, confidence)


def rasterize(borders: Borders, shape: tuple[int, int], spacing_mm: tuple[float, float]) -> np.ndarray:
    """(T, H, W) bool myocardium: pixel centres between the endo- and epicardial borders."""
    frames = borders.endo_mm.shape[0]
    masks = np.zeros((frames, *shape), bool)
    reach = borders.epi_mm.max()
    rows_all, cols_all = np.arange(shape[0]), np.arange(shape[1])
    for t in range(frames):
        centre_row, centre_col = borders.centres[t]
        rows = rows_all[np.abs(rows_all - centre_row) * spacing_mm[0] <= reach + spacing_mm[0]]
        cols = cols_all[np.abs(cols_all - centre_col) * spacing_mm[1] <= reach + spacing_mm[1]]
        if rows.size == 0 or cols.size == 0:
            continue
        x = (cols[None, :] - centre_col) * spacing_mm[1]
        up = (centre_row - rows[:, None]) * spacing_mm[0]
        radius = np.hypot(x, up)
        position = np.mod(np.arctan2(up, x), 2.0 * np.pi) / (2.0 * np.pi) * ANGLES
        low = np.floor(position).astype(int) % ANGLES
        high = (low + 1) % ANGLES
        fraction = position - np.floor(position)
        endo = borders.endo_mm[t, low] * (1 - fraction) + borders.endo_mm[t, high] * fraction
        epi = borders.epi_mm[t, low] * (1 - fraction) + borders.epi_mm[t, high] * fraction
        masks[t, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] = (radius > endo) & (radius <= epi)
    return masks
