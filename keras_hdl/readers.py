"""Read a series from whatever a path holds: the one entry point for every command.

``read_series(path)`` picks the reader from what the path holds: a keras-hdl ``.npz``
file, an Enhanced MR multi-frame DICOM file, or a folder of classic MR DICOM files
(:mod:`keras_hdl.dicom`). ``read_masks(path, series)`` reads myocardium masks from a
DICOM SEG, a ``.npz`` (array ``masks``) or a NIfTI file (:func:`keras_hdl.segmentation.output.with_masks` attaches
them, or segments a series that has none). ``read_slices(path)`` reads a series one slice at a time.
"""

from __future__ import annotations

import dataclasses
import zipfile
from collections.abc import Callable
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


def read_without_phase(path: str | Path) -> Series:
    """The series at ``path`` without its phase images (what synthesis reads): a ``.npz``'s phase is not read, an
    Enhanced MR file's is read slice by slice and dropped (:func:`read_slices`); other series are read whole."""
    path = Path(path)
    if path.suffix == ".npz" and path.is_file():
        return Series.load_npz(path, phase=False)
    return read_slices(path).with_magnitude().replace(phase=None)


def read_masks(path: str | Path, series: Series) -> np.ndarray:
    """Myocardium masks (T, S, H, W) bool for ``series`` from a DICOM SEG, a ``.npz`` or a NIfTI file."""
    from keras_hdl.dicom.masks import read_masks as read_mask_file

    return read_mask_file(path, series)


@dataclasses.dataclass(frozen=True)
class SeriesSlices:
    """A series read one slice at a time.

    ``header``: the series' geometry, venc and masks; when ``streamed``, its magnitude is a zero
    placeholder and it has no phase, and ``read_slice(s)`` reads slice s's (magnitude (T, H, W), raw
    phase (T, 3, H, W) or None) from the file; otherwise ``header`` is the whole series in memory.
    """

    header: Series
    read_slice: Callable[[int], tuple[np.ndarray, np.ndarray | None]]
    streamed: bool

    @classmethod
    def in_memory(cls, series: Series) -> SeriesSlices:
        """Slices of a series already in memory (views)."""
        return cls(
            series, lambda s: (series.magnitude[:, s], None if series.phase is None else series.phase[:, s]), False
        )

    def slice_series(self, index: int) -> Series:
        """Slice ``index`` as a one-slice :class:`Series` (T, 1, H, W), with its masks and position."""
        magnitude, phase = self.read_slice(index)
        header = self.header
        return header.replace(
            magnitude=magnitude[:, None],
            phase=None if phase is None else phase[:, None],
            masks=None if header.masks is None else header.masks[:, index : index + 1],
            image_positions=header.image_positions[index : index + 1],
        )

    def with_magnitude(self) -> Series:
        """The header with the whole magnitude (T, S, H, W), read slice by slice when streamed."""
        if not self.streamed:
            return self.header
        magnitude = np.stack([self.read_slice(s)[0] for s in range(self.header.num_slices)], axis=1)
        return self.header.replace(magnitude=magnitude)

    def with_masks(self, path: str | Path, fallback_masks: np.ndarray | None = None) -> SeriesSlices:
        """These slices (read from ``path``), their header with its own masks or ``fallback_masks``; else an error."""
        header = self.header
        if header.masks is None and fallback_masks is not None:
            if fallback_masks.shape != header.magnitude.shape:
                raise InputError(
                    f"{path}: has no masks of its own and the input's masks {fallback_masks.shape} do not fit its "
                    f"images {header.magnitude.shape}; give it masks"
                )
            header = header.replace(masks=fallback_masks)
        if header.masks is None:
            raise InputError(
                f"{path}: no myocardium masks found; pass --masks FILE (a DICOM SEG, a NIfTI, or a .npz with a boolean "
                f"array `masks` of shape (T, S, H, W) = {header.magnitude.shape}), or put a seg.dcm that references "
                "the series beside it"
            )
        return dataclasses.replace(self, header=header)


def streams_slices(path: str | Path) -> bool:
    """True when :func:`read_slices` reads the series at ``path`` slice by slice: a ``.npz`` or an Enhanced MR file."""
    path = Path(path)
    if not path.is_file():
        return False
    if path.suffix == ".npz":
        return True
    from keras_hdl.dicom.elements import MR_SOP_CLASSES, is_dicom_file

    if not is_dicom_file(path):
        return False
    import pydicom

    try:
        sop_class = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"]).get("SOPClassUID")
    except Exception:  # a damaged header (any of pydicom's errors): the reader names it properly
        return False
    return MR_SOP_CLASSES.get(str(sop_class)) == "enhanced"


def read_slices(path: str | Path) -> SeriesSlices:
    """The series at ``path`` (with the masks of a ``seg.dcm`` beside a DICOM file) to read slice by slice.

    An Enhanced MR file is read from the file, a ``.npz`` from a copy of its images split by slice into a
    temporary folder (its arrays are compressed: one pass, frame by frame): the memory of one slice at a time.
    Anything else is read whole (:func:`read_series`).
    """
    path = Path(path)
    if not streams_slices(path):
        return SeriesSlices.in_memory(read_series(path))
    if path.suffix == ".npz":
        return _npz_slices(path)
    from keras_hdl.dicom import read_enhanced_header

    header, images = read_enhanced_header(path)
    return SeriesSlices(header, images.read_slice, True)


def _npz_slices(path: Path) -> SeriesSlices:
    header = Series.load_npz(path, phase=False, magnitude=False)
    return SeriesSlices(header, _SplitNpz(path, header).read_slice, True)


class _SplitNpz:
    """The images of a ``.npz`` split by slice into a temporary folder (removed with this object), read in one
    pass frame by frame."""

    def __init__(self, path: Path, header: Series) -> None:
        import tempfile

        from keras_hdl.io_utils import FrameFile, iter_npz_frames, npz_array_header

        self.folder = tempfile.TemporaryDirectory(prefix="keras-hdl-slices-")
        frames, slices, rows, cols = header.magnitude.shape
        with zipfile.ZipFile(path) as archive:
            names = ("magnitude", "phase") if "phase.npy" in archive.namelist() else ("magnitude",)
        self.split: dict[str, list[FrameFile]] = {}
        for name in names:
            expected = (frames, slices, 3, rows, cols) if name == "phase" else (frames, slices, rows, cols)
            shape = npz_array_header(path, name)[0]
            if shape != expected:
                raise InputError(f"{path}: {name} has shape {shape}, expected (T, S, ...) = {expected}")
            files = [FrameFile(Path(self.folder.name) / f"{name}{s}", expected[2:]) for s in range(slices)]
            for frame in iter_npz_frames(path, name):
                for s, file in enumerate(files):
                    file.append(frame[s])
            self.split[name] = files

    def read_slice(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(magnitude (T, H, W), raw phase (T, 3, H, W) or None) float32 of slice ``index``."""
        phase = self.split["phase"][index].read() if "phase" in self.split else None
        return self.split["magnitude"][index].read(), phase
