"""Presets: every shipped preset loads and builds; unknown keys are errors naming the allowed ones."""

from __future__ import annotations

import copy

import pytest
import yaml

from keras_hdl.config import (
    InterpolationTraining,
    PhaseTraining,
    build_from_config,
    load_preset,
    preset_from_dict,
    preset_names,
)
from keras_hdl.errors import InputError


@pytest.fixture
def tiny_dict(tiny_preset):
    return tiny_preset.as_dict()


def test_shipped_presets_load_with_the_paper_hyper_parameters():
    assert preset_names() == ["cpu", "paper", "tiny"]
    paper = load_preset("paper")
    assert paper.interpolation.model["widths"] == [64, 128, 256, 512, 1024]
    assert paper.interpolation.training.learning_rate == 1e-3 and paper.interpolation.training.batch_size == 32
    assert paper.interpolation.training.k_values == (1, 2, 3, 4, 5, 6)
    assert paper.phase.training.learning_rate == 2e-4 and paper.phase.training.beta_1 == 0.5
    assert paper.phase.training.batch_size == 12 and paper.phase.training.foreground_l1_weight == 100


def test_as_dict_round_trips_through_yaml(tiny_preset, tmp_path):
    path = tmp_path / "merged.yaml"
    path.write_text(yaml.safe_dump(tiny_preset.as_dict()))
    assert load_preset(path) == tiny_preset


def test_build_from_config_builds_the_registered_class(tiny_preset):
    model = build_from_config(tiny_preset.interpolation.model, name="interp")
    assert type(model).__name__ == "TemporalInterpolator" and model.name == "interp"
    assert model.widths == (8, 16, 32)


@pytest.mark.parametrize(
    "path, key, allowed",
    [
        ((), "model_zoo", "description, interpolation, name, phase"),
        (("interpolation",), "optimizer", "discriminator, model, training, vanilla_model"),
        (("interpolation", "training"), "learning_rat", "learning_rate"),
        (("phase", "model"), "depth", "background_mean"),
    ],
)
def test_unknown_keys_name_the_key_and_the_allowed_ones(tiny_dict, path, key, allowed):
    data = copy.deepcopy(tiny_dict)
    target = data
    for part in path:
        target = target[part]
    target[key] = 1
    with pytest.raises(InputError, match=rf"unknown key '{key}'; allowed keys: .*{allowed}"):
        preset_from_dict(data)


def test_unknown_class_and_bad_values_are_rejected(tiny_dict):
    data = copy.deepcopy(tiny_dict)
    data["phase"]["discriminator"]["class"] = "UNet"
    with pytest.raises(InputError, match="unknown class 'UNet'; registered: PatchDiscriminator"):
        preset_from_dict(data)
    data = copy.deepcopy(tiny_dict)
    data["interpolation"]["training"]["crop_size"] = 36
    with pytest.raises(InputError, match="crop_size = 36"):
        preset_from_dict(data)
    with pytest.raises(InputError, match="k_values"):
        InterpolationTraining(k_values=(0, 7))
    with pytest.raises(InputError, match="beta_1"):
        InterpolationTraining(beta_1=1.0)
    with pytest.raises(InputError, match=r"max_rotation_deg: an angle in \[0, 180\] degrees, got 270"):
        PhaseTraining(max_rotation_deg=270)


def test_rotation_bound_reaches_the_training_pipeline(tiny_dict):
    from keras_hdl.training.tasks.base import pipeline_options

    data = copy.deepcopy(tiny_dict)
    data["phase"]["training"]["max_rotation_deg"] = 180
    preset = preset_from_dict(data)
    assert pipeline_options(preset.phase.training, samples=2).max_rotation_deg == 180.0
    assert pipeline_options(preset.interpolation.training, samples=2).max_rotation_deg == 10.0  # the default


def test_flips_switch_reaches_the_training_pipeline(tiny_dict):
    from keras_hdl.training.tasks.base import pipeline_options

    data = copy.deepcopy(tiny_dict)
    data["phase"]["training"]["flips"] = False
    preset = preset_from_dict(data)
    assert pipeline_options(preset.phase.training, samples=2).flips is False
    assert pipeline_options(preset.interpolation.training, samples=2).flips is True  # the default
    data["phase"]["training"]["flips"] = "no"
    with pytest.raises(InputError, match=r"phase\.training\.flips: true or false, got 'no'"):
        preset_from_dict(data)


def test_contrast_bound_reaches_the_training_pipeline(tiny_dict):
    from keras_hdl.training.tasks.base import pipeline_options

    data = copy.deepcopy(tiny_dict)
    data["phase"]["training"]["max_gamma"] = 1.8
    preset = preset_from_dict(data)
    assert pipeline_options(preset.phase.training, samples=2).max_gamma == 1.8
    assert pipeline_options(preset.interpolation.training, samples=2).max_gamma == 1.0  # off by default
    data["phase"]["training"]["max_gamma"] = 0.5
    with pytest.raises(InputError, match=r"max_gamma: a contrast bound in \[1, 4\] \(1: off\), got 0.5"):
        preset_from_dict(data)


def test_unknown_preset_name():
    with pytest.raises(InputError, match="unknown preset 'huge'; use one of cpu, paper, tiny"):
        load_preset("huge")


def test_recompute_takes_a_switch_or_a_channel_limit(tiny_dict):
    from keras_hdl.models.blocks import recurrent_units
    from keras_hdl.training.tasks import TASKS

    data = copy.deepcopy(tiny_dict)
    data["interpolation"]["training"]["recompute_recurrent"] = 8  # the tiny preset's widths: 8-16-32
    preset = preset_from_dict(data)
    network = build_from_config(preset.interpolation.model)
    TASKS["interpolator"].trainer(preset, network)
    units = recurrent_units(network)
    assert {unit.filters for unit in units if unit.recompute} == {8}
    assert {unit.filters for unit in units if not unit.recompute} == {16, 32}
    for wrong in (0, -64, "yes", 1.5):
        data["interpolation"]["training"]["recompute_recurrent"] = wrong
        with pytest.raises(
            InputError, match=r"interpolation\.training\.recompute_recurrent: true, false, or a channel"
        ):
            preset_from_dict(data)
