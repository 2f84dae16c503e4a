"""Classic MR Image Storage, Siemens style: a folder of single-frame files.

Conventions (read and written; pixel values as in :mod:`keras_hdl.dicom.common`):

- ImageType value 3 ``M`` is a magnitude image, ``P`` a phase image.
- A phase image's venc (cm/s) and direction come from its SequenceName, which ends in
  ``v<venc><direction>`` (e.g. ``fl2d1_v20inx``): ``through`` is the slice normal (z);
  in-plane directions, which Siemens' plain ``in`` does not tell apart, are written
  ``inx`` (along the row direction, ImageOrientationPatient[:3], x) and ``iny`` (along the
  column direction, ImageOrientationPatient[3:], y). This is keras-hdl's own,
  private-tag-free convention; a plain ``in`` is refused as ambiguous. When the
  SequenceName carries no venc, the Siemens CSA image header (0029,1010) is read with
  ``nibabel.nicom.csareader`` (FlowVenc, and FlowEncodingDirectionString for the direction).
- Images are grouped by SeriesInstanceUID and image type (magnitude, phase x / y / z);
  slices are ordered by position along the slice normal, frames by TriggerTime (ms), then
  InstanceNumber. File names and storage order play no part.
- The writer stores magnitude and each phase direction as its own series (series numbers
  1–4) sharing one study and frame of reference; phase is 12-bit with RescaleSlope 2 /
  RescaleIntercept −4096. The RR interval goes in NominalInterval (0018,1062), an integer
  (IS) in ms; frame t gets TriggerTime t·RR/T (ms, up to 16 characters). Reading, when the trigger
  times are equally spaced (within 0.01 ms) and T·spacing agrees with NominalInterval to
  within 1 ms, RR = T·spacing, which keeps the sub-millisecond RR; otherwise
  NominalInterval, else 60000 / HeartRate, else unknown.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import MRImageStorage, generate_uid

from keras_hdl.dicom.common import (
    CLASSIC_PHASE_BITS_STORED,
    CLASSIC_PHASE_STORED_MAX,
    NOMINAL_PROTOCOL,
    PHASE_RESCALE_INTERCEPT,
    PHASE_RESCALE_SLOPE,
    SourceFrames,
    check_channels,
    decimal_string,
    magnitude_slope,
    magnitude_to_stored,
    new_instance,
    phase_from_stored,
    phase_to_stored,
    rescaled,
    set_monochrome_pixels,
    slice_keys,
)
from keras_hdl.dicom.deidentify import (
    ACQUISITION_ALLOWLIST,
    SERIES_UID_KEY,
    Identity,
    SyntheticInfo,
    acquisition_provenance,
    allowed_acquisition,
)
from keras_hdl.dicom.elements import (
    SEG_SOP_CLASS,
    integer,
    is_dicom_file,
    number,
    numbers,
    read_dataset,
    require_mr,
    stored_pixels,
    text,
)
from keras_hdl.errors import InputError, about
from keras_hdl.io_utils import atomic_path
from keras_hdl.series import COMPONENTS, Series

SEQUENCE_PREFIX = "fl2d1"
GEOMETRY_KEYWORDS = ("Rows", "Columns", "PixelSpacing", "ImageOrientationPatient", "ImagePositionPatient")
GEOMETRY_VALUES = {"PixelSpacing": 2, "ImageOrientationPatient": 6, "ImagePositionPatient": 3}
"""Number of values of each geometry attribute."""
DIRECTION_SUFFIXES = {"inx": 0, "iny": 1, "through": 2}
"""SequenceName direction suffix → velocity component (x, y, z in image axes)."""
_VENC_PATTERN = re.compile(r"v(\d+(?:\.\d+)?)(inx|iny|in|through)$", re.IGNORECASE)
_DIRECTION_PATTERN = re.compile(r"(inx|iny|in|through)$", re.IGNORECASE)


def sequence_name(venc: float, component: int) -> str:
    """SequenceName (SH, at most 16 characters) of a phase image: e.g. ``fl2d1_v20inx``."""
    suffix = f"v{venc:g}{list(DIRECTION_SUFFIXES)[component]}"
    for prefix in (f"{SEQUENCE_PREFIX}_", "fl2d_", ""):
        if len(prefix + suffix) <= 16:
            return prefix + suffix
    raise InputError(f"venc {venc:g} cm/s cannot be written in a 16-character SequenceName; round it")


def _csa_flow(ds: Dataset) -> tuple[float | None, str | None]:
    """(FlowVenc cm/s, FlowEncodingDirectionString) from a Siemens CSA image header, when present."""
    if (0x0029, 0x1010) not in ds:
        return None, None
    with warnings.catch_warnings():  # nibabel.nicom warns on import that its DICOM readers are experimental
        warnings.simplefilter("ignore")
        from nibabel.nicom import csareader

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            header = csareader.get_csa_header(ds, "image")
    except (csareader.CSAError, ValueError, KeyError):
        return None, None
    if not header:
        return None, None
    venc = csareader.get_scalar(header, "FlowVenc") if "FlowVenc" in header["tags"] else None
    direction = (
        csareader.get_scalar(header, "FlowEncodingDirectionString")
        if "FlowEncodingDirectionString" in header["tags"]
        else None
    )
    return (float(venc) if venc else None), (str(direction) if direction else None)


def phase_encoding(ds: Dataset, path: Path) -> tuple[int, float]:
    """(velocity component 0/1/2 for x/y/z, venc cm/s) of one phase image."""
    name = str(ds.get("SequenceName", "")).strip()
    match = _VENC_PATTERN.search(name)
    venc, direction = (float(match.group(1)), match.group(2).lower()) if match else (None, None)
    if venc is None:
        venc, csa_direction = _csa_flow(ds)
        direction_match = _DIRECTION_PATTERN.search(name) or _DIRECTION_PATTERN.search(csa_direction or "")
        direction = direction_match.group(1).lower() if direction_match else None
    if not venc:
        raise InputError(
            f"{path}: phase image with missing or zero venc: SequenceName {name!r} has no 'v<venc>' part "
            "(e.g. fl2d1_v20inx) and no Siemens CSA FlowVenc; the venc (cm/s) must be > 0"
        )
    if direction not in DIRECTION_SUFFIXES:
        raise InputError(
            f"{path}: SequenceName {name!r} does not tell the velocity direction: expected a suffix "
            "'inx' (along the row direction), 'iny' (along the column direction) or 'through' (slice normal); "
            "a plain 'in' is ambiguous between x and y"
        )
    return DIRECTION_SUFFIXES[direction], venc


def _dicom_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and is_dicom_file(p))
    if not files:
        raise InputError(f"{folder}: not DICOM: the folder holds no DICOM files (none starts with the DICM marker)")
    return files


def _rr_interval(ds: Dataset, trigger_times: np.ndarray, where: str) -> float | None:
    """RR interval (ms) from NominalInterval, refined by equally spaced trigger times (module docstring)."""
    heart_rate = number(ds, "HeartRate", where, 0.0)
    nominal = number(ds, "NominalInterval", where, 0.0) or (60000.0 / heart_rate if heart_rate else 0)
    if not nominal:
        return None
    steps = np.diff(trigger_times)
    if steps.size and np.isfinite(steps).all() and np.ptp(steps) < 0.01:
        refined = trigger_times.size * float(steps.mean())
        if abs(refined - nominal) < 1.0:
            return refined
    return nominal


def read_classic_frames(path: str | Path) -> tuple[Series, SourceFrames, list[Path]]:
    """Read a classic MR folder (or one file) into a :class:`Series`, the SEG references and any SEG files found."""
    path = Path(path)
    files = _dicom_files(path) if path.is_dir() else [path]
    images: dict[tuple[str, int], list[tuple[Path, Dataset]]] = {}
    vencs: dict[int, set[float]] = {}
    seg_files, other_types = [], set()
    for file in files:
        ds = read_dataset(file)
        if str(ds.get("SOPClassUID", "")) == SEG_SOP_CLASS:
            seg_files.append(file)
            continue
        if require_mr(ds, file) == "enhanced":
            raise InputError(f"{file}: an Enhanced MR multi-frame file inside a classic folder; pass the file itself")
        missing = [k for k in GEOMETRY_KEYWORDS if ds.get(k) in (None, "")]
        if missing:
            raise InputError(f"{file}: MR image without {', '.join(missing)}; cannot place it in the series")
        for keyword, count in GEOMETRY_VALUES.items():
            numbers(ds, keyword, count, str(file))
        image_type = list(ds.get("ImageType", []))
        flavour = str(image_type[2]).upper() if len(image_type) > 2 else ""
        if flavour == "M":
            channel = 0
        elif flavour == "P":
            component, venc = phase_encoding(ds, file)
            channel = component + 1
            vencs.setdefault(component, set()).add(venc)
        else:
            other_types.add("\\".join(image_type) or "none")
            continue
        images.setdefault((text(ds, "SeriesInstanceUID", str(file)), channel), []).append((file, ds))
    if not images:
        raise InputError(
            f"{path}: no magnitude or phase images: ImageType value 3 must be 'M' or 'P' "
            f"(found ImageType {', '.join(sorted(other_types))})"
        )
    by_channel: dict[int, list[tuple[Path, Dataset]]] = {}
    for (series_uid, channel), members in images.items():
        if channel in by_channel:
            name = "magnitude" if channel == 0 else f"phase {COMPONENTS[channel - 1]}"
            raise InputError(f"{path}: several {name} series (one is {series_uid}); point at one acquisition")
        by_channel[channel] = members
    for component, values in vencs.items():
        if len(values) > 1:
            raise InputError(f"{path}: phase {COMPONENTS[component]} images have different venc {sorted(values)} cm/s")

    sizes = {
        (integer(ds, "Rows", str(file)), integer(ds, "Columns", str(file))): file
        for members in by_channel.values()
        for file, ds in members
    }
    if len(sizes) > 1:
        listed = ", ".join(f"{r}x{c} ({file.name})" for (r, c), file in sizes.items())
        raise InputError(f"{path}: mixed matrix sizes: {listed}; all images of a series must share rows x columns")
    orientations = np.array(
        [ds.ImageOrientationPatient for members in by_channel.values() for _, ds in members], np.float64
    )
    if np.abs(orientations - orientations[0]).max() > 1e-4:
        raise InputError(f"{path}: images have different Image Orientation (Patient); one slice stack is needed")
    orientation = orientations[0]

    grouped: dict[int, dict[float, list[tuple[Path, Dataset]]]] = {}
    for channel, members in by_channel.items():
        keys = slice_keys(np.array([ds.ImagePositionPatient for _, ds in members], np.float64), orientation)
        for key, member in zip(keys, members, strict=True):
            grouped.setdefault(channel, {}).setdefault(float(key), []).append(member)
    check_channels({c: {k: len(v) for k, v in per.items()} for c, per in grouped.items()}, path)

    def frame_key(member: tuple[Path, Dataset]) -> tuple[float, float]:
        file, ds = member
        return number(ds, "TriggerTime", str(file), 0.0), number(ds, "InstanceNumber", str(file), 0.0)

    slice_order = sorted(grouped[0])
    ordered = [[sorted(grouped[c][k], key=frame_key) for k in slice_order] for c in range(4)]  # [c][s][t]

    def pixels(member: tuple[Path, Dataset], phase: bool) -> np.ndarray:
        file, ds = member
        stored = stored_pixels(ds, file, 1)[0]
        slope, intercept = number(ds, "RescaleSlope", str(file)), number(ds, "RescaleIntercept", str(file))
        return phase_from_stored(stored, slope, intercept) if phase else rescaled(stored, slope, intercept)

    magnitude = np.array([[pixels(m, False) for m in per_slice] for per_slice in ordered[0]]).swapaxes(0, 1)
    phase = np.array([[[pixels(m, True) for m in per_slice] for per_slice in ordered[c]] for c in (1, 2, 3)])
    first = ordered[0][0][0][1]
    trigger_times = np.array([number(ds, "TriggerTime", str(file), np.nan) for file, ds in ordered[0][0]])
    rr = _rr_interval(first, trigger_times, str(ordered[0][0][0][0]))
    with about(path):
        series = Series(
            magnitude=magnitude,
            phase=phase.transpose(2, 1, 0, 3, 4),
            venc=tuple(vencs[c].pop() for c in range(3)),
            pixel_spacing=tuple(float(v) for v in first.PixelSpacing),
            image_orientation=tuple(orientation),
            image_positions=np.array([per_slice[0][1].ImagePositionPatient for per_slice in ordered[0]], np.float64),
            rr_interval_ms=float(rr) if rr else None,
            provenance={
                "source_format": "dicom-classic",
                SERIES_UID_KEY: str(first.SeriesInstanceUID),
                **acquisition_provenance({k: first.get(k) for k in ACQUISITION_ALLOWLIST}),
            },
        )
    references = tuple(
        tuple(
            (text(ordered[0][s][t][1], "SOPInstanceUID", str(ordered[0][s][t][0])), None)
            for s in range(len(slice_order))
        )
        for t in range(series.num_frames)
    )
    return series, SourceFrames(first, str(first.SOPClassUID), str(first.SeriesInstanceUID), references), seg_files


def read_classic_mr(path: str | Path) -> Series:
    """Read a Siemens-style classic MR folder (magnitude + phase x, y, z images) into a :class:`Series`."""
    return read_classic_frames(path)[0]


def write_classic_mr(
    series: Series,
    folder: str | Path,
    *,
    synthetic: SyntheticInfo | None = None,
    identity: Identity | None = None,
) -> Path:
    """Write ``series`` as a Siemens-style folder of single-frame MR images (files ``IM_00001.dcm``...).

    Magnitude is series 1, phase x / y / z series 2–4; ``synthetic`` and ``identity`` as
    for :func:`keras_hdl.dicom.enhanced_writer.write_enhanced_mr`. Returns ``folder``.
    """
    if series.phase is None:
        raise InputError(
            "write_classic_mr: the series has no phase images; a 3Dir MVM folder needs magnitude and phase"
        )
    identity = identity or Identity.new(synthetic)
    acquisition = {**NOMINAL_PROTOCOL, **allowed_acquisition(series.provenance)}
    slope = magnitude_slope(series.magnitude)
    trigger_times = series.trigger_times_ms
    image_type0 = "DERIVED" if identity.synthetic else "ORIGINAL"
    normal_positions = series.slice_positions
    folder = Path(folder)
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        number = 0
        for channel in range(4):
            series_uid = generate_uid()
            if channel == 0:
                stored = magnitude_to_stored(series.magnitude, slope)
                name, description = SEQUENCE_PREFIX, "keras-hdl 3Dir MVM magnitude"
            else:
                component = channel - 1
                stored = phase_to_stored(series.phase[:, :, component], CLASSIC_PHASE_STORED_MAX)
                name = sequence_name(series.venc[component], component)
                description = f"keras-hdl 3Dir MVM phase {COMPONENTS[component]}"
            for s in range(series.num_slices):
                for t in range(series.num_frames):
                    number += 1
                    ds = new_instance(MRImageStorage)
                    identity.apply(ds, series_uid=series_uid, series_number=channel + 1, description=description)
                    ds.Modality = "MR"
                    ds.ImageType = [image_type0, "PRIMARY", "M" if channel == 0 else "P", "ND"]
                    ds.InstanceNumber = s * series.num_frames + t + 1
                    ds.AcquisitionNumber = 1
                    ds.PatientPosition = "HFS"
                    ds.BodyPartExamined = "HEART"
                    ds.ScanningSequence = "GR"
                    ds.SequenceVariant = "SP"
                    ds.ScanOptions = "CG" if trigger_times is not None else ""
                    ds.MRAcquisitionType = "2D"
                    ds.SequenceName = name
                    ds.AngioFlag = "N"
                    ds.SliceThickness = decimal_string(acquisition["SliceThickness"])
                    ds.RepetitionTime = decimal_string(acquisition["RepetitionTime"])
                    ds.EchoTime = decimal_string(acquisition["EchoTime"])
                    ds.FlipAngle = decimal_string(acquisition["FlipAngle"])
                    ds.MagneticFieldStrength = decimal_string(acquisition["MagneticFieldStrength"])
                    ds.EchoTrainLength = 1
                    if trigger_times is not None:
                        ds.TriggerTime = decimal_string(float(trigger_times[t]))
                        ds.NominalInterval = round(series.rr_interval_ms)
                        ds.CardiacNumberOfImages = series.num_frames
                    ds.ImagePositionPatient = decimal_string(series.image_positions[s].round(4))
                    ds.ImageOrientationPatient = decimal_string(np.round(series.image_orientation, 6))
                    ds.SliceLocation = decimal_string(round(float(normal_positions[s]), 4))
                    ds.PixelSpacing = decimal_string(series.pixel_spacing)
                    bits_stored = 16 if channel == 0 else CLASSIC_PHASE_BITS_STORED
                    set_monochrome_pixels(ds, *series.image_shape, bits_allocated=16, bits_stored=bits_stored)
                    if channel > 0 or slope != 1.0:
                        ds.RescaleIntercept = decimal_string(PHASE_RESCALE_INTERCEPT if channel else 0.0)
                        ds.RescaleSlope = decimal_string(PHASE_RESCALE_SLOPE if channel else slope)
                        ds.RescaleType = "US"
                    ds.PixelData = stored[t, s].tobytes()
                    ds["PixelData"].VR = "OW"
                    ds.save_as(tmp / f"IM_{number:05d}.dcm", enforce_file_format=True)
    return folder
