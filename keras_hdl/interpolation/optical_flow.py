"""Horn–Schunck optical-flow interpolation baseline (docs/design.md §2.1), numpy/scipy, vectorised over frames.

The flow between the two kept magnitudes is computed both ways (coarse to fine), each
kept frame's image and mask is warped to the target's position along its scaled flow,
and the two estimates are blended by the target's position in the gap.

Flow convention: ``flow[..., 0]`` is the displacement along x (columns) and
``flow[..., 1]`` along y (rows), in pixels, such that ``first(p) ≈ second(p + flow(p))``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from keras_hdl.errors import InputError
from keras_hdl.interpolation.plan import gap_fractions

_NEIGHBOUR_AVERAGE = np.array([[1, 2, 1], [2, 0, 2], [1, 2, 1]], np.float32)[None] / 12.0


def warp(images: np.ndarray, displacement: np.ndarray) -> np.ndarray:
    """Sample images (N, H, W) at p + displacement(p), bilinear, edges extended; displacement (N, H, W, 2)."""
    n, height, width = images.shape
    frame, rows, cols = np.meshgrid(np.arange(n), np.arange(height), np.arange(width), indexing="ij")
    coordinates = np.stack([frame, rows + displacement[..., 1], cols + displacement[..., 0]])
    return ndimage.map_coordinates(images, coordinates, order=1, mode="nearest").astype(np.float32)


def _horn_schunck_increment(first: np.ndarray, second: np.ndarray, smoothness: float, iterations: int) -> np.ndarray:
    """One pyramid level of Horn–Schunck: flow (N, H, W, 2) taking ``first`` to ``second``."""
    grad_y = 0.5 * (np.gradient(first, axis=1) + np.gradient(second, axis=1))
    grad_x = 0.5 * (np.gradient(first, axis=2) + np.gradient(second, axis=2))
    grad_t = second - first
    denominator = smoothness**2 + grad_x**2 + grad_y**2
    u = np.zeros_like(first)
    v = np.zeros_like(first)
    for _ in range(iterations):
        u_mean = ndimage.convolve(u, _NEIGHBOUR_AVERAGE, mode="nearest")
        v_mean = ndimage.convolve(v, _NEIGHBOUR_AVERAGE, mode="nearest")
        residual = (grad_x * u_mean + grad_y * v_mean + grad_t) / denominator
        u = u_mean - grad_x * residual
        v = v_mean - grad_y * residual
    return np.stack([u, v], axis=-1)


def _half_size(images: np.ndarray) -> np.ndarray:
    """Blur then halve (N, H, W) images: one pyramid step."""
    return ndimage.zoom(ndimage.gaussian_filter(images, (0, 1, 1)), (1, 0.5, 0.5), order=1)


def horn_schunck_flow(
    first: np.ndarray, second: np.ndarray, smoothness: float = 0.1, iterations: int = 100, levels: int = 3
) -> np.ndarray:
    """Coarse-to-fine Horn–Schunck flow (N, H, W, 2) from ``first`` to ``second``, both (N, H, W).

    Args:
        smoothness: α, the weight of the flow smoothness term (in image-intensity units).
        iterations: Jacobi iterations per pyramid level.
        levels: pyramid levels (each halves the size); 1 = single scale.
    """
    first = np.asarray(first, np.float32)
    second = np.asarray(second, np.float32)
    if first.shape != second.shape or first.ndim != 3:
        raise InputError(
            f"horn_schunck_flow: expected two (N, H, W) stacks of one shape, got {first.shape}, {second.shape}"
        )
    pyramid = [(first, second)]
    for _ in range(levels - 1):
        a, b = pyramid[-1]
        if min(a.shape[1:]) < 16:
            break
        pyramid.append(
            tuple(ndimage.zoom(ndimage.gaussian_filter(x, (0, 1, 1)), (1, 0.5, 0.5), order=1) for x in (a, b))
        )
    flow = np.zeros((*pyramid[-1][0].shape, 2), np.float32)
    for level_first, level_second in reversed(pyramid):
        if flow.shape[1:3] != level_first.shape[1:]:
            scale = np.array(level_first.shape[1:]) / np.array(flow.shape[1:3])
            flow = ndimage.zoom(flow, (1, *scale, 1), order=1) * np.float32(scale.mean())
        warped = warp(level_second, flow)
        flow = flow + _horn_schunck_increment(level_first, warped, smoothness, iterations)
    return flow


class HornSchunckInterpolator:
    """Warp both kept frames (images and masks) along their scaled Horn–Schunck flows and blend them."""

    name = "horn-schunck"

    def __init__(self, smoothness: float = 0.1, iterations: int = 100, levels: int = 3) -> None:
        if smoothness <= 0 or iterations < 1 or levels < 1:
            raise InputError(
                f"HornSchunckInterpolator: need smoothness > 0, iterations >= 1, levels >= 1; "
                f"got {smoothness}, {iterations}, {levels}"
            )
        self.smoothness = smoothness
        self.iterations = iterations
        self.levels = levels

    def interpolate(
        self,
        start: np.ndarray,
        end: np.ndarray,
        start_mask: np.ndarray,
        end_mask: np.ndarray,
        positions: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        weight = gap_fractions(positions)[:, None, None, None].astype(np.float32)
        start, end = np.asarray(start, np.float32), np.asarray(end, np.float32)
        # Targets of one gap share its kept frames: compute each distinct pair's flows once.
        pairs = np.concatenate([start.reshape(len(start), -1), end.reshape(len(end), -1)], axis=1)
        _, first, inverse = np.unique(pairs, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        forward = horn_schunck_flow(start[first], end[first], self.smoothness, self.iterations, self.levels)[inverse]
        backward = horn_schunck_flow(end[first], start[first], self.smoothness, self.iterations, self.levels)[inverse]
        # The target at p came from start at p − w·forward(p) and from end at p − (1 − w)·backward(p).
        to_start, to_end = -weight * forward, -(1 - weight) * backward
        weight = weight[..., 0]
        magnitude = (1 - weight) * warp(start, to_start) + weight * warp(end, to_end)
        mask = (1 - weight) * warp(np.asarray(start_mask, np.float32), to_start) + weight * warp(
            np.asarray(end_mask, np.float32), to_end
        )
        return magnitude, np.clip(mask, 0.0, 1.0)
