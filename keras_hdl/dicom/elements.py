"""Reading DICOM elements safely: parse a file, read and range-check each value the readers use.

A value outside :data:`PLAUSIBLE`, a missing required element, undecodable bytes or pixel data
that does not match the image attributes is an :class:`~keras_hdl.errors.InputError` naming the
file and the element: damage, not data. Also: which files are MR images (or a SEG).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    EnhancedMRImageStorage,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MRImageStorage,
    SegmentationStorage,
)

from keras_hdl.errors import InputError
from keras_hdl.series import (
    MAX_PIXEL_SPACING_MM,
    MAX_POSITION_MM,
    MAX_RR_MS,
    MAX_VENC_CM_S,
)

MR_SOP_CLASSES = {MRImageStorage: "classic", EnhancedMRImageStorage: "enhanced"}


SEG_SOP_CLASS = SegmentationStorage


PLAUSIBLE = {
    "PixelSpacing": (1e-3, MAX_PIXEL_SPACING_MM),
    "ImagePositionPatient": (-MAX_POSITION_MM, MAX_POSITION_MM),
    "ImageOrientationPatient": (-1.0001, 1.0001),  # direction cosines
    "VelocityEncodingDirection": (-1e3, 1e3),  # a direction, normalised by the reader
    "VelocityEncodingMinimumValue": (-MAX_VENC_CM_S, MAX_VENC_CM_S),
    "VelocityEncodingMaximumValue": (-MAX_VENC_CM_S, MAX_VENC_CM_S),
    "RescaleSlope": (-1e6, 1e6),
    "RescaleIntercept": (-1e9, 1e9),
    "TriggerTime": (-1e6, 1e6),  # ms
    "NominalInterval": (0.0, MAX_RR_MS),
    "HeartRate": (0.0, 1000.0),  # beats per minute
    "RRIntervalTimeNominal": (0.0, MAX_RR_MS),
    "CardiacRRIntervalSpecified": (0.0, MAX_RR_MS),
}
"""Range (low, high) of every number the readers use: a value outside is damage, not data (e.g. 10⁹ mm pixels)."""


MAX_MATRIX = 8192
"""Rows and columns of an image at most (MR matrices are at most 1024)."""


MAX_FRAMES = 1_000_000


PIXEL_DATA_TAG = 0x7FE00010


UNCOMPRESSED = {ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian}


LITTLE_ENDIAN = {ExplicitVRLittleEndian, ImplicitVRLittleEndian}


UNDECODABLE = (
    BytesLengthException,
    NotImplementedError,
    ValueError,
    TypeError,
    KeyError,
    OverflowError,
    struct.error,
    OSError,
    EOFError,
)
"""What pydicom raises when an element's bytes cannot be decoded (unknown VR, bad DS/IS text, short values)."""


def _decode_elements(ds: Dataset, path: Path, where: str = "") -> None:
    """Decode every element of ``ds`` (sequences included) now, so damage is named here and not met later."""
    for tag in list(ds.keys()):
        try:
            element = ds[tag]
            value = element.value
        except UNDECODABLE as err:
            raise InputError(f"{path}: element {where}{tag} cannot be decoded ({err}); the file is damaged") from err
        if element.VR == "SQ":
            for index, item in enumerate(value):
                _decode_elements(item, path, f"{where}{tag}[{index + 1}].")


def read_dataset(path: Path, stop_before_pixels: bool = False) -> Dataset:
    """Read one DICOM file, every element decoded; anything not readable becomes an :class:`InputError` naming it."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=stop_before_pixels)
    except (FileNotFoundError, PermissionError, IsADirectoryError) as err:
        raise InputError(f"{path}: cannot be read ({err})") from err
    except (InvalidDicomError, *UNDECODABLE) as err:
        raise InputError(f"{path}: not a DICOM file or a damaged one ({err}); point at a DICOM file or folder") from err
    _decode_elements(ds, path)
    return ds


def numbers(item: Dataset, keyword: str, count: int, where: str) -> np.ndarray:
    """The ``count`` values of ``keyword`` in ``item`` as float64, checked against :data:`PLAUSIBLE`.

    An :class:`InputError` starting with ``where`` (the file, and frame) when the element is
    missing, holds another number of values, or a value that is not a finite number in range.
    """
    value = item.get(keyword)
    if value is None or value == "":
        raise InputError(f"{where}: {keyword} is missing; the file is incomplete or damaged")
    raw = list(value) if isinstance(value, list | tuple | pydicom.multival.MultiValue) else [value]
    if len(raw) != count:
        raise InputError(f"{where}: {keyword} holds {len(raw)} value(s) {raw}, expected {count}; the file is damaged")
    try:
        array = np.array([float(v) for v in raw], np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(f"{where}: {keyword} {raw} is not numeric") from err
    low, high = PLAUSIBLE.get(keyword, (-np.inf, np.inf))
    if not np.isfinite(array).all() or (array < low).any() or (array > high).any():
        raise InputError(
            f"{where}: {keyword} {array.tolist()} is implausible (not finite in [{low:g}, {high:g}]); the file is "
            "damaged or its header was written wrongly"
        )
    return array


def number(item: Dataset, keyword: str, where: str, default: float | None = None) -> float | None:
    """One value of ``keyword`` (see :func:`numbers`), or ``default`` when the element is absent or empty."""
    if item.get(keyword) in (None, ""):
        return default
    return float(numbers(item, keyword, 1, where)[0])


def integer(item: Dataset, keyword: str, where: str, low: int = 0, high: int = 2**31) -> int:
    """One whole number of ``keyword`` in [``low``, ``high``]; an :class:`InputError` otherwise."""
    value = numbers(item, keyword, 1, where)[0]
    if value != round(value) or not low <= value <= high:
        raise InputError(f"{where}: {keyword} {value:g} is not a whole number in [{low}, {high}]")
    return int(value)


def text(item: Dataset, keyword: str, where: str) -> str:
    """The non-empty text value of ``keyword`` (a UID, a code string); an :class:`InputError` when absent."""
    value = item.get(keyword)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: {keyword} is missing or not one text value ({value!r})")
    return value.strip()


def sequence(item: Dataset, keyword: str, where: str) -> DicomSequence:
    """The items of sequence ``keyword`` (empty when absent); an :class:`InputError` when it is not a sequence."""
    value = item.get(keyword)
    if value is None or value == b"":
        return DicomSequence([])
    if not isinstance(value, DicomSequence):
        raise InputError(f"{where}: {keyword} is not a sequence of items (the file is damaged)")
    return value


def group_item(frame: Dataset, shared: Dataset, keyword: str, where: str) -> Dataset | None:
    """The first item of functional group ``keyword`` of one frame: per-frame first, then shared; None if neither."""
    for groups in (frame, shared):
        items = sequence(groups, keyword, where)
        if items:
            return items[0]
    return None


def required_group_item(frame: Dataset, shared: Dataset, keyword: str, where: str) -> Dataset:
    """:func:`group_item`, an :class:`InputError` naming ``where`` (file and frame) when the frame has none."""
    item = group_item(frame, shared, keyword, where)
    if item is None:
        raise InputError(f"{where} has no {keyword} (per-frame or shared functional group)")
    return item


def _image_module(ds: Dataset, path: Path, frames: int, length: int) -> tuple[int, int, str | None]:
    """(Rows, Columns, the numpy dtype of pixel data stored as-is, or None when it must be decoded) of ``ds``.

    Rows, Columns, Bits Allocated and Samples per Pixel must be present and sensible, and,
    for uncompressed transfer syntaxes, Rows × Columns × frames × bits must match ``length``,
    the bytes of the pixel data, before anything is decoded.
    """
    rows = integer(ds, "Rows", str(path), 1, MAX_MATRIX)
    columns = integer(ds, "Columns", str(path), 1, MAX_MATRIX)
    bits = integer(ds, "BitsAllocated", str(path), 1, 64)
    if bits not in (1, 8, 16, 32):
        raise InputError(f"{path}: Bits Allocated {bits}; keras-hdl reads 1-, 8-, 16- or 32-bit images")
    bits_stored = integer(ds, "BitsStored", str(path), 1, bits)
    if integer(ds, "SamplesPerPixel", str(path), 1, 4) != 1:
        raise InputError(f"{path}: Samples per Pixel is not 1; keras-hdl reads grayscale images")
    signed = integer(ds, "PixelRepresentation", str(path), 0, 1)
    if str(ds.get("PhotometricInterpretation", "")).strip() not in ("MONOCHROME1", "MONOCHROME2"):
        raise InputError(f"{path}: Photometric Interpretation {ds.get('PhotometricInterpretation')!r}, not MONOCHROME")
    if not length:
        raise InputError(f"{path}: no Pixel Data (7FE0,0010), or it is empty")
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if syntax in UNCOMPRESSED or syntax is None:
        expected = -(-rows * columns * frames * bits // 8)
        if length not in (expected, expected + expected % 2):
            raise InputError(
                f"{path}: Pixel Data holds {length} bytes but Rows x Columns x frames x bits = {rows} x {columns} x "
                f"{frames} x {bits} needs {expected}; the file is truncated or its image attributes are damaged"
            )
    native = syntax in LITTLE_ENDIAN and bits in (8, 16) and not signed and bits_stored == bits
    return rows, columns, f"<u{bits // 8}" if native else None


def stored_pixels(ds: Dataset, path: Path, frames: int) -> np.ndarray:
    """(frames, Rows, Columns) stored values of ``ds`` after checking the Image Pixel module against the data
    (:func:`_image_module`)."""
    data = ds.get("PixelData")
    rows, columns, native = _image_module(ds, path, frames, len(data) if isinstance(data, bytes) else 0)
    if native is not None:
        # Native data as it lies in the file: a view, not a decoded copy of the whole series (memory).
        return np.frombuffer(ds.PixelData, native, rows * columns * frames).reshape(frames, rows, columns)
    try:
        pixels = ds.pixel_array
    except Exception as err:  # compressed data: each decoder raises its own types
        raise InputError(f"{path}: pixel data cannot be decoded ({err})") from err
    if pixels.size != rows * columns * frames:
        raise InputError(f"{path}: pixel data decodes to {pixels.size} values, not {frames} frames of {rows}x{columns}")
    return pixels.reshape(frames, rows, columns)


def frame_reader(ds: Dataset, path: Path, frames: int) -> Callable[[int], np.ndarray]:
    """Stored values (Rows, Columns) of frame n (0-based) of the file ``path``, whose header ``ds`` was read
    without pixels: native data is read from the file one frame at a time (the memory of one frame), any
    other is decoded whole on the first call (:func:`stored_pixels`)."""
    try:
        located = pydicom.dcmread(path, defer_size=1024, specific_tags=[PIXEL_DATA_TAG])
        element = located.get_item(PIXEL_DATA_TAG, keep_deferred=True)
    except (InvalidDicomError, *UNDECODABLE) as err:
        raise InputError(f"{path}: the pixel data cannot be located ({err}); the file is damaged") from err
    deferred = getattr(element, "value_tell", None) is not None and element.value is None
    length = (element.length if deferred else len(element.value or b"")) if element is not None else 0
    rows, columns, native = _image_module(ds, path, frames, length)
    if native is None or not deferred:
        whole = functools.cache(lambda: stored_pixels(read_dataset(path), path, frames))
        return lambda n: whole()[n]
    missing = element.value_tell + length - path.stat().st_size
    if missing > 0:
        raise InputError(
            f"{path}: Pixel Data declares {length} bytes but the file ends {missing} bytes short of them; the file is "
            "truncated or its image attributes are damaged"
        )
    frame_bytes = rows * columns * np.dtype(native).itemsize

    def read(n: int) -> np.ndarray:
        with open(path, "rb") as handle:
            handle.seek(element.value_tell + n * frame_bytes)
            return np.fromfile(handle, native, rows * columns).reshape(rows, columns)

    return read


def is_dicom_file(path: Path) -> bool:
    """True when ``path`` starts with a DICOM preamble + ``DICM`` marker (no full parse)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def require_mr(ds: Dataset, path: Path) -> str:
    """'classic' or 'enhanced' for an MR image; an :class:`InputError` for anything else."""
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class in MR_SOP_CLASSES:
        return MR_SOP_CLASSES[sop_class]
    modality = ds.get("Modality", "unknown")
    name = pydicom.uid.UID(sop_class).name if sop_class else "missing"
    raise InputError(
        f"{path}: not an MR image: Modality {modality}, SOP Class UID {name}; keras-hdl reads MR Image Storage "
        "folders and Enhanced MR Image Storage files"
    )
