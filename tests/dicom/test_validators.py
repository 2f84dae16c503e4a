"""Third-party tools judge what we write: dicom3tools' dciodvfy and dcm2niix."""

from __future__ import annotations

import json
import shutil
import subprocess

import nibabel
import numpy as np
import pydicom
import pytest
from dicom_test_series import COLS, FRAMES, ORIENTATION, ROWS, SLICES, make_series

from keras_hdl.dicom import SyntheticInfo, write_dicom_classic_scan, write_dicom_scan
from keras_hdl.readers import read_masks, read_series

needs_dciodvfy = pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (dicom3tools) not installed")
needs_dcm2niix = pytest.mark.skipif(shutil.which("dcm2niix") is None, reason="dcm2niix not installed")

ACCEPTED_WARNINGS = {
    # The phantom has no receiver: PixelBandwidth (Type 1 in the MR Imaging Modifier macro) is 0 = not recorded.
    "Value is zero for value 1 of attribute <Pixel Bandwidth>",
    # Classic files, Siemens style: ImageType value 3 'M' / 'P' and phase rescale slope 2 / intercept -4096
    # are what Siemens writes and what readers of Siemens phase images expect.
    "Unrecognized defined term <M> for value 3 of attribute <Image Type>",
    "Unrecognized defined term <P> for value 3 of attribute <Image Type>",
    "Attribute is not present in standard DICOM IOD - (0x0028,0x1052) DS Rescale Intercept",
    "Attribute is not present in standard DICOM IOD - (0x0028,0x1053) DS Rescale Slope",
    "Attribute is not present in standard DICOM IOD - (0x0028,0x1054) LO Rescale Type",
    "Dicom dataset contains attributes not present in standard DICOM IOD - this is a Standard Extended SOP Class",
}
ACCEPTED_WARNING_PREFIXES = (
    # Only relevant to building a DICOMDIR on removable media.
    "Missing attribute or value that would be needed to build DICOMDIR",
    # Siemens-style phase rescale on classic MR files (see ACCEPTED_WARNINGS).
    "Non-identity Modality LUT Module (RescaleSlope and RescaleIntercept) not expected to be present in standard MR",
)


def dciodvfy(path) -> tuple[list[str], list[str]]:
    """(errors, warnings not on the accepted list) that dciodvfy reports for one file."""
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    lines = [line.strip() for line in (result.stdout + result.stderr).splitlines()]
    errors = [line for line in lines if line.startswith("Error")]
    warnings = [line.removeprefix("Warning - ").strip() for line in lines if line.startswith("Warning")]
    unexpected = [w for w in warnings if w not in ACCEPTED_WARNINGS and not w.startswith(ACCEPTED_WARNING_PREFIXES)]
    return errors, unexpected


@pytest.fixture(scope="module")
def synthetic_scans(tmp_path_factory):
    twin = SyntheticInfo(method="HDL interpolation + phase synthesis", k=3, model_version="0.1.0")
    series = make_series()
    enhanced, classic = tmp_path_factory.mktemp("twin"), tmp_path_factory.mktemp("twin_classic")
    write_dicom_scan(series, enhanced, synthetic=twin)
    write_dicom_classic_scan(series, classic, synthetic=twin)
    return enhanced, classic


@needs_dciodvfy
@pytest.mark.parametrize("kind", ["phantom", "synthetic"])
def test_dciodvfy_reports_no_errors(dicom_scan, classic_scan, synthetic_scans, kind):
    enhanced, classic = (dicom_scan, classic_scan) if kind == "phantom" else synthetic_scans
    files = [
        enhanced / "series.dcm",
        enhanced / "seg.dcm",
        classic / "seg.dcm",
        *sorted((classic / "series").iterdir())[:: FRAMES * SLICES],  # one file of each of the 4 series
    ]
    assert len(files) == 7
    for path in files:
        errors, unexpected = dciodvfy(path)
        assert errors == [], f"{path.name}: {errors}"
        assert unexpected == [], f"{path.name}: {unexpected}"


def run_dcm2niix(source, out, single_file: bool) -> list:
    out.mkdir()
    args = ["dcm2niix", "-f", "%s_%d", "-o", str(out)] + (["-s", "y"] if single_file else []) + [str(source)]
    subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return sorted(out.glob("*.nii"))


@needs_dcm2niix
def test_dcm2niix_converts_series_dcm(dicom_scan, tmp_path):
    (nifti,) = run_dcm2niix(dicom_scan / "series.dcm", tmp_path / "out", single_file=True)
    image = nibabel.load(nifti)
    # One 4-D image: columns x rows x slices x (4 image types x frames).
    assert image.shape == (COLS, ROWS, SLICES, 4 * FRAMES)
    sidecar = json.loads(nifti.with_suffix(".json").read_text())
    assert sidecar["Modality"] == "MR"
    assert sidecar["MagneticFieldStrength"] == 1.5
    assert sidecar["RepetitionTime"] == pytest.approx(0.033)  # seconds in BIDS
    np.testing.assert_allclose(sidecar["ImageOrientationPatientDICOM"], ORIENTATION, atol=1e-6)
    assert sidecar["SliceThickness"] == 8
    # dcm2niix (v1.0.20220720) applies one rescale (the phase frames' 2·s − 4096) to every frame and does not
    # follow our frame dimensions, so check it holds exactly the 48 stored frames, each once (rows bottom-up).
    stored = pydicom.dcmread(dicom_scan / "series.dcm").pixel_array.reshape(-1, ROWS, COLS)
    converted = ((np.asarray(image.dataobj) + 4096) / 2)[:, ::-1].transpose(3, 2, 1, 0).reshape(-1, ROWS, COLS)
    as_bytes = sorted(frame.astype(np.uint16).tobytes() for frame in converted)
    assert as_bytes == sorted(frame.tobytes() for frame in stored)


@needs_dcm2niix
def test_dcm2niix_converts_the_classic_folder_and_masks_drawn_on_it_come_back(classic_scan, mvm_series, tmp_path):
    niftis = run_dcm2niix(classic_scan / "series", tmp_path / "out", single_file=False)
    assert [n.name.split("_")[0] for n in niftis] == ["1", "2", "3", "4"]  # magnitude + phase x, y, z series
    magnitude = nibabel.load(niftis[0])
    assert magnitude.shape == (COLS, ROWS, SLICES, FRAMES)
    # Rows are stored bottom-up; values are the magnitudes in scanner units.
    np.testing.assert_allclose(magnitude.get_fdata()[:, ::-1].transpose(3, 2, 1, 0), mvm_series.magnitude, atol=0.01)
    phase_x = nibabel.load(niftis[1]).get_fdata()[:, ::-1].transpose(3, 2, 1, 0)
    # dcm2niix's phase values are the rescaled r = 2·p − 4096 (v = r / 4096 · venc); +venc is stored as 4094.
    expected = np.minimum(2 * mvm_series.phase[:, :, 0] - 4096, 4094)
    np.testing.assert_array_equal(phase_x, expected)
    sidecar = json.loads(niftis[1].with_suffix(".json").read_text())
    assert sidecar["ImageType"][2] == "P"
    # A mask drawn on dcm2niix's magnitude NIfTI (its affine, its row order) lands on the right pixels.
    drawn = (magnitude.get_fdata() > 300).astype(np.uint8)
    nibabel.save(nibabel.Nifti1Image(drawn, magnitude.affine), tmp_path / "drawn.nii.gz")
    series = read_series(classic_scan / "series")
    np.testing.assert_array_equal(read_masks(tmp_path / "drawn.nii.gz", series), series.magnitude > 300)
