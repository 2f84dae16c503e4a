"""Writing Enhanced MR Image Storage: one multi-frame ``series.dcm`` holding every slice, frame and image type.

Layout written (see :mod:`keras_hdl.dicom.common` for the pixel conventions):
4·T·S frames: magnitude, then phase x, y, z; within each, frame by frame, slice by slice
(slices vary fastest: dcm2niix reads such a file as one (W, H, S, 4·T) volume series).
Each frame carries Frame Content (Dimension Index Values, Temporal Position Index,
Stack ID "1", In-Stack Position Number), Plane Position, MR Image Frame Type (Complex
Image Component MAGNITUDE / PHASE), MR Velocity Encoding (direction in patient
coordinates, min −venc / max +venc cm/s), Cardiac Synchronization (Nominal Cardiac
Trigger Delay Time, ms) and Pixel Value Transformation. Dimensions: Frame Label
(image type), Temporal Position Index (frame), In-Stack Position Number (slice).
The reader is :mod:`keras_hdl.dicom.enhanced`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import EnhancedMRImageStorage, generate_uid

from keras_hdl.dicom.common import (
    NOMINAL_PROTOCOL,
    PHASE_RESCALE_INTERCEPT,
    PHASE_RESCALE_SLOPE,
    code_item,
    dataset_item,
    decimal_string,
    image_axes,
    magnitude_slope,
    magnitude_to_stored,
    new_instance,
    save_with_pixel_data,
    set_monochrome_pixels,
)
from keras_hdl.dicom.deidentify import (
    Identity,
    SyntheticInfo,
    allowed_acquisition,
)
from keras_hdl.dicom.enhanced import FRAME_LABELS
from keras_hdl.errors import InputError
from keras_hdl.io_utils import FrameFile, atomic_path
from keras_hdl.series import PHASE_LEVELS, Series


def _shared_groups(series: Series, acquisition: dict[str, float]) -> Dataset:
    """Functional groups common to every frame (geometry, timing, coils, anatomy)."""
    groups = dataset_item(
        PixelMeasuresSequence=[
            dataset_item(
                PixelSpacing=decimal_string(series.pixel_spacing),
                SliceThickness=decimal_string(acquisition["SliceThickness"]),
            )
        ],
        PlaneOrientationSequence=[
            dataset_item(ImageOrientationPatient=decimal_string(np.round(series.image_orientation, 6)))
        ],
        FrameAnatomySequence=[
            dataset_item(AnatomicRegionSequence=[code_item("80891009", "SCT", "Heart")], FrameLaterality="U")
        ],
        MRTimingAndRelatedParametersSequence=[
            dataset_item(
                RepetitionTime=decimal_string(acquisition["RepetitionTime"]),
                FlipAngle=decimal_string(acquisition["FlipAngle"]),
                EchoTrainLength=1,
                RFEchoTrainLength=0,
                GradientEchoTrainLength=1,
                # A simulation deposits no energy: SAR and gradient output are written as 0.
                SpecificAbsorptionRateSequence=[
                    dataset_item(SpecificAbsorptionRateDefinition="IEC_WHOLE_BODY", SpecificAbsorptionRateValue=0.0)
                ],
                GradientOutputType="DB_DT",
                GradientOutput=0.0,
                OperatingModeSequence=[
                    dataset_item(OperatingModeType=mode, OperatingMode="IEC_NORMAL")
                    for mode in ("STATIC FIELD", "RF", "GRADIENT")
                ],
            )
        ],
        MRFOVGeometrySequence=[
            dataset_item(
                InPlanePhaseEncodingDirection="ROW",
                MRAcquisitionFrequencyEncodingSteps=series.image_shape[1],
                MRAcquisitionPhaseEncodingStepsInPlane=series.image_shape[0],
                PercentSampling=100.0,
                PercentPhaseFieldOfView=100.0,
            )
        ],
        MREchoSequence=[dataset_item(EffectiveEchoTime=decimal_string(acquisition["EchoTime"]))],
        MRModifierSequence=[
            dataset_item(
                InversionRecovery="NO",
                FlowCompensation="NONE",
                T2Preparation="NO",
                SpectrallySelectedExcitation="NONE",
                SpatialPresaturation="NONE",
                PartialFourier="NO",
                ParallelAcquisition="NO",
            )
        ],
        MRImagingModifierSequence=[
            dataset_item(
                MagnetizationTransfer="NONE",
                BloodSignalNulling="NO",
                Tagging="NONE",
                TransmitterFrequency=decimal_string(42.577478 * acquisition["MagneticFieldStrength"]),
                PixelBandwidth=decimal_string(acquisition.get("PixelBandwidth", 0.0)),
            )
        ],
        MRReceiveCoilSequence=[
            dataset_item(
                ReceiveCoilName="SIMULATED",
                ReceiveCoilManufacturerName="",
                ReceiveCoilType="BODY",
                QuadratureReceiveCoil="NO",
            )
        ],
        MRTransmitCoilSequence=[
            dataset_item(TransmitCoilName="SIMULATED", TransmitCoilManufacturerName="", TransmitCoilType="BODY")
        ],
        MRAveragesSequence=[dataset_item(NumberOfAverages=decimal_string(acquisition.get("NumberOfAverages", 1.0)))],
    )
    return groups


def _frame_group(
    series: Series,
    channel: int,
    slice_index: int,
    frame_index: int,
    magnitude_rescale: float,
    trigger_ms: float | None,
    frame_datetime: str,
    image_type: str,
    frame_duration_ms: float,
) -> Dataset:
    """Per-frame functional groups of one (image type, slice, frame)."""
    axes = image_axes(series.image_orientation)
    directions = [0, 1, 2] if channel == 0 else [channel - 1]
    velocity_items = [
        dataset_item(
            VelocityEncodingDirection=decimal_string(axes[c].round(6)),
            VelocityEncodingMinimumValue=decimal_string(-series.venc[c]),
            VelocityEncodingMaximumValue=decimal_string(series.venc[c]),
        )
        for c in directions
    ]
    is_phase = channel > 0
    group = dataset_item(
        FrameContentSequence=[
            dataset_item(
                FrameAcquisitionNumber=1,
                FrameReferenceDateTime=frame_datetime,
                FrameAcquisitionDateTime=frame_datetime,
                FrameAcquisitionDuration=decimal_string(frame_duration_ms),
                DimensionIndexValues=[channel + 1, frame_index + 1, slice_index + 1],
                TemporalPositionIndex=frame_index + 1,
                StackID="1",
                InStackPositionNumber=slice_index + 1,
                FrameLabel=FRAME_LABELS[channel],
            )
        ],
        PlanePositionSequence=[
            dataset_item(ImagePositionPatient=decimal_string(series.image_positions[slice_index].round(4)))
        ],
        MRImageFrameTypeSequence=[
            dataset_item(
                FrameType=[image_type, "PRIMARY", "CARDIAC_GATED", "NONE"],
                PixelPresentation="MONOCHROME",
                VolumetricProperties="VOLUME",
                VolumeBasedCalculationTechnique="NONE",
                ComplexImageComponent="PHASE" if is_phase else "MAGNITUDE",
                AcquisitionContrast="FLOW_ENCODED",
            )
        ],
        MRVelocityEncodingSequence=velocity_items,
        PixelValueTransformationSequence=[
            dataset_item(
                RescaleIntercept=decimal_string(PHASE_RESCALE_INTERCEPT if is_phase else 0.0),
                RescaleSlope=decimal_string(PHASE_RESCALE_SLOPE if is_phase else magnitude_rescale),
                RescaleType="US",
            )
        ],
    )
    if trigger_ms is not None:
        group.CardiacSynchronizationSequence = [
            dataset_item(
                NominalCardiacTriggerDelayTime=decimal_string(trigger_ms),
                RRIntervalTimeNominal=decimal_string(series.rr_interval_ms),
            )
        ]
    return group


def _add_acquisition_modules(ds: Dataset, series: Series) -> None:
    """MR Pulse Sequence module of an ORIGINAL image (a phase-contrast gradient echo, 3 encodings)."""
    ds.PulseSequenceName = "PC_GRE_3DIR"
    ds.MRAcquisitionType = "2D"
    ds.EchoPulseSequence = "GRADIENT"
    ds.MultiPlanarExcitation = "NO"
    ds.PhaseContrast = "YES"
    ds.VelocityEncodingAcquisitionSequence = [
        dataset_item(VelocityEncodingDirection=decimal_string(axis.round(6)))
        for axis in image_axes(series.image_orientation)
    ]
    ds.TimeOfFlightContrast = "NO"
    ds.SteadyStatePulseSequence = "NONE"
    ds.EchoPlanarPulseSequence = "NO"
    ds.SaturationRecovery = "NO"
    ds.SpectrallySelectedSuppression = "NONE"
    ds.OversamplingPhase = "NONE"
    ds.GeometryOfKSpaceTraversal = "RECTILINEAR"
    ds.RectilinearPhaseEncodeReordering = "LINEAR"
    ds.SegmentedKSpaceTraversal = "SINGLE"
    ds.NumberOfKSpaceTrajectories = 1


def write_enhanced_mr(
    series: Series,
    path: str | Path,
    *,
    synthetic: SyntheticInfo | None = None,
    identity: Identity | None = None,
    series_number: int = 1,
    images: tuple[FrameFile, FrameFile] | None = None,
) -> Path:
    """Write ``series`` (magnitude + phase) as one Enhanced MR Image Storage file at ``path``.

    ``synthetic`` marks a synthetic twin (ImageType DERIVED, a description of how it was
    made, an anonymous patient); ``identity`` shares patient/study/frame of reference
    with other files of one acquisition (default: a new one). ``images``: the magnitude
    (T, S, H, W) and raw phase (T, S, 3, H, W) on disk, read frame by frame, for a series
    too big to hold (``series`` then gives the rest). Returns ``path``.
    """
    if images is None and series.phase is None:
        raise InputError("write_enhanced_mr: the series has no phase images; a 3Dir MVM file needs magnitude and phase")
    if images is None:
        magnitude_frame, phase_frame = series.magnitude.__getitem__, series.phase.__getitem__
    else:
        magnitude_frame, phase_frame = images[0].frame, images[1].frame
    identity = identity or Identity.new(synthetic)
    acquisition = {**NOMINAL_PROTOCOL, **allowed_acquisition(series.provenance)}
    frames, slices, rows, cols = series.magnitude.shape
    slope = magnitude_slope(magnitude_frame(t) for t in range(frames))
    trigger_times = series.trigger_times_ms
    original = "DERIVED" if identity.synthetic else "ORIGINAL"
    frame_datetime = identity.date + identity.time
    frame_ms = 0.0 if series.rr_interval_ms is None else series.rr_interval_ms / frames

    def stored_blocks():  # frame by frame, in storage order: temporaries of one frame, not of the whole series
        for t in range(frames):
            yield magnitude_to_stored(magnitude_frame(t), slope)
        for component in range(3):
            for t in range(frames):
                yield np.clip(np.round(phase_frame(t)[:, component]), 0, PHASE_LEVELS).astype(np.uint16)

    per_frame = []
    for channel in range(4):
        for t in range(frames):
            for s in range(slices):
                trigger_ms = None if trigger_times is None else float(trigger_times[t])
                per_frame.append(
                    _frame_group(series, channel, s, t, slope, trigger_ms, frame_datetime, original, frame_ms)
                )

    ds = new_instance(EnhancedMRImageStorage)
    identity.apply(ds, series_uid=generate_uid(), series_number=series_number, description="keras-hdl 3Dir MVM phantom")
    ds.Modality = "MR"
    ds.InstanceNumber = 1
    ds.ImageType = [original, "PRIMARY", "CARDIAC_GATED", "NONE"]
    ds.PixelPresentation = "MONOCHROME"
    ds.VolumetricProperties = "VOLUME"
    ds.VolumeBasedCalculationTechnique = "NONE"
    ds.ComplexImageComponent = "MIXED"
    ds.AcquisitionContrast = "FLOW_ENCODED"
    ds.ContentQualification = "RESEARCH"
    ds.ResonantNucleus = "1H"
    ds.KSpaceFiltering = "NONE"
    ds.ApplicableSafetyStandardAgency = "IEC"
    ds.MagneticFieldStrength = decimal_string(acquisition["MagneticFieldStrength"])
    ds.PatientPosition = "HFS"
    ds.AcquisitionNumber = 1
    ds.AcquisitionDateTime = frame_datetime
    ds.AcquisitionDuration = 0.0
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.PresentationLUTShape = "IDENTITY"
    ds.AcquisitionContextSequence = []
    ds.BodyPartExamined = "HEART"
    if not identity.synthetic:  # acquisition modules: required for ORIGINAL images, not allowed for DERIVED
        _add_acquisition_modules(ds, series)
    if trigger_times is not None:
        ds.CardiacSynchronizationTechnique = "RETROSPECTIVE"
        ds.CardiacSignalSource = "ECG"
        ds.CardiacBeatRejectionTechnique = "NONE"
        ds.LowRRValue = ds.HighRRValue = None
        if not identity.synthetic:
            ds.CardiacRRIntervalSpecified = decimal_string(series.rr_interval_ms)
            ds.IntervalsAcquired = ds.IntervalsRejected = None
    # Image pixel and multi-frame
    set_monochrome_pixels(ds, rows, cols, bits_allocated=16, bits_stored=16)
    ds.NumberOfFrames = len(per_frame)
    ds.SharedFunctionalGroupsSequence = [_shared_groups(series, acquisition)]
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    organization_uid = generate_uid()
    ds.DimensionOrganizationSequence = [dataset_item(DimensionOrganizationUID=organization_uid)]
    ds.DimensionOrganizationType = "3D_TEMPORAL"
    ds.DimensionIndexSequence = [
        dataset_item(
            DimensionOrganizationUID=organization_uid,
            DimensionIndexPointer=pointer,
            FunctionalGroupPointer=0x00209111,
            DimensionDescriptionLabel=label,
        )
        for pointer, label in (
            (0x00209453, "Image type"),
            (0x00209128, "Cardiac phase"),
            (0x00209057, "Slice"),
        )
    ]
    path = Path(path)
    with atomic_path(path) as tmp:
        save_with_pixel_data(ds, stored_blocks(), 4 * frames * slices * rows * cols * 2, tmp)
    return path
