"""`keras-hdl prepare`: shards that hold exactly the cines training would crop, and training from them."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from keras_hdl.models import fit_background_noise
from keras_hdl.training.data import slice_cines_from_series
from keras_hdl.training.records import RecordShards
from keras_hdl.training.sources import load_series_splits


def test_prepare_writes_the_cropped_cines_and_the_background_fit(tiny_phantom, tmp_path, cli):
    out = tmp_path / "shards"
    result = cli("prepare", tiny_phantom, out, "--preset", "tiny")
    assert result.exit_code == 0, result.output
    assert "1 training and 1 validation slice cines (32-px crops)" in result.output
    splits, _ = load_series_splits(tiny_phantom)
    for split in ("train", "val"):
        expected = slice_cines_from_series(splits[split], 32)
        shards = RecordShards.open(out / split)
        assert (shards.num_cines, shards.num_frames, shards.crop_size) == (expected.num_cines, 20, 32)
        stored = shards.load()
        np.testing.assert_allclose(stored.magnitude, expected.magnitude, atol=1e-3)  # float16 on disk
        np.testing.assert_array_equal(stored.mask, expected.mask)
        # phase re-expressed per frame interval is stored to the nearest raw level: half a level of 4096
        np.testing.assert_allclose(stored.phase, expected.phase, rtol=0, atol=0.5 / 2048 + 1e-7)
        np.testing.assert_array_equal(stored.venc, expected.venc)
        if split == "train":
            mean, std = fit_background_noise(expected.phase, expected.magnitude)
    background = json.loads((out / "background_noise.json").read_text())
    assert (background["mean"], background["std"]) == pytest.approx((mean, std), rel=1e-9)


def test_prepare_refuses_bad_input_and_leaves_nothing(tiny_phantom, tmp_path, cli):
    out = tmp_path / "shards"
    result = cli("prepare", tiny_phantom, out, "--preset", "tiny", "--crop-size", "32")
    assert result.exit_code == 2 and "not both" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("prepare", empty, out)
    assert result.exit_code == 2 and "no usable series" in result.output and not out.exists()
    (out / "old").mkdir(parents=True)
    result = cli("prepare", tiny_phantom, out)
    assert result.exit_code == 2 and "not an empty folder" in result.output


def test_training_refuses_shards_of_another_crop_size(tiny_shards, tmp_path, cli):
    out = tmp_path / "run"
    result = cli("train", "--preset", "cpu", "--data", tiny_shards, "--out", out)
    assert result.exit_code == 2 and "32-px crops" in result.output and "--crop-size 96" in result.output
    assert not out.exists()


@pytest.mark.slow
def test_train_streams_prepared_shards(tiny_shards, tmp_path, cli):
    out = tmp_path / "run"
    result = cli("train", "--module", "phase", "--preset", "tiny", "--epochs", "1", "--data", tiny_shards, "--out", out)
    assert result.exit_code == 0, result.output
    state = json.loads((out / "run.json").read_text())
    assert state["data"].startswith("prepared shards") and state["completed_epochs"] == {"phase": 1}
    prepared = json.loads((tiny_shards / "background_noise.json").read_text())
    used = json.loads((out / "background_noise.json").read_text())
    assert (used["mean"], used["std"]) == (prepared["mean"], prepared["std"])
    assert (out / "models" / "phase.keras").is_file()
