"""The models folder: saved and loaded whole, and clear errors for anything else."""

import numpy as np
import pytest

from keras_hdl.config import build_from_config, load_preset
from keras_hdl.errors import InputError
from keras_hdl.model_store import ModelInfo, combine_models, load_models, read_model_info, save_models


def test_models_folder_round_trip(tmp_path):
    preset = load_preset("tiny")
    phase = build_from_config(preset.phase.model, background_mean=0.1, background_std=0.02)
    info = ModelInfo(
        preset="tiny",
        crop_size=32,
        pixel_spacing_mm=(2.34, 2.34),
        frames=50,
        validation={"phase": {"mse": 0.01}},
        command="keras-hdl train --preset tiny",
    )
    save_models(tmp_path / "models", info, phase=phase)
    loaded_info, models = load_models(tmp_path / "models", "phase")
    assert loaded_info == info
    magnitudes = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, phase.neighbours)).astype(np.float32)
    inputs = {"magnitudes": magnitudes, "position": np.float32([[0.1], [0.7]]), "seed": np.int32([[1, 2], [3, 4]])}
    np.testing.assert_allclose(
        models["phase"].predict(inputs, verbose=0)["phase"], phase.predict(inputs, verbose=0)["phase"], atol=1e-6
    )
    assert models["phase"].background_mean == pytest.approx(0.1)
    with pytest.raises(InputError, match="has no interpolator network"):
        load_models(tmp_path / "models")


def test_wrong_folders_and_corrupt_files_are_named(tmp_path):
    with pytest.raises(InputError, match="not a keras-hdl models folder"):
        read_model_info(tmp_path)
    (tmp_path / "model_info.json").write_text("{not json")
    with pytest.raises(InputError, match="corrupt model info"):
        read_model_info(tmp_path)
    (tmp_path / "model_info.json").write_text(
        '{"format": "keras-hdl-models", "preset": "x", "crop_size": 32, "pixel_spacing_mm": [1, 1], "frames": 50}'
    )
    (tmp_path / "phase.keras").write_bytes(b"truncated archive")
    with pytest.raises(InputError, match="cannot be loaded as a Keras model"):
        load_models(tmp_path, "phase")


def test_combined_models_folder_holds_each_network_with_its_own_figures(tmp_path):
    preset = load_preset("tiny")
    common = {"preset": "tiny", "crop_size": 32, "pixel_spacing_mm": (2.34, 2.34), "frames": 50}
    interpolator = build_from_config(preset.interpolation.model)
    phase = build_from_config(preset.phase.model)
    save_models(
        tmp_path / "a",
        ModelInfo(**common, validation={"interpolator": {"DICE": 0.9}}, command="A"),
        interpolator=interpolator,
    )
    save_models(tmp_path / "b", ModelInfo(**common, validation={"phase": {"MSE": 0.01}}, command="B"), phase=phase)
    combine_models({"interpolator": tmp_path / "a", "phase": tmp_path / "b"}, tmp_path / "both")
    info, models = load_models(tmp_path / "both")
    assert info.validation == {"interpolator": {"DICE": 0.9}, "phase": {"MSE": 0.01}} and info.command == "A && B"
    weights = zip(models["phase"].get_weights(), phase.get_weights(), strict=True)
    assert all(np.array_equal(loaded, saved) for loaded, saved in weights)
    other = {**common, "crop_size": 64}
    save_models(tmp_path / "c", ModelInfo(**other, validation={"phase": {}}), phase=phase)
    with pytest.raises(InputError, match="crop_size"):
        combine_models({"interpolator": tmp_path / "a", "phase": tmp_path / "c"}, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
