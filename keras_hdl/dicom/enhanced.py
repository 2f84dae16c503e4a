"""Reading Enhanced MR Image Storage: one multi-frame ``series.dcm`` holding every slice, frame and image type.

The layout keras-hdl writes is described in :mod:`keras_hdl.dicom.enhanced_writer`; other scanners' files
differ in order and detail. The reader never trusts storage order: frames are placed by their image type (Complex
Image Component + velocity direction projected onto the image axes), their slice
position along the normal and the temporal dimension's Dimension Index Value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from keras_hdl.dicom.common import (
    SourceFrames,
    check_channels,
    encoding_axis,
    phase_from_stored,
    rescaled,
    slice_keys,
)
from keras_hdl.dicom.deidentify import (
    ACQUISITION_ALLOWLIST,
    SERIES_UID_KEY,
    acquisition_provenance,
)
from keras_hdl.dicom.elements import (
    MAX_FRAMES,
    frame_reader,
    group_item,
    integer,
    number,
    numbers,
    read_dataset,
    require_mr,
    required_group_item,
    sequence,
    text,
)
from keras_hdl.errors import InputError, about
from keras_hdl.series import COMPONENTS, PHASE_LEVELS, Series, velocity_to_phase

FRAME_LABELS = ("MAGNITUDE", "VELOCITY X", "VELOCITY Y", "VELOCITY Z")
TEMPORAL_POINTERS = {0x00209128, 0x00209153, 0x00181060}
"""Dimension Index Pointers that order frames in time: Temporal Position Index,
Nominal Cardiac Trigger Delay Time, Trigger Time."""


# --------------------------------------------------------------------------- reader
def _temporal_dimension(ds: Dataset, path: Path) -> tuple[int, int]:
    """(index into Dimension Index Values of the dimension that orders frames in time, number of dimensions)."""
    dimensions = sequence(ds, "DimensionIndexSequence", str(path))
    for index, dimension in enumerate(dimensions):
        pointer = dimension.get("DimensionIndexPointer")
        if not isinstance(pointer, int):
            raise InputError(
                f"{path}: Dimension Index Sequence (0020,9222) item {index + 1} has Dimension Index Pointer "
                f"{pointer!r}, not one tag"
            )
        if pointer in TEMPORAL_POINTERS:
            return index, len(dimensions)
    raise InputError(
        f"{path}: the Dimension Index Sequence (0020,9222) has no temporal dimension (Temporal Position Index, "
        "Nominal Cardiac Trigger Delay Time or Trigger Time), so the cardiac frames cannot be ordered"
    )


def _frame_channel(frame: Dataset, shared: Dataset, ds: Dataset, orientation: np.ndarray, path: Path, number_: int):
    """(channel 0 = magnitude / 1..3 = phase x..z or None to skip, sign, vmin, vmax) of frame ``number_``."""
    frame_type = group_item(frame, shared, "MRImageFrameTypeSequence", f"{path}: frame {number_}")
    component = (frame_type or ds).get("ComplexImageComponent")
    if component == "MAGNITUDE":
        return 0, 1.0, 0.0, 0.0
    if component != "PHASE":
        return None, 1.0, 0.0, 0.0
    where = f"{path}: phase frame {number_}"
    encoding = group_item(frame, shared, "MRVelocityEncodingSequence", where)
    if encoding is None or "VelocityEncodingDirection" not in encoding:
        raise InputError(
            f"{where} has no MR Velocity Encoding Sequence (0018,9197) with a Velocity Encoding Direction "
            "(0018,9090): venc missing; phase frames need their encoding direction and venc"
        )
    vmin = number(encoding, "VelocityEncodingMinimumValue", where, 0.0)
    vmax = number(encoding, "VelocityEncodingMaximumValue", where, 0.0)
    if max(abs(vmin), abs(vmax)) == 0:
        raise InputError(
            f"{where}: Velocity Encoding Minimum/Maximum Value (0018,9091)/(0018,9217) missing or zero; "
            "the venc (cm/s) must be > 0"
        )
    direction = numbers(encoding, "VelocityEncodingDirection", 3, where)
    axis, sign = encoding_axis(direction, orientation, where)
    return axis + 1, sign, vmin, vmax


@dataclasses.dataclass(frozen=True)
class EnhancedImages:
    """The images of an Enhanced MR file, read slice by slice from the file (the memory of one slice).

    ``frame(n)``: stored values (H, W) of frame n (0-based); ``slopes`` / ``intercepts``: per frame;
    ``magnitude_frames``: (T, S) frame numbers; ``encodings``: per phase component (frame numbers (T, S),
    vmin, vmax, sign).
    """

    frame: Callable[[int], np.ndarray]
    slopes: list[float | None]
    intercepts: list[float | None]
    magnitude_frames: np.ndarray
    encodings: list[tuple[np.ndarray, float, float, float]]

    def read_slice(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(magnitude (T, H, W), raw phase (T, 3, H, W)) float32 of slice ``index``."""
        magnitude = np.stack(
            [rescaled(self.frame(n), self.slopes[n], self.intercepts[n]) for n in self.magnitude_frames[:, index]]
        ).astype(np.float32)
        phase = np.empty((magnitude.shape[0], 3, *magnitude.shape[1:]), np.float32)
        for c, (frame_numbers, vmin, vmax, sign) in enumerate(self.encodings):
            venc = max(abs(vmin), abs(vmax))
            for t, n in enumerate(frame_numbers[:, index]):
                raw = phase_from_stored(self.frame(n), self.slopes[n], self.intercepts[n])
                if abs(vmin + vmax) <= 1e-6 * venc:
                    raw = raw if sign > 0 else PHASE_LEVELS - raw
                else:  # asymmetric range: go through velocities
                    velocity = sign * (vmin + raw / PHASE_LEVELS * (vmax - vmin))
                    raw = velocity_to_phase(velocity[None], (venc,) * 3, quantize=False)[0]
                phase[t, c] = raw
        return magnitude, phase

    def read_all(self) -> tuple[np.ndarray, np.ndarray]:
        """(magnitude (T, S, H, W), raw phase (T, S, 3, H, W)) float32, filled slice by slice."""
        first_magnitude, first_phase = self.read_slice(0)
        frames, slices = self.magnitude_frames.shape
        magnitude = np.empty((frames, slices, *first_magnitude.shape[1:]), np.float32)
        phase = np.empty((frames, slices, *first_phase.shape[1:]), np.float32)
        magnitude[:, 0], phase[:, 0] = first_magnitude, first_phase
        for s in range(1, slices):
            magnitude[:, s], phase[:, s] = self.read_slice(s)
        return magnitude, phase


def read_enhanced_frames(
    path: str | Path, pixels: bool = True, header: Dataset | None = None
) -> tuple[Series, SourceFrames]:
    """Read an Enhanced MR file into a :class:`Series` and the references a SEG needs.

    ``pixels=False`` reads the header only: the series has the geometry, shape and venc but a
    zero, read-only magnitude and no phase (what the SEG writer needs, without the images' memory).
    ``header``: the file's dataset already read by :func:`~keras_hdl.dicom.elements.read_dataset` (without
    pixels), so that it is not parsed again.
    """
    series, source, images = read_enhanced_slices(path, header)
    if pixels:
        magnitude, phase = images.read_all()
        with about(path):
            series = series.replace(magnitude=magnitude, phase=phase)
    return series, source


def read_enhanced_slices(
    path: str | Path, header: Dataset | None = None
) -> tuple[Series, SourceFrames, EnhancedImages]:
    """(header, references for a SEG, the images to read slice by slice) of an Enhanced MR file.

    The header is the series without pixels: its geometry, shape and venc, a zero read-only
    magnitude and no phase; :meth:`EnhancedImages.read_slice` reads the images from the file.
    ``header``: the file's dataset if already read (see :func:`read_enhanced_frames`).
    """
    path = Path(path)
    ds = read_dataset(path, stop_before_pixels=True) if header is None else header
    if require_mr(ds, path) != "enhanced":
        raise InputError(f"{path}: a classic MR image, not an Enhanced MR multi-frame file; pass its folder instead")
    shared_items = sequence(ds, "SharedFunctionalGroupsSequence", str(path))
    shared = shared_items[0] if shared_items else Dataset()
    per_frame = sequence(ds, "PerFrameFunctionalGroupsSequence", str(path))
    frames = integer(ds, "NumberOfFrames", str(path), 1, MAX_FRAMES)
    if len(per_frame) != frames:
        raise InputError(
            f"{path}: Per-frame Functional Groups Sequence has {len(per_frame)} items but Number of Frames is "
            f"{frames}; every frame needs its functional groups"
        )
    wheres = [f"{path}: frame {n}" for n in range(1, len(per_frame) + 1)]
    orientations = np.array(
        [
            numbers(required_group_item(f, shared, "PlaneOrientationSequence", w), "ImageOrientationPatient", 6, w)
            for f, w in zip(per_frame, wheres, strict=True)
        ]
    )
    if np.abs(orientations - orientations[0]).max() > 1e-4:
        raise InputError(f"{path}: frames have different Image Orientation (Patient); one slice stack is needed")
    orientation = orientations[0]
    positions = np.array(
        [
            numbers(required_group_item(f, shared, "PlanePositionSequence", w), "ImagePositionPatient", 3, w)
            for f, w in zip(per_frame, wheres, strict=True)
        ]
    )
    keys = slice_keys(positions, orientation)
    channels = [_frame_channel(f, shared, ds, orientation, path, n + 1) for n, f in enumerate(per_frame)]
    counts: dict[int, dict[float, int]] = {}
    for (channel, *_), key in zip(channels, keys, strict=True):
        if channel is not None:
            counts.setdefault(channel, {}).setdefault(float(key), 0)
            counts[channel][float(key)] += 1
    check_channels(counts, path)
    temporal, dimensions = _temporal_dimension(ds, path)
    placed: dict[int, dict[float, list[tuple[int, int]]]] = {}
    for index, ((channel, *_), key, frame, where) in enumerate(zip(channels, keys, per_frame, wheres, strict=True)):
        if channel is not None:
            content = required_group_item(frame, shared, "FrameContentSequence", where)
            time = numbers(content, "DimensionIndexValues", dimensions, where)[temporal]
            placed.setdefault(channel, {}).setdefault(float(key), []).append((time, index))
    for per_slice in placed.values():
        for key, entries in per_slice.items():
            if len({time for time, _ in entries}) != len(entries):
                raise InputError(f"{path}: two frames of one image type share a temporal index at slice {key} mm")
    slice_order = sorted(placed[0])
    # order[c, s, t] = frame number (0-based) of channel c, slice s, frame t, by the temporal index value
    order = np.array([[[n for _, n in sorted(placed[c][k])] for k in slice_order] for c in range(4)])

    mag_frames = order[0].T  # (T, S)
    encodings = []  # per phase component: (frame numbers (T, S), vmin, vmax, sign)
    for c in range(1, 4):
        frame_numbers = order[c].T
        ranges = {(channels[n][2], channels[n][3]) for n in frame_numbers.ravel()}
        signs = {channels[n][1] for n in frame_numbers.ravel()}
        if len(ranges) > 1 or len(signs) > 1:
            raise InputError(f"{path}: phase {COMPONENTS[c - 1]} frames have different venc or encoding directions")
        encodings.append((frame_numbers, *ranges.pop(), signs.pop()))
    venc = [max(abs(vmin), abs(vmax)) for _, vmin, vmax, _ in encodings]
    transforms = [
        group_item(f, shared, "PixelValueTransformationSequence", w) or ds
        for f, w in zip(per_frame, wheres, strict=True)
    ]
    images = EnhancedImages(
        frame=frame_reader(ds, path, frames),
        slopes=[number(t, "RescaleSlope", w) for t, w in zip(transforms, wheres, strict=True)],
        intercepts=[number(t, "RescaleIntercept", w) for t, w in zip(transforms, wheres, strict=True)],
        magnitude_frames=mag_frames,
        encodings=encodings,
    )
    shape = (*mag_frames.shape, integer(ds, "Rows", str(path), 1), integer(ds, "Columns", str(path), 1))

    first_number = int(order[0, 0, 0])
    first, first_where = per_frame[first_number], wheres[first_number]
    cardiac = group_item(first, shared, "CardiacSynchronizationSequence", first_where)
    rr = (number(cardiac, "RRIntervalTimeNominal", first_where) if cardiac else None) or number(
        ds, "CardiacRRIntervalSpecified", str(path)
    )
    measures = required_group_item(first, shared, "PixelMeasuresSequence", first_where)
    lookup = {keyword: ds.get(keyword) for keyword in ACQUISITION_ALLOWLIST}
    for keyword, (group, enhanced_keyword) in ACQUISITION_ALLOWLIST.items():
        item = group_item(first, shared, group, first_where) if group else ds
        if item is not None and item.get(enhanced_keyword) is not None:
            lookup[keyword] = item.get(enhanced_keyword)
    with about(path):
        series = Series(
            magnitude=np.broadcast_to(np.float32(0), shape),  # the header: a zero magnitude that takes no memory
            venc=tuple(venc),
            pixel_spacing=tuple(numbers(measures, "PixelSpacing", 2, first_where)),
            image_orientation=tuple(orientation),
            image_positions=positions[order[0, :, 0]],
            rr_interval_ms=rr or None,
            provenance={
                "source_format": "dicom-enhanced",
                SERIES_UID_KEY: text(ds, "SeriesInstanceUID", str(path)),
                **acquisition_provenance(lookup),
            },
        )
    sop_uid = text(ds, "SOPInstanceUID", str(path))
    references = tuple(tuple((sop_uid, int(n) + 1) for n in row) for row in mag_frames)
    source = SourceFrames(ds, str(ds.SOPClassUID), series.provenance[SERIES_UID_KEY], references)
    return series, source, images


def read_enhanced_mr(path: str | Path) -> Series:
    """Read one Enhanced MR Image Storage file (magnitude + phase x, y, z frames) into a :class:`Series`."""
    return read_enhanced_frames(path)[0]
