"""DICOM in and out for 3Dir MVM series (docs/design.md §3.3).

Per scan, two layouts:

- ``dicom``: ``series.dcm`` (one Enhanced MR Image Storage file: every slice, frame and
  image type) and ``seg.dcm`` (cine DICOM SEG of the myocardium referencing it);
- ``dicom-classic``: ``series/`` (Siemens-style classic MR Image Storage files) and
  ``seg.dcm`` referencing its magnitude images.

:func:`read_dicom_series` reads either (a file or a folder) and attaches the masks of a
SEG inside a classic folder, or of a ``seg.dcm`` beside the path that references it.
"""

from __future__ import annotations

from pathlib import Path

from keras_hdl.dicom.classic import read_classic_frames, read_classic_mr, write_classic_mr
from keras_hdl.dicom.common import SourceFrames
from keras_hdl.dicom.deidentify import Identity, SyntheticInfo
from keras_hdl.dicom.elements import SEG_SOP_CLASS, is_dicom_file, read_dataset, require_mr
from keras_hdl.dicom.enhanced import EnhancedImages, read_enhanced_frames, read_enhanced_mr, read_enhanced_slices
from keras_hdl.dicom.enhanced_writer import write_enhanced_mr
from keras_hdl.dicom.masks import read_masks
from keras_hdl.dicom.seg import read_seg_masks, referenced_series_uids, write_cine_seg
from keras_hdl.errors import InputError
from keras_hdl.io_utils import FrameFile
from keras_hdl.series import Series

SERIES_FILE = "series.dcm"
SERIES_FOLDER = "series"
SEG_FILE = "seg.dcm"

__all__ = [
    "Identity",
    "SyntheticInfo",
    "dicom_classic_scan_writer",
    "dicom_scan_writer",
    "read_classic_mr",
    "read_dicom_frames",
    "read_dicom_series",
    "read_enhanced_header",
    "read_enhanced_mr",
    "read_masks",
    "read_seg_masks",
    "write_cine_seg",
    "write_classic_mr",
    "write_dicom_classic_scan",
    "write_dicom_scan",
    "write_enhanced_mr",
]


def read_dicom_frames(path: str | Path, pixels: bool = True) -> tuple[Series, SourceFrames, list[Path]]:
    """(series, magnitude references for a SEG, SEG files inside a classic folder) of a DICOM file or folder.

    ``pixels=False``: an Enhanced MR file's header only (see :func:`read_enhanced_frames`).
    """
    path = Path(path)
    if path.is_dir():
        return read_classic_frames(path)
    ds = read_dataset(path, stop_before_pixels=True)
    if str(ds.get("SOPClassUID", "")) == SEG_SOP_CLASS:
        raise InputError(f"{path}: a DICOM SEG holds masks, not images; read it with read_masks(path, series)")
    if require_mr(ds, path) == "classic":
        return read_classic_frames(path)
    series, source = read_enhanced_frames(path, pixels, header=ds)
    return series, source, []


def read_dicom_series(path: str | Path) -> Series:
    """Read an Enhanced MR file or a classic MR folder, with the masks of its SEG when there is one."""
    path = Path(path)
    series, _, inner_segs = read_dicom_frames(path)
    return _with_seg(path, series, inner_segs)


def read_enhanced_header(path: str | Path) -> tuple[Series, EnhancedImages]:
    """(header with the masks of a ``seg.dcm`` beside it, images to read slice by slice) of an Enhanced MR file.

    The header is the series without pixels (:func:`~keras_hdl.dicom.enhanced.read_enhanced_slices`).
    """
    series, _, images = read_enhanced_slices(path)
    return _with_seg(Path(path), series, []), images


def _with_seg(path: Path, series: Series, inner_segs: list[Path]) -> Series:
    """``series`` with the masks of its SEG: the one inside a classic folder, or a ``seg.dcm`` beside ``path``."""
    if inner_segs:
        if len(inner_segs) > 1:
            raise InputError(f"{path}: several DICOM SEG files ({[p.name for p in inner_segs]}); keep one")
        return series.replace(masks=read_seg_masks(inner_segs[0], series))
    beside = path.parent / SEG_FILE
    if beside != path and is_dicom_file(beside):
        seg = read_dataset(beside)  # parsed once, with its (small) pixel data, for read_seg_masks too
        if series.provenance["dicom_series_uid"] in referenced_series_uids(seg):
            return series.replace(masks=read_seg_masks(beside, series, seg))
    return series


def _write_seg_for(series: Series, image_path: Path, seg_path: Path) -> None:
    written, source, _ = read_dicom_frames(image_path, pixels=False)  # geometry and references as written
    write_cine_seg(series.masks, written, source, seg_path)


def write_dicom_scan(
    series: Series,
    scan_dir: str | Path,
    *,
    synthetic: SyntheticInfo | None = None,
    patient_id: str | None = None,
    images: tuple[FrameFile, FrameFile] | None = None,
) -> Path:
    """Write ``scan_dir/series.dcm`` (Enhanced MR) and, with masks, ``scan_dir/seg.dcm``; returns ``scan_dir``.

    ``images``: magnitude and phase on disk for a series too big to hold (:func:`write_enhanced_mr`).
    """
    scan_dir = Path(scan_dir)
    scan_dir.mkdir(parents=True, exist_ok=True)
    identity = Identity.new(synthetic, patient_id=patient_id)
    image_path = write_enhanced_mr(series, scan_dir / SERIES_FILE, identity=identity, images=images)
    if series.masks is not None:
        _write_seg_for(series, image_path, scan_dir / SEG_FILE)
    return scan_dir


def write_dicom_classic_scan(
    series: Series, scan_dir: str | Path, *, synthetic: SyntheticInfo | None = None, patient_id: str | None = None
) -> Path:
    """Write ``scan_dir/series/`` (classic MR files) and, with masks, ``scan_dir/seg.dcm``; returns ``scan_dir``."""
    scan_dir = Path(scan_dir)
    scan_dir.mkdir(parents=True, exist_ok=True)
    folder = write_classic_mr(series, scan_dir / SERIES_FOLDER, identity=Identity.new(synthetic, patient_id=patient_id))
    if series.masks is not None:
        _write_seg_for(series, folder, scan_dir / SEG_FILE)
    return scan_dir


def _written(series: Series, image_name: str) -> list[str]:
    return [image_name] if series.masks is None else [image_name, SEG_FILE]


def dicom_scan_writer(series: Series, scan_dir: Path) -> list[str]:
    """The phantom's ``dicom`` format: :func:`write_dicom_scan`; returns the names written in ``scan_dir``."""
    write_dicom_scan(series, scan_dir)
    return _written(series, SERIES_FILE)


def dicom_classic_scan_writer(series: Series, scan_dir: Path) -> list[str]:
    """The phantom's ``dicom-classic`` format: :func:`write_dicom_classic_scan`; returns the names written."""
    write_dicom_classic_scan(series, scan_dir)
    return _written(series, SERIES_FOLDER)
