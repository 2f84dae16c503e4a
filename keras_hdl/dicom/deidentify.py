"""Identity of written DICOM: the phantom's, or a synthetic twin's that carries nothing of the source patient.

How source attributes travel
----------------------------
The writers never see a source DICOM dataset, only a :class:`~keras_hdl.series.Series`.
The readers copy into ``Series.provenance`` exactly the acquisition physics in
:data:`ACQUISITION_ALLOWLIST` (keys ``dicom.<Keyword>``, numbers only) plus the source
SeriesInstanceUID (``dicom_series_uid``, used to check that a SEG references the series;
never written). Nothing else of a source file reaches a writer, so a synthetic twin
cannot carry the patient's name, ID, birth date, accession number, institution, dates,
UIDs or private tags: its identity is made here from scratch (new UIDs, today's date).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
from collections.abc import Mapping

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from keras_hdl import __version__
from keras_hdl.errors import InputError

PROVENANCE_PREFIX = "dicom."
SERIES_UID_KEY = "dicom_series_uid"

ACQUISITION_ALLOWLIST: dict[str, tuple[str | None, str]] = {
    # classic keyword: (Enhanced MR functional group sequence or None for top level, Enhanced keyword)
    "MagneticFieldStrength": (None, "MagneticFieldStrength"),  # T
    "RepetitionTime": ("MRTimingAndRelatedParametersSequence", "RepetitionTime"),  # ms
    "FlipAngle": ("MRTimingAndRelatedParametersSequence", "FlipAngle"),  # degrees
    "EchoTime": ("MREchoSequence", "EffectiveEchoTime"),  # ms
    "SliceThickness": ("PixelMeasuresSequence", "SliceThickness"),  # mm
    "PixelBandwidth": ("MRImagingModifierSequence", "PixelBandwidth"),  # Hz/pixel
    "NumberOfAverages": ("MRAveragesSequence", "NumberOfAverages"),
}
"""Non-identifying acquisition attributes that travel from a source series to what we write."""


@dataclasses.dataclass(frozen=True)
class SyntheticInfo:
    """How a synthetic twin was made: written into its SeriesDescription and ImageComments.

    ``method``: e.g. "HDL interpolation + phase synthesis"; ``k``: frames dropped between
    kept frames; ``model_version``: the trained model's version string.
    """

    method: str
    k: int
    model_version: str

    def __post_init__(self) -> None:
        if not self.method.strip() or not self.model_version.strip():
            raise InputError(f"SyntheticInfo: method and model_version must be non-empty, got {self}")
        if int(self.k) != self.k or self.k < 0:
            raise InputError(
                f"SyntheticInfo.k: frames dropped between kept frames must be an integer >= 0, got {self.k}"
            )

    @property
    def description(self) -> str:
        """SeriesDescription (LO, at most 64 characters)."""
        return f"SYNTHETIC {self.method} K={self.k} model {self.model_version}"[:64]

    @property
    def comment(self) -> str:
        return (
            f"Synthetic digital twin made by keras-hdl {__version__}: method {self.method}, K={self.k} "
            f"(frames dropped between kept frames), model version {self.model_version}. "
            "Not acquired from a patient; no source identity is carried."
        )


def acquisition_provenance(lookup: Mapping[str, object]) -> dict[str, float]:
    """``dicom.<Keyword>`` → float for the allow-listed keywords that ``lookup`` (keyword → value) holds."""
    provenance = {}
    for keyword, value in lookup.items():
        if keyword in ACQUISITION_ALLOWLIST and value not in (None, ""):
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            if number != 0:  # 0 means "not recorded" for every allow-listed attribute
                provenance[PROVENANCE_PREFIX + keyword] = number
    return provenance


def allowed_acquisition(provenance: Mapping[str, object]) -> dict[str, float]:
    """The allow-listed acquisition attributes held in a series' provenance: keyword → value."""
    return {
        key[len(PROVENANCE_PREFIX) :]: float(value)
        for key, value in provenance.items()
        if key.startswith(PROVENANCE_PREFIX) and key[len(PROVENANCE_PREFIX) :] in ACQUISITION_ALLOWLIST
    }


@dataclasses.dataclass(frozen=True)
class Identity:
    """Patient, study and equipment of one written acquisition (shared by its image series and SEG)."""

    patient_name: str
    patient_id: str
    study_uid: str
    frame_of_reference_uid: str
    date: str
    time: str
    synthetic: SyntheticInfo | None

    @classmethod
    def new(cls, synthetic: SyntheticInfo | None = None, patient_id: str | None = None) -> Identity:
        """A fresh identity: new UIDs, today's date; a synthetic twin gets an anonymous patient."""
        study_uid = generate_uid()
        now = datetime.datetime.now()
        default_id = ("SYN-" if synthetic else "PHANTOM-") + hashlib.sha1(study_uid.encode()).hexdigest()[:10]
        return cls(
            patient_name="SYNTHETIC^TWIN" if synthetic else "PHANTOM^KERAS-HDL",
            patient_id=(patient_id or default_id)[:64],
            study_uid=study_uid,
            frame_of_reference_uid=generate_uid(),
            date=now.strftime("%Y%m%d"),
            time=now.strftime("%H%M%S"),
            synthetic=synthetic,
        )

    def apply(self, ds: Dataset, *, series_uid: str, series_number: int, description: str) -> None:
        """Write the Patient, General Study, General Series, Frame of Reference, Equipment and SOP Common basics."""
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.PatientName = self.patient_name
        ds.PatientID = self.patient_id
        ds.PatientBirthDate = ""
        ds.PatientSex = ""
        ds.StudyInstanceUID = self.study_uid
        ds.StudyDate = self.date
        ds.StudyTime = self.time
        ds.ReferringPhysicianName = ""
        ds.StudyID = "1"
        ds.AccessionNumber = ""
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = series_number
        ds.SeriesDate = self.date
        ds.SeriesTime = self.time
        ds.ContentDate = self.date
        ds.ContentTime = self.time
        ds.InstanceCreationDate = self.date
        ds.InstanceCreationTime = self.time
        ds.FrameOfReferenceUID = self.frame_of_reference_uid
        ds.PositionReferenceIndicator = ""
        ds.Manufacturer = "keras-hdl"
        ds.ManufacturerModelName = "keras-hdl synthetic twin" if self.synthetic else "keras-hdl phantom"
        ds.DeviceSerialNumber = "0"
        ds.SoftwareVersions = __version__
        ds.SeriesDescription = self.synthetic.description if self.synthetic else description
        if self.synthetic:
            ds.ImageComments = self.synthetic.comment
            ds.PatientIdentityRemoved = "YES"
            ds.DeidentificationMethod = "keras-hdl synthetic twin: new identity, nothing copied"
