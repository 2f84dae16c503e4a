"""The phase-module ablation: arms are the preset with one change each; nothing trains without --train-missing."""

from __future__ import annotations

import pytest

from keras_hdl.config import preset_from_dict
from keras_hdl.errors import InputError
from keras_hdl.evaluation.ablation import ARMS, SHOWN, ablation_lines, arm_preset, run_ablation


def test_each_arm_is_the_preset_with_its_changes_only():
    preset = arm_preset("cpu", "preset")
    assert preset["phase"]["model"]["neighbours"] == 5 and preset["phase"]["training"]["velocity_l1_weight"] == 100
    paper = arm_preset("cpu", "paper")
    assert paper["name"] == "cpu-ablation-paper"
    assert paper["phase"]["model"]["neighbours"] == 3 and not paper["phase"]["model"]["cycle_position"]
    assert paper["phase"]["training"]["velocity_l1_weight"] == 0.0
    assert paper["interpolation"] == preset["interpolation"]  # only the phase section changes
    for arm in ARMS:  # every arm is a valid preset
        preset_from_dict(arm_preset("cpu", arm), where=arm)


def test_untrained_arms_are_named_and_nothing_is_trained(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HDL_CACHE", str(tmp_path / "cache"))
    with pytest.raises(InputError, match="not trained yet; add --train-missing"):
        run_ablation(tmp_path / "out", "tiny", epochs=1)
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_table_has_a_row_per_arm_and_a_dash_for_an_arm_without_a_twin():
    figures = dict.fromkeys(SHOWN, 0.5)
    results = {
        "preset": "cpu",
        "epochs": 3,
        "seed": 0,
        "arms": {"preset": {"vs_real": figures}, "paper": {"not_evaluated": "empty masks"}},
    }
    lines = ablation_lines(results)
    assert "| preset | 0.500 | 0.500 | 0.500 | 0.500 | 0.500 | 0.500 | 0.500 | 0.500 | 0.500 |" in lines
    assert "| paper | — | — | — | — | — | — | — | — | — |" in lines
