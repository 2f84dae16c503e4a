"""Myocardium masks from a DICOM SEG, a ``.npz`` (array ``masks``) or a NIfTI file, placed on a series.

NIfTI masks are matched to the series through their affine, not their storage layout:
each voxel axis is identified with an image axis (row direction, column direction or
slice normal, |cos| > 0.99) and flipped where it runs backwards, and each NIfTI slice is
matched to a series slice by its position along the normal (mm). So a mask drawn on a
dcm2niix conversion of the series (rows flipped) lands on the right pixels. The fourth
NIfTI axis is the cardiac frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_hdl.dicom.common import image_axes
from keras_hdl.dicom.elements import is_dicom_file
from keras_hdl.dicom.seg import read_seg_masks
from keras_hdl.errors import InputError
from keras_hdl.io_utils import read_npz
from keras_hdl.series import Series

RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])
SLICE_TOLERANCE_MM = 0.1


def _binary(path: Path, masks: np.ndarray) -> np.ndarray:
    if not np.isin(masks, (0, 1)).all():
        raise InputError(f"{path}: masks must be binary (0/1 or bool)")
    return masks.astype(bool)


def _npz_masks(path: Path, series: Series) -> np.ndarray:
    data = read_npz(path)
    if "masks" not in data:
        raise InputError(f"{path}: no array named 'masks' (found {sorted(data)})")
    masks = data["masks"]
    if masks.shape != series.magnitude.shape:
        raise InputError(f"{path}: masks have shape {masks.shape}, the series (T, S, H, W) = {series.magnitude.shape}")
    return _binary(path, masks)


def _nifti_masks(path: Path, series: Series) -> np.ndarray:
    import nibabel

    try:
        image = nibabel.load(path)
        data = np.asanyarray(image.dataobj)
    except Exception as err:  # nibabel raises many types for unreadable files
        raise InputError(f"{path}: not a readable NIfTI file ({err})") from err
    frames, _, rows, cols = series.magnitude.shape
    if data.ndim != 4:
        raise InputError(f"{path}: expected a 4-D NIfTI (x, y, slice, frame), got shape {data.shape}")
    steps = RAS_TO_LPS @ image.affine[:3, :3]  # voxel step of each axis, LPS mm
    origin = RAS_TO_LPS @ image.affine[:3, 3]
    cosines = image_axes(series.image_orientation) @ (steps / np.linalg.norm(steps, axis=0))  # [image axis, voxel axis]
    axis_of_voxel = np.argmax(np.abs(cosines), axis=0)
    if sorted(axis_of_voxel) != [0, 1, 2] or (np.abs(cosines).max(axis=0) < 0.99).any():
        raise InputError(
            f"{path}: the NIfTI axes do not line up with the series' rows, columns and slice normal "
            f"(cosines {np.round(cosines, 3).tolist()}); resample the masks onto the series first"
        )
    order = [int(np.flatnonzero(axis_of_voxel == a)[0]) for a in range(3)]  # voxel axis of x, y, z
    data = np.transpose(data, [*order, 3])  # (x, y, z, t)
    for a in (0, 1):
        if cosines[a, order[a]] < 0:
            data = np.flip(data, axis=a)
    if data.shape[:2] != (cols, rows) or data.shape[3] != frames:
        raise InputError(
            f"{path}: masks of {data.shape[0]}x{data.shape[1]} pixels and {data.shape[3]} frames do not match the "
            f"series' {cols}x{rows} pixels (columns x rows) and {frames} frames"
        )
    normal = image_axes(series.image_orientation)[2]
    nifti_positions = origin @ normal + np.arange(data.shape[2]) * (steps[:, order[2]] @ normal)
    masks = np.zeros(series.magnitude.shape, bool)
    for k, position in enumerate(nifti_positions):
        match = np.flatnonzero(np.abs(series.slice_positions - position) < SLICE_TOLERANCE_MM)
        if match.size != 1:
            raise InputError(
                f"{path}: NIfTI slice {k} at {position:.2f} mm along the normal matches no slice of the series "
                f"({np.round(series.slice_positions, 2).tolist()} mm)"
            )
        masks[:, match[0]] = _binary(path, np.asarray(data[:, :, k, :])).transpose(2, 1, 0)
    return masks


def read_masks(path: str | Path, series: Series) -> np.ndarray:
    """Masks (T, S, H, W) bool for ``series`` from a DICOM SEG, a ``.npz`` (array ``masks``) or a NIfTI file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    name = path.name.lower()
    if name.endswith(".npz"):
        return _npz_masks(path, series)
    if name.endswith((".nii", ".nii.gz")):
        return _nifti_masks(path, series)
    if is_dicom_file(path):
        return read_seg_masks(path, series)
    raise InputError(f"{path}: masks must be a DICOM SEG, a .npz with an array 'masks', or a NIfTI (.nii/.nii.gz)")
