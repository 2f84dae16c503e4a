"""From a slice's full field of view to the networks' LV crop and back.

The networks were trained on square crops of ``crop_size`` pixels around the LV at
the training data's pixel spacing (:class:`~keras_hdl.model_store.ModelInfo`). For
any input matrix size and spacing, one slice's :class:`LVWindow`:

1. resamples the slice onto the *model grid* (same field of view, the models' pixel
   spacing; bilinear; skipped when the spacings already agree), where pixel (i, j)
   lies at (i · spacing_row, j · spacing_col) mm from the first pixel's centre;
2. crops ``crop_size`` × ``crop_size`` pixels centred on the LV (the centroid of the
   kept frames' myocardium masks) with :func:`keras_hdl.geometry.crop_around`,
   padding where the crop runs past the image;
3. pastes the networks' crops back into the model grid and resamples that onto the
   source pixels. Source pixels outside the crop's footprint come back as NaN, so the
   caller fills them (see :mod:`keras_hdl.synthesis.pipeline`).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from keras_hdl.geometry import crop_around, lv_centre

SPACING_TOLERANCE = 1e-3
"""Relative difference below which two pixel spacings count as equal (no resampling)."""


def same_spacing(first: tuple[float, float], second: tuple[float, float]) -> bool:
    return bool(np.allclose(first, second, rtol=SPACING_TOLERANCE, atol=0))


def _linear_taps(outputs: np.ndarray, size_in: int, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps along one axis: output i (of ``outputs``) samples the input at i · ``step`` (edges extended).

    Returns (lower index, upper index, upper weight), each shaped as ``outputs``; both taps always count as
    touched, so a NaN neighbour makes the output NaN even at zero weight (as scipy's order-1 spline).
    """
    position = outputs * step
    lower = np.floor(position)
    weight = position - lower
    lower = lower.astype(np.int64)
    beyond = lower >= size_in - 1
    weight[beyond] = 0.0
    lower = np.minimum(lower, size_in - 1)
    return lower, np.minimum(lower + 1, size_in - 1), weight


def resample(
    images: np.ndarray,
    from_spacing: tuple[float, float],
    to_spacing: tuple[float, float],
    shape: tuple[int, int],
    region: tuple[slice, slice] | None = None,
) -> np.ndarray:
    """Bilinear resampling of (..., H, W) images from one pixel spacing (mm) to another, output (..., *shape)
    (or only its ``region``, (row slice, column slice) with steps of 1: (..., rows, columns)).

    Output pixel (i, j) samples the input at (i · to_row / from_row, j · to_col / from_col);
    edges are extended. NaN input pixels make every output pixel that touches them NaN.
    Separable (rows, then columns) gathers in float64: the same values as
    ``scipy.ndimage.map_coordinates(order=1, mode="nearest")`` per image, at a fraction of its cost.
    """
    images = np.asarray(images, np.float32)
    out_rows, out_columns = range(shape[0]), range(shape[1])
    if region is not None:
        out_rows, out_columns = out_rows[region[0]], out_columns[region[1]]
    if same_spacing(from_spacing, to_spacing) and images.shape[-2:] == tuple(shape):
        return images[..., out_rows.start : out_rows.stop, out_columns.start : out_columns.stop].copy()
    lower, upper, weight = _linear_taps(np.asarray(out_rows), images.shape[-2], to_spacing[0] / from_spacing[0])
    weight = weight[:, None]
    rows = images[..., lower, :] * (1.0 - weight) + images[..., upper, :].astype(np.float64) * weight
    lower, upper, weight = _linear_taps(np.asarray(out_columns), images.shape[-1], to_spacing[1] / from_spacing[1])
    return (rows[..., lower] * (1.0 - weight) + rows[..., upper] * weight).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class LVWindow:
    """Where the networks' crop lies in one slice.

    Attributes:
        source_shape: (H, W) of the slice, pixels. source_spacing: its (row, column) spacing, mm.
        model_spacing: the networks' (row, column) spacing, mm. crop_size: the crop's side, pixels.
        centre: (row, column) of the LV on the model grid, pixels.
    """

    source_shape: tuple[int, int]
    source_spacing: tuple[float, float]
    model_spacing: tuple[float, float]
    crop_size: int
    centre: tuple[float, float]

    @classmethod
    def around(
        cls,
        masks: np.ndarray,
        source_spacing: tuple[float, float],
        model_spacing: tuple[float, float],
        crop_size: int,
    ) -> LVWindow:
        """The window centred on the centroid of the union of ``masks`` (N, H, W) (the kept frames' myocardium)."""
        row, col = lv_centre(np.asarray(masks))
        scale = np.asarray(source_spacing) / np.asarray(model_spacing)
        return cls(
            source_shape=tuple(masks.shape[-2:]),
            source_spacing=tuple(float(s) for s in source_spacing),
            model_spacing=tuple(float(s) for s in model_spacing),
            crop_size=int(crop_size),
            centre=(float(row * scale[0]), float(col * scale[1])),
        )

    @property
    def model_shape(self) -> tuple[int, int]:
        """(H', W') of the model grid: the same field of view at the model spacing."""
        return tuple(
            max(1, round(size * source / model))
            for size, source, model in zip(self.source_shape, self.source_spacing, self.model_spacing, strict=True)
        )

    def crop(self, images: np.ndarray, fill: float) -> np.ndarray:
        """(..., H, W) source images → (..., C, C) crops on the model grid; ``fill`` where the crop leaves the image."""
        on_model_grid = resample(images, self.source_spacing, self.model_spacing, self.model_shape)
        return crop_around(on_model_grid, self.centre, self.crop_size, fill=fill)

    @functools.cached_property
    def _crop_on_model_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """(flat model-grid index of each crop pixel inside the grid, (C, C) bool: which crop pixels are inside)."""
        height, width = self.model_shape
        flat_index = crop_around(np.arange(height * width).reshape(height, width), self.centre, self.crop_size, -1)
        return flat_index[flat_index >= 0], flat_index >= 0

    @functools.cached_property
    def region(self) -> tuple[slice, slice]:
        """(rows, columns) of the source pixels around the footprint: the bounding box :meth:`paste_region` fills."""
        full = (slice(0, self.source_shape[0]), slice(0, self.source_shape[1]))
        inside = np.isfinite(self._paste(np.zeros((self.crop_size, self.crop_size), np.float32), full))
        rows, columns = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
        if not rows.size:
            return slice(0, 0), slice(0, 0)
        return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(columns[0]), int(columns[-1]) + 1)

    def _paste(self, crops: np.ndarray, region: tuple[slice, slice]) -> np.ndarray:
        crops = np.asarray(crops, np.float32)
        height, width = self.model_shape
        flat_index, inside = self._crop_on_model_grid
        canvas = np.full((*crops.shape[:-2], height * width), np.nan, np.float32)
        canvas[..., flat_index] = crops[..., inside]
        canvas = canvas.reshape(*crops.shape[:-2], height, width)
        return resample(canvas, self.model_spacing, self.source_spacing, self.source_shape, region)

    def paste_region(self, crops: np.ndarray) -> np.ndarray:
        """(..., C, C) crops → (..., rows, columns) on the source pixels of :attr:`region`, NaN outside the
        footprint (what :meth:`paste` gives there, at the cost of the footprint only)."""
        return self._paste(crops, self.region)

    def paste(self, crops: np.ndarray) -> np.ndarray:
        """(..., C, C) crops → (..., H, W) on the source pixels, NaN outside the crop's footprint."""
        pasted = np.full((*np.shape(crops)[:-2], *self.source_shape), np.nan, np.float32)
        pasted[(..., *self.region)] = self.paste_region(crops)
        return pasted

    def footprint(self) -> np.ndarray:
        """(H, W) bool: the source pixels the networks' crop covers."""
        return np.isfinite(self.paste(np.zeros((self.crop_size, self.crop_size), np.float32)))
