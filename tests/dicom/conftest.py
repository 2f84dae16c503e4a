"""Fixtures for the DICOM tests: a small hand-built 3Dir MVM series and its written forms."""

from __future__ import annotations

import pytest
from dicom_test_series import make_series

from keras_hdl.dicom import dicom_classic_scan_writer, dicom_scan_writer
from keras_hdl.series import Series


@pytest.fixture(scope="session")
def mvm_series() -> Series:
    return make_series()


@pytest.fixture(scope="session")
def dicom_scan(tmp_path_factory, mvm_series):
    """A folder with series.dcm (Enhanced MR) + seg.dcm written from :func:`make_series`."""
    scan_dir = tmp_path_factory.mktemp("dicom_scan")
    assert dicom_scan_writer(mvm_series, scan_dir) == ["series.dcm", "seg.dcm"]
    return scan_dir


@pytest.fixture(scope="session")
def classic_scan(tmp_path_factory, mvm_series):
    """A folder with series/ (classic MR files) + seg.dcm written from :func:`make_series`."""
    scan_dir = tmp_path_factory.mktemp("classic_scan")
    assert dicom_classic_scan_writer(mvm_series, scan_dir) == ["series", "seg.dcm"]
    return scan_dir
