"""DICOM files from outside the project (pydicom's and nibabel's bundled test data): clear refusals, no crash."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import nibabel
import pytest
from pydicom.data import get_testdata_file

from keras_hdl.errors import InputError
from keras_hdl.readers import read_series

NIBABEL_DATA = Path(nibabel.__file__).parent / "nicom" / "tests" / "data"

CASES = [
    # (source, file name, the message's key phrase)
    ("pydicom", "MR_small.dcm", "no magnitude or phase images: ImageType value 3 must be 'M' or 'P'"),
    ("pydicom", "MR_small_bigendian.dcm", "no magnitude or phase images"),
    ("pydicom", "MR_small_implicit.dcm", "no magnitude or phase images"),
    ("pydicom", "examples_overlay.dcm", "no magnitude or phase images"),  # Siemens MPR, ImageType value 3 'MPR'
    ("pydicom", "CT_small.dcm", "not an MR image: Modality CT"),
    ("pydicom", "liver_1frame.dcm", "a DICOM SEG holds masks, not images"),
    # an Enhanced MR without functional groups; from the pydicom-data package
    ("pydicom", "emri_small.dcm", "Per-frame Functional Groups Sequence has 0 items but Number of Frames is 10"),
    ("nibabel", "csa_slice_norm.dcm", "magnitude without phase"),  # Siemens magnitude mosaic with a CSA header
    ("nibabel", "0.dcm", "no magnitude or phase images"),  # Siemens diffusion mosaic with a CSA header
    ("nibabel", "decimal_rescale.dcm", "not an MR image: Modality MR, SOP Class UID missing"),
    ("nibabel", "siemens_dwi_1000.dcm.gz", "no magnitude or phase images"),
    ("nibabel", "philips_mprage.dcm.gz", "magnitude without phase"),  # Philips Enhanced MR, 176 frames
]


def locate(source: str, name: str, tmp_path: Path) -> Path:
    if source == "pydicom":
        try:
            found = get_testdata_file(name, download=False)
        except (OSError, ValueError):
            found = None
        if found is None:
            pytest.skip(f"pydicom's {name} is not available offline")
        return Path(found)
    path = NIBABEL_DATA / name
    if name.endswith(".gz"):
        unpacked = tmp_path / name.removesuffix(".gz")
        with gzip.open(path) as packed, open(unpacked, "wb") as out:
            shutil.copyfileobj(packed, out)
        return unpacked
    return path


@pytest.mark.parametrize(("source", "name", "phrase"), CASES, ids=[c[1] for c in CASES])
def test_outside_files_are_refused_with_the_reason(source, name, phrase, tmp_path):
    path = locate(source, name, tmp_path)
    with pytest.raises(InputError) as caught:
        read_series(path)
    message = str(caught.value)
    assert phrase in message
    assert str(path) in message  # names the file


def test_a_folder_of_outside_files_is_refused_not_crashed(tmp_path):
    """A folder mixing a Siemens CSA magnitude mosaic with a diffusion mosaic: grouped, then refused."""
    for name in ("csa_slice_norm.dcm", "0.dcm", "1.dcm"):
        shutil.copy(NIBABEL_DATA / name, tmp_path / name)
    with pytest.raises(InputError, match="magnitude without phase"):
        read_series(tmp_path)
