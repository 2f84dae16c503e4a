"""The phantom written as DICOM (`keras-hdl phantom OUT --format dicom / dicom-classic`) reads back as itself."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner
from test_roundtrip import assert_same_series
from test_validators import dciodvfy

from keras_hdl.cli import main
from keras_hdl.phantom.config import PhantomConfig, draw_subject
from keras_hdl.phantom.generate import generate_scan
from keras_hdl.phantom.scan import draw_scan
from keras_hdl.readers import read_series

CONFIG = PhantomConfig(subjects=1, slices=2, frames=20, size=64, seed=4)


@pytest.fixture(scope="module")
def phantom_series():
    series, _ = generate_scan(draw_subject(CONFIG.seed, 0), draw_scan(CONFIG.seed, 0, 0), CONFIG)
    return series


@pytest.fixture(scope="module", params=["dicom", "dicom-classic"])
def written(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("phantom") / "out"
    args = ["phantom", str(out), "--subjects", "1", "--slices", "2", "--frames", "20", "--size", "64", "--seed", "4"]
    result = CliRunner().invoke(main, [*args, "--format", request.param])
    assert result.exit_code == 0, result.output
    (scan_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return request.param, scan_dir


def test_phantom_dicom_reads_back_as_the_phantom(written, phantom_series):
    scan_format, scan_dir = written
    assert (scan_dir / "seg.dcm").is_file()
    image_path = scan_dir / ("series.dcm" if scan_format == "dicom" else "series")
    back = read_series(image_path)
    # Enhanced MR keeps every raw phase value; the 12-bit classic files store raw 4096 (+venc) as 4095.
    assert_same_series(back, phantom_series, phase_atol=0.0 if scan_format == "dicom" else 1.0)
    assert back.masks.any()


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (dicom3tools) not installed")
def test_phantom_dicom_passes_dciodvfy(written):
    scan_format, scan_dir = written
    files = [scan_dir / "seg.dcm"]
    files += [scan_dir / "series.dcm"] if scan_format == "dicom" else sorted((scan_dir / "series").iterdir())[::40]
    for path in files:
        errors, unexpected = dciodvfy(path)
        assert errors == [] and unexpected == [], (path.name, errors, unexpected)


@pytest.mark.skipif(shutil.which("dcm2niix") is None, reason="dcm2niix not installed")
def test_dcm2niix_converts_the_phantom(written, tmp_path):
    scan_format, scan_dir = written
    source = scan_dir / ("series.dcm" if scan_format == "dicom" else "series")
    args = ["dcm2niix", "-f", "%s", "-o", str(tmp_path)] + (["-s", "y"] if scan_format == "dicom" else [])
    subprocess.run([*args, str(source)], capture_output=True, text=True, timeout=60, check=True)
    import nibabel

    shapes = sorted(nibabel.load(p).shape for p in tmp_path.glob("*.nii"))
    expected = [(64, 64, 2, 80)] if scan_format == "dicom" else [(64, 64, 2, 20)] * 4
    assert shapes == expected
    assert np.all([p.with_suffix(".json").is_file() for p in tmp_path.glob("*.nii")])
