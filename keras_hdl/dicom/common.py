"""Conventions and helpers shared by the DICOM readers and writers (docs/design.md §3.3).

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
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    ExplicitVRLittleEndian,
    generate_uid,
)
from pydicom.valuerep import DSfloat

from keras_hdl.errors import InputError
from keras_hdl.series import (
    COMPONENTS,
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


def magnitude_slope(magnitude: Iterable[np.ndarray]) -> float:
    """RescaleSlope for storing ``magnitude`` (an array, or its frames one by one) as uint16 (1 when it is already
    integral and fits)."""
    peak, integral = 0.0, True
    for frame in magnitude:
        peak = max(peak, float(np.max(frame)))
        integral = integral and np.array_equal(frame, np.round(frame))
    if peak <= MAGNITUDE_STORED_MAX and integral:
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


def save_with_pixel_data(ds: Dataset, blocks: Iterable[np.ndarray], nbytes: int, path: Path) -> None:
    """Write ``ds`` (explicit VR little endian, no Pixel Data yet) to ``path``, then the uint16 ``blocks`` (``nbytes``
    in all, in frame order) as its OW Pixel Data (7FE0,0010), the last element, streamed block by block: no copy of
    the pixels is made, where ``ds.PixelData = pixels.tobytes()`` and pydicom's writer would make two (memory)."""
    with open(path, "wb") as handle:
        ds.save_as(handle, enforce_file_format=True)
        handle.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, nbytes))
        written = 0
        for block in blocks:
            data = np.ascontiguousarray(block, "<u2")
            handle.write(memoryview(data).cast("B"))
            written += data.nbytes
    if written != nbytes:
        raise ValueError(f"{path}: {written} bytes of pixel data written, {nbytes} declared")


def dataset_item(**attributes) -> Dataset:
    """A sequence item (or any dataset) holding ``attributes`` by DICOM keyword."""
    item = Dataset()
    for keyword, value in attributes.items():
        setattr(item, keyword, value)
    return item


def code_item(value: str, scheme: str, meaning: str) -> Dataset:
    """A code sequence item: Code Value, Coding Scheme Designator, Code Meaning."""
    return dataset_item(CodeValue=value, CodingSchemeDesignator=scheme, CodeMeaning=meaning)


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
