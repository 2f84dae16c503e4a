"""A synthetic twin of an identifying source series carries none of the source's identity."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from keras_hdl.dicom import SyntheticInfo, write_dicom_classic_scan, write_dicom_scan
from keras_hdl.dicom.deidentify import ACQUISITION_ALLOWLIST
from keras_hdl.errors import InputError
from keras_hdl.readers import read_series

IDENTIFYING_TEXT = {
    "PatientName": "DOE^JANE^Q",
    "PatientID": "MRN-0042-7731",
    "OtherPatientIDs": "ALT-99812",
    "PatientAddress": "12 Elm Street Springfield",
    "PatientTelephoneNumbers": "555-0199-X",
    "AccessionNumber": "ACC77812",
    "InstitutionName": "Saint Example Hospital",
    "InstitutionAddress": "1 Hospital Road Example City",
    "InstitutionalDepartmentName": "Cardiology Dept East",
    "ReferringPhysicianName": "HOUSE^GREGORY",
    "PerformingPhysicianName": "WILSON^JAMES",
    "OperatorsName": "TECH^TOM",
    "StationName": "MRSCANNER07",
    "DeviceSerialNumber": "SN-558812",
    "StudyID": "STUDY8812",
    "StudyDescription": "Cardiac MR of Jane Doe",
    "SeriesDescription": "TPM Jane Doe base",
    "ProtocolName": "JD_TPM_protocol",
}
IDENTIFYING_DATES = {
    "PatientBirthDate": "19450607",
    "StudyDate": "20190412",
    "SeriesDate": "20190413",
    "AcquisitionDate": "20190414",
    "ContentDate": "20190415",
}
PRIVATE_CREATOR, PRIVATE_VALUE = "ACME PRIVATE", "SECRET-PRIVATE-VALUE-DOE"
CSA_BYTES = b"SV10\x04\x03\x02\x01PRIVATE-CSA-DOE-JANE"
TWIN = SyntheticInfo(method="HDL interpolation + phase synthesis", k=3, model_version="0.1.0")


def walk(ds: Dataset):
    for element in ds:
        yield element
        if element.VR == "SQ":
            for item in element.value:
                yield from walk(item)


@pytest.fixture(scope="module")
def identifying_source(tmp_path_factory, classic_scan):
    """The classic scan with every identifying attribute, dates and private tags filled in."""
    folder = tmp_path_factory.mktemp("source") / "series"
    folder.mkdir()
    uids = set()
    for path in sorted((classic_scan / "series").iterdir()):
        ds = pydicom.dcmread(path)
        for keyword, value in {**IDENTIFYING_TEXT, **IDENTIFYING_DATES}.items():
            setattr(ds, keyword, value)
        ds.PatientAge, ds.StudyTime = "074Y", "101112"
        block = ds.private_block(0x0019, PRIVATE_CREATOR, create=True)
        block.add_new(0x01, "LO", PRIVATE_VALUE)
        ds.add_new((0x0029, 0x0010), "LO", "SIEMENS CSA HEADER")
        ds.add_new((0x0029, 0x1010), "OB", CSA_BYTES)
        uids |= {ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.FrameOfReferenceUID}
        ds.save_as(folder / path.name)
    shutil.copy(classic_scan / "seg.dcm", folder.parent / "seg.dcm")  # the twin gets masks, hence a SEG
    return folder, uids


@pytest.fixture(scope="module", params=["dicom", "dicom-classic"])
def twin_files(request, tmp_path_factory, identifying_source):
    folder, _ = identifying_source
    series = read_series(folder)
    out = tmp_path_factory.mktemp("twin")
    writer = write_dicom_scan if request.param == "dicom" else write_dicom_classic_scan
    writer(series, out, synthetic=TWIN)
    return series, sorted(p for p in out.rglob("*.dcm"))


def test_source_identity_stays_out_of_the_series_model(twin_files):
    series, _ = twin_files
    allowed = {"source_format", "dicom_series_uid"} | {f"dicom.{k}" for k in ACQUISITION_ALLOWLIST}
    assert set(series.provenance) <= allowed
    assert series.provenance["dicom.MagneticFieldStrength"] == 1.5


def test_twin_carries_no_source_identity(twin_files, identifying_source):
    _, files = twin_files
    _, source_uids = identifying_source
    assert len(files) >= 2  # images + seg.dcm
    checked = sorted(IDENTIFYING_TEXT) + sorted(IDENTIFYING_DATES) + ["PatientAge", "StudyTime", "private tags", "UIDs"]
    for path in files:
        raw = path.read_bytes()
        ds = pydicom.dcmread(path)
        elements = list(walk(ds))
        for keyword, value in IDENTIFYING_TEXT.items():
            assert value.encode() not in raw, f"{path.name}: {keyword} value {value!r} found (checked: {checked})"
        for needle in (PRIVATE_VALUE.encode(), PRIVATE_CREATOR.encode(), b"PRIVATE-CSA-DOE-JANE", b"SIEMENS CSA"):
            assert needle not in raw, f"{path.name}: private content {needle!r} found"
        assert not any(element.tag.is_private for element in elements), f"{path.name}: private tags"
        dates = {str(e.value) for e in elements if e.VR in ("DA", "DT", "TM") and e.value}
        for keyword, value in IDENTIFYING_DATES.items():
            assert not any(value in d for d in dates), f"{path.name}: {keyword} {value} found in {dates}"
        assert "101112" not in {str(e.value) for e in elements if e.VR == "TM"}
        assert ds.get("PatientAge") is None
        assert ds.PatientBirthDate == ""
        uids = {str(e.value) for e in elements if e.VR == "UI"}
        assert not uids & source_uids, f"{path.name}: source UIDs reused"
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.PatientName == "SYNTHETIC^TWIN"


def test_twin_says_it_is_synthetic_and_how_it_was_made(twin_files):
    _, files = twin_files
    images = [p for p in files if p.name != "seg.dcm"]
    for path in images[:: max(1, len(images) // 4)]:
        ds = pydicom.dcmread(path)
        assert ds.ImageType[0] == "DERIVED"
        assert ds.SeriesDescription.startswith("SYNTHETIC")
        for part in (TWIN.method, "K=3", "model 0.1.0"):
            assert part in ds.SeriesDescription
        assert "Synthetic digital twin" in ds.ImageComments and "K=3" in ds.ImageComments
        for frame in ds.get("PerFrameFunctionalGroupsSequence", []):
            assert frame.MRImageFrameTypeSequence[0].FrameType[0] == "DERIVED"
        # the allow-listed acquisition physics travelled
        assert float(ds.MagneticFieldStrength) == 1.5


def test_synthetic_info_is_validated():
    with pytest.raises(InputError, match="k"):
        SyntheticInfo(method="HDL", k=-1, model_version="1")
    with pytest.raises(InputError, match="non-empty"):
        SyntheticInfo(method=" ", k=0, model_version="1")
    assert np.char.str_len(SyntheticInfo("x" * 80, 3, "1").description) == 64
