"""Conventions and helpers shared by the DICOM readers and writers (DESIGN §3.3).

Pixel conventions (both the Enhanced MR file and the classic folder)
-------------------------------------------------------------------
- Phase frames: stored value ``s`` (unsigned), RescaleSlope 2, RescaleIntercept −4096, so
  the rescaled value ``r = 2·s − 4096`` and the velocity is ``v = r / 4096 · venc`` (the
  Siemens convention). Our raw phase is ``p = r / 2 + 2048``, hence ``p == s`` exactly:
  stored 0 ↔ −venc, 2048 ↔ 0 cm/s, 4095 ↔ +venc·4094/4096. On 12-bit classic files the
  top value 4096 (+venc exactly, the same phase angle as −venc) is written as 4095, one
  quantum (2·venc/4096 cm/s) lower; the 16-bit Enhanced MR file keeps 4096. A phase
  image without rescale attributes is read as ``p = s``.
- Magnitude frames: unsigned 16-bit. Integer-valued magnitudes up to 65535 are stored
  as they are (RescaleSlope 1); otherwise RescaleSlope = max / 65535, so a value comes
  back within half a step (max / 131070).
- Velocity components (x, y, z) are in image axes: x along the row direction
  (ImageOrientationPatient[:3], increasing column index), y along the column direction
  (ImageOrientationPatient[3:]), z along their cross product (the slice normal).
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
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
    generate_uid,
)
from pydicom.valuerep import DSfloat

from keras_hdl.errors import InputError
from keras_hdl.series import (
    COMPONENTS,
    MAX_PIXEL_SPACING_MM,
    MAX_POSITION_MM,
    MAX_RR_MS,
    MAX_VENC_CM_S,
    PHASE_LEVELS,
)

PHASE_RESCALE_SLOPE = 2.0
PHASE_RESCALE_INTERCEPT = -4096.0
MAGNITUDE_STORED_MAX = 65535
CLASSIC_PHASE_BITS_STORED = 12
CLASSIC_PHASE_STORED_MAX = 2**CLASSIC_PHASE_BITS_STORED - 1
"""12-bit phase images (BitsStored 12) on the classic folder."""

POSITION_DECIMALS = 2
"""Slice positions along the normal are grouped after rounding to 0.01 mm."""

MR_SOP_CLASSES = {MRImageStorage: "classic", EnhancedMRImageStorage: "enhanced"}
SEG_SOP_CLASS = SegmentationStorage


NOMINAL_PROTOCOL = {
    "MagneticFieldStrength": 3.0,  # T
    "RepetitionTime": 24.0,  # ms
    "EchoTime": 4.4,  # ms
    "FlipAngle": 15.0,  # degrees
    "SliceThickness": 8.0,  # mm
}
"""Acquisition attributes written when a series' provenance has none: the protocol of the
paper's acquisitions (3T, TR 24 ms, TE 4.4 ms, FA 15°, 8 mm slices) that the phantom imitates."""


def decimal_string(value) -> DSfloat | list[DSfloat]:
    """A number (or list) as DICOM DS values of at most 16 characters."""
    if np.ndim(value):
        return [DSfloat(float(v), auto_format=True) for v in np.ravel(value)]
    return DSfloat(float(value), auto_format=True)


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


def without_pixels(ds: Dataset) -> Dataset:
    """A dataset with the elements of ``ds`` but its pixel data (which it does not keep alive)."""
    header = Dataset({element.tag: element for element in ds if element.tag != PIXEL_DATA_TAG})
    if hasattr(ds, "file_meta"):
        header.file_meta = ds.file_meta
    return header


def stored_pixels(ds: Dataset, path: Path, frames: int) -> np.ndarray:
    """(frames, Rows, Columns) stored values of ``ds`` after checking the Image Pixel module against the data.

    Rows, Columns, Bits Allocated and Samples per Pixel must be present and sensible, and,
    for uncompressed transfer syntaxes, Rows × Columns × frames × bits must match the length
    of the pixel data before anything is decoded.
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
    if not isinstance(ds.get("PixelData"), bytes) or not ds.PixelData:
        raise InputError(f"{path}: no Pixel Data (7FE0,0010), or it is empty")
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if syntax in UNCOMPRESSED or syntax is None:
        expected = -(-rows * columns * frames * bits // 8)
        length = len(ds.PixelData)
        if length not in (expected, expected + expected % 2):
            raise InputError(
                f"{path}: Pixel Data holds {length} bytes but Rows x Columns x frames x bits = {rows} x {columns} x "
                f"{frames} x {bits} needs {expected}; the file is truncated or its image attributes are damaged"
            )
    if syntax in LITTLE_ENDIAN and bits in (8, 16) and not signed and bits_stored == bits:
        # Native data as it lies in the file: a view, not a decoded copy of the whole series (memory).
        return np.frombuffer(ds.PixelData, f"<u{bits // 8}", rows * columns * frames).reshape(frames, rows, columns)
    try:
        pixels = ds.pixel_array
    except Exception as err:  # compressed data: each decoder raises its own types
        raise InputError(f"{path}: pixel data cannot be decoded ({err})") from err
    if pixels.size != rows * columns * frames:
        raise InputError(f"{path}: pixel data decodes to {pixels.size} values, not {frames} frames of {rows}x{columns}")
    return pixels.reshape(frames, rows, columns)


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


def rescaled(stored: np.ndarray, slope: float | None, intercept: float | None) -> np.ndarray:
    """Stored pixel values → rescaled values (slope 1 / intercept 0 when absent), float64."""
    slope = 1.0 if slope is None else float(slope)
    intercept = 0.0 if intercept is None else float(intercept)
    return np.asarray(stored, np.float64) * slope + intercept


def phase_from_stored(stored: np.ndarray, slope: float | None, intercept: float | None) -> np.ndarray:
    """Stored phase values → raw phase in [0, 4096] (module docstring): p = r / 2 + 2048, or p = s without rescale."""
    if slope is None and intercept is None:
        return np.clip(np.asarray(stored, np.float64), 0, PHASE_LEVELS)
    return np.clip(rescaled(stored, slope, intercept) / 2.0 + PHASE_LEVELS / 2, 0, PHASE_LEVELS)


def phase_to_stored(phase: np.ndarray, stored_max: int) -> np.ndarray:
    """Raw phase in [0, 4096] → stored uint16 (p rounded, capped at ``stored_max``)."""
    return np.clip(np.round(phase), 0, stored_max).astype(np.uint16)


def magnitude_slope(magnitude: np.ndarray) -> float:
    """RescaleSlope for storing ``magnitude`` as uint16 (1 when it is already integral and fits)."""
    peak = float(magnitude.max())
    if peak <= MAGNITUDE_STORED_MAX and np.array_equal(magnitude, np.round(magnitude)):
        return 1.0
    return peak / MAGNITUDE_STORED_MAX if peak > 0 else 1.0


def magnitude_to_stored(magnitude: np.ndarray, slope: float) -> np.ndarray:
    return np.clip(np.round(magnitude / slope), 0, MAGNITUDE_STORED_MAX).astype(np.uint16)


def image_axes(orientation) -> np.ndarray:
    """(3, 3) rows: x = row direction, y = column direction, z = normal, in patient coordinates."""
    orientation = np.asarray(orientation, np.float64)
    row, col = orientation[:3], orientation[3:]
    return np.stack([row, col, np.cross(row, col)])


def encoding_axis(direction, orientation, where: str) -> tuple[int, float]:
    """Project a velocity encoding direction (patient coordinates) onto the image axes.

    Returns (component index 0/1/2 for x/y/z, sign ±1). The direction must lie along one
    image axis (|cos| > 0.99), since the series model holds the velocity in image axes.
    """
    direction = np.asarray(direction, np.float64)
    norm = np.linalg.norm(direction)
    if direction.shape != (3,) or not np.isfinite(norm) or norm == 0:
        raise InputError(f"{where}: velocity encoding direction {direction.tolist()} is not a 3-vector")
    cosines = image_axes(orientation) @ (direction / norm)
    axis = int(np.argmax(np.abs(cosines)))
    if abs(cosines[axis]) < 0.99:
        raise InputError(
            f"{where}: velocity encoding direction {direction.tolist()} is not along an image axis "
            f"(cosines with x/y/z = {np.round(cosines, 3).tolist()}); keras-hdl needs x, y and z encodings"
        )
    return axis, float(np.sign(cosines[axis]))


def slice_keys(positions: np.ndarray, orientation) -> np.ndarray:
    """(N,) positions along the slice normal, rounded to group images of one slice (mm)."""
    normal = image_axes(orientation)[2]
    return np.round(np.asarray(positions, np.float64) @ normal, POSITION_DECIMALS)


@dataclasses.dataclass(frozen=True)
class SourceFrames:
    """What a SEG needs to reference the magnitude images of a series.

    ``references[t][s]`` is (SOPInstanceUID, frame number or None for a single-frame file)
    of the magnitude image of frame t, slice s. ``dataset`` is one magnitude dataset
    (patient, study and frame-of-reference attributes are copied from it).
    """

    dataset: Dataset
    sop_class_uid: str
    series_uid: str
    references: tuple[tuple[tuple[str, int | None], ...], ...]


def check_channels(counts: dict[int, dict[float, int]], path: Path) -> None:
    """Refuse a series without magnitude, phase in x, y and z, or with unequal frames / slices per image type.

    ``counts``: channel (0 magnitude, 1..3 phase x..z) → slice position (mm) → number of frames.
    """
    if 0 not in counts:
        raise InputError(f"{path}: no magnitude images (needed beside the phase images)")
    phases = sorted(c for c in counts if c > 0)
    if not phases:
        raise InputError(
            f"{path}: magnitude without phase: no phase images found; a 3Dir MVM series needs phase images "
            "encoded in x, y and z"
        )
    if phases != [1, 2, 3]:
        found = ", ".join(COMPONENTS[c - 1] for c in phases)
        raise InputError(
            f"{path}: fewer than three phase directions: found {found} only; 3Dir MVM needs x, y and z (through-plane)"
        )
    names = ["magnitude"] + [f"phase {c}" for c in COMPONENTS]
    reference = counts[0]
    for channel, per_slice in counts.items():
        if set(per_slice) != set(reference):
            raise InputError(
                f"{path}: {names[channel]} images lie at slice positions {sorted(per_slice)} mm but the magnitude "
                f"at {sorted(reference)} mm"
            )
        for position, count in per_slice.items():
            if count != reference[position]:
                raise InputError(
                    f"{path}: frames of unequal counts between image types: {names[channel]} has {count} frames at "
                    f"slice {position} mm, the magnitude {reference[position]}"
                )
    frame_counts = set(reference.values())
    if len(frame_counts) > 1:
        raise InputError(f"{path}: slices have different numbers of frames {sorted(frame_counts)}")


def save_with_pixel_data(ds: Dataset, pixels: np.ndarray, path: Path) -> None:
    """Write ``ds`` (explicit VR little endian, no Pixel Data yet) to ``path``, then ``pixels`` (uint16) as its
    OW Pixel Data (7FE0,0010), the last element, streamed from the array: no copy of the pixels is made, where
    ``ds.PixelData = pixels.tobytes()`` and pydicom's writer would make two (memory)."""
    data = np.ascontiguousarray(pixels, "<u2")
    with open(path, "wb") as handle:
        ds.save_as(handle, enforce_file_format=True)
        handle.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, data.nbytes))
        handle.write(memoryview(data).cast("B"))


def new_instance(sop_class_uid: str) -> Dataset:
    """An empty dataset of ``sop_class_uid`` with a new SOP Instance UID and explicit-VR little-endian file meta."""
    ds = Dataset()
    sop_uid = generate_uid()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class_uid
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_uid
    return ds


def set_monochrome_pixels(ds: Dataset, rows: int, columns: int, bits_allocated: int, bits_stored: int) -> None:
    """The Image Pixel module of unsigned MONOCHROME2 images (pixel data itself is set by the caller)."""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
