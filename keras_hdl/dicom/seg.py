"""Cine DICOM SEG of the LV myocardium, referencing an Enhanced MR file or a classic folder.

highdicom 0.28 refuses a source with several frames at one plane position (a cine:
"Plane positions must not contain duplicates"), so the SEG is built here with pydicom,
with highdicom only describing the segment. Layout: one BINARY segment (myocardium,
SCT 74281007), T·S frames; dimensions Referenced Segment Number, Temporal Position Index
(cardiac frame) and Image Position (Patient) (slice); every frame's Derivation Image
Sequence references the magnitude image (and frame number, for a multi-frame source) it
was drawn on.

Reading places each frame by its plane position (slice along the normal) and Temporal
Position Index (frame), and refuses a SEG whose Referenced Series Sequence does not name
the series.
"""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import pack_bits
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from keras_hdl import __version__
from keras_hdl.dicom.common import (
    SourceFrames,
    code_item,
    dataset_item,
    decimal_string,
    image_axes,
    new_instance,
    set_monochrome_pixels,
    slice_keys,
)
from keras_hdl.dicom.deidentify import SERIES_UID_KEY
from keras_hdl.dicom.elements import (
    MAX_FRAMES,
    SEG_SOP_CLASS,
    group_item,
    integer,
    number,
    numbers,
    read_dataset,
    required_group_item,
    sequence,
    stored_pixels,
)
from keras_hdl.errors import InputError
from keras_hdl.io_utils import atomic_path
from keras_hdl.series import Series

MYOCARDIUM = Code("74281007", "SCT", "Myocardium")
ANATOMICAL_STRUCTURE = Code("91723000", "SCT", "Anatomical Structure")
SEGMENTATION_DERIVATION = Code("113076", "DCM", "Segmentation")
SOURCE_IMAGE_PURPOSE = Code("121322", "DCM", "Source image for image processing operation")
COPIED_FROM_SOURCE = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientIdentityRemoved",
    "DeidentificationMethod",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
    "FrameOfReferenceUID",
)
"""Patient, study and frame-of-reference attributes a SEG shares with the series it segments."""


def _code_item(code: Code) -> Dataset:
    return code_item(code.value, code.scheme_designator, code.meaning)


def write_cine_seg(
    masks: np.ndarray,
    series: Series,
    source: SourceFrames,
    path: str | Path,
    algorithm: tuple[str, str] = ("keras-hdl", __version__),
) -> Path:
    """Write a BINARY cine SEG of ``masks`` (T, S, H, W) bool drawn on ``series`` (as read from ``source``).

    ``series`` gives the geometry (pixel spacing mm, orientation, slice positions mm) and
    ``source`` the referenced magnitude images; ``algorithm`` (name, version) is recorded as
    the segment's Segmentation Algorithm Identification. Returns ``path``.
    """
    masks = np.asarray(masks)
    if masks.shape != series.magnitude.shape:
        raise InputError(f"SEG masks: expected shape (T, S, H, W) = {series.magnitude.shape}, got {masks.shape}")
    frames, slices, rows, cols = masks.shape
    now_date, now_time = source.dataset.get("ContentDate", ""), source.dataset.get("ContentTime", "")
    segment = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label="Myocardium",
        segmented_property_category=ANATOMICAL_STRUCTURE,
        segmented_property_type=MYOCARDIUM,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=hd.AlgorithmIdentificationSequence(
            name=algorithm[0], version=algorithm[1], family=SEGMENTATION_DERIVATION
        ),
    )

    per_frame = []
    for t in range(frames):
        for s in range(slices):
            sop_uid, frame_number = source.references[t][s]
            reference = dataset_item(
                ReferencedSOPClassUID=source.sop_class_uid,
                ReferencedSOPInstanceUID=sop_uid,
                PurposeOfReferenceCodeSequence=[_code_item(SOURCE_IMAGE_PURPOSE)],
            )
            if frame_number is not None:
                reference.ReferencedFrameNumber = frame_number
            per_frame.append(
                dataset_item(
                    DerivationImageSequence=[
                        dataset_item(
                            SourceImageSequence=[reference],
                            DerivationCodeSequence=[_code_item(SEGMENTATION_DERIVATION)],
                        )
                    ],
                    FrameContentSequence=[
                        dataset_item(DimensionIndexValues=[1, t + 1, s + 1], TemporalPositionIndex=t + 1)
                    ],
                    PlanePositionSequence=[
                        dataset_item(ImagePositionPatient=decimal_string(series.image_positions[s]))
                    ],
                    SegmentIdentificationSequence=[dataset_item(ReferencedSegmentNumber=1)],
                )
            )

    ds = new_instance(SEG_SOP_CLASS)
    ds.SpecificCharacterSet = "ISO_IR 100"
    for keyword in COPIED_FROM_SOURCE:
        if keyword in source.dataset:
            setattr(ds, keyword, source.dataset.data_element(keyword).value)
    ds.PositionReferenceIndicator = ""
    ds.Modality = "SEG"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 100
    ds.SeriesDescription = "Myocardium segmentation (cine)"
    ds.InstanceNumber = 1
    ds.ContentDate, ds.ContentTime = now_date, now_time
    ds.SeriesDate, ds.SeriesTime = now_date, now_time
    ds.Manufacturer = "keras-hdl"
    ds.ManufacturerModelName = "keras-hdl"
    ds.DeviceSerialNumber = "0"
    ds.SoftwareVersions = __version__
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.ContentLabel = "MYOCARDIUM"
    ds.ContentDescription = "LV myocardium per cardiac frame"
    ds.ContentCreatorName = ""
    ds.SegmentationType = "BINARY"
    ds.SegmentSequence = [segment]
    set_monochrome_pixels(ds, rows, cols, bits_allocated=1, bits_stored=1)
    ds.LossyImageCompression = "00"
    ds.NumberOfFrames = len(per_frame)
    instances = {uid for row in source.references for uid, _ in row}
    ds.ReferencedSeriesSequence = [
        dataset_item(
            SeriesInstanceUID=source.series_uid,
            ReferencedInstanceSequence=[
                dataset_item(ReferencedSOPClassUID=source.sop_class_uid, ReferencedSOPInstanceUID=uid)
                for uid in sorted(instances)
            ],
        )
    ]
    ds.SharedFunctionalGroupsSequence = [
        dataset_item(
            PixelMeasuresSequence=[
                dataset_item(
                    PixelSpacing=decimal_string(series.pixel_spacing),
                    SliceThickness=decimal_string(series.provenance.get("dicom.SliceThickness", 8.0)),
                )
            ],
            PlaneOrientationSequence=[dataset_item(ImageOrientationPatient=decimal_string(series.image_orientation))],
        )
    ]
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    organization_uid = generate_uid()
    ds.DimensionOrganizationSequence = [dataset_item(DimensionOrganizationUID=organization_uid)]
    ds.DimensionIndexSequence = [
        dataset_item(
            DimensionOrganizationUID=organization_uid,
            DimensionIndexPointer=pointer,
            FunctionalGroupPointer=group,
            DimensionDescriptionLabel=label,
        )
        for pointer, group, label in (
            (0x0062000B, 0x0062000A, "Segment"),
            (0x00209128, 0x00209111, "Cardiac phase"),
            (0x00200032, 0x00209113, "Slice position"),
        )
    ]
    ds.PixelData = pack_bits(masks.astype(np.uint8).reshape(-1))
    ds["PixelData"].VR = "OB"
    path = Path(path)
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return path


def _myocardium_segment(ds: Dataset, path: Path) -> int:
    segments = list(sequence(ds, "SegmentSequence", str(path)))
    wheres = [f"{path}: segment item {n}" for n in range(1, len(segments) + 1)]
    if len(segments) == 1:
        return integer(segments[0], "SegmentNumber", wheres[0])
    for segment, where in zip(segments, wheres, strict=True):
        codes = sequence(segment, "SegmentedPropertyTypeCodeSequence", where)
        if "myocard" in str(segment.get("SegmentLabel", "")).lower() or any(
            c.get("CodeValue") == MYOCARDIUM.value for c in codes
        ):
            return integer(segment, "SegmentNumber", where)
    labels = [str(s.get("SegmentLabel", "")) for s in segments]
    raise InputError(f"{path}: cannot tell which of the segments {labels} is the myocardium; label one 'Myocardium'")


def referenced_series_uids(ds: Dataset) -> set[str]:
    """SeriesInstanceUIDs named in a SEG's Referenced Series Sequence (0008,1115)."""
    items = ds.get("ReferencedSeriesSequence") or []
    return {str(item.get("SeriesInstanceUID")) for item in items if isinstance(item, Dataset)}


def read_seg_masks(path: str | Path, series: Series, dataset: Dataset | None = None) -> np.ndarray:
    """Masks (T, S, H, W) bool of the myocardium segment of the DICOM SEG at ``path``, placed on ``series``.

    ``dataset``: the SEG as :func:`~keras_hdl.dicom.elements.read_dataset` read it (with pixels), so that it is
    not parsed again.
    """
    path = Path(path)
    ds = read_dataset(path) if dataset is None else dataset
    if str(ds.get("SOPClassUID", "")) != SEG_SOP_CLASS:
        raise InputError(f"{path}: not a DICOM SEG (SOP class {ds.get('SOPClassUID', 'missing')})")
    own_uid = series.provenance.get(SERIES_UID_KEY)
    referenced = referenced_series_uids(ds)
    if own_uid is not None and own_uid not in referenced:
        raise InputError(
            f"{path}: the SEG references another series ({', '.join(sorted(referenced)) or 'none'}), "
            f"not this series ({own_uid}); use the SEG drawn on this series"
        )
    frames, _, rows, cols = series.magnitude.shape
    seg_rows, seg_columns = integer(ds, "Rows", str(path)), integer(ds, "Columns", str(path))
    if (seg_rows, seg_columns) != (rows, cols):
        raise InputError(f"{path}: SEG frames are {seg_rows}x{seg_columns}, the series images {rows}x{cols}")
    shared_items = sequence(ds, "SharedFunctionalGroupsSequence", str(path))
    shared = shared_items[0] if shared_items else Dataset()
    per_frame = sequence(ds, "PerFrameFunctionalGroupsSequence", str(path))
    if len(per_frame) != integer(ds, "NumberOfFrames", str(path), 1, MAX_FRAMES):
        raise InputError(f"{path}: Per-frame Functional Groups Sequence does not match Number of Frames")

    segment_number = _myocardium_segment(ds, path)
    pixels = stored_pixels(ds, path, len(per_frame))
    if ds.get("SegmentationType") == "FRACTIONAL":
        pixels = pixels > 0.5 * number(ds, "MaximumFractionalValue", str(path), 255.0)
    series_keys = slice_keys(series.image_positions, series.image_orientation)
    masks = np.zeros(series.magnitude.shape, bool)
    for frame_number, frame in enumerate(per_frame, start=1):
        where = f"{path}: SEG frame {frame_number}"
        identification = group_item(frame, shared, "SegmentIdentificationSequence", where)
        if identification is None or integer(identification, "ReferencedSegmentNumber", where) != segment_number:
            continue
        plane = required_group_item(frame, shared, "PlaneOrientationSequence", where)
        orientation = numbers(plane, "ImageOrientationPatient", 6, where)
        if np.abs(image_axes(orientation) - image_axes(series.image_orientation)).max() > 1e-3:
            raise InputError(f"{where} has another image orientation than the series")
        position = numbers(
            required_group_item(frame, shared, "PlanePositionSequence", where), "ImagePositionPatient", 3, where
        )
        key = slice_keys(position[None], series.image_orientation)[0]
        matches = np.flatnonzero(np.abs(series_keys - key) < 0.05)
        content = required_group_item(frame, shared, "FrameContentSequence", where)
        temporal = number(content, "TemporalPositionIndex", where)
        if matches.size != 1 or temporal is None or temporal not in range(1, frames + 1):
            raise InputError(
                f"{where} (slice at {key} mm, Temporal Position Index {temporal}) matches no "
                f"frame of the series ({frames} frames at slices {series_keys.tolist()} mm)"
            )
        masks[int(temporal) - 1, int(matches[0])] |= pixels[frame_number - 1].astype(bool)
    return masks
