"""A series too big for the available memory is refused before any work, with the sizes in the message."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from keras_hdl.cli import main
from keras_hdl.dicom import write_dicom_classic_scan, write_dicom_scan
from keras_hdl.errors import InputError
from keras_hdl.memory import MEMORY_ENV, SERIES_BYTES_PER_PIXEL, available_bytes, require_memory, series_pixels
from keras_hdl.series import Series
from keras_hdl.synthesis.files import SYNTHESIZE_BASE_BYTES, SYNTHESIZE_MEMORY_FACTOR


@pytest.fixture
def scans(small_series_arrays, tmp_path):
    """One 4-frame, 2-slice, 16×16 series as .npz, Enhanced MR file and classic folder."""
    magnitude, phase, masks = small_series_arrays
    series = Series(magnitude=magnitude, phase=phase, masks=masks)
    write_dicom_scan(series, tmp_path / "enhanced")
    write_dicom_classic_scan(series, tmp_path / "classic")
    return {
        "npz": series.save_npz(tmp_path / "series.npz"),
        "enhanced": tmp_path / "enhanced" / "series.dcm",
        "classic": tmp_path / "classic" / "series",
    }


def test_series_size_comes_from_the_headers(scans, tmp_path):
    for path in scans.values():
        assert series_pixels(path) == 4 * 2 * 16 * 16, path
    (tmp_path / "damaged.npz").write_bytes(b"PK\x03\x04 not a zip")
    assert series_pixels(tmp_path / "damaged.npz") is None  # left to the reader, which names the damage


def test_memory_setting_caps_what_is_available(monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "0.5")
    assert available_bytes() == 500_000_000
    monkeypatch.setenv(MEMORY_ENV, "lots")
    with pytest.raises(InputError, match=f"{MEMORY_ENV}='lots': expected a number of GB"):
        available_bytes()


def test_too_big_is_refused_before_reading(scans, monkeypatch):
    needed = 4 * 2 * 16 * 16 * SERIES_BYTES_PER_PIXEL * 2.5
    monkeypatch.setenv(MEMORY_ENV, str(needed / 1e9 * 1.01))
    require_memory(scans["enhanced"], 2.5, "assess")  # fits
    monkeypatch.setenv(MEMORY_ENV, str(needed / 1e9 * 0.99))
    with pytest.raises(InputError, match=r"`keras-hdl assess` of this series \(2,048 pixels .*\) needs about"):
        require_memory(scans["enhanced"], 2.5, "assess")


def test_assess_cli_refuses_with_one_line_and_writes_nothing(scans, monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "0.000001")
    result = CliRunner().invoke(main, ["assess", str(scans["npz"])])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "GB of memory, but 0.0 GB are available" in result.output
    assert not (scans["npz"].parent / "series_assessment").exists()


def test_synthesize_cli_sizes_the_twin_not_the_input(scans, tmp_path, monkeypatch):
    """With --k 3 the twin has 4× the input's frames: the check counts them before any network loads."""
    input_bytes = 4 * 2 * 16 * 16 * SERIES_BYTES_PER_PIXEL * SYNTHESIZE_MEMORY_FACTOR
    cap = SYNTHESIZE_BASE_BYTES + 2.5 * input_bytes  # the input alone (base + 1×) would fit, the twin (base + 4×) not
    monkeypatch.setenv(MEMORY_ENV, str(cap / 1e9))
    result = CliRunner().invoke(main, ["synthesize", str(scans["npz"]), "--k", "3", "--out", str(tmp_path / "twin")])
    assert result.exit_code == 2, result.output
    assert "`keras-hdl synthesize` of this series" in result.output and result.output.count("\n") == 1
    assert not (tmp_path / "twin").exists()
