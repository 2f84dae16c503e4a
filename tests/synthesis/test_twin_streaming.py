"""A twin written frame by frame (`synthesize` of a big series): the files of the twin made in memory, bit for bit,
and nothing half-written; synthesis reads its input without the phase images."""

from __future__ import annotations

import numpy as np
import pytest

from keras_hdl.dicom import SyntheticInfo, write_dicom_scan
from keras_hdl.io_utils import FrameFile, write_npz
from keras_hdl.readers import read_series, read_without_phase
from keras_hdl.series import Series
from keras_hdl.synthesis import downsample, synthesize_twin
from keras_hdl.synthesis.pipeline import DEFAULT_METHOD, plan_twin
from keras_hdl.synthesis.writer import write_twin

K, SEED = 3, 7


@pytest.fixture(scope="module")
def twins(phantom_series, local_models, tmp_path_factory):
    """(the twin made in memory, the folder the streamed writer wrote, what it returned, its SyntheticInfo)."""
    low = downsample(phantom_series, K)
    frames = phantom_series.num_frames
    synthetic = SyntheticInfo(DEFAULT_METHOD, K, local_models.version)
    out = tmp_path_factory.mktemp("streamed") / "twin"
    returned = write_twin(plan_twin(low, K, local_models, seed=SEED, frames=frames), out, synthetic)
    return synthesize_twin(low, K, local_models, seed=SEED, frames=frames), out, returned, synthetic


def test_streamed_twin_npz_has_the_in_memory_twins_bytes(twins, tmp_path):
    twin, out, returned, _ = twins
    assert sorted(p.name for p in out.iterdir()) == ["seg.dcm", "series.dcm", "twin.npz"]  # no frame files left
    assert (out / "twin.npz").read_bytes() == twin.save_npz(tmp_path / "memory.npz").read_bytes()
    assert returned.phase is None and returned.magnitude.strides == (0, 0, 0, 0)
    np.testing.assert_array_equal(returned.masks, twin.masks)
    assert returned.provenance == twin.provenance


def test_streamed_twin_dicom_reads_back_as_the_in_memory_twins(twins, tmp_path):
    twin, out, _, synthetic = twins
    streamed = read_series(out / "series.dcm")
    in_memory = read_series(write_dicom_scan(twin, tmp_path / "memory", synthetic=synthetic) / "series.dcm")
    for name in ("magnitude", "phase", "masks"):
        np.testing.assert_array_equal(getattr(streamed, name), getattr(in_memory, name), err_msg=name)
    assert streamed.magnitude.std() > 0 and streamed.masks.any()


def test_a_failed_write_leaves_no_folder_and_no_frame_files(phantom_series, local_models, tmp_path):
    plan = plan_twin(downsample(phantom_series, K), K, local_models, frames=phantom_series.num_frames)

    def fail(folder):
        assert (folder / "twin.npz").is_file()
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_twin(plan, tmp_path / "twin", SyntheticInfo(DEFAULT_METHOD, K, local_models.version), fail)
    assert list(tmp_path.iterdir()) == []


def test_frame_file_streams_into_the_bytes_of_its_array(tmp_path, rng):
    array = rng.normal(size=(5, 2, 3, 4)).astype(np.float32)
    frames = FrameFile(tmp_path / "frames.raw", array.shape[1:])
    for frame in array:
        frames.append(frame)
    assert frames.shape == array.shape
    np.testing.assert_array_equal(frames.frame(3), array[3])
    streamed = write_npz(tmp_path / "streamed.npz", {"a": frames, "b": np.arange(3)})
    whole = write_npz(tmp_path / "whole.npz", {"a": array, "b": np.arange(3)})
    assert streamed.read_bytes() == whole.read_bytes()


def test_synthesis_input_is_read_without_phase(phantom_series, tmp_path):
    npz = phantom_series.save_npz(tmp_path / "full.npz")
    dcm = write_dicom_scan(phantom_series, tmp_path / "scan") / "series.dcm"
    for path in (npz, dcm):
        series = read_without_phase(path)
        assert series.phase is None, path
        np.testing.assert_allclose(series.magnitude, phantom_series.magnitude, rtol=1e-4, err_msg=str(path))
        np.testing.assert_array_equal(series.masks, phantom_series.masks)
    np.testing.assert_array_equal(Series.load_npz(npz).phase, phantom_series.phase)
