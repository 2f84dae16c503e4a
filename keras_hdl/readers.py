"""Read a series from whatever a path holds: the one entry point for every command.

``read_series(path)`` picks the reader from what the path holds: a keras-hdl ``.npz``
file, an Enhanced MR multi-frame DICOM file, or a folder of classic MR DICOM files
(:mod:`keras_hdl.dicom`). ``read_masks(path, series)`` reads myocardium masks from a
DICOM SEG, a ``.npz`` (array ``masks``) or a NIfTI file. ``read_with_masks`` makes sure a series carries masks
(given, or its own; :func:`keras_hdl.segmentation.output.with_masks` also segments one that has none).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_hdl.errors import InputError
from keras_hdl.series import Series


def read_series(path: str | Path) -> Series:
    """Read the series stored at ``path``: a keras-hdl ``.npz``, an Enhanced MR file or a classic MR folder.

    A DICOM series comes with the masks of its SEG (inside a classic folder, or a
    ``seg.dcm`` beside the path that references it).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.suffix == ".npz":
        return Series.load_npz(path)
    from keras_hdl.dicom import read_dicom_series
    from keras_hdl.dicom.elements import is_dicom_file

    if path.is_dir() or is_dicom_file(path):
        return read_dicom_series(path)
    raise InputError(
        f"{path}: not DICOM and not a .npz: expected a keras-hdl .npz series, an Enhanced MR DICOM file "
        "or a folder of classic MR DICOM files"
    )


def read_masks(path: str | Path, series: Series) -> np.ndarray:
    """Myocardium masks (T, S, H, W) bool for ``series`` from a DICOM SEG, a ``.npz`` or a NIfTI file."""
    from keras_hdl.dicom.masks import read_masks as read_mask_file

    return read_mask_file(path, series)


def read_with_masks(
    path: str | Path, masks_path: str | Path | None = None, fallback_masks: np.ndarray | None = None
) -> Series:
    """Read a series and make sure it carries myocardium masks (from ``masks_path``, itself, or ``fallback_masks``)."""
    series = read_series(path)
    if masks_path is not None:
        series = series.replace(masks=read_masks(masks_path, series))
    elif series.masks is None and fallback_masks is not None:
        if fallback_masks.shape != series.magnitude.shape:
            raise InputError(
                f"{path}: has no masks of its own and the input's masks {fallback_masks.shape} do not fit its "
                f"images {series.magnitude.shape}; give it masks"
            )
        series = series.replace(masks=fallback_masks)
    if series.masks is None:
        raise InputError(
            f"{path}: no myocardium masks found; pass --masks FILE (a DICOM SEG, a NIfTI, or a .npz with a boolean "
            f"array `masks` of shape (T, S, H, W) = {series.magnitude.shape}), or put a seg.dcm that references "
            "the series beside it"
        )
    return series
